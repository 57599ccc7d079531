import CKernels

/// Result of ``AttentionBenchmark/run(tokens:heads:headDim:selfExtend:repeats:)``.
public struct AttentionBenchmarkResult: Sendable {
    public var tokens: Int
    public var heads: Int
    public var headDim: Int
    /// SelfExtend (group, window), or nil for plain attention.
    public var selfExtend: (group: Int, window: Int)?
    /// Median seconds of one attention call.
    public var seconds: Double
    /// Attention GFLOP/s, counting `4 L² d` per head.
    public var gflops: Double
    /// OpenBLAS sgemm GFLOP/s on a problem of equal FLOPs, measured in the same run.
    public var sgemmGflops: Double
    /// Median seconds of plain attention, when SelfExtend was measured (same run).
    public var plainSeconds: Double?
    /// Peak RSS of the process (VmHWM) after the run.
    public var peakResidentBytes: Int?
    /// Causal runs: the bidirectional kernel's GFLOP/s on the same inputs, same run (the causal
    /// rate counts only the pairs `j <= i` it computes).
    public var bidirectionalGflops: Double?

    /// Attention rate over sgemm rate.
    public var ratio: Double { gflops / sgemmGflops }
}

/// Times the native attention kernel at long lengths against OpenBLAS sgemm in the same run.
///
/// The sgemm reference multiplies `[L, d] x [d, L]` (the QK^T shape of one head) repeated over
/// `2 * heads` calls, which is exactly the `4 L² d heads` FLOPs of attention.
public enum AttentionBenchmark {
    /// - Parameter causal: time causal (decoder) attention, and the bidirectional kernel beside it.
    public static func run(tokens n: Int, heads: Int, headDim d: Int, selfExtend: (group: Int, window: Int)?,
                           repeats: Int, causal: Bool = false) throws(KernelError) -> AttentionBenchmarkResult {
        guard n >= 1, heads >= 1, d >= 1, repeats >= 1 else {
            throw .invalidShape(operation: "bench attention", detail: "tokens, heads, head dim and repeats must be >= 1")
        }
        let row = heads * d
        let count = n * row
        let sets = selfExtend == nil ? 3 : 7   // q, k, v (+ four grouped views)
        var buffers: [UnsafeMutablePointer<Float>] = []
        defer { for b in buffers { ck_free_f32(b, count) } }
        for s in 0..<(sets + 1) {
            guard let b = ck_alloc_f32(count) else { throw .outOfMemory(operation: "bench attention") }
            buffers.append(b)
            if s < sets { fill(b, count, seed: UInt64(s + 1)) }
        }
        let out = buffers[sets]
        let shape = AttentionShape(queries: n, keys: n, heads: heads, headDim: d, causal: causal)
        let kernels = NativeKernels()

        func timePlain(_ shape: AttentionShape) throws(KernelError) -> Double {
            try BenchmarkTimer.median(repeats: repeats) { () throws(KernelError) in
                try kernels.attention(shape: shape, q: buffers[0], k: buffers[1], v: buffers[2], out: out)
            }
        }
        var plainSeconds: Double?
        let seconds: Double
        if let se = selfExtend {
            let inputs = SelfExtendInputs(q: buffers[0], k: buffers[1], qLower: buffers[3], kLower: buffers[4],
                                          qUpper: buffers[5], kUpper: buffers[6])
            seconds = try BenchmarkTimer.median(repeats: repeats) { () throws(KernelError) in
                try kernels.selfExtendAttention(shape: shape, window: se.window, inputs: inputs, v: buffers[2], out: out)
            }
            plainSeconds = try timePlain(shape)
        } else {
            seconds = try timePlain(shape)
        }
        let flops = 4 * Double(shape.attendedPairs) * Double(d) * Double(heads)
        var bidirectional: Double?
        if causal {
            let full = AttentionShape(queries: n, keys: n, heads: heads, headDim: d)
            bidirectional = 4 * Double(n) * Double(n) * Double(d) * Double(heads) / (try timePlain(full)) / 1e9
        }
        let peak = ProcessMemory.peakResidentBytes()

        // sgemm of equal FLOPs: C = A[L, d] B[L, d]^T (QK^T of one head), 2 * heads times, in
        // row panels of 1024 so that the L x L product never exists at once.
        let panel = min(n, 1024)
        guard let c = ck_alloc_f32(panel * n) else { throw .outOfMemory(operation: "bench attention") }
        defer { ck_free_f32(c, panel * n) }
        let sgemmSeconds = try BenchmarkTimer.median(repeats: repeats) { () throws(KernelError) in
            for h in 0..<(2 * heads) {
                let a = buffers[h % 2] + (h / 2) * d
                let b = buffers[1] + (h / 2) * d
                var r0 = 0
                while r0 < n {
                    let rows = min(panel, n - r0)
                    try checkStatus(ck_sgemm_f32(0, 1, Int64(rows), Int64(n), Int64(d), 1, a + r0 * row, Int64(row),
                                                 b, Int64(row), 0, c, Int64(n)), "sgemm")
                    r0 += rows
                }
            }
        }
        return AttentionBenchmarkResult(tokens: n, heads: heads, headDim: d, selfExtend: selfExtend, seconds: seconds,
                                        gflops: flops / seconds / 1e9, sgemmGflops: flops / sgemmSeconds / 1e9,
                                        plainSeconds: plainSeconds, peakResidentBytes: peak, bidirectionalGflops: bidirectional)
    }

    private static func fill(_ p: UnsafeMutablePointer<Float>, _ n: Int, seed: UInt64) {
        var s = seed &* 0x9E3779B97F4A7C15
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            p[i] = Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
    }
}

