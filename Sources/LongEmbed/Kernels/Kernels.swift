/// The kernel layer of LongEmbed.
///
/// Every numeric operation of the encoder goes through these protocols. Two implementations
/// exist and are always compiled:
/// - ``ReferenceKernels``: plain Swift, straightforward loops, Double accumulation and
///   materialized score matrices. Slow, obviously correct: the test oracle.
/// - ``NativeKernels``: the C kernels of the `CKernels` target (scalar, AVX2+FMA and, for
///   attention, AVX-512 paths chosen at run time; OpenMP; OpenBLAS).
///
/// ``DefaultKernels`` names the one the package trait `ReferenceKernels` selects.
///
/// Memory layout is "token-major": a sequence of `n` tokens with `h` heads of dimension `d`
/// is `n` rows; row `t` starts at `base + t * stride` and holds the heads back to back.
/// All buffers are `Float` (fp32). Pointers must stay valid for the duration of the call.

/// An error from a kernel: the operation's arguments were rejected.
public enum KernelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required buffer was missing.
    case nullPointer(operation: String)
    /// A size, stride or count is out of range or inconsistent.
    case invalidShape(operation: String, detail: String)
    /// Scratch memory could not be allocated.
    case outOfMemory(operation: String)
    /// A parameter this implementation does not support.
    case unsupported(operation: String, detail: String)
    /// A scalar parameter is non-finite or out of range.
    case invalidValue(operation: String, detail: String)

    public var description: String {
        switch self {
        case .nullPointer(let op): return "\(op): a required buffer is missing"
        case .invalidShape(let op, let d): return "\(op): invalid shape: \(d)"
        case .outOfMemory(let op): return "\(op): out of memory"
        case .unsupported(let op, let d): return "\(op): unsupported: \(d)"
        case .invalidValue(let op, let d): return "\(op): invalid value: \(d)"
        }
    }
}

/// Pair layout of a rotary position embedding.
public enum RoPELayout: Sendable, Equatable {
    /// Hugging Face / GPT-NeoX: pair `(x[i], x[i + d/2])` rotated by angle `i`.
    case rotateHalf
    /// GPT-J: pair `(x[2i], x[2i + 1])` rotated by angle `i`.
    case interleaved
}

/// Shape of a RoPE call: `tokens` rows of `heads * headDim` floats in q and of
/// `kvHeads * headDim` floats in k.
public struct RoPEShape: Sendable, Equatable {
    public var tokens: Int
    /// Heads per q row.
    public var heads: Int
    public var headDim: Int
    /// Heads per k row (grouped-query attention; equal to ``heads`` for multi-head attention).
    public var kvHeads: Int
    /// Floats between consecutive rows of q.
    public var qStride: Int
    /// Floats between consecutive rows of k.
    public var kStride: Int

    /// - Parameters:
    ///   - kvHeads: heads per k row; `nil` means `heads`.
    ///   - qStride: defaults to `heads * headDim`.
    ///   - kStride: defaults to `kvHeads * headDim`.
    public init(tokens: Int, heads: Int, headDim: Int, kvHeads: Int? = nil, qStride: Int? = nil, kStride: Int? = nil) {
        self.tokens = tokens
        self.heads = heads
        self.headDim = headDim
        self.kvHeads = kvHeads ?? heads
        self.qStride = qStride ?? heads * headDim
        self.kStride = kStride ?? self.kvHeads * headDim
    }
}

/// Shape and scale of an attention call over one sequence.
public struct AttentionShape: Sendable, Equatable {
    /// Query rows.
    public var queries: Int
    /// Key/value rows present in the buffers.
    public var keys: Int
    /// Keys `0..<validKeys` take part; the rest are padding.
    public var validKeys: Int
    /// Query heads.
    public var heads: Int
    public var headDim: Int
    /// Key/value heads: grouped-query attention ([Ainslie et al. 2023](https://arxiv.org/abs/2305.13245))
    /// when smaller than ``heads``. Must divide ``heads``; query head `h` reads key/value head
    /// `h / (heads / kvHeads)`, and k and v rows hold `kvHeads * headDim` floats.
    public var kvHeads: Int
    /// Sliding-window (local) attention, bidirectional: `0` is global attention; `w > 0` lets
    /// query `i` attend only to keys `j` with `|i - j| < w` (requires `queries == keys`). The
    /// native kernel skips key tiles outside the band, so the cost is `O(L w)`.
    public var window: Int
    /// Causal (decoder) attention: query `i` attends only to keys `j <= i`, and with a
    /// ``window`` only to `i - window < j <= i` (requires `queries == keys`). The native kernel
    /// never visits the key tiles above the diagonal, so it does about half the work.
    public var causal: Bool
    public var qStride: Int
    public var kStride: Int
    public var vStride: Int
    public var outStride: Int
    /// Logits are `scale * q·k` (usually `1/sqrt(headDim)` times the attention-scaling factor).
    public var scale: Float

