import Foundation
import Testing
import LongEmbed

/// llama.cpp's own tokenizer test vectors (`Tests/Fixtures/tokenizers/llama.cpp`, produced by
/// transformers' tokenizers for the upstream models), run through the tokenizer.json of the same
/// vocabulary, and through the GGUF vocabularies themselves (`Tokenizer(gguf:)`, fetched by
/// `make setup` into `.cache/tokenizers/gguf`).
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

    /// Every vocabulary with vectors, read from its GGUF file.
    static let ggufVocabularies = ["qwen2", "qwen35", "llama-bpe", "llama-spm", "phi-3", "gpt-2", "bert-bge", "gemma-4"]

    static let ggufFolder = TestSupport.repoRoot.appendingPathComponent(".cache/tokenizers/gguf", isDirectory: true)

    /// The GGUF vocabulary passes all of its vectors, qwen35's decomposed ones included (its GGUF,
    /// like the Qwen3.5 tokenizer, has no NFC normalizer).
    @Test(arguments: ggufVocabularies)
    func ggufVectorsMatch(vocab: String) throws {
        let url = Self.ggufFolder.appendingPathComponent("ggml-vocab-\(vocab).gguf")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FixtureError(".cache/tokenizers/gguf/ggml-vocab-\(vocab).gguf is missing: run `make setup`")
        }
        let tok = try Tokenizer(gguf: url)
        let texts = try Self.tests(Self.folder.appendingPathComponent("ggml-vocab-\(vocab).gguf.inp"))
        let ids = try Self.expected(Self.folder.appendingPathComponent("ggml-vocab-\(vocab).gguf.out"))
        try #require(texts.count == ids.count, "\(vocab): \(texts.count) tests, \(ids.count) lines")
        #expect(texts.count >= 46)
        var differing: [String] = []
        for (i, (text, want)) in zip(texts, ids).enumerated() {
            let got = tok.encode(text, addSpecialTokens: false)
            if got != want { differing.append("test \(i) \(text.debugDescription): got \(got), expected \(want)") }
        }
        #expect(differing.isEmpty, "\(vocab): \(differing.count) of \(texts.count) differ:\n\(differing.prefix(5).joined(separator: "\n"))")
    }
}
