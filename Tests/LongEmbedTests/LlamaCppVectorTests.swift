import Foundation
import Testing
import LongEmbed

/// llama.cpp's own tokenizer test vectors (`Tests/Fixtures/tokenizers/llama.cpp`, produced by
/// transformers' tokenizers for the upstream models), run through the tokenizer.json of the same
/// vocabulary. The GGUF vocabularies themselves (gemma-4's included) need the GGUF reader of the
/// decoder-models work and are not read here.
@Suite struct LlamaCppVectorTests {
    static let folder = TestSupport.golden.appendingPathComponent("tokenizers/llama.cpp", isDirectory: true)

    /// Vocabulary -> the repository-relative tokenizer.json with the same vocabulary, and the
    /// tests known to differ.
    static let cases: [(vocab: String, tokenizer: String, knownDifferences: Set<Int>)] = [
        ("qwen2", ".cache/tokenizers/qwen3/tokenizer.json", []),
        // Tests 46-48 are written decomposed; Qwen3's NFC normalizer composes them, the Qwen3.5
        // tokenizer behind this file does not (HF tokenizers gives the same three differences).
        ("qwen35", ".cache/tokenizers/qwen3/tokenizer.json", [46, 47, 48]),
        ("llama-bpe", ".cache/tokenizers/llama3/tokenizer.json", []),
        ("llama-spm", "Tests/Fixtures/tokenizers/llama2/tokenizer.json", []),
        ("phi-3", "Tests/Fixtures/tokenizers/llama2/tokenizer.json", []),
        ("gpt-2", "Tests/Fixtures/tokenizers/gpt2/tokenizer.json", []),
        ("bert-bge", ".models/all-MiniLM-L6-v2/tokenizer.json", []),
    ]

    /// The tests of an `.inp` file: texts separated by "\n__ggml_vocab_test__\n".
    static func tests(_ url: URL) throws -> [String] {
        let bytes = [UInt8](try Data(contentsOf: url))
        let separator = Array("\n__ggml_vocab_test__\n".utf8)
        var out: [String] = []
        var start = 0, i = 0
        while i + separator.count <= bytes.count {
            if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                out.append(String(decoding: bytes[start..<i], as: UTF8.self))
                i += separator.count
                start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count { out.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return out
    }

    /// The ids of an `.out` file, one line per test.
    static func expected(_ url: URL) throws -> [[Int32]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return try lines.map { line in
            try line.split(separator: " ").map { piece in
                guard let v = Int32(piece) else { throw FixtureError("not an id: \(piece) in \(url.lastPathComponent)") }
                return v
            }
        }
    }

    @Test(arguments: cases.map(\.vocab))
    func vectorsMatch(vocab: String) throws {
        guard let c = Self.cases.first(where: { $0.vocab == vocab }) else { throw FixtureError("no case \(vocab)") }
        let url = TestSupport.repoRoot.appendingPathComponent(c.tokenizer)
        guard FileManager.default.fileExists(atPath: url.path) else { throw FixtureError("\(c.tokenizer) is missing: run `make setup`") }
        let tok = try Tokenizer(url: url)
        let texts = try Self.tests(Self.folder.appendingPathComponent("ggml-vocab-\(vocab).gguf.inp"))
        let ids = try Self.expected(Self.folder.appendingPathComponent("ggml-vocab-\(vocab).gguf.out"))
        try #require(texts.count == ids.count, "\(vocab): \(texts.count) tests, \(ids.count) lines")
        #expect(texts.count >= 46)
        var differing: Set<Int> = []
        for (i, (text, want)) in zip(texts, ids).enumerated() where tok.encode(text, addSpecialTokens: false) != want {
            differing.insert(i)
        }
        #expect(differing == c.knownDifferences, "\(vocab): tests \(differing.sorted()) differ")
    }
}
