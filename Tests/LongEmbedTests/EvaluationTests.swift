import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import LongEmbed

/// A deterministic bag-of-words embedder: hashed word counts, L2-normalized.
final class HashingEmbedder: TextEmbedder, @unchecked Sendable {
    let identity: String
    let dimension = 64
    private let lock = NSLock()
    private(set) var calls = 0

    init(identity: String = "hashing-v1") { self.identity = identity }

    func embed(_ texts: [String], role: TextRole) throws -> [[Float]] {
        lock.lock(); calls += texts.count; lock.unlock()
        return texts.map { text in
            var v = [Float](repeating: 0, count: dimension)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }) {
                var h: UInt64 = 1469598103934665603
                for b in word.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
                v[Int(h % UInt64(dimension))] += 1
            }
            let n = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            return v.map { $0 / n }
        }
    }
}

@Suite struct MetricsTests {
    @Test func handComputedRankingMetrics() throws {
        // One query, relevant docs a (rel 1) and c (rel 2); ranking: b, a, c, d.
        let m = RetrievalMetrics.perQuery(ranking: ["b", "a", "c", "d"], relevant: ["a": 1, "c": 2])
        // DCG@3 = 1/log2(3) + 2/log2(4) = 0.63093 + 1; IDCG@3 = 2 + 1/log2(3) = 2.63093.
        let ndcg3 = try #require(m["ndcg_at_3"])
        #expect(abs(ndcg3 - (1 / log2(3.0) + 1) / (2 + 1 / log2(3.0))) < 1e-12)
        #expect(m["ndcg_at_1"] == 0)
        // AP@3 = (1/2 + 2/3) / 2.
        let map3 = try #require(m["map_at_3"])
        #expect(abs(map3 - (0.5 + 2.0 / 3.0) / 2) < 1e-12)
        #expect(m["map_at_1"] == 0)
        #expect(m["recall_at_1"] == 0 && m["recall_at_3"] == 1 && m["recall_at_5"] == 1)
        let precision3 = try #require(m["precision_at_3"])
        #expect(abs(precision3 - 2.0 / 3.0) < 1e-12)
        #expect(m["precision_at_10"] == 0.2)
        #expect(m["mrr_at_1"] == 0 && m["mrr_at_3"] == 0.5)
    }

    @Test func tiesAreBrokenByDescendingDocumentID() {
        // Equal scores: trec_eval ranks the larger document id first.
        #expect(RetrievalMetrics.rank(["doc1": 0.5, "doc3": 0.5, "doc2": 0.9, "doc0": 0.5]) == ["doc2", "doc3", "doc1", "doc0"])
        let scores: [String: [String: Double]] = ["q1": ["d1": 0.7, "d2": 0.7], "q2": ["d1": 0.7, "d2": 0.7]]
        let qrels = ["q1": ["d1": 1], "q2": ["d2": 1]]
        let m = RetrievalMetrics.evaluate(scores: scores, qrels: qrels)
        // q1's relevant d1 ranks second (d2 > d1), q2's d2 first.
        #expect(m["ndcg_at_1"] == 0.5)
        #expect(m["mrr_at_10"] == 0.75)
        #expect(m["map_at_10"] == 0.75)
        #expect(m["ndcg_at_10"] == RetrievalMetrics.perQuery(ranking: ["d2", "d1"], relevant: ["d1": 1])["ndcg_at_10"].map { (1 + $0) / 2 * 100_000 }.map { $0.rounded() / 100_000 })
    }

    @Test func averagesAreRoundedToFiveDecimals() {
        let scores: [String: [String: Double]] = ["a": ["x": 1, "y": 0, "z": 0.5], "b": ["x": 1, "y": 0, "z": 0.5], "c": ["x": 0, "y": 1, "z": 0.5]]
        let qrels = ["a": ["x": 1], "b": ["z": 1], "c": ["z": 1]]
        let m = RetrievalMetrics.evaluate(scores: scores, qrels: qrels)
        #expect(m["ndcg_at_1"] == 0.33333)
        #expect(m["precision_at_3"] == 0.33333)
        #expect(Set(m.keys).count == 35)
    }

