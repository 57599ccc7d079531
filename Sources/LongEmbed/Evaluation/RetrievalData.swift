import Foundation

/// A document of a retrieval corpus.
public struct RetrievalDocument: Sendable, Equatable, Codable {
    public var id: String
    public var text: String
    /// The synthetic tasks' context length of the document.
    public var contextLength: Int?

    public init(id: String, text: String, contextLength: Int? = nil) {
        self.id = id; self.text = text; self.contextLength = contextLength
    }
}

/// A query of a retrieval task.
public struct RetrievalQuery: Sendable, Equatable, Codable {
    public var id: String
    public var text: String
    public var contextLength: Int?

    public init(id: String, text: String, contextLength: Int? = nil) {
        self.id = id; self.text = text; self.contextLength = contextLength
    }
}

/// Corpus, queries and relevance judgments (query id -> document id -> relevance).
public struct RetrievalSet: Sendable, Equatable {
    public var corpus: [RetrievalDocument]
    public var queries: [RetrievalQuery]
    public var qrels: [String: [String: Int]]

    public init(corpus: [RetrievalDocument], queries: [RetrievalQuery], qrels: [String: [String: Int]]) {
        self.corpus = corpus; self.queries = queries; self.qrels = qrels
    }

    /// Adds another set's documents, queries and qrels.
    public mutating func append(_ other: RetrievalSet) {
        corpus += other.corpus
        queries += other.queries
        qrels.merge(other.qrels) { _, new in new }
    }

    /// The synthetic splits ("test_256", ...) by context length, in increasing length; a set
    /// without context lengths is one split named `realSplit`.
    public func splits(realSplit: String, lengths: [Int]? = nil) -> [(name: String, length: Int?, set: RetrievalSet)] {
        let found = Set(corpus.compactMap(\.contextLength)).union(queries.compactMap(\.contextLength))
        if found.isEmpty { return [(realSplit, nil, self)] }
        return found.sorted().filter { lengths?.contains($0) ?? true }.map { len in
            let qs = queries.filter { $0.contextLength == len }
            let ids = Set(qs.map(\.id))
            return ("test_\(len)", len, RetrievalSet(corpus: corpus.filter { $0.contextLength == len }, queries: qs,
                                                       qrels: qrels.filter { ids.contains($0.key) }))
        }
    }

    /// At most `maxDocs` documents: the documents relevant to the first queries are kept first,
    /// then the rest in order; queries whose relevant documents were all dropped go too.
    public func limited(maxDocs: Int) -> RetrievalSet {
        guard corpus.count > maxDocs else { return self }
        var keep: [String] = []
        var seen = Set<String>()
        for q in queries {
            let rel = (qrels[q.id] ?? [:]).filter { $0.value > 0 }.keys.sorted()
            if keep.count + rel.filter({ !seen.contains($0) }).count > max(1, maxDocs / 2) { break }
            for d in rel where !seen.contains(d) { keep.append(d); seen.insert(d) }
        }
        for d in corpus where keep.count < maxDocs && !seen.contains(d.id) { keep.append(d.id); seen.insert(d.id) }
        let docs = corpus.filter { seen.contains($0.id) }
        let qs = queries.filter { q in (qrels[q.id] ?? [:]).contains { $0.value > 0 && seen.contains($0.key) } }
        let qids = Set(qs.map(\.id))
        return RetrievalSet(corpus: docs, queries: qs, qrels: qrels.filter { qids.contains($0.key) })
    }
}

