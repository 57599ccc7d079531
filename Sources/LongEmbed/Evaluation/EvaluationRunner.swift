import Foundation

/// A named embedder to evaluate ("none", "pi", ...).
public struct EvaluationSetting: Sendable {
    public var name: String
    public var embedder: any TextEmbedder
    public init(name: String, embedder: any TextEmbedder) {
        self.name = name
        self.embedder = embedder
    }
}

/// Runs LongEmbed tasks for several settings: embeds each split's corpus once per setting
/// (through the on-disk cache), scores queries by cosine similarity, computes MTEB's metrics
/// and writes result files.
public struct EvaluationRunner: Sendable {
    public var settings: [EvaluationSetting]
    public var tasks: [LongEmbedTask]
    /// Synthetic lengths to run (nil: all present in the data).
    public var lengths: [Int]?
    /// At most this many documents per split (nil: all).
    public var maxDocs: Int?
    /// Documents per embedder call.
    public var batchSize: Int
    public var cache: EmbeddingCache?
    /// Progress lines on stderr.
    public var showProgress: Bool
    /// Counts texts actually embedded (not served from the cache), for tests and reports.
    public let embedded = EmbedCounter()

    public init(settings: [EvaluationSetting], tasks: [LongEmbedTask], lengths: [Int]? = nil, maxDocs: Int? = nil,
                batchSize: Int = 16, cache: EmbeddingCache? = nil, showProgress: Bool = false) {
        self.settings = settings
        self.tasks = tasks
        self.lengths = lengths
        self.maxDocs = maxDocs
        self.batchSize = batchSize
        self.cache = cache
        self.showProgress = showProgress
    }

    /// Evaluates every task for every setting; `data(task)` supplies each task's set.
    public func run(data: (LongEmbedTask) throws(EvaluationError) -> RetrievalSet) throws(EvaluationError) -> [String: [TaskEvaluation]] {
        guard batchSize >= 1 else { throw .invalidOption("batch size must be at least 1") }
        var out: [String: [TaskEvaluation]] = [:]
        for task in tasks {
            let set = try data(task)
            var splits = set.splits(realSplit: task.split, lengths: task.isSynthetic ? lengths : nil)
            if let maxDocs { splits = splits.map { ($0.name, $0.length, $0.set.limited(maxDocs: maxDocs)) } }
            for setting in settings {
                var evaluation = TaskEvaluation(task: task, setting: setting.name, splits: [:])
                for split in splits {
                    let start = ContinuousClock.now
                    let label = "\(setting.name) \(task.shortName) \(split.name)"
                    let docs = try embed(split.set.corpus.map(\.text), role: .document, with: setting.embedder, label: label)
                    let queries = try embed(split.set.queries.map(\.text), role: .query, with: setting.embedder, label: label)
                    var scores: [String: [String: Double]] = [:]
                    for (q, qv) in zip(split.set.queries, queries) {
                        var row: [String: Double] = [:]
                        for (d, dv) in zip(split.set.corpus, docs) {
                            var dot = 0.0
                            for i in 0..<min(qv.count, dv.count) { dot += Double(qv[i]) * Double(dv[i]) }
                            row[d.id] = dot
                        }
                        scores[q.id] = row
                    }
                    var metrics = RetrievalMetrics.evaluate(scores: scores, qrels: split.set.qrels)
                    metrics["evaluation_time"] = (BenchmarkTimer.seconds(ContinuousClock.now - start) * 100).rounded() / 100
                    evaluation.splits[split.name] = metrics
                }
                out[setting.name, default: []].append(evaluation)
            }
        }
        return out
    }

    /// Vectors for `texts` in order: cached ones read back, the rest embedded longest first in
    /// batches and cached as soon as each batch is done.
    func embed(_ texts: [String], role: TextRole, with embedder: any TextEmbedder, label: String) throws(EvaluationError) -> [[Float]] {
        var result = [[Float]?](repeating: nil, count: texts.count)
        var keys: [String] = []
        if let cache {
            let identity: String
            do { identity = try embedder.identity } catch { throw .embedding("cannot compute the embedder's identity: \(error)") }
            keys = texts.map { EmbeddingCache.key(identity: identity, role: role, text: $0) }
            for i in texts.indices { result[i] = cache.get(keys[i], dimension: embedder.dimension) }
        }
        let missing = texts.indices.filter { result[$0] == nil }.sorted { texts[$0].utf8.count > texts[$1].utf8.count }
        let progress = showProgress && role == .document && !missing.isEmpty ? ProgressLine(label: label, total: missing.count) : nil
        var done = 0, tokens = 0
        var start = 0
        while start < missing.count {
            let batch = Array(missing[start..<min(start + batchSize, missing.count)])
            let vectors: [[Float]]
            do { vectors = try embedder.embed(batch.map { texts[$0] }, role: role) } catch {
                throw .embedding("\(error)")
            }
            guard vectors.count == batch.count else { throw .embedding("embedder returned \(vectors.count) vectors for \(batch.count) texts") }
            embedded.add(batch.count)
            for (i, v) in zip(batch, vectors) {
                guard v.count == embedder.dimension, v.allSatisfy(\.isFinite) else {
                    throw .embedding("embedder returned a vector that is not finite or not of dimension \(embedder.dimension)")
                }
                result[i] = v
                if let cache { try cache.put(keys[i], v) }
                tokens += embedder.tokenCount(texts[i])
            }
            done += batch.count
            progress?.update(done: done, tokens: tokens)
            start += batchSize
        }
        progress?.finish()
        return result.map { $0 ?? [] }
    }
}

/// A thread-safe counter.
public final class EmbedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    public init() {}
    public var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    func add(_ n: Int) { lock.lock(); value += n; lock.unlock() }
}

/// A progress line on stderr: items done, items/s, tokens/s and ETA. Redrawn in place on a
/// terminal, printed every 10 seconds otherwise.
public final class ProgressLine {
    private let label: String
    private let total: Int
    private let start = ContinuousClock.now
    private var last: ContinuousClock.Instant?
    private let terminal = isatty(2) != 0
    private var printed = false

    /// A progress line for `total` items named `label`.
    public init(label: String, total: Int) {
        self.label = label
        self.total = total
    }

    /// Reports `done` items and `tokens` tokens processed so far.
    public func update(done: Int, tokens: Int) {
        let now = ContinuousClock.now
        let elapsed = max(BenchmarkTimer.seconds(now - start), 1e-3)
        // Runs shorter than a second stay quiet.
        guard elapsed > 1, last.map({ BenchmarkTimer.seconds(now - $0) > (terminal ? 0.25 : 10) }) ?? true || done == total else { return }
        last = now
        printed = true
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 24, filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d docs  %.1f docs/s  %.0f tokens/s  ETA %.0fs",
                          label, bar, done, total, rate, Double(tokens) / elapsed, eta)
        FileHandle.standardError.write(Data(((terminal ? "\r\u{1B}[K" : "") + line + (terminal ? "" : "\n")).utf8))
    }

    /// Ends the line.
    public func finish() {
        if terminal && printed { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
