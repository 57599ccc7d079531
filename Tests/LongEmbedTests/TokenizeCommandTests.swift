import Foundation
import Testing
@testable import LongEmbed

/// `longembed tokenize`: the corpus in, the reference ids out, in input order.
@Suite struct TokenizeCommandTests {
    static let fixtures = TestSupport.golden.appendingPathComponent("tokenizers")

    /// Reference `ids` / `ids_plain` by text id for one fixture set.
    static func reference(_ name: String, key: String) throws -> [String: [Int32]] {
        var out: [String: [Int32]] = [:]
        for o in try TokenizerFixtureTests.readLines(fixtures.appendingPathComponent("\(name)/expected.jsonl")) {
            guard let id = o["id"]?.stringValue else { throw FixtureError("expected.jsonl: a line without id") }
            out[id] = try TokenizerFixtureTests.ids(o[key])
        }
        return out
    }

    /// Every fixture tokenizer through the command, with and without `--no-special`.
    static let runs: [(name: String, noSpecial: Bool)] = TokenizerFixtureTests.names.flatMap { [($0, false), ($0, true)] }

    @Test(arguments: runs.indices)
    func corpusIdsEqualTheReference(run: Int) throws {
        let (name, noSpecial) = Self.runs[run]
        let meta = try TokenizerFixtureTests.readJSON(Self.fixtures.appendingPathComponent("\(name)/meta.json"))
        guard let rel = meta.objectValue?["tokenizer_json"]?.stringValue else { throw FixtureError("\(name): no tokenizer_json") }
        let corpus = try Data(contentsOf: Self.fixtures.appendingPathComponent("texts.jsonl"))
        let tokenizer = TestSupport.repoRoot.appendingPathComponent(rel).path
        let r = try CLI.run(["tokenize", "--tokenizer", tokenizer, "--tokens"] + (noSpecial ? ["--no-special"] : []), stdin: corpus)
        #expect(r.0 == 0, "\(name): \(r.2)")
        let want = try Self.reference(name, key: noSpecial ? "ids_plain" : "ids")
        let lines = r.1.split(separator: "\n")
        #expect(lines.count == want.count, "\(name)")
        var differing: [String] = []
        for line in lines {
            let o = try JSONParser.parse(Data(line.utf8)).objectValue
            guard let id = o?["id"]?.stringValue, let ids = o?["ids"], let tokens = o?["tokens"]?.arrayValue else {
                throw FixtureError("malformed output line \(line.prefix(80))")
            }
            let got = try TokenizerFixtureTests.ids(ids)
            if got != want[id] || tokens.count != got.count { differing.append(id) }
        }
        #expect(differing.isEmpty, "\(name) noSpecial=\(noSpecial): \(differing.prefix(5))")
    }

    @Test func missingTokenizerAndClosedInputAreErrors() throws {
        let r = try CLI.run(["tokenize", "--tokenizer", "/nonexistent/tokenizer.json"], stdin: Data("x\n".utf8))
        #expect(r.0 != 0 && r.2.contains("not found"), "\(r.2)")
        let bad = try CLI.run(["tokenize", "--model", TestSupport.golden.appendingPathComponent("e5rope/model").path],
                              stdin: Data([0xFF, 0xFE, 0x0A]))
        #expect(bad.0 != 0 && bad.2.contains("UTF-8"), "\(bad.2)")
    }

    /// A .gguf path reads the vocabulary of a llama.cpp file.
    @Test func ggufVocabularyIsAccepted() throws {
        let gguf = TestSupport.repoRoot.appendingPathComponent(".cache/tokenizers/gguf/ggml-vocab-qwen35.gguf")
        guard FileManager.default.fileExists(atPath: gguf.path) else { throw FixtureError("\(gguf.path) is missing: run make setup") }
        let text = "re\u{301}sume\u{301} 2024"
        let want = try Tokenizer(gguf: gguf).encode(text)
        let r = try CLI.run(["tokenize", "--tokenizer", gguf.path], stdin: Data(("{\"id\":1,\"text\":" + JSONValue.quoted(text) + "}\n").utf8))
        #expect(r.0 == 0, "\(r.2)")
        #expect(r.1 == "{\"id\":1,\"ids\":[" + want.map(String.init).joined(separator: ",") + "]}\n", "\(r.1)")
    }
}
