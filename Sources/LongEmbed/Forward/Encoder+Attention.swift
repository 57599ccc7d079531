import Foundation

// The embedding layer and the per-sequence attention of the forward pass.

extension Encoder {
    /// word (times the family's embedding scale) + position (absolute models; fractional
    /// positions interpolate between rows) + token type 0, then the embedding norm.
    func embedTokens(_ plans: [SequencePlan], into x: FloatBuffer) throws(EncoderError) {
        let a = architecture, h = a.hiddenSize
        let weights = model.weights
        var t = 0
        for plan in plans {
            let coordinates: [Double]? = if case .table(let p) = plan.positions { p } else { nil }
            if weights.position != nil && coordinates == nil {
                throw .invalidOption("an absolute-position model needs table positions")
            }
            for (i, id) in plan.ids.enumerated() {
                guard id >= 0 && Int(id) < a.vocabSize else {
                    throw .invalidOption("token id \(id) is outside the vocabulary (size \(a.vocabSize))")
                }
                let row = x.pointer + t * h
                weights.word.copyRow(Int(id), cols: h, into: row)
                if let scale = a.embeddingScale { for j in 0..<h { row[j] *= scale } }
                // (word + position) + token type, in the order the reference computes it.
                if let table = weights.position, let coordinates {
                    addPositionRow(row, table: table, coordinate: coordinates[i])
                }
                if let type0 = weights.tokenType0?.constPointer { for j in 0..<h { row[j] += type0[j] } }
                t += 1
            }
        }
        guard let norm = weights.embeddingNorm else { return }
        do { try applyNorm(y: x.pointer, x: x.constPointer, norm, rows: t) } catch { throw .kernel(error) }
    }

    /// Adds the position-table row at `coordinate` (after the family's offset) to `row`.
    /// Position interpolation (LongEmbed Sec. 3.2): `E_t[p] = (1-f) E_o[i] + f E_o[i+1]`,
    /// computed in double; past the last row, the last row.
    private func addPositionRow(_ row: UnsafeMutablePointer<Float>, table: FloatBuffer, coordinate p: Double) {
        guard case .absolute(let rows, let offset) = architecture.positions else { return }
        let h = architecture.hiddenSize
        let clamped = min(max(p + Double(offset), Double(offset)), Double(rows - 1))
        let lo = Int(clamped.rounded(.down))
        let f = clamped - Double(lo)
        let a = table.constPointer + lo * h
        if f == 0 || lo + 1 >= rows {
            for j in 0..<h { row[j] += a[j] }
            return
        }
        let b = a + h
        for j in 0..<h { row[j] += Float((1 - f) * Double(a[j]) + f * Double(b[j])) }
    }

    /// RoPE (rotary models) and attention of one sequence of the packed batch in one layer.
    /// Global layers run the plan; sliding-window layers run original positions with the local
    /// base and no attention factor (see ``LocalRotation``).
    func attend(_ plan: SequencePlan, kind: LayerKind, localPositions: [Float], localInverse: [Float],
                tokenOffset: Int, ws: AttentionBuffers) throws(KernelError) {
        let a = architecture, d = a.headDim
        let n = plan.ids.count, qDim = a.heads * d, kvDim = a.kvHeads * d, row = qDim + 2 * kvDim
        let q = ws.qkv + tokenOffset * row, k = q + qDim, v = k + kvDim
        let out = ws.context + tokenOffset * qDim
        var shape = AttentionShape(queries: n, keys: n, heads: a.heads, headDim: d, kvHeads: a.kvHeads,
                                   causal: a.causal, qStride: row, kStride: row, vStride: row, outStride: qDim,
                                   scale: Float(a.attentionScale))
        let ropeShape = RoPEShape(tokens: n, heads: a.heads, headDim: d, kvHeads: a.kvHeads, qStride: row, kStride: row)
        if case .sliding(let window) = kind {
            shape.window = window
            if a.slidingLayersKeepTrainedRotation {
                if a.usesRoPE { try rope(q, k, ropeShape, localPositions, localInverse) }
                try kernels.attention(shape: shape, q: UnsafePointer(q), k: UnsafePointer(k), v: UnsafePointer(v), out: out)
                return
            }
        }
        shape.scale = Float(plan.attentionFactor * a.attentionScale)
        switch plan.positions {
        case .selfExtend(let pos, let inv):
            guard let buffer = ws.selfExtend else { throw .nullPointer(operation: "selfExtendAttention workspace") }
            try attendSelfExtend(shape: shape, positions: pos, inverseFrequencies: inv, qkv: q, buffer: buffer, out: out)
            return
        case .rotary(let positions, let inv):
            try rope(q, k, ropeShape, positions, inv)
        case .table:
            break
        }
        try kernels.attention(shape: shape, q: UnsafePointer(q), k: UnsafePointer(k), v: UnsafePointer(v), out: out)
    }