    /// - Parameters:
    ///   - kvHeads: key/value heads; `nil` means `heads` (multi-head attention).
    ///   - window: `0` for global attention, else the sliding window (`|i - j| < window`).
    ///   - causal: decoder attention (`j <= i`).
    ///   - qStride, outStride: default to `heads * headDim`.
    ///   - kStride, vStride: default to `kvHeads * headDim`.
    ///   - scale: defaults to `1 / sqrt(headDim)`.
    public init(queries: Int, keys: Int, validKeys: Int? = nil, heads: Int, headDim: Int,
                kvHeads: Int? = nil, window: Int = 0, causal: Bool = false,
                qStride: Int? = nil, kStride: Int? = nil, vStride: Int? = nil,
                outStride: Int? = nil, scale: Float? = nil) {
        self.queries = queries
        self.keys = keys
        self.validKeys = validKeys ?? keys
        self.heads = heads
        self.headDim = headDim
        self.kvHeads = kvHeads ?? heads
        self.window = window
        self.causal = causal
        let row = heads * headDim, kvRow = self.kvHeads * headDim
        self.qStride = qStride ?? row
        self.kStride = kStride ?? kvRow
        self.vStride = vStride ?? kvRow
        self.outStride = outStride ?? row
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }
}

extension AttentionShape {
    /// Query-key pairs that take part, per head: `queries * validKeys` for bidirectional global
    /// attention, else the keys ``keyRange(query:)`` gives each query. FLOP counts use it.
    public var attendedPairs: Int {
        guard window > 0 || causal else { return queries * validKeys }
        var pairs = 0
        for i in 0..<queries { pairs += keyRange(query: i).count }
        return pairs
    }

    /// The keys query `i` attends to: `j > i - window` with a window, `j <= i` when causal,
    /// `j < i + window` with a bidirectional window, all within the valid keys.
    public func keyRange(query i: Int) -> Range<Int> {
        let lo = window > 0 ? min(max(0, i - window + 1), validKeys) : 0
        let end = causal ? i + 1 : (window > 0 ? i + window : validKeys)
        return lo..<max(lo, min(validKeys, end))
    }
}

/// The six rotated views SelfExtend attention reads (LongEmbed's bidirectional SelfExtend).
///
/// All `q*` share ``AttentionShape/qStride`` and all `k*` share ``AttentionShape/kStride``.
/// - `q`, `k`: normal positions, used where `|i - j| < window`.
/// - `qLower`, `kLower`: grouped positions for `j <= i` (query `i/g + shift`, key `j/g`), used
///   where `|i - j| >= window`.
/// - `qUpper`, `kUpper`: grouped positions for `j > i` (query `i/g`, key `j/g + shift`), used
///   where `|i - j| >= window`; causal attention has no such pairs and never reads them (pass
///   the lower views).
public struct SelfExtendInputs {
    public var q: UnsafePointer<Float>
    public var k: UnsafePointer<Float>
    public var qLower: UnsafePointer<Float>
    public var kLower: UnsafePointer<Float>
    public var qUpper: UnsafePointer<Float>
    public var kUpper: UnsafePointer<Float>

    public init(q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                qLower: UnsafePointer<Float>, kLower: UnsafePointer<Float>,
                qUpper: UnsafePointer<Float>, kUpper: UnsafePointer<Float>) {
        self.q = q; self.k = k
        self.qLower = qLower; self.kLower = kLower
        self.qUpper = qUpper; self.kUpper = kUpper
    }
}

/// Pooling of token vectors into one sequence vector.
public enum Pooling: String, Sendable, Equatable, Codable, CaseIterable {
    /// Mean over the unmasked tokens.
    case mean
    /// The first token (`[CLS]`).
    case cls
    /// The last unmasked token.
    case lastToken
}

/// A normalization layer.
public enum NormKind: Sendable, Equatable {
    /// LayerNorm ([Ba et al. 2016](https://arxiv.org/abs/1607.06450)):
    /// `(x - mean) / sqrt(var + eps) * gamma (+ beta)`.
    case layerNorm
    /// RMSNorm ([Zhang & Sennrich 2019](https://arxiv.org/abs/1910.07467)):
    /// `x / sqrt(mean(x²) + eps) * gamma (+ beta)`; with `addOne` the scale is `1 + gamma`
    /// (Gemma's form, [arXiv:2403.08295](https://arxiv.org/abs/2403.08295)).
    case rmsNorm(addOne: Bool)
}

