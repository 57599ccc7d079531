import Foundation

// Reference activations in Double, from their definitions.

extension Activation {
    /// The activation of `x` in Double: `x Φ(x)`, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`
    /// or `x / (1 + e^(-x))`.
    func reference(_ x: Double) -> Double {
        switch self {
        case .geluErf: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + exp(-x))
        }
    }
}

extension ReferenceKernels {
    public func biasActivation(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int,
                               activation: Activation) throws(KernelError) {
        try KernelChecks.positive("biasActivation", ["rows": rows, "cols": cols])
        for i in 0..<(rows * cols) {
            let v = Double(x[i]) + (bias.map { Double($0[i % cols]) } ?? 0)
            x[i] = Float(activation.reference(v))
        }
    }

    public func gatedActivation(out: UnsafeMutablePointer<Float>, outStride: Int, gate: UnsafePointer<Float>,
                                up: UnsafePointer<Float>, inStride: Int, rows: Int, cols: Int,
                                activation: Activation) throws(KernelError) {
        let op = "gatedActivation"
        try KernelChecks.positive(op, ["rows": rows, "cols": cols])
        try KernelChecks.stride(op, "outStride", outStride, atLeast: cols)
        try KernelChecks.stride(op, "inStride", inStride, atLeast: cols)
        if (UnsafePointer(out) == gate || UnsafePointer(out) == up) && outStride != inStride {
            throw .invalidShape(operation: op, detail: "out may equal gate or up only when outStride == inStride")
        }
        for r in 0..<rows {
            for c in 0..<cols {
                let g = Double(gate[r * inStride + c]), u = Double(up[r * inStride + c])
                out[r * outStride + c] = Float(activation.reference(g) * u)
            }
        }
    }
}
