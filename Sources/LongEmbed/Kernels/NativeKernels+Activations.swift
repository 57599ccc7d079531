import CKernels

// Bias + activation and the gated (GLU) product through CKernels (activation.c).

extension Activation {
    var cActivation: ck_activation {
        switch self {
        case .geluErf: return CK_ACT_GELU_ERF
        case .geluTanh: return CK_ACT_GELU_TANH
        case .silu: return CK_ACT_SILU
        }
    }
}

extension NativeKernels {
    public func biasActivation(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int,
                               activation: Activation) throws(KernelError) {
        try checkStatus(ck_bias_act_f32(x, bias, Int64(rows), Int64(cols), activation.cActivation), "biasActivation")
    }

    public func gatedActivation(out: UnsafeMutablePointer<Float>, outStride: Int, gate: UnsafePointer<Float>,
                                up: UnsafePointer<Float>, inStride: Int, rows: Int, cols: Int,
                                activation: Activation) throws(KernelError) {
        try checkStatus(ck_gated_act_f32(out, Int64(outStride), gate, up, Int64(inStride), Int64(rows), Int64(cols),
                                         activation.cActivation),
                        "gatedActivation")
    }
}