/// An element-wise activation function.
public enum Activation: String, Sendable, Equatable, CaseIterable {
    /// Exact GELU, `x Φ(x) = 0.5 x (1 + erf(x / √2))`
    /// ([Hendrycks & Gimpel 2016](https://arxiv.org/abs/1606.08415)).
    case geluErf
    /// Tanh GELU, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`: PyTorch's
    /// `gelu(approximate="tanh")`.
    case geluTanh
    /// SiLU (swish), `x σ(x)` ([Elfwing et al. 2017](https://arxiv.org/abs/1702.03118)).
    case silu
}

/// Rotary position embedding kernels.
public protocol RoPEKernels: Sendable {
    /// Rotates `q` and, when given, `k` of all heads in place.
    ///
    /// The angle of pair `i` at token `t` is `Double(positions[t]) * Double(inverseFrequencies[i])`,
    /// computed directly (never by repeated multiplication).
    /// - Parameters:
    ///   - q: `[shape.tokens, shape.qStride]`, `shape.heads` heads per row.
    ///   - k: `[shape.tokens, shape.kStride]` with `shape.kvHeads` heads per row, or `nil`.
    ///   - positions: `[shape.tokens]`, fractional positions allowed.
    ///   - inverseFrequencies: `[shape.headDim / 2]`.
    func rope(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>?, shape: RoPEShape,
              positions: UnsafePointer<Float>, inverseFrequencies: UnsafePointer<Float>,
              layout: RoPELayout) throws(KernelError)
}

/// Attention kernels over one sequence.
public protocol AttentionKernels: Sendable {
    /// Bidirectional `softmax(scale * Q Kᵀ) V` for all heads, grouped-query when
    /// `shape.kvHeads < shape.heads`, local when `shape.window > 0` (a query row whose window
    /// holds no valid key, possible only with padded keys, gets zeros).
    /// - Parameters: `q` `[queries, qStride]`, `k` `[keys, kStride]`, `v` `[keys, vStride]`,
    ///   `out` `[queries, outStride]`.
    func attention(shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                   v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError)

    /// SelfExtend attention: normal scores where `|i - j| < window`, grouped scores elsewhere,
    /// merged before one softmax per row. Requires `shape.queries == shape.keys`. With
    /// `shape.causal` it is the decoder form of [Jin et al. 2024](https://arxiv.org/abs/2401.01325):
    /// only pairs `j <= i`, so `inputs.qUpper` and `inputs.kUpper` are never read.
    /// `shape.kvHeads` applies to every k view; a sliding window `shape.window > 0` (distinct
    /// from the SelfExtend neighbour `window`) first excludes the pairs with
    /// `|i - j| >= shape.window`.
    func selfExtendAttention(shape: AttentionShape, window: Int, inputs: SelfExtendInputs,
                             v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError)
}

/// A 16-bit float format weights can be kept in: their file's dtype, widened exactly to fp32
/// inside the products.
public enum HalfFormat: String, Sendable, Equatable {
    /// bfloat16: the upper 16 bits of an fp32 ([Kalamkar et al. 2019](https://arxiv.org/abs/1905.12322)).
    case bf16
    /// IEEE 754 binary16.
    case f16

    /// The fp32 value of `bits` (exact: every bf16 and fp16 value is an fp32 value).
    @inlinable public func widen(_ bits: UInt16) -> Float {
        switch self {
        case .bf16: return Float(bitPattern: UInt32(bits) << 16)
        case .f16: return Float(Float16(bitPattern: bits))
        }
    }

    /// Whether `bits` is an infinity or a NaN (exponent bits all set).
    @inlinable public func isNonFinite(_ bits: UInt16) -> Bool {
        switch self {
        case .bf16: return bits & 0x7F80 == 0x7F80
        case .f16: return bits & 0x7C00 == 0x7C00
        }
    }
}