/// Times `ck_sgemm_f32` (OpenBLAS, split over the OpenMP team) on `C[m, n] = A[m, k] B[k, n]`:
/// the machine's dense GEMM rate through the encoder's own call path, for comparisons.
public enum GEMMBenchmark {
    /// Median seconds and GFLOP/s (`2 m n k` flop) over `repeats` calls after one warm-up.
    public static func run(m: Int, n: Int, k: Int, repeats: Int) throws(KernelError) -> (seconds: Double, gflops: Double) {
        guard m >= 1, n >= 1, k >= 1, repeats >= 1 else {
            throw .invalidShape(operation: "bench sgemm", detail: "m, n, k and repeats must be >= 1")
        }
        for (x, y) in [(m, k), (k, n), (m, n)] where x.multipliedReportingOverflow(by: y).overflow {
            throw .invalidShape(operation: "bench sgemm", detail: "\(x) x \(y) floats do not fit in memory")
        }
        guard let a = ck_alloc_f32(m * k), let b = ck_alloc_f32(k * n), let c = ck_alloc_f32(m * n) else {
            throw .outOfMemory(operation: "bench sgemm")
        }
        defer { ck_free_f32(a, m * k); ck_free_f32(b, k * n); ck_free_f32(c, m * n) }
        for i in 0..<(m * k) { a[i] = Float(i % 7) * 0.25 - 0.75 }
        for i in 0..<(k * n) { b[i] = Float(i % 5) * 0.5 - 1 }
        func once() throws(KernelError) {
            try checkStatus(ck_sgemm_f32(0, 0, Int64(m), Int64(n), Int64(k), 1, a, Int64(k), b, Int64(n), 0, c, Int64(n)), "sgemm")
        }
        try once()
        let s = try BenchmarkTimer.median(repeats: repeats, once)
        return (s, 2 * Double(m) * Double(n) * Double(k) / s / 1e9)
    }
}

/// A projection `y[rows, out] = x[rows, in] Wᵀ` with fp32 weights and with 16-bit weights widened
/// block by block (``WeightStorage/file``), timed in alternating rounds of one run.
public struct HalfLinearBenchmarkResult: Sendable {
    /// Median seconds of the fp32-weight product.
    public var fp32Seconds: Double
    /// Median seconds of the 16-bit-weight product (widening included).
    public var halfSeconds: Double
    /// `2 rows in out` over the fp32 median, in GFLOP/s.
    public var fp32Gflops: Double
    /// The same over the 16-bit median.
    public var halfGflops: Double
    /// 16-bit time over fp32 time (1.0: widening is free).
    public var ratio: Double { halfSeconds / fp32Seconds }
}

extension GEMMBenchmark {
    /// Times both forms of one projection: `rounds` alternating rounds after a warm-up of each.
    /// `blockRows` rows of `W` are widened per GEMM block (the encoder uses 512).
    public static func halfLinear(rows: Int, inFeatures: Int, outFeatures: Int, format: HalfFormat, blockRows: Int,
                                  rounds: Int) throws(KernelError) -> HalfLinearBenchmarkResult {
        let sizes = [rows * inFeatures, outFeatures * inFeatures, rows * outFeatures, min(blockRows, outFeatures) * inFeatures]
        guard rows >= 1, inFeatures >= 1, outFeatures >= 1, blockRows >= 1, rounds >= 1,
              sizes.allSatisfy({ $0 > 0 && $0 <= 1 << 32 }) else {
            throw .invalidShape(operation: "bench linear", detail: "sizes must be >= 1 and each matrix at most 2^32 floats")
        }
        guard let x = ck_alloc_f32(sizes[0]), let w = ck_alloc_f32(sizes[1]), let y = ck_alloc_f32(sizes[2]),
              let scratch = ck_alloc_f32(sizes[3]), let w16raw = ck_alloc_f32((sizes[1] + 1) / 2) else {
            throw .outOfMemory(operation: "bench linear")
        }
        defer {
            ck_free_f32(x, sizes[0]); ck_free_f32(w, sizes[1]); ck_free_f32(y, sizes[2]); ck_free_f32(scratch, sizes[3])
            ck_free_f32(w16raw, (sizes[1] + 1) / 2)
        }
        let w16 = UnsafeMutableRawPointer(w16raw).bindMemory(to: UInt16.self, capacity: sizes[1])
        for i in 0..<sizes[0] { x[i] = Float(i % 7) * 0.25 - 0.75 }
        for i in 0..<sizes[1] {
            let v = Float(i % 5) * 0.125 - 0.25
            w16[i] = format == .bf16 ? UInt16(v.bitPattern >> 16) : Float16(v).bitPattern
            w[i] = format.widen(w16[i])
        }
        let k = NativeKernels()
        func full() throws(KernelError) {
            try k.linear(y: y, x: x, weight: w, bias: nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
        func half() throws(KernelError) {
            try k.linear(y: y, x: x, halfWeight: w16, format: format, bias: nil, rows: rows, inFeatures: inFeatures,
                         outFeatures: outFeatures, scratch: scratch, scratchCount: sizes[3])
        }
        try full()
        try half()
        var a: [Double] = [], b: [Double] = []
        for _ in 0..<rounds {
            a.append(try BenchmarkTimer.median(repeats: 1, full))
            b.append(try BenchmarkTimer.median(repeats: 1, half))
        }
        let flops = 2 * Double(rows) * Double(inFeatures) * Double(outFeatures)
        let (fa, fb) = (Statistics.median(a), Statistics.median(b))
        return HalfLinearBenchmarkResult(fp32Seconds: fa, halfSeconds: fb, fp32Gflops: flops / fa / 1e9, halfGflops: flops / fb / 1e9)
    }
}
