import Foundation

// The plain-Swift reference kernels: straightforward loops, Double accumulation, materialized
// score rows. Slow and obviously correct; the oracle for the C kernels.

/// Argument checks shared by both implementations' Swift entry points.
enum KernelChecks {
    static func positive(_ op: String, _ pairs: KeyValuePairs<String, Int>) throws(KernelError) {
        for (name, v) in pairs where v < 1 {
            throw .invalidShape(operation: op, detail: "\(name) must be >= 1, got \(v)")
        }
    }

    static func stride(_ op: String, _ name: String, _ stride: Int, atLeast row: Int) throws(KernelError) {
        if stride < row { throw .invalidShape(operation: op, detail: "\(name) \(stride) is smaller than the row length \(row)") }
    }

    static func attention(_ op: String, _ s: AttentionShape) throws(KernelError) {
        try positive(op, ["queries": s.queries, "keys": s.keys, "heads": s.heads, "headDim": s.headDim,
                          "kvHeads": s.kvHeads])
        if s.validKeys < 1 || s.validKeys > s.keys {
            throw .invalidShape(operation: op, detail: "validKeys \(s.validKeys) must be in 1...\(s.keys)")
        }
        if s.heads % s.kvHeads != 0 {
            throw .invalidShape(operation: op, detail: "kvHeads \(s.kvHeads) does not divide heads \(s.heads)")
        }
        let row = s.heads * s.headDim, kvRow = s.kvHeads * s.headDim
        try stride(op, "qStride", s.qStride, atLeast: row)
        try stride(op, "kStride", s.kStride, atLeast: kvRow)
        try stride(op, "vStride", s.vStride, atLeast: kvRow)
        try stride(op, "outStride", s.outStride, atLeast: row)
        if !s.scale.isFinite { throw .invalidValue(operation: op, detail: "scale must be finite") }
        if s.window < 0 { throw .invalidValue(operation: op, detail: "window must be >= 0, got \(s.window)") }
        if s.window > 0 && s.queries != s.keys {
            throw .invalidShape(operation: op, detail: "a sliding window needs queries == keys")
        }
        if s.causal && s.queries != s.keys {
            throw .invalidShape(operation: op, detail: "causal attention needs queries == keys")
        }
    }
}

extension ReferenceKernels: RoPEKernels {
    public func rope(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>?, shape: RoPEShape,
                     positions: UnsafePointer<Float>, inverseFrequencies: UnsafePointer<Float>,
                     layout: RoPELayout) throws(KernelError) {
        let op = "rope"
        try KernelChecks.positive(op, ["tokens": shape.tokens, "heads": shape.heads, "headDim": shape.headDim,
                                       "kvHeads": shape.kvHeads])
        if shape.headDim % 2 != 0 { throw .unsupported(operation: op, detail: "head dim \(shape.headDim) is odd") }
        try KernelChecks.stride(op, "qStride", shape.qStride, atLeast: shape.heads * shape.headDim)
        if k != nil { try KernelChecks.stride(op, "kStride", shape.kStride, atLeast: shape.kvHeads * shape.headDim) }
        let d = shape.headDim, half = d / 2
        func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, _ cosv: [Double], _ sinv: [Double]) {
            for h in 0..<heads {
                let base = x + h * d
                for i in 0..<half {
                    let (a, b) = layout == .rotateHalf ? (i, i + half) : (2 * i, 2 * i + 1)
                    let x1 = Double(base[a]), x2 = Double(base[b])
                    base[a] = Float(x1 * cosv[i] - x2 * sinv[i])
                    base[b] = Float(x2 * cosv[i] + x1 * sinv[i])
                }
            }
        }
        for t in 0..<shape.tokens {
            let p = Double(positions[t])
            var c = [Double](repeating: 0, count: half), s = c
            for i in 0..<half {
                let angle = p * Double(inverseFrequencies[i])
                // cos/sin rounded to fp32 as the reference implementations cache them.
                c[i] = Double(Float(cos(angle)))
                s[i] = Double(Float(sin(angle)))
            }
            rotate(q + t * shape.qStride, heads: shape.heads, c, s)
            if let k { rotate(k + t * shape.kStride, heads: shape.kvHeads, c, s) }
        }
    }
}

