import Foundation

/// Retrieval metrics exactly as MTEB reports them.
///
/// MTEB computes nDCG, MAP, recall and precision with pytrec_eval (trec_eval's `ndcg_cut`,
/// `map_cut`, `recall` and `P` at each k) and MRR itself; each is averaged over queries and
/// rounded to 5 decimals. Ranking follows trec_eval: score descending, ties broken by document
/// id in descending byte order; at most the top 1000 documents are ranked.
public enum RetrievalMetrics {
    /// The cut-offs MTEB reports.
    public static let kValues = [1, 3, 5, 10, 20, 100, 1000]

    /// The ranked document ids of one query.
    public static func rank(_ scores: [String: Double], limit: Int = 1000) -> [String] {
        let sorted = scores.sorted { a, b in
            a.value != b.value ? a.value > b.value : b.key.utf8.lexicographicallyPrecedes(a.key.utf8)
        }
        return Array(sorted.prefix(limit).map(\.key))
    }

    /// Per-query metric values (unrounded) keyed like MTEB ("ndcg_at_10", ...).
    public static func perQuery(ranking: [String], relevant: [String: Int]) -> [String: Double] {
        let rels = ranking.map { max(relevant[$0] ?? 0, 0) }
        let totalRelevant = relevant.values.filter { $0 > 0 }.count
        let ideal = relevant.values.filter { $0 > 0 }.sorted(by: >)
        var out: [String: Double] = [:]
        for k in kValues {
            var dcg = 0.0, idcg = 0.0, hits = 0, apSum = 0.0
            var firstHit: Int?
            for (i, r) in rels.prefix(k).enumerated() {
                if r > 0 {
                    dcg += Double(r) / log2(Double(i + 2))
                    hits += 1
                    apSum += Double(hits) / Double(i + 1)
                    if firstHit == nil { firstHit = i }
                }
            }
            for (i, r) in ideal.prefix(k).enumerated() { idcg += Double(r) / log2(Double(i + 2)) }
            out["ndcg_at_\(k)"] = idcg > 0 ? dcg / idcg : 0
            out["map_at_\(k)"] = totalRelevant > 0 ? apSum / Double(totalRelevant) : 0
            out["recall_at_\(k)"] = totalRelevant > 0 ? Double(hits) / Double(totalRelevant) : 0
            out["precision_at_\(k)"] = Double(hits) / Double(k)
            out["mrr_at_\(k)"] = firstHit.map { 1 / Double($0 + 1) } ?? 0
        }
        return out
    }

    /// Metrics averaged over the queries that have judgments, rounded to 5 decimals.
    /// - Parameters:
    ///   - scores: query id -> document id -> similarity.
    ///   - qrels: query id -> document id -> relevance.
    public static func evaluate(scores: [String: [String: Double]], qrels: [String: [String: Int]]) -> [String: Double] {
        var sums: [String: Double] = [:]
        var n = 0
        for (qid, docScores) in scores {
            guard let rel = qrels[qid] else { continue }
            n += 1
            for (key, value) in perQuery(ranking: rank(docScores), relevant: rel) { sums[key, default: 0] += value }
        }
        var out: [String: Double] = [:]
        for (key, value) in sums { out[key] = round5(n > 0 ? value / Double(n) : 0) }
        return out
    }

    static func round5(_ x: Double) -> Double { (x * 100_000).rounded() / 100_000 }
}