    @Test func sha256KnownVectors() {
        #expect(ContentDigest.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentDigest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ContentDigest.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(ContentDigest.hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

@Suite struct SyntheticDataTests {
    @Test func passkeyFollowsThePaperRecipe() throws {
        let set = SyntheticData.passkey(lengths: [256, 1024], seed: 7)
        #expect(set.corpus.count == 200 && set.queries.count == 100)
        let names = set.corpus.compactMap { doc -> String? in
            let line = doc.text.split(separator: "\n").first { $0.contains("pass key is") }
            return line.map { String($0.components(separatedBy: "'s pass key")[0]) }
        }
        #expect(Set(names).count == 200, "one unique person per document")
        for doc in set.corpus {
            let contextLength = try #require(doc.contextLength)
            #expect(doc.text.split(whereSeparator: \.isWhitespace).count <= Int(Double(contextLength) * 0.75))
            #expect(doc.text.contains(SyntheticData.filler))
            let m = doc.text.range(of: #"pass key is (\d{5})\. Remember it\. \1 is the pass key for"#, options: .regularExpression)
            #expect(m != nil, "\(doc.id)")
        }
        for q in set.queries {
            let name = q.text.replacingOccurrences(of: "what is the passkey for ", with: "").replacingOccurrences(of: "?", with: "")
            let docID = try #require(set.qrels[q.id]?.keys.first)
            let doc = try #require(set.corpus.first { $0.id == docID })
            #expect(doc.text.contains("\(name)'s pass key") && doc.contextLength == q.contextLength)
        }
        // Deterministic by seed.
        #expect(SyntheticData.passkey(lengths: [256], seed: 7) == SyntheticData.passkey(lengths: [256], seed: 7))
        #expect(SyntheticData.passkey(lengths: [256], seed: 7) != SyntheticData.passkey(lengths: [256], seed: 8))
    }

    @Test func needleInsertsOneFactPerDocument() throws {
        #expect(NeedleFacts.all.count >= 100)
        #expect(Set(NeedleFacts.all.map(\.question)).count == NeedleFacts.all.count)
        let haystack = (0..<3000).map { "word\($0 % 97) filler sentence number \($0)." }.joined(separator: " ")
        let set = try SyntheticData.needle(haystack: haystack, lengths: [512], seed: 3)
        #expect(set.corpus.count == 100 && set.queries.count == 50)
        for q in set.queries {
            let fact = try #require(NeedleFacts.all.first { $0.question == q.text }).fact
            let docID = try #require(set.qrels[q.id]?.keys.first)
            let doc = try #require(set.corpus.first { $0.id == docID })
            #expect(doc.text.contains(fact))
            #expect(doc.text.split(whereSeparator: \.isWhitespace).count <= 384)
        }
        #expect(throws: EvaluationError.self) { try SyntheticData.needle(haystack: "too short", lengths: [512]) }
    }

    @Test func publishedLayoutRoundTripsAndBEIRNamesLoad() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let set = SyntheticData.passkey(lengths: [256], seed: 1, documents: 6, queries: 3)
        try RetrievalDataIO.write(set, task: .passkey, to: dir)
        let back = try RetrievalDataIO.load(task: .passkey, from: dir)
        #expect(back.corpus == set.corpus && back.queries == set.queries && back.qrels == set.qrels)
        // BEIR field names.
        let beir = dir.appendingPathComponent("qmsum")
        try FileManager.default.createDirectory(at: beir, withIntermediateDirectories: true)
        try Data(#"{"_id": "d1", "text": "meeting notes"}"#.utf8).write(to: beir.appendingPathComponent("corpus.jsonl"))
        try Data(#"{"_id": "q1", "text": "what was decided?"}"#.utf8).write(to: beir.appendingPathComponent("queries.jsonl"))
        try Data(#"{"query-id": "q1", "corpus-id": "d1", "score": 1}"#.utf8).write(to: beir.appendingPathComponent("qrels.jsonl"))
        let q = try RetrievalDataIO.load(task: .qmsum, from: dir)
        #expect(q.qrels == ["q1": ["d1": 1]] && q.corpus.first?.id == "d1")
        // Missing task: the message says what to download and where.
        do {
            _ = try RetrievalDataIO.load(task: .narrativeQA, from: dir)
            Issue.record("missing task accepted")
        } catch {
            #expect("\(error)".contains("dwzhu/LongEmbed") && "\(error)".contains("narrativeqa"))
        }
        // Malformed line and invalid UTF-8 name the file and line.
        try Data("{\"_id\": \"d1\", \"text\": \"x\"}\n{broken\n".utf8).write(to: beir.appendingPathComponent("corpus.jsonl"))
        #expect(throws: EvaluationError.malformedLine(file: beir.appendingPathComponent("corpus.jsonl").path, line: 2, reason: "not a JSON object")) {
            try RetrievalDataIO.load(task: .qmsum, from: dir)
        }
        try Data([0x7b, 0xff, 0xfe, 0x7d]).write(to: beir.appendingPathComponent("corpus.jsonl"))
        #expect(throws: EvaluationError.self) { try RetrievalDataIO.load(task: .qmsum, from: dir) }
    }
}

@Suite struct EvaluationRunnerTests {
    @Test func accuracyMatchesAnIndependentCosineTop1AndResultsAreMTEBShaped() throws {
        let set = SyntheticData.passkey(lengths: [256, 512], seed: 5, documents: 30, queries: 15)
        let embedder = HashingEmbedder()
        let runner = EvaluationRunner(settings: [EvaluationSetting(name: "bow", embedder: embedder)], tasks: [.passkey])
        let result = try #require(try runner.run { _ in set }["bow"]?.first)
        for split in set.splits(realSplit: "test") {
            // Independent Acc@1: cosine top-1, ties to the larger document id.
            let docs = try embedder.embed(split.set.corpus.map(\.text), role: .document)
            let queries = try embedder.embed(split.set.queries.map(\.text), role: .query)
            var hits = 0
            for (q, qv) in zip(split.set.queries, queries) {
                var best: (score: Float, id: String) = (-2, "")
                for (d, dv) in zip(split.set.corpus, docs) {
                    let s = zip(qv, dv).reduce(0) { $0 + $1.0 * $1.1 }
                    if s > best.score + 1e-6 || (abs(s - best.score) <= 1e-6 && d.id > best.id) { best = (s, d.id) }
                }
                if split.set.qrels[q.id]?[best.id] == 1 { hits += 1 }
            }
            let acc = Double(hits) / Double(split.set.queries.count)
            let ndcg1 = try #require(result.splits[split.name]?["ndcg_at_1"])
            #expect(abs(ndcg1 - acc) < 1e-5, "\(split.name)")
        }
        // Same keys as the authors' MTEB 1.6.23 files.
        let json = try #require(try JSONSerialization.jsonObject(with: ResultWriter.mtebJSON(result, datasetRevision: "x")) as? [String: Any])
        let golden = try #require(try Golden.json("results_format/e5-base-v2_LEMBPasskeyRetrieval.json") as? [String: Any])
        let jsonTest256 = try #require(json["test_256"] as? [String: Any])
        let goldenTest256 = try #require(golden["test_256"] as? [String: Any])
        #expect(Set(jsonTest256.keys) == Set(goldenTest256.keys))
        #expect(Set(json.keys).isSubset(of: Set(golden.keys)))
        #expect(json["mteb_dataset_name"] as? String == "LEMBPasskeyRetrieval")
        let overall = try #require(try JSONSerialization.jsonObject(with: ResultWriter.overallJSON([result])) as? [String: [String: Double]])
        #expect(overall["LEMBPasskeyRetrieval"]?["avg"] == result.mainScore)
        // Summary table and SVG.
        let table = ResultWriter.markdownTable(rows: [("bow", [result])])
        #expect(table.contains("| bow | \(String(format: "%.1f", 100 * result.mainScore)) | - |"))
        let svg = ResultWriter.svg(rows: [("bow", [result])])
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.hasSuffix("</svg>\n"))
        #expect((try? XMLDocument(xmlString: svg)) != nil)
    }

    @Test func cacheServesResumedRunsAndRecomputesCorruptEntries() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let set = SyntheticData.passkey(lengths: [256], seed: 2, documents: 12, queries: 6)
        let cache = EmbeddingCache(directory: dir)
        let first = HashingEmbedder()
        let r1 = try EvaluationRunner(settings: [.init(name: "a", embedder: first)], tasks: [.passkey], cache: cache).run { _ in set }
        #expect(first.calls == 18)
        let second = HashingEmbedder()
        let r2 = try EvaluationRunner(settings: [.init(name: "a", embedder: second)], tasks: [.passkey], cache: cache).run { _ in set }
        #expect(second.calls == 0, "a resumed run recomputes nothing")
        let split1 = try #require(r1["a"]?.first?.splits["test_256"])
        let split2 = try #require(r2["a"]?.first?.splits["test_256"])
        #expect(split1["ndcg_at_10"] == split2["ndcg_at_10"])
        // Truncate one entry and corrupt another: both are recomputed, nothing else.
        let enumerator = try #require(FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil))
        let files = enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "emb" }
        #expect(files.count == 18)
        try #require(files.count >= 2, "need two cache entries to damage, found \(files.count)")
        try Data(try Data(contentsOf: files[0]).prefix(10)).write(to: files[0])
        var bytes = [UInt8](try Data(contentsOf: files[1]))
        try #require(bytes.count > 20, "cache entry \(files[1].lastPathComponent) has only \(bytes.count) bytes")
        bytes[20] ^= 0xFF
        try Data(bytes).write(to: files[1])
        let third = HashingEmbedder()
        _ = try EvaluationRunner(settings: [.init(name: "a", embedder: third)], tasks: [.passkey], cache: cache).run { _ in set }
        #expect(third.calls == 2)
        // Another identity does not reuse the entries.
        let other = HashingEmbedder(identity: "hashing-v2")
        _ = try EvaluationRunner(settings: [.init(name: "b", embedder: other)], tasks: [.passkey], cache: cache).run { _ in set }
        #expect(other.calls == 18)
    }

    @Test func maxDocsKeepsEveryKeptQuerysAnswer() throws {
        let set = SyntheticData.passkey(lengths: [256], seed: 4)
        let small = set.limited(maxDocs: 20)
        #expect(small.corpus.count == 20)
        #expect(!small.queries.isEmpty)
        let ids = Set(small.corpus.map(\.id))
        for q in small.queries {
            let relevant = try #require(small.qrels[q.id])
            #expect(relevant.keys.allSatisfy { ids.contains($0) })
        }
    }
}
