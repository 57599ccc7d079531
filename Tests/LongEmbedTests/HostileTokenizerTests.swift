import Foundation
import Testing
@testable import LongEmbed

/// Hostile tokenizer.json files, generated here: typed errors naming the problem, or bounded
/// time and memory, never a crash.
@Suite struct HostileTokenizerTests {
    /// A byte-level BPE tokenizer: the 256 byte characters, `merges` over them, GPT-2 splitting.
    static func byteLevelBPE(merges: [String], extraVocab: [String] = [], addedTokens: String = "[]") -> String {
        var vocab = ByteLevelAlphabet.scalars.map { String($0) }
        vocab += extraVocab
        let vocabJSON = vocab.enumerated().map { "\(jsonString($1)): \($0)" }.joined(separator: ",")
        let mergesJSON = merges.map(jsonString).joined(separator: ",")
        return """
        {"added_tokens": \(addedTokens), "normalizer": null,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
         "post_processor": null, "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false, "byte_fallback": false,
                   "vocab": {\(vocabJSON)}, "merges": [\(mergesJSON)]}}
        """
    }

    /// A Unigram tokenizer over single letters and a few words, with an optional charsmap.
    static func unigram(charsmap: String? = nil) -> String {
        let pieces = [("<unk>", 0.0), ("\u{2581}", -2.0)] + "abcdefghijklmnopqrstuvwxyz".map { (String($0), -5.0) }
            + [("\u{2581}hello", -3.0), ("world", -4.0)]
        let vocab = pieces.map { "[\(jsonString($0.0)), \($0.1)]" }.joined(separator: ",")
        let normalizer = charsmap.map { #"{"type": "Precompiled", "precompiled_charsmap": "\#($0)"}"# } ?? "null"
        return """
        {"added_tokens": [], "normalizer": \(normalizer),
         "pre_tokenizer": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true},
         "post_processor": null, "decoder": {"type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always"},
         "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false, "vocab": [\(vocab)]}}
        """
    }

    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: [s])) ?? Data("[\"\"]".utf8), as: UTF8.self)
            .dropFirst().dropLast().description
    }

    static func load(_ json: String) throws -> Tokenizer {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        try Data(json.utf8).write(to: url)
        return try Tokenizer(url: url)
    }

    static func failure(_ json: String) -> ModelError? {
        do { _ = try load(json); return nil } catch { return error as? ModelError }
    }

    @Test func byteLevelBPEMergesAndRoundTrips() throws {
        let t = try Self.load(Self.byteLevelBPE(merges: ["h e", "l l", "he ll", "hell o", "Ġ w"], extraVocab: ["he", "ll", "hell", "hello", "Ġw"]))
        let ids = t.encode("hello world")
        #expect(ids.map { t.token(for: $0) ?? "?" } == ["hello", "Ġw", "o", "r", "l", "d"])
        #expect(t.decode(ids) == "hello world")
        #expect(t.decode(t.encode("é 🙂 日本")) == "é 🙂 日本")
    }

    @Test func mergeNamingAnUnknownTokenIsAnError() {
        let error = Self.failure(Self.byteLevelBPE(merges: ["h zz"]))
        guard case .invalidTokenizer(_, let reason)? = error else { Issue.record("accepted: \(String(describing: error))"); return }
        #expect(reason.contains("merge 0") && reason.contains("zz"), "\(reason)")
        let produced = Self.failure(Self.byteLevelBPE(merges: ["h e"]))   // "he" is not in the vocabulary
        #expect(produced != nil)
        let malformed = Self.failure(Self.byteLevelBPE(merges: ["h e x"], extraVocab: ["he"]))
        #expect(malformed != nil)
    }

    @Test(arguments: [
        (#""type": "BPE", "dropout": null"#, #""type": "BPE", "dropout": 0.1"#, "dropout"),
        (#""type": "ByteLevel", "add_prefix_space""#, #""type": "ByteLevelX", "add_prefix_space""#, "pre-tokenizer ByteLevelX"),
        (#""decoder": {"type": "ByteLevel"}"#, #""decoder": {"type": "CTC"}"#, "decoder CTC"),
        (#""normalizer": null"#, #""normalizer": {"type": "Nmt"}"#, "normalizer Nmt"),
        (#""post_processor": null"#, #""post_processor": {"type": "Mystery"}"#, "post-processor Mystery"),
    ])
    func unimplementedComponentsAreNamed(old: String, new: String, name: String) throws {
        let json = Self.byteLevelBPE(merges: []).replacingOccurrences(of: old, with: new)
        #expect(json.contains(new))
        let error = Self.failure(json)
        guard case .unsupportedTokenizerComponent(_, let component)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(component.contains(name), "\(component)")
    }

    @Test func oneMegabyteWordTokenizesInBoundedTime() throws {
        let word = String(repeating: "abcdefgh", count: 131_072)   // 1 MiB, one pre-tokenized word
        let bpe = try Self.load(Self.byteLevelBPE(merges: ["a b", "c d", "ab cd"], extraVocab: ["ab", "cd", "abcd"]))
        let clock = ContinuousClock()
        var ids: [Int32] = []
        let bpeTime = clock.measure { ids = bpe.encode(word, addSpecialTokens: false) }
        #expect(ids.count == 131_072 * 5)
        let uni = try Self.load(Self.unigram())
        var uniIDs: [Int32] = []
        let uniTime = clock.measure { uniIDs = uni.encode(word, addSpecialTokens: false) }
        #expect(uniIDs.count == 1 + 1_048_576)   // "▁" then one piece per letter
        // Linear-time algorithms: seconds at most even on a slow shared machine (quadratic
        // merging would take hours).
        #expect(bpeTime < .seconds(30) && uniTime < .seconds(30), "BPE \(bpeTime), Unigram \(uniTime)")
    }

    @Test func millionAddedTokensLoadAndMatch() throws {
        let n = 1_000_000
        var entries: [String] = []
        entries.reserveCapacity(n)
        for i in 0..<n { entries.append(#"{"id":\#(256 + i),"content":"<t\#(i)>","special":true,"normalized":false,"single_word":false,"lstrip":false,"rstrip":false}"#) }
        let t = try Self.load(Self.byteLevelBPE(merges: [], addedTokens: "[" + entries.joined(separator: ",") + "]"))
        #expect(t.maxTokenID == 255 + n)
        let ids = t.encode("x<t999999>y<t0><t12", addSpecialTokens: false)
        #expect(ids.contains(Int32(256 + 999_999)) && ids.contains(256) && !ids.contains(256 + 12))
    }

    @Test(arguments: ["AAAA", "/////wAAAAA=", "CAAAAP////8=", "EAAAAAEAAAACAAAAAwAAAAQAAAA=", "not base64!"])
    func corruptCharsmapIsAnErrorOrHarmless(charsmap: String) {
        // A truncated or inconsistent trie is rejected at load, or it never matches; never a crash.
        do {
            let t = try Self.load(Self.unigram(charsmap: charsmap))
            #expect(t.decode(t.encode("hello world")) == "hello world")
        } catch {
            #expect(error is ModelError, "\(error)")
        }
    }

    @Test func unigramViterbiPrefersTheBestPath() throws {
        let t = try Self.load(Self.unigram())
        #expect(t.tokens("hello world") == ["\u{2581}hello", "\u{2581}", "world"])
        // Characters outside the vocabulary fuse into one unknown token.
        #expect(t.encode("ab ÆØ", addSpecialTokens: false).filter { $0 == 0 }.count == 1)
    }

    /// Swift's String equality is canonical equivalence; a vocabulary holding "é" and "e" + U+0301
    /// has two tokens (JSONSerialization would have kept one of them).
    @Test func canonicallyEquivalentTokensStayDistinct() throws {
        let json = #"{"pre_tokenizer": {"type": "WhitespaceSplit"}, "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "\u00e9": 1, "e\u0301": 2, "e": 3}}}"#
        let t = try Self.load(json)
        #expect(t.encode("\u{e9} e\u{301}", addSpecialTokens: false) == [1, 2])
        #expect(t.vocabSize == 4)
    }

    @Test(arguments: [
        #"{"model": {"type": "WordPiece", "vocab": {"a": 0}}} x"#,            // trailing data
        #"{"model": {"type": "WordPiece", "vocab": {"a": 01}}}"#,             // leading zero
        #"{"model": {"type": "WordPiece", "vocab": {"\ud800": 0}}}"#,         // lone surrogate
        "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\u{9}b\": 0}}}",   // raw control character
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
    ])
    func malformedJSONIsAnInvalidTokenizer(json: String) {
        guard case .invalidTokenizer? = Self.failure(json) else { Issue.record("accepted \(json.prefix(60))"); return }
    }

    @Test func mergesSplitOnTheSpaceByte() throws {
        // " \u{948}" is one Character; the merge "\u{939} \u{948}" still has two parts.
        let json = #"{"model": {"type": "BPE", "vocab": {"\u0939": 0, "\u0948": 1, "\u0939\u0948": 2}, "merges": ["\u0939 \u0948"]}}"#
        let t = try Self.load(json)
        #expect(t.encode("\u{939}\u{948}", addSpecialTokens: false) == [2])
    }
}
