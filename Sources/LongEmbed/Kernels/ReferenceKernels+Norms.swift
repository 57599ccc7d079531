import Foundation

// Reference RMSNorm, per-head RMSNorm and residual + norm: Double throughout, one row at a time.

extension KernelChecks {
    static func eps(_ op: String, _ eps: Float) throws(KernelError) {
        if !(eps > 0) || !eps.isFinite { throw .invalidValue(operation: op, detail: "eps must be positive and finite") }
    }

    /// Whether `[a, a + n)` and `[b, b + n)` share an element.
    static func overlap(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Bool {
        a < b + n && b < a + n
    }
}

extension ReferenceKernels {
    /// One row of `norm(x) * gamma (+ beta)` in Double, written to `y` (which may equal `x`).
    private func normRow(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                         beta: UnsafePointer<Float>?, cols: Int, eps: Float, kind: NormKind) {
        let n = Double(cols)
        var mean = 0.0, scale: (Int) -> Double = { Double(gamma[$0]) }
        var ms = 0.0
        switch kind {
        case .layerNorm:
            for c in 0..<cols { mean += Double(x[c]) }
            mean /= n
            for c in 0..<cols { let d = Double(x[c]) - mean; ms += d * d }
        case .rmsNorm(let addOne):
            for c in 0..<cols { ms += Double(x[c]) * Double(x[c]) }
            if addOne { scale = { 1 + Double(gamma[$0]) } }
        }
        let inv = 1 / (ms / n + Double(eps)).squareRoot()
        for c in 0..<cols {
            y[c] = Float((Double(x[c]) - mean) * inv * scale(c) + (beta.map { Double($0[c]) } ?? 0))
        }
    }

    public func rmsNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        rows: Int, cols: Int, eps: Float, addOne: Bool) throws(KernelError) {
        try KernelChecks.positive("rmsNorm", ["rows": rows, "cols": cols])
        try KernelChecks.eps("rmsNorm", eps)
        for r in 0..<rows {
            normRow(y: y + r * cols, x: x + r * cols, gamma: weight, beta: nil, cols: cols, eps: eps, kind: .rmsNorm(addOne: addOne))
        }
    }

    public func headRMSNorm(x: UnsafeMutablePointer<Float>, stride: Int, rows: Int, heads: Int, headDim: Int,
                            weight: UnsafePointer<Float>, eps: Float, addOne: Bool) throws(KernelError) {
        let op = "headRMSNorm"
        try KernelChecks.positive(op, ["rows": rows, "heads": heads, "headDim": headDim])
        try KernelChecks.stride(op, "stride", stride, atLeast: heads * headDim)
        try KernelChecks.eps(op, eps)
        for r in 0..<rows {
            for h in 0..<heads {
                let v = x + r * stride + h * headDim
                normRow(y: v, x: v, gamma: weight, beta: nil, cols: headDim, eps: eps, kind: .rmsNorm(addOne: addOne))
            }
        }
    }

    public func residualNorm(residual: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             y: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                             rows: Int, cols: Int, eps: Float, kind: NormKind) throws(KernelError) {
        let op = "residualNorm"
        try KernelChecks.positive(op, ["rows": rows, "cols": cols])
        try KernelChecks.eps(op, eps)
        if KernelChecks.overlap(y, residual, count: rows * cols) || KernelChecks.overlap(y, x, count: rows * cols) {
            throw .invalidShape(operation: op, detail: "y must not overlap residual or x")
        }
        for r in 0..<rows {
            let rr = residual + r * cols, xr = x + r * cols
            for c in 0..<cols { rr[c] = Float(Double(rr[c]) + Double(xr[c]) + (bias.map { Double($0[c]) } ?? 0)) }
            normRow(y: y + r * cols, x: rr, gamma: gamma, beta: beta, cols: cols, eps: eps, kind: kind)
        }
    }
}
