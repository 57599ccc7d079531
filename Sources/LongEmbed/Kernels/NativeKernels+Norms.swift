import CKernels

// RMSNorm, per-head RMSNorm and the residual + norm epilogue through CKernels (norm.c).

extension NormKind {
    var cKind: ck_norm_kind {
        switch self {
        case .layerNorm: return CK_NORM_LAYER
        case .rmsNorm(let addOne): return addOne ? CK_NORM_RMS_ADD_ONE : CK_NORM_RMS
        }
    }
}

extension NativeKernels {
    public func rmsNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        rows: Int, cols: Int, eps: Float, addOne: Bool) throws(KernelError) {
        try checkStatus(ck_rmsnorm_f32(y, x, weight, Int64(rows), Int64(cols), eps, addOne ? 1 : 0), "rmsNorm")
    }

    public func headRMSNorm(x: UnsafeMutablePointer<Float>, stride: Int, rows: Int, heads: Int, headDim: Int,
                            weight: UnsafePointer<Float>, eps: Float, addOne: Bool) throws(KernelError) {
        try checkStatus(ck_head_rmsnorm_f32(x, Int64(stride), Int64(rows), Int32(clamping: heads), Int32(clamping: headDim),
                                            weight, eps, addOne ? 1 : 0),
                        "headRMSNorm")
    }

    public func residualNorm(residual: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                             rows: Int, cols: Int, eps: Float, kind: NormKind) throws(KernelError) {
        try checkStatus(ck_residual_norm_f32(residual, x, bias, y, gamma, beta, Int64(rows), Int64(cols), eps, kind.cKind),
                        "residualNorm")
    }
}
