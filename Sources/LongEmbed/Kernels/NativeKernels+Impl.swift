import CKernels

// Thin wrappers over CKernels: argument checks happen in C; statuses map to KernelError.

extension NativeKernels: RoPEKernels {
    public func rope(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>?, shape: RoPEShape,
                     positions: UnsafePointer<Float>, inverseFrequencies: UnsafePointer<Float>,
                     layout: RoPELayout) throws(KernelError) {
        // C reads 0 kv heads as "n_heads"; here 0 is an error, as in ReferenceKernels.
        try KernelChecks.positive("rope", ["kvHeads": shape.kvHeads])
        try checkStatus(ck_rope_qk_gqa_f32(q, Int64(shape.qStride), k, Int64(shape.kStride), Int64(shape.tokens),
                                           Int32(clamping: shape.heads), Int32(clamping: shape.kvHeads),
                                           Int32(clamping: shape.headDim), positions, inverseFrequencies,
                                           layout == .rotateHalf ? CK_ROPE_ROTATE_HALF : CK_ROPE_INTERLEAVED),
                        "rope")
    }
}

extension AttentionShape {
    var cParams: ck_attention_params {
        ck_attention_params(n_queries: Int64(queries), n_keys: Int64(keys), n_valid: Int64(validKeys),
                            n_heads: Int32(clamping: heads), head_dim: Int32(clamping: headDim),
                            q_stride: Int64(qStride), k_stride: Int64(kStride), v_stride: Int64(vStride),
                            out_stride: Int64(outStride), scale: scale, n_kv_heads: Int32(clamping: kvHeads),
                            window: Int64(window), causal: causal ? 1 : 0)
    }
}

extension NativeKernels: AttentionKernels {
    public func attention(shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                          v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        try KernelChecks.positive("attention", ["kvHeads": shape.kvHeads])
        var p = shape.cParams
        try checkStatus(ck_attention_f32(&p, q, k, v, out), "attention")
    }

    public func selfExtendAttention(shape: AttentionShape, window: Int, inputs: SelfExtendInputs,
                                    v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        try KernelChecks.positive("selfExtendAttention", ["kvHeads": shape.kvHeads])
        var p = shape.cParams
        var i = ck_selfextend_inputs(q: inputs.q, k: inputs.k, q_lower: inputs.qLower, k_lower: inputs.kLower,
                                     q_upper: inputs.qUpper, k_upper: inputs.kUpper)
        try checkStatus(ck_selfextend_attention_f32(&p, Int64(window), &i, v, out), "selfExtendAttention")
    }
}

extension NativeKernels: LayerKernels {
    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) throws(KernelError) {
        try checkStatus(ck_linear_f32(y, x, weight, bias, Int64(rows), Int64(inFeatures), Int64(outFeatures)), "linear")
    }

    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, halfWeight: UnsafePointer<UInt16>,
                       format: HalfFormat, bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int,
                       scratch: UnsafeMutablePointer<Float>, scratchCount: Int) throws(KernelError) {
        try checkStatus(ck_linear_half_f32(y, x, halfWeight, format == .bf16 ? CK_HALF_BF16 : CK_HALF_F16, bias,
                                           Int64(rows), Int64(inFeatures), Int64(outFeatures), scratch,
                                           Int64(scratchCount)), "linear")
    }

    public func layerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try checkStatus(ck_layernorm_f32(y, x, gamma, beta, Int64(rows), Int64(cols), eps), "layerNorm")
    }

    public func biasResidualLayerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                      residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                                      rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try checkStatus(ck_bias_residual_layernorm_f32(y, x, bias, residual, gamma, beta, Int64(rows), Int64(cols), eps),
                        "biasResidualLayerNorm")
    }

    public func biasGELU(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) throws(KernelError) {
        try checkStatus(ck_bias_gelu_f32(x, bias, Int64(rows), Int64(cols)), "biasGELU")
    }

    public func pool(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>?,
                     rows: Int, cols: Int, mode: Pooling) throws(KernelError) {
        let m: ck_pooling = mode == .mean ? CK_POOL_MEAN : (mode == .cls ? CK_POOL_CLS : CK_POOL_LAST)
        try checkStatus(ck_pool_f32(out, x, mask, Int64(rows), Int64(cols), m), "pool")
    }

    public func l2Normalize(x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) throws(KernelError) {
        try checkStatus(ck_l2_normalize_f32(x, Int64(rows), Int64(cols)), "l2Normalize")
    }
}

/// Vectorized math exposed for tests and benchmarks.
public enum NativeMath {
    /// `exp` of every element through `ck_exp_f32` (AVX2 polynomial or libm).
    public static func exp(_ x: [Float]) throws(KernelError) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        let status = x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in ck_exp_f32(dst.baseAddress, src.baseAddress, Int64(x.count)) }
        }
        try checkStatus(status, "exp")
        return out
    }
}