extension ReferenceKernels: AttentionKernels {
    public func attention(shape s: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                          v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        try KernelChecks.attention("attention", s)
        try attend(s, pick: { _, _ in (q, k) }, v: v, out: out)
    }

    public func selfExtendAttention(shape s: AttentionShape, window: Int, inputs: SelfExtendInputs,
                                    v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        try KernelChecks.attention("selfExtendAttention", s)
        if s.queries != s.keys { throw .invalidShape(operation: "selfExtendAttention", detail: "queries must equal keys") }
        if window < 0 { throw .invalidValue(operation: "selfExtendAttention", detail: "window must be >= 0") }
        try attend(s, pick: { i, j in
            if abs(i - j) < window { return (inputs.q, inputs.k) }
            return j <= i ? (inputs.qLower, inputs.kLower) : (inputs.qUpper, inputs.kUpper)
        }, v: v, out: out)
    }

    /// One materialized score row per (head, query) in Double; `pick(i, j)` chooses the q/k pair.
    /// Query head `h` reads key/value head `h / (heads / kvHeads)`; only the keys of
    /// ``AttentionShape/keyRange(query:)`` take part (window, causal), and a row left without
    /// keys is zero.
    private func attend(_ s: AttentionShape, pick: (Int, Int) -> (UnsafePointer<Float>, UnsafePointer<Float>),
                        v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        let d = s.headDim, group = s.heads / s.kvHeads
        var scores = [Double](repeating: 0, count: s.validKeys)
        var acc = [Double](repeating: 0, count: d)
        for h in 0..<s.heads {
            let hk = h / group
            for i in 0..<s.queries {
                let keys = s.keyRange(query: i)
                var m = -Double.infinity
                for j in keys {
                    let (qb, kb) = pick(i, j)
                    let qr = qb + i * s.qStride + h * d, kr = kb + j * s.kStride + hk * d
                    var dot = 0.0
                    for c in 0..<d { dot += Double(qr[c]) * Double(kr[c]) }
                    scores[j] = dot * Double(s.scale)
                    m = max(m, scores[j])
                }
                var sum = 0.0
                for j in keys { scores[j] = exp(scores[j] - m); sum += scores[j] }
                for c in 0..<d { acc[c] = 0 }
                for j in keys {
                    let vr = v + j * s.vStride + hk * d
                    let p = scores[j] / sum
                    for c in 0..<d { acc[c] += p * Double(vr[c]) }
                }
                let o = out + i * s.outStride + h * d
                for c in 0..<d { o[c] = Float(acc[c]) }
            }
        }
    }
}