/// Reads and writes the published LongEmbed layout `DIR/<task>/{corpus,queries,qrels}.jsonl`.
public enum RetrievalDataIO {
    /// Loads a task folder. Field names of the published dataset (doc_id, qid) and BEIR's
    /// (_id, query-id, corpus-id, score) are both accepted. Duplicate document or query ids,
    /// and qrels naming a document or query that does not exist, are errors naming the file
    /// and line.
    public static func load(task: LongEmbedTask, from root: URL) throws(EvaluationError) -> RetrievalSet {
        let dir = root.appendingPathComponent(task.folder)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw .missingTask(task: task.rawValue, path: dir.path)
        }
        let corpusRows = try rows(dir.appendingPathComponent("corpus.jsonl"))
        let corpus = try uniqueRecords(corpusRows, idKeys: ["doc_id", "_id", "id"], what: "document") {
            RetrievalDocument(id: $0, text: $1, contextLength: $2)
        }
        let queryRows = try rows(dir.appendingPathComponent("queries.jsonl"))
        let queries = try uniqueRecords(queryRows, idKeys: ["qid", "_id", "query-id", "id"], what: "query") {
            RetrievalQuery(id: $0, text: $1, contextLength: $2)
        }
        guard !corpus.isEmpty, !queries.isEmpty else { throw .emptyTask(task: task.rawValue) }
        let docIDs = Set(corpus.map(\.id)), queryIDs = Set(queries.map(\.id))
        var qrels: [String: [String: Int]] = [:]
        for r in try rows(dir.appendingPathComponent("qrels.jsonl")) {
            let q = try r.string(["qid", "query-id"]), d = try r.string(["doc_id", "corpus-id"])
            guard queryIDs.contains(q) else { throw r.error("qrel names query \"\(q)\", which is not in queries.jsonl") }
            guard docIDs.contains(d) else { throw r.error("qrel names document \"\(d)\", which is not in corpus.jsonl") }
            qrels[q, default: [:]][d] = int(r.object["score"]) ?? int(r.object["relevance"]) ?? 1
        }
        return RetrievalSet(corpus: corpus, queries: queries, qrels: qrels)
    }

    /// Records built from rows with an id (first of `idKeys`), a text and an optional
    /// context length; a repeated id is an error at its line.
    private static func uniqueRecords<T>(_ rows: [Row], idKeys: [String], what: String,
                                         _ make: (String, String, Int?) -> T) throws(EvaluationError) -> [T] {
        var seen: [String: Int] = [:]
        var out: [T] = []
        out.reserveCapacity(rows.count)
        for r in rows {
            let id = try r.string(idKeys)
            if let first = seen[id] { throw r.error("duplicate \(what) id \"\(id)\" (first at line \(first))") }
            seen[id] = r.line
            out.append(make(id, try r.string(["text"]), int(r.object["context_length"])))
        }
        return out
    }

    /// Writes a set in the published layout, each file atomically.
    public static func write(_ set: RetrievalSet, task: LongEmbedTask, to root: URL) throws(EvaluationError) {
        let dir = root.appendingPathComponent(task.folder)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw .io(path: dir.path, reason: error.localizedDescription)
        }
        func line(_ object: [String: Any]) -> String {
            // Strings and integers only: serialization cannot fail.
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        let corpus = set.corpus.map { d -> String in
            var o: [String: Any] = ["doc_id": d.id, "text": d.text]
            if let c = d.contextLength { o["context_length"] = c }
            return line(o)
        }
        let queries = set.queries.map { q -> String in
            var o: [String: Any] = ["qid": q.id, "text": q.text]
            if let c = q.contextLength { o["context_length"] = c }
            return line(o)
        }
        let qrels = set.queries.flatMap { q in
            (set.qrels[q.id] ?? [:]).sorted { $0.key < $1.key }.map { line(["qid": q.id, "doc_id": $0.key, "score": $0.value]) }
        }
        for (name, lines) in [("corpus.jsonl", corpus), ("queries.jsonl", queries), ("qrels.jsonl", qrels)] {
            try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: dir.appendingPathComponent(name))
        }
    }

    /// One JSON object of a `.jsonl` file, with where it came from.
    private struct Row {
        var file: String
        var line: Int
        var object: JSONObject

        func error(_ reason: String) -> EvaluationError { .malformedLine(file: file, line: line, reason: reason) }

        func string(_ keys: [String]) throws(EvaluationError) -> String {
            for k in keys {
                if let s = object[k]?.stringValue { return s }
                if let i = object[k]?.integerValue { return String(i) }
                if let d = object[k]?.numberValue { return String(d) }
            }
            throw error("missing string field \(keys.joined(separator: " or ")) (has \(object.members.map(\.key).sorted()))")
        }
    }

    private static func rows(_ url: URL) throws(EvaluationError) -> [Row] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .io(path: url.path, reason: "file not found or unreadable")
        }
        var out: [Row] = []
        var number = 0
        for var raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            if number == 1, raw.starts(with: [0xEF, 0xBB, 0xBF]) { raw = raw.dropFirst(3) }   // UTF-8 BOM
            if raw.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { continue }
            guard String(validating: raw, as: UTF8.self) != nil else {
                throw .malformedLine(file: url.path, line: number, reason: "invalid UTF-8")
            }
            guard let object = (try? JSONParser.parse(Data(raw)))?.objectValue else {
                throw .malformedLine(file: url.path, line: number, reason: "not a JSON object")
            }
            out.append(Row(file: url.path, line: number, object: object))
        }
        return out
    }

    private static func int(_ value: JSONValue?) -> Int? {
        value?.integerValue ?? value?.numberValue.flatMap { Int(exactly: $0) }
    }
}

/// Atomic file writes: a temporary file in the same folder, then rename(2).
public enum AtomicFile {
    /// Writes `data` to `url` through ``OutputFile`` (temporary file renamed into place; links
    /// followed; devices and FIFOs written through).
    public static func write(_ data: Data, to url: URL) throws(EvaluationError) {
        do { try OutputFile.write(data, to: url.path) } catch {
            throw .io(path: url.path, reason: error.reason)
        }
    }
}
