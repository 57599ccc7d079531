import Synchronization

/// Wall time and work of one kind of operation, accumulated over a run.
public struct OperationProfile: Sendable, Equatable {
    /// Operation name ("QKV GEMM", "attention", ...).
    public var name: String
    /// Total seconds.
    public var seconds: Double
    /// Calls made.
    public var calls: Int
    /// Floating-point operations performed (0 where not meaningful).
    public var flops: Double

    /// GFLOP/s, or nil where no FLOPs are counted.
    public var gflops: Double? { flops > 0 && seconds > 0 ? flops / seconds / 1e9 : nil }
}

/// A ``Kernels`` decorator that times every call of the wrapped implementation by operation.
///
/// Linear layers are told apart by their shape: `H -> qkvWidth` (`3H` unless given; grouped
/// query attention makes it `(heads + 2 kvHeads) d`) is the fused QKV projection, `H -> H` the
/// attention output projection, a widening one the FFN up GEMM and a narrowing one the FFN down
/// GEMM.
public final class ProfilingKernels: Kernels {
    private let base: any Kernels
    private let qkvWidth: Int?
    private let table = Mutex<[String: OperationProfile]>([:])

    /// Wraps `base`; `qkvWidth` is the output width of the model's fused QKV projection.
    public init(wrapping base: any Kernels, qkvWidth: Int? = nil) {
        self.base = base
        self.qkvWidth = qkvWidth
    }

    /// Every operation seen so far, most expensive first.
    public var profile: [OperationProfile] {
        table.withLock { Array($0.values) }.sorted { $0.seconds > $1.seconds }
    }

    /// Forgets everything recorded.
    public func reset() { table.withLock { $0.removeAll() } }

    /// Adds an externally timed operation (tokenization, embedding lookup).
    public func record(_ name: String, seconds: Double, flops: Double = 0) {
        table.withLock { t in
            var p = t[name] ?? OperationProfile(name: name, seconds: 0, calls: 0, flops: 0)
            p.seconds += seconds
            p.calls += 1
            p.flops += flops
            t[name] = p
        }
    }

    private func timed<T>(_ name: String, flops: Double = 0, _ body: () throws(KernelError) -> T) throws(KernelError) -> T {
        let clock = ContinuousClock()
        let start = clock.now
        let r = try body()
        record(name, seconds: BenchmarkTimer.seconds(start.duration(to: clock.now)), flops: flops)
        return r
    }

    public func rope(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>?, shape: RoPEShape,
                     positions: UnsafePointer<Float>, inverseFrequencies: UnsafePointer<Float>,
                     layout: RoPELayout) throws(KernelError) {
        try timed("RoPE") { () throws(KernelError) in
            try base.rope(q: q, k: k, shape: shape, positions: positions, inverseFrequencies: inverseFrequencies, layout: layout)
        }
    }

    public func attention(shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                          v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        let flops = 4 * Double(shape.attendedPairs) * Double(shape.headDim * shape.heads)
        // Global and sliding-window layers apart: a local layer costs what its window implies.
        let span = shape.window > 0 ? "attention, sliding w=\(shape.window)" : "attention, global"
        let name = shape.causal ? span + ", causal" : span
        try timed(name, flops: flops) { () throws(KernelError) in
            try base.attention(shape: shape, q: q, k: k, v: v, out: out)
        }
    }

    public func selfExtendAttention(shape: AttentionShape, window: Int, inputs: SelfExtendInputs,
                                    v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        let flops = 4 * Double(shape.attendedPairs) * Double(shape.headDim * shape.heads)
        try timed("SelfExtend attention", flops: flops) { () throws(KernelError) in
            try base.selfExtendAttention(shape: shape, window: window, inputs: inputs, v: v, out: out)
        }
    }