    /// SelfExtend (LongEmbed Sec. 3.3, bidirectional form of Jin et al. 2024): six rotated views
    /// of q and k (normal, lower-triangle grouped, upper-triangle grouped), merged in one pass.
    /// k views keep the model's key/value heads (grouped-query attention shares them). Causal
    /// models (Jin et al.'s decoder form) have no upper triangle: four views.
    private func attendSelfExtend(shape: AttentionShape, positions pos: SelfExtendPlanner.Positions,
                                  inverseFrequencies inv: [Float], qkv q: UnsafeMutablePointer<Float>,
                                  buffer: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        let n = shape.queries, d = shape.headDim
        let qDim = shape.heads * d, kvDim = shape.kvHeads * d, row = shape.qStride
        let views = shape.causal ? 2 : 3
        let qViews = (0..<views).map { buffer + $0 * n * qDim }
        let kViews = (0..<views).map { buffer + 3 * n * qDim + $0 * n * kvDim }
        for r in 0..<n {
            let src = q + r * row
            for view in 0..<views {
                (qViews[view] + r * qDim).update(from: src, count: qDim)
                (kViews[view] + r * kvDim).update(from: src + qDim, count: kvDim)
            }
        }
        let sets: [([Float], [Float])] = [(pos.normal, pos.normal), (pos.queryLower, pos.keyLower),
                                          (pos.queryUpper, pos.keyUpper)]
        let qShape = RoPEShape(tokens: n, heads: shape.heads, headDim: d)
        let kShape = RoPEShape(tokens: n, heads: shape.kvHeads, headDim: d)
        for (i, (qp, kp)) in sets.prefix(views).enumerated() {
            try rope(qViews[i], nil, qShape, qp, inv)
            try rope(kViews[i], nil, kShape, kp, inv)
        }
        let upper = views - 1   // the lower views stand in where there is no upper triangle
        var viewShape = shape
        viewShape.qStride = qDim
        viewShape.kStride = kvDim
        let inputs = SelfExtendInputs(q: UnsafePointer(qViews[0]), k: UnsafePointer(kViews[0]),
                                      qLower: UnsafePointer(qViews[1]), kLower: UnsafePointer(kViews[1]),
                                      qUpper: UnsafePointer(qViews[upper]), kUpper: UnsafePointer(kViews[upper]))
        try kernels.selfExtendAttention(shape: viewShape, window: pos.window, inputs: inputs,
                                        v: UnsafePointer(q + qDim + kvDim), out: out)
    }

    private func rope(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>?, _ shape: RoPEShape,
                      _ positions: [Float], _ inv: [Float]) throws(KernelError) {
        let layout: RoPELayout = architecture.rotary?.interleaved == true ? .interleaved : .rotateHalf
        try positions.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Float>) throws(KernelError) in
            try inv.withUnsafeBufferPointer { (f: UnsafeBufferPointer<Float>) throws(KernelError) in
                guard let pp = p.baseAddress, let fp = f.baseAddress else { throw .nullPointer(operation: "rope positions") }
                try kernels.rope(q: q, k: k, shape: shape, positions: pp, inverseFrequencies: fp, layout: layout)
            }
        }
    }
}

/// The buffers one layer's attention reads and writes.
struct AttentionBuffers {
    /// `[T, (heads + 2 kvHeads) d]`.
    let qkv: UnsafeMutablePointer<Float>
    /// `[T, heads d]`.
    let context: UnsafeMutablePointer<Float>
    /// SelfExtend's views, when a sequence needs them.
    let selfExtend: UnsafeMutablePointer<Float>?
}
