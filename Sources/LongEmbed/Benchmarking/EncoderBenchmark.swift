import Foundation

/// Peak resident memory of this process, from /proc/self/status.
public enum ProcessMemory {
    /// Peak resident set size in bytes (VmHWM), or nil where /proc is unavailable.
    public static func peakResidentBytes() -> Int? { field("VmHWM:") }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}

/// One measured configuration of ``EncoderBenchmark``.
public struct EncoderBenchmarkResult: Sendable {
    /// Tokens per document (special tokens included).
    public var tokens: Int
    /// Documents per call.
    public var batch: Int
    /// Median seconds of one call (tokenization excluded).
    public var medianSeconds: Double
    /// Every repeat's seconds.
    public var seconds: [Double]
    /// Seconds to tokenize the batch.
    public var tokenizeSeconds: Double
    /// Throughput: tokens embedded per second (median).
    public var tokensPerSecond: Double { Double(tokens * batch) / medianSeconds }
    /// Peak RSS of the process after the run.
    public var peakResidentBytes: Int?
    /// Per-operation profile of one forward pass (when profiling).
    public var profile: [OperationProfile]
}

/// Times the encoder end to end on synthetic documents of an exact token count.
public enum EncoderBenchmark {
    /// The longest synthetic document the benchmarks build (the filler text alone for more would
    /// take gigabytes before the encoder sees it).
    public static let maxDocumentTokens = 1 << 20

    /// A document of exactly `tokens` tokens (special tokens included) made of the passkey
    /// filler text (``SyntheticData/filler`` repeated, a space after each copy);
    /// `tokens <= maxDocumentTokens`.
    public static func document(tokens: Int, tokenizer: Tokenizer) -> [Int32] {
        let unit = SyntheticData.filler + " "
        let perFiller = max(1, tokenizer.encode(unit, addSpecialTokens: false).count)
        // Copies can merge at their seams (byte-level BPE, SentencePiece), so a copy may take
        // fewer tokens inside the text than alone: add copies until the text is long enough.
        var copies = tokens / perFiller + 2
        while true {
            let ids = tokenizer.encode(String(repeating: unit, count: copies), maxTokens: tokens)
            if ids.count >= tokens || copies > 2 * tokens { return ids }
            copies += (tokens - ids.count) / perFiller + 1
        }
    }

    /// Runs `repeats` timed calls (after one warm-up unless `repeats == 1`) of `batch` documents
    /// of `tokens` tokens each through one encoder built with `makeEncoder(kernels)`.
    public static func run(tokens: Int, batch: Int, repeats: Int, profile: Bool,
                           makeEncoder: (any Kernels) throws -> Encoder) throws -> EncoderBenchmarkResult {
        // One encoder (one copy of the weights), so peak RSS is the model's own.
        let plain = try makeEncoder(DefaultKernels())
        let a = plain.architecture
        let profiler = ProfilingKernels(wrapping: DefaultKernels(), qkvWidth: (a.heads + 2 * a.kvHeads) * a.headDim)
        let encoder = profile ? try makeEncoder(profiler) : plain
        var ids: [Int32] = []
        let tokenizeSeconds = BenchmarkTimer.seconds { ids = document(tokens: tokens, tokenizer: encoder.tokenizer) }
        let docs = [[Int32]](repeating: ids, count: batch)
        if repeats > 1 { _ = try encoder.embed(tokenIDs: docs) }
        var times: [Double] = []
        for r in 0..<max(1, repeats) {
            if profile && r == max(1, repeats) - 1 {
                profiler.reset()
                profiler.record("tokenize", seconds: tokenizeSeconds * Double(batch))
            }
            times.append(try BenchmarkTimer.seconds { _ = try encoder.embed(tokenIDs: docs) })
        }
        var profileRows: [OperationProfile] = []
        if profile {
            profileRows = profiler.profile
            let kernelSeconds = profileRows.filter { $0.name != "tokenize" }.reduce(0) { $0 + $1.seconds }
            let other = max(0, times.last! - kernelSeconds)
            profileRows.append(OperationProfile(name: "embeddings + other", seconds: other, calls: 1, flops: 0))
            profileRows.sort { $0.seconds > $1.seconds }
        }
        return EncoderBenchmarkResult(tokens: ids.count, batch: batch, medianSeconds: Statistics.median(times),
                                      seconds: times, tokenizeSeconds: tokenizeSeconds,
                                      peakResidentBytes: ProcessMemory.peakResidentBytes(), profile: profileRows)
    }

    /// A text table of a profile: time, % of total and GFLOP/s per operation.
    public static func formatProfile(_ rows: [OperationProfile]) -> String {
        let total = rows.reduce(0) { $0 + $1.seconds }
        let width = max(28, rows.map(\.name.count).max() ?? 0)
        var out = "operation".padding(toLength: width, withPad: " ", startingAt: 0) + "   seconds      %   GFLOP/s  calls\n"
        for r in rows {
            let name = r.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let gf = r.gflops.map { String(format: "%9.1f", $0) } ?? "        -"
            out += String(format: "%@ %9.4f %6.1f %@ %6d\n", name, r.seconds, total > 0 ? 100 * r.seconds / total : 0, gf, r.calls)
        }
        out += String(format: "%@ %9.4f  100.0\n", "total".padding(toLength: width, withPad: " ", startingAt: 0), total)
        return out
    }
}