/// Dense and element-wise layer operations on contiguous `[rows, cols]` matrices.
public protocol LayerKernels: Sendable {
    /// `y[rows, outFeatures] = x[rows, inFeatures] Wᵀ + bias`, `W` is `[outFeatures, inFeatures]`.
    func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) throws(KernelError)
    /// ``linear(y:x:weight:bias:rows:inFeatures:outFeatures:)`` with `W` kept in 16 bits
    /// (`format`): `W` is widened exactly to fp32, `scratchCount / inFeatures` rows at a time, into
    /// `scratch`, so the product is the fp32 one. `scratchCount >= inFeatures`.
    func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, halfWeight: UnsafePointer<UInt16>,
                format: HalfFormat, bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int,
                scratch: UnsafeMutablePointer<Float>, scratchCount: Int) throws(KernelError)
    /// Row-wise LayerNorm with affine `gamma`, `beta`; `y` may equal `x`. `beta` may be `nil`
    /// (no bias, as in ModernBERT).
    func layerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                   beta: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float) throws(KernelError)
    /// `y = LayerNorm(x + bias + residual)` with affine `gamma`, `beta`, in one pass: the BERT
    /// sub-layer epilogue. `bias`, `residual` and `beta` may be `nil`; `y` may equal `x` or `residual`.
    func biasResidualLayerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                               rows: Int, cols: Int, eps: Float) throws(KernelError)
    /// Row-wise RMSNorm: `y = x / sqrt(mean(x²) + eps) * weight`, or `* (1 + weight)` with
    /// `addOne` (Gemma). `x`, `y` `[rows, cols]` (`y` may equal `x`), `weight` `[cols]`, `eps > 0`.
    func rmsNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                 rows: Int, cols: Int, eps: Float, addOne: Bool) throws(KernelError)
    /// RMSNorm of every head vector in place: head `h` of row `r`, at `x + r * stride + h * headDim`,
    /// is normalized over its `headDim` floats and scaled by the shared `weight[headDim]` (or
    /// `1 + weight` with `addOne`): the q/k norm of Qwen3 and Gemma 3. `stride >= heads * headDim`.
    func headRMSNorm(x: UnsafeMutablePointer<Float>, stride: Int, rows: Int, heads: Int, headDim: Int,
                     weight: UnsafePointer<Float>, eps: Float, addOne: Bool) throws(KernelError)
    /// The pre-norm sub-layer epilogue in one pass: `residual += x (+ bias)`, then
    /// `y = norm(residual) * gamma (+ beta)` with the norm `kind`.
    ///
    /// `residual`, `x`, `y` are `[rows, cols]`; `bias`, `gamma`, `beta` `[cols]`; `bias` and `beta`
    /// may be `nil`. `y` must not overlap `residual` or `x` (an ``KernelError/invalidShape(operation:detail:)``);
    /// `x` may equal `residual`.
    func residualNorm(residual: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                      y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                      rows: Int, cols: Int, eps: Float, kind: NormKind) throws(KernelError)
    /// `x = gelu(x + bias)` with the exact erf GELU, in place; `bias` may be `nil`.
    /// Equal to ``biasActivation(x:bias:rows:cols:activation:)`` with ``Activation/geluErf``.
    func biasGELU(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) throws(KernelError)
    /// `x = activation(x + bias)` in place on `[rows, cols]`; `bias` `[cols]` may be `nil`.
    func biasActivation(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int,
                        activation: Activation) throws(KernelError)
    /// A gated linear unit's product ([Shazeer 2020](https://arxiv.org/abs/2002.05202)):
    /// `out[r * outStride + c] = activation(gate[r * inStride + c]) * up[r * inStride + c]` for
    /// `c < cols` (SwiGLU: ``Activation/silu``; GeGLU: ``Activation/geluErf`` or ``Activation/geluTanh``).
    ///
    /// `gate` and `up` may point into one fused `[rows, 2 * cols]` buffer (`inStride = 2 * cols`).
    /// `out` may equal `gate` or `up` only when `outStride == inStride` (each element in place);
    /// otherwise it must not overlap them. Strides are at least `cols`.
    func gatedActivation(out: UnsafeMutablePointer<Float>, outStride: Int, gate: UnsafePointer<Float>,
                         up: UnsafePointer<Float>, inStride: Int, rows: Int, cols: Int,
                         activation: Activation) throws(KernelError)
    /// Pools `x[rows, cols]` under `mask[rows]` (nil: all tokens) into `out[cols]`.
    func pool(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>?,
              rows: Int, cols: Int, mode: Pooling) throws(KernelError)
    /// Divides each row by `max(‖row‖₂, 1e-12)`, in place.
    func l2Normalize(x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) throws(KernelError)
}

/// Everything the encoder needs from a kernel implementation.
public typealias Kernels = RoPEKernels & AttentionKernels & LayerKernels

/// The plain-Swift reference kernels: the test oracles. See ``Kernels``.
public struct ReferenceKernels: Sendable {
    public init() {}
}

/// The C kernels (`CKernels`: scalar, AVX2+FMA and AVX-512 paths, OpenMP, OpenBLAS). See ``Kernels``.
public struct NativeKernels: Sendable {
    public init() {}
}

#if LONGEMBED_REFERENCE_KERNELS
/// The implementation selected at build time (trait `ReferenceKernels`: ``ReferenceKernels``).
public typealias DefaultKernels = ReferenceKernels
#else
/// The implementation selected at build time (default: ``NativeKernels``).
public typealias DefaultKernels = NativeKernels
#endif