    /// The profile row of a GEMM, told apart by its shape.
    private func gemmName(inFeatures: Int, outFeatures: Int) -> String {
        if outFeatures == (qkvWidth ?? 3 * inFeatures) { return "QKV GEMM" }
        if outFeatures == inFeatures { return "attention output GEMM" }
        return outFeatures > inFeatures ? "FFN up GEMM" : "FFN down GEMM"
    }

    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) throws(KernelError) {
        let name = gemmName(inFeatures: inFeatures, outFeatures: outFeatures)
        try timed(name, flops: 2 * Double(rows) * Double(inFeatures) * Double(outFeatures)) { () throws(KernelError) in
            try base.linear(y: y, x: x, weight: weight, bias: bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }

    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, halfWeight: UnsafePointer<UInt16>,
                       format: HalfFormat, bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int,
                       scratch: UnsafeMutablePointer<Float>, scratchCount: Int) throws(KernelError) {
        let name = gemmName(inFeatures: inFeatures, outFeatures: outFeatures) + " (\(format.rawValue) weights)"
        try timed(name, flops: 2 * Double(rows) * Double(inFeatures) * Double(outFeatures)) { () throws(KernelError) in
            try base.linear(y: y, x: x, halfWeight: halfWeight, format: format, bias: bias, rows: rows,
                            inFeatures: inFeatures, outFeatures: outFeatures, scratch: scratch, scratchCount: scratchCount)
        }
    }

    public func layerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try timed("LayerNorm + residual") { () throws(KernelError) in
            try base.layerNorm(y: y, x: x, gamma: gamma, beta: beta, rows: rows, cols: cols, eps: eps)
        }
    }

    public func biasResidualLayerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                      residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                                      rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try timed("LayerNorm + residual") { () throws(KernelError) in
            try base.biasResidualLayerNorm(y: y, x: x, bias: bias, residual: residual, gamma: gamma, beta: beta,
                                           rows: rows, cols: cols, eps: eps)
        }
    }

    public func rmsNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        rows: Int, cols: Int, eps: Float, addOne: Bool) throws(KernelError) {
        try timed("RMSNorm") { () throws(KernelError) in
            try base.rmsNorm(y: y, x: x, weight: weight, rows: rows, cols: cols, eps: eps, addOne: addOne)
        }
    }

    public func headRMSNorm(x: UnsafeMutablePointer<Float>, stride: Int, rows: Int, heads: Int, headDim: Int,
                            weight: UnsafePointer<Float>, eps: Float, addOne: Bool) throws(KernelError) {
        try timed("q/k RMSNorm") { () throws(KernelError) in
            try base.headRMSNorm(x: x, stride: stride, rows: rows, heads: heads, headDim: headDim, weight: weight,
                                 eps: eps, addOne: addOne)
        }
    }

    public func residualNorm(residual: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                             rows: Int, cols: Int, eps: Float, kind: NormKind) throws(KernelError) {
        try timed(kind == .layerNorm ? "LayerNorm + residual" : "RMSNorm + residual") { () throws(KernelError) in
            try base.residualNorm(residual: residual, x: x, bias: bias, y: y, gamma: gamma, beta: beta,
                                  rows: rows, cols: cols, eps: eps, kind: kind)
        }
    }

    public func biasGELU(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) throws(KernelError) {
        try timed("bias + GELU") { () throws(KernelError) in
            try base.biasGELU(x: x, bias: bias, rows: rows, cols: cols)
        }
    }

    public func biasActivation(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int,
                               activation: Activation) throws(KernelError) {
        try timed(activation == .geluErf ? "bias + GELU" : "bias + activation") { () throws(KernelError) in
            try base.biasActivation(x: x, bias: bias, rows: rows, cols: cols, activation: activation)
        }
    }

    public func gatedActivation(out: UnsafeMutablePointer<Float>, outStride: Int, gate: UnsafePointer<Float>,
                                up: UnsafePointer<Float>, inStride: Int, rows: Int, cols: Int,
                                activation: Activation) throws(KernelError) {
        try timed("gated activation") { () throws(KernelError) in
            try base.gatedActivation(out: out, outStride: outStride, gate: gate, up: up, inStride: inStride,
                                     rows: rows, cols: cols, activation: activation)
        }
    }

    public func pool(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>?,
                     rows: Int, cols: Int, mode: Pooling) throws(KernelError) {
        try timed("pooling") { () throws(KernelError) in
            try base.pool(out: out, x: x, mask: mask, rows: rows, cols: cols, mode: mode)
        }
    }

    public func l2Normalize(x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) throws(KernelError) {
        try timed("pooling") { () throws(KernelError) in
            try base.l2Normalize(x: x, rows: rows, cols: cols)
        }
    }
}