extension ReferenceKernels: LayerKernels {
    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int) throws(KernelError) {
        try KernelChecks.positive("linear", ["rows": rows, "inFeatures": inFeatures, "outFeatures": outFeatures])
        for r in 0..<rows {
            let xr = x + r * inFeatures
            for o in 0..<outFeatures {
                let w = weight + o * inFeatures
                var acc = bias.map { Double($0[o]) } ?? 0
                for c in 0..<inFeatures { acc += Double(xr[c]) * Double(w[c]) }
                y[r * outFeatures + o] = Float(acc)
            }
        }
    }

    public func linear(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, halfWeight: UnsafePointer<UInt16>,
                       format: HalfFormat, bias: UnsafePointer<Float>?, rows: Int, inFeatures: Int, outFeatures: Int,
                       scratch: UnsafeMutablePointer<Float>, scratchCount: Int) throws(KernelError) {
        try KernelChecks.positive("linear", ["rows": rows, "inFeatures": inFeatures, "outFeatures": outFeatures])
        if scratchCount < inFeatures {
            throw .invalidShape(operation: "linear", detail: "scratch of \(scratchCount) floats holds no \(inFeatures)-float row")
        }
        let widened = (0..<(outFeatures * inFeatures)).map { format.widen(halfWeight[$0]) }
        try widened.withUnsafeBufferPointer { (w) throws(KernelError) in
            try linear(y: y, x: x, weight: w.baseAddress!, bias: bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }

    public func layerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try KernelChecks.positive("layerNorm", ["rows": rows, "cols": cols])
        if !(eps > 0) || !eps.isFinite { throw .invalidValue(operation: "layerNorm", detail: "eps must be positive") }
        for r in 0..<rows {
            let xr = x + r * cols
            var mean = 0.0
            for c in 0..<cols { mean += Double(xr[c]) }
            mean /= Double(cols)
            var variance = 0.0
            for c in 0..<cols { let d = Double(xr[c]) - mean; variance += d * d }
            variance /= Double(cols)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            let yr = y + r * cols
            for c in 0..<cols { yr[c] = Float((Double(xr[c]) - mean) * inv * Double(gamma[c]) + (beta.map { Double($0[c]) } ?? 0)) }
        }
    }

    public func biasResidualLayerNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                      residual: UnsafePointer<Float>?, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>?,
                                      rows: Int, cols: Int, eps: Float) throws(KernelError) {
        try KernelChecks.positive("biasResidualLayerNorm", ["rows": rows, "cols": cols])
        if !(eps > 0) || !eps.isFinite { throw .invalidValue(operation: "biasResidualLayerNorm", detail: "eps must be positive") }
        var sum = [Float](repeating: 0, count: cols)
        for r in 0..<rows {
            for c in 0..<cols {
                var v = Double(x[r * cols + c])
                if let bias { v += Double(bias[c]) }
                if let residual { v += Double(residual[r * cols + c]) }
                sum[c] = Float(v)
            }
            try sum.withUnsafeBufferPointer { s throws(KernelError) in
                try layerNorm(y: y + r * cols, x: s.baseAddress!, gamma: gamma, beta: beta, rows: 1, cols: cols, eps: eps)
            }
        }
    }

    public func biasGELU(x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, rows: Int, cols: Int) throws(KernelError) {
        try KernelChecks.positive("biasGELU", ["rows": rows, "cols": cols])
        for r in 0..<rows {
            for c in 0..<cols {
                let v = Double(x[r * cols + c]) + (bias.map { Double($0[c]) } ?? 0)
                x[r * cols + c] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
            }
        }
    }

    public func pool(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>?,
                     rows: Int, cols: Int, mode: Pooling) throws(KernelError) {
        try KernelChecks.positive("pool", ["rows": rows, "cols": cols])
        let included = (0..<rows).filter { mask == nil || mask![$0] != 0 }
        guard let last = included.last else { throw .invalidShape(operation: "pool", detail: "the mask selects no token") }
        switch mode {
        case .cls:
            for c in 0..<cols { out[c] = x[c] }
        case .lastToken:
            for c in 0..<cols { out[c] = x[last * cols + c] }
        case .mean:
            for c in 0..<cols {
                var acc = 0.0
                for r in included { acc += Double(x[r * cols + c]) }
                out[c] = Float(acc / Double(included.count))
            }
        }
    }

    public func l2Normalize(x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) throws(KernelError) {
        try KernelChecks.positive("l2Normalize", ["rows": rows, "cols": cols])
        for r in 0..<rows {
            var ss = 0.0
            for c in 0..<cols { ss += Double(x[r * cols + c]) * Double(x[r * cols + c]) }
            let n = max(ss.squareRoot(), 1e-12)
            for c in 0..<cols { x[r * cols + c] = Float(Double(x[r * cols + c]) / n) }
        }
    }
}
