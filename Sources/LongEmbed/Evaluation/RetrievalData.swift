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
    /// (_id, query-id, corpus-id, score) are both accepted.
    public static func load(task: LongEmbedTask, from root: URL) throws(EvaluationError) -> RetrievalSet {
        let dir = root.appendingPathComponent(task.folder)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw .missingTask(task: task.rawValue, path: dir.path)
        }
        let corpus = try rows(dir.appendingPathComponent("corpus.jsonl")).map { r throws(EvaluationError) -> RetrievalDocument in
            RetrievalDocument(id: try string(r, ["doc_id", "_id", "id"]), text: try string(r, ["text"]), contextLength: int(r["context_length"]))
        }
        let queries = try rows(dir.appendingPathComponent("queries.jsonl")).map { r throws(EvaluationError) -> RetrievalQuery in
            RetrievalQuery(id: try string(r, ["qid", "_id", "query-id", "id"]), text: try string(r, ["text"]), contextLength: int(r["context_length"]))
        }
        var qrels: [String: [String: Int]] = [:]
        for r in try rows(dir.appendingPathComponent("qrels.jsonl")) {
            let q = try string(r, ["qid", "query-id"]), d = try string(r, ["doc_id", "corpus-id"])
            qrels[q, default: [:]][d] = int(r["score"]) ?? int(r["relevance"]) ?? 1
        }
        guard !corpus.isEmpty, !queries.isEmpty else { throw .emptyTask(task: task.rawValue) }
        return RetrievalSet(corpus: corpus, queries: queries, qrels: qrels)
    }

    /// Writes a set in the published layout, each file atomically.
    public static func write(_ set: RetrievalSet, task: LongEmbedTask, to root: URL) throws(EvaluationError) {
        let dir = root.appendingPathComponent(task.folder)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw .io(path: dir.path, reason: error.localizedDescription)
        }
        func line(_ object: [String: Any]) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
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

    private static func rows(_ url: URL) throws(EvaluationError) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .io(path: url.path, reason: "file not found or unreadable")
        }
        var out: [[String: Any]] = []
        var number = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            if raw.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 9 }) { continue }
            guard String(validating: raw, as: UTF8.self) != nil else {
                throw .malformedLine(file: url.path, line: number, reason: "invalid UTF-8")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(raw))) as? [String: Any] else {
                throw .malformedLine(file: url.path, line: number, reason: "not a JSON object")
            }
            out.append(object)
        }
        return out
    }

    private static func string(_ r: [String: Any], _ keys: [String]) throws(EvaluationError) -> String {
        for k in keys {
            if let s = r[k] as? String { return s }
            if let n = r[k] as? NSNumber { return n.stringValue }
        }
        throw .malformedLine(file: "", line: 0, reason: "missing field \(keys.joined(separator: " or ")) in \(r.keys.sorted())")
    }

    private static func int(_ any: Any?) -> Int? { (any as? NSNumber)?.intValue }
}

/// Atomic file writes: a temporary file in the same folder, then rename(2).
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws(EvaluationError) {
        let dir = url.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw .io(path: dir.path, reason: error.localizedDescription)
        }
        let temp = dir.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp")
        guard FileManager.default.createFile(atPath: temp.path, contents: data) else {
            throw .io(path: temp.path, reason: "cannot write")
        }
        if let h = FileHandle(forWritingAtPath: temp.path) { try? h.synchronize(); try? h.close() }
        guard rename(temp.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: temp)
            throw .io(path: url.path, reason: "cannot move into place")
        }
    }
}
