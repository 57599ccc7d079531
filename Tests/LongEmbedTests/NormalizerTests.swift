import Foundation
import Testing
@testable import LongEmbed

/// Each normalizer against HF `tokenizers`' own (Rust `unicode-normalization` for the Unicode
/// forms) on the tokenizer corpus: `Tests/Fixtures/tokenizers/normalizers.jsonl`, written by
/// `scripts/fixtures/normalizers.py`.
@Suite struct NormalizerTests {
    static func spec(_ json: String) throws -> TokenizerSpec {
        guard let o = try JSONParser.parse(Data(json.utf8)).objectValue else { throw FixtureError("not an object") }
        return TokenizerSpec(o, file: "(test)", place: "normalizer")
    }

    /// The XLM-R charsmap normalizer from the fetched tokenizer.json.
    static func precompiled() throws -> any TextNormalizer {
        let url = TestSupport.repoRoot.appendingPathComponent(".cache/tokenizers/xlm-roberta/tokenizer.json")
        // The Precompiled member of XLM-R's normalizer Sequence.
        guard let root = try JSONParser.parse(try Data(contentsOf: url)).objectValue,
              let parts = root["normalizer"]?.objectValue?["normalizers"]?.arrayValue,
              let n = parts.compactMap(\.objectValue).first(where: { $0["type"]?.stringValue == "Precompiled" }) else {
            throw FixtureError("\(url.path): no Precompiled normalizer (run make setup)")
        }
        return try NormalizerFactory.make(TokenizerSpec(n, file: url.path, place: "normalizer"))
    }

    static let forms: [(key: String, json: String)] = [
        ("nfc", #"{"type": "NFC"}"#), ("nfd", #"{"type": "NFD"}"#), ("nfkc", #"{"type": "NFKC"}"#), ("nfkd", #"{"type": "NFKD"}"#),
        ("lowercase", #"{"type": "Lowercase"}"#),
        ("strip_accents", #"{"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}]}"#),
        ("bert", #"{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true}"#),
        ("precompiled_xlmr", ""),
    ]

    @Test(arguments: forms.map(\.key))
    func normalizerMatchesTheReference(key: String) throws {
        guard let form = Self.forms.first(where: { $0.key == key }) else { throw FixtureError("no form \(key)") }
        let normalizer = form.json.isEmpty ? try Self.precompiled() : try NormalizerFactory.make(try Self.spec(form.json))
        let texts = try TokenizerFixtureTests.corpus()
        let lines = try TokenizerFixtureTests.readLines(TestSupport.golden.appendingPathComponent("tokenizers/normalizers.jsonl"))
        #expect(lines.count == texts.count)
        var differing: [String] = []
        for o in lines {
            guard let id = o["id"]?.stringValue, let text = texts[id], let want = o[key]?.stringValue else { throw FixtureError("malformed line") }
            // Compared as bytes: String == would hide a wrong (but canonically equivalent) form.
            if !normalizer.normalize(text).utf8.elementsEqual(want.utf8) { differing.append(id) }
        }
        #expect(differing.isEmpty, "\(key): \(differing.count) texts differ: \(differing.prefix(10))")
    }
}
