import Foundation
import Testing
@testable import LongEmbed

/// Every tokenizer of `Tests/Fixtures/tokenizers` against the ids, pair encodings and decoded
/// texts Hugging Face `tokenizers` gives on the shared corpus (see that folder's README; the
/// larger tokenizer files are fetched by `make setup` into `.cache/tokenizers`).
@Suite struct TokenizerFixtureTests {
    static let root = TestSupport.golden.appendingPathComponent("tokenizers", isDirectory: true)

    /// The fixture sets: the folders holding a meta.json.
    static let names: [String] = {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return all.filter { FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/meta.json").path) }.sorted()
    }()

    static func readJSON(_ url: URL) throws -> JSONValue {
        do { return try JSONParser.parse(try Data(contentsOf: url)) } catch let e as JSONParser.Failure {
            throw FixtureError("\(url.path): \(e.message) at byte \(e.offset)")
        }
    }

    static func readLines(_ url: URL) throws -> [JSONObject] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var out: [JSONObject] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            let v: JSONValue
            do { v = try JSONParser.parse(Data(line.utf8)) } catch { throw FixtureError("\(url.lastPathComponent): \(error.message)") }
            guard let o = v.objectValue else { throw FixtureError("\(url.lastPathComponent): a line that is not an object") }
            out.append(o)
        }
        return out
    }

    static func ids(_ v: JSONValue?) throws -> [Int32] {
        guard let a = v?.arrayValue else { throw FixtureError("not an id list: \(v?.brief ?? "nil")") }
        return try a.map { x in
            guard let i = x.integerValue else { throw FixtureError("not an id: \(x.brief)") }
            return Int32(i)
        }
    }

    /// The corpus: id -> text.
    static func corpus() throws -> [String: String] {
        var out: [String: String] = [:]
        for o in try readLines(root.appendingPathComponent("texts.jsonl")) {
            guard let id = o["id"]?.stringValue, let text = o["text"]?.stringValue else { throw FixtureError("texts.jsonl: a line without id or text") }
            out[id] = text
        }
        return out
    }

    static func tokenizer(_ name: String) throws -> Tokenizer {
        let meta = try readJSON(root.appendingPathComponent("\(name)/meta.json"))
        guard let rel = meta.objectValue?["tokenizer_json"]?.stringValue else { throw FixtureError("\(name)/meta.json has no tokenizer_json") }
        let url = TestSupport.repoRoot.appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FixtureError("\(rel) is missing: `make setup` fetches it (scripts/fetch-tokenizers.sh)")
        }
        return try Tokenizer(url: url)
    }

    @Test func everyFixtureSetIsPresent() {
        #expect(Self.names.count >= 7, "\(Self.names)")
    }

    @Test(arguments: names)
    func idsAndDecodingMatchTheReference(name: String) throws {
        let tok = try Self.tokenizer(name)
        let texts = try Self.corpus()
        var failures: [String] = []
        let lines = try Self.readLines(Self.root.appendingPathComponent("\(name)/expected.jsonl"))
        #expect(lines.count == texts.count, "\(name): \(lines.count) expected lines for \(texts.count) texts")
        for o in lines {
            guard let id = o["id"]?.stringValue, let text = texts[id] else { throw FixtureError("\(name): unknown text id") }
            if tok.encode(text) != (try Self.ids(o["ids"])) { failures.append("\(id): ids") }
            if tok.encode(text, addSpecialTokens: false) != (try Self.ids(o["ids_plain"])) { failures.append("\(id): ids_plain") }
            let reference = try Self.ids(o["ids"])
            if tok.decode(reference) != o["decoded"]?.stringValue { failures.append("\(id): decoded \(tok.decode(reference).debugDescription)") }
            if tok.decode(reference, skipSpecialTokens: false) != o["decoded_all"]?.stringValue { failures.append("\(id): decoded_all") }
        }
        #expect(failures.isEmpty, "\(name): \(failures.count) differences, first: \(failures.prefix(8))")
    }

    @Test(arguments: names)
    func pairEncodingsMatchTheReference(name: String) throws {
        let tok = try Self.tokenizer(name)
        let texts = try Self.corpus()
        var failures: [String] = []
        for o in try Self.readLines(Self.root.appendingPathComponent("\(name)/pairs.jsonl")) {
            guard let a = o["a_id"]?.stringValue.flatMap({ texts[$0] }), let b = o["b_id"]?.stringValue.flatMap({ texts[$0] }) else {
                throw FixtureError("\(name)/pairs.jsonl: unknown text id")
            }
            let got = tok.encode(a, pair: b)
            let ids = try Self.ids(o["ids"]), types = try Self.ids(o["type_ids"])
            if got.ids != ids || got.typeIDs != types {
                failures.append("\(o["a_id"]?.brief ?? "") + \(o["b_id"]?.brief ?? "")")
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures.count) differing pairs, first: \(failures.prefix(5))")
    }
}
