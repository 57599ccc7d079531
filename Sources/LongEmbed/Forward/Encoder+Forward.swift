import Foundation

/// Per-forward working memory, allocated once per batch (never per layer).
private struct Workspace {
    let x: FloatBuffer        // [T, H] hidden state
    let qkv: FloatBuffer      // [T, 3H]
    let context: FloatBuffer  // [T, H] attention output
    let scratch: FloatBuffer  // [T, H]
    let ffn: FloatBuffer      // [T, I]
    /// Six [n, H] views for SelfExtend (q, k, q_lower, k_lower, q_upper, k_upper) of the
    /// longest SelfExtend sequence; empty when no sequence uses SelfExtend.
    let selfExtend: FloatBuffer?
}

extension Encoder {
    /// Runs packed sequences (no padding: each sequence attends only to its own tokens) through
    /// the encoder and returns the last hidden state `[T, H]`, `T` the total token count.
    /// `observe(layer, buffer, count)` sees the embedding output (layer 0) and every layer's output.
    func forward(_ plans: [SequencePlan],
                 observe: ((Int, UnsafePointer<Float>, Int) -> Void)?) throws(EncoderError) -> FloatBuffer {
        let h = config.hiddenSize
        let heads = config.numAttentionHeads
        let d = h / heads
        let inter = config.intermediateSize
        let total = plans.reduce(0) { $0 + $1.ids.count }
        let seLength = plans.filter { if case .selfExtend = $0.positions { true } else { false } }.map(\.ids.count).max() ?? 0
        let ws = Workspace(
            x: try FloatBuffer(count: total * h),
            qkv: try FloatBuffer(count: total * 3 * h),
            context: try FloatBuffer(count: total * h),
            scratch: try FloatBuffer(count: total * h),
            ffn: try FloatBuffer(count: total * inter),
            selfExtend: seLength > 0 ? try FloatBuffer(count: 6 * seLength * h) : nil)

        try embedTokens(plans, into: ws.x)
        observe?(0, ws.x.constPointer, total * h)

        do {
            for (li, layer) in model.weights.layers.enumerated() {
                // Attention block: QKV projection, RoPE, attention per sequence, output
                // projection, residual, post-LayerNorm (BERT).
                try kernels.linear(y: ws.qkv.pointer, x: ws.x.constPointer, weight: layer.qkvWeight.constPointer,
                                   bias: layer.qkvBias.constPointer, rows: total, inFeatures: h, outFeatures: 3 * h)
                var offset = 0
                for plan in plans {
                    try attend(plan, tokenOffset: offset, ws: ws, heads: heads, headDim: d)
                    offset += plan.ids.count
                }
                try kernels.linear(y: ws.scratch.pointer, x: ws.context.constPointer,
                                   weight: layer.attentionOutWeight.constPointer, bias: nil,
                                   rows: total, inFeatures: h, outFeatures: h)
                try kernels.biasResidualLayerNorm(y: ws.x.pointer, x: ws.scratch.constPointer,
                                                  bias: layer.attentionOutBias.constPointer, residual: ws.x.constPointer,
                                                  gamma: layer.attentionNormGamma.constPointer,
                                                  beta: layer.attentionNormBeta.constPointer, rows: total, cols: h,
                                                  eps: Float(config.layerNormEps))
                // Feed-forward block: W1 + bias + exact GELU, W2 + bias + residual, LayerNorm.
                try kernels.linear(y: ws.ffn.pointer, x: ws.x.constPointer, weight: layer.intermediateWeight.constPointer,
                                   bias: nil, rows: total, inFeatures: h, outFeatures: inter)
                try kernels.biasGELU(x: ws.ffn.pointer, bias: layer.intermediateBias.constPointer, rows: total, cols: inter)
                try kernels.linear(y: ws.scratch.pointer, x: ws.ffn.constPointer, weight: layer.outputWeight.constPointer,
                                   bias: nil, rows: total, inFeatures: inter, outFeatures: h)
                try kernels.biasResidualLayerNorm(y: ws.x.pointer, x: ws.scratch.constPointer,
                                                  bias: layer.outputBias.constPointer, residual: ws.x.constPointer,
                                                  gamma: layer.outputNormGamma.constPointer,
                                                  beta: layer.outputNormBeta.constPointer, rows: total, cols: h,
                                                  eps: Float(config.layerNormEps))
                observe?(li + 1, ws.x.constPointer, total * h)
            }
        } catch {
            throw .kernel(error)
        }
        return ws.x
    }

    /// word + position (absolute models; fractional positions interpolate between rows) +
    /// token type 0, then LayerNorm.
    private func embedTokens(_ plans: [SequencePlan], into x: FloatBuffer) throws(EncoderError) {
        let h = config.hiddenSize
        let vocab = config.vocabSize
        let weights = model.weights
        var t = 0
        for plan in plans {
            let coordinates: [Double]? = if case .table(let p) = plan.positions { p } else { nil }
            if weights.positionEmbeddings != nil && coordinates == nil {
                throw .invalidOption("an absolute-position model needs table positions")
            }
            for (i, id) in plan.ids.enumerated() {
                guard id >= 0 && Int(id) < vocab else {
                    throw .invalidOption("token id \(id) is outside the vocabulary (size \(vocab))")
                }
                let row = x.pointer + t * h
                let w = weights.wordEmbeddings.constPointer + Int(id) * h
                let type0 = weights.tokenType0.constPointer
                // (word + position) + token type, in the order the reference computes it.
                row.update(from: w, count: h)
                if let table = weights.positionEmbeddings, let coordinates {
                    addPositionRow(row, table: table, coordinate: coordinates[i])
                }
                for j in 0..<h { row[j] += type0[j] }
                t += 1
            }
        }
        do {
            try kernels.layerNorm(y: x.pointer, x: x.constPointer, gamma: weights.embeddingNormGamma.constPointer,
                                  beta: weights.embeddingNormBeta.constPointer, rows: t, cols: h,
                                  eps: Float(config.layerNormEps))
        } catch { throw .kernel(error) }
    }

    /// Adds the position-table row at `coordinate` to `row`. Position interpolation (LongEmbed
    /// Sec. 3.2): `E_t[p] = (1-f) E_o[i] + f E_o[i+1]`, computed in double; past the last row,
    /// the last row.
    private func addPositionRow(_ row: UnsafeMutablePointer<Float>, table: FloatBuffer, coordinate p: Double) {
        let h = config.hiddenSize
        let rows = config.maxPositionEmbeddings
        let clamped = min(max(p, 0), Double(rows - 1))
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

    /// RoPE (for rotary models) and attention of one sequence of the packed batch, as planned.
    private func attend(_ plan: SequencePlan, tokenOffset: Int, ws: Workspace,
                        heads: Int, headDim d: Int) throws(KernelError) {
        let h = heads * d
        let n = plan.ids.count
        let row3 = 3 * h
        let q = ws.qkv.pointer + tokenOffset * row3
        let k = q + h
        let v = q + 2 * h
        let out = ws.context.pointer + tokenOffset * h
        let scale = Float(plan.attentionFactor / Double(d).squareRoot())
        switch plan.positions {
        case .selfExtend(let pos, let inv):
            guard let buffer = ws.selfExtend else { throw .nullPointer(operation: "selfExtendAttention workspace") }
            let shape = AttentionShape(queries: n, keys: n, heads: heads, headDim: d, qStride: h, kStride: h,
                                       vStride: row3, outStride: h, scale: scale)
            try attendSelfExtend(shape: shape, positions: pos, inverseFrequencies: inv, qkv: q, buffer: buffer, out: out)
            return
        case .rotary(let positions, let inv):
            try rope(q, k, RoPEShape(tokens: n, heads: heads, headDim: d, qStride: row3, kStride: row3), positions, inv)
        case .table:
            break
        }
        let shape = AttentionShape(queries: n, keys: n, heads: heads, headDim: d, qStride: row3, kStride: row3,
                                   vStride: row3, outStride: h, scale: scale)
        try kernels.attention(shape: shape, q: UnsafePointer(q), k: UnsafePointer(k), v: UnsafePointer(v), out: out)
    }

    /// SelfExtend (LongEmbed Sec. 3.3, bidirectional form of Jin et al. 2024): six rotated views
    /// of q and k (normal, lower-triangle grouped, upper-triangle grouped), merged in one pass.
    private func attendSelfExtend(shape: AttentionShape, positions pos: SelfExtendPlanner.Positions,
                                  inverseFrequencies inv: [Float], qkv q: UnsafeMutablePointer<Float>,
                                  buffer: FloatBuffer, out: UnsafeMutablePointer<Float>) throws(KernelError) {
        let n = shape.queries, h = shape.heads * shape.headDim, row3 = 3 * h
        let views = (0..<6).map { buffer.pointer + $0 * n * h }
        for r in 0..<n {
            let src = q + r * row3
            for view in 0..<3 {
                (views[2 * view] + r * h).update(from: src, count: h)          // q copies
                (views[2 * view + 1] + r * h).update(from: src + h, count: h)  // k copies
            }
        }
        let sets: [([Float], [Float])] = [(pos.normal, pos.normal), (pos.queryLower, pos.keyLower),
                                          (pos.queryUpper, pos.keyUpper)]
        let ropeShape = RoPEShape(tokens: n, heads: shape.heads, headDim: shape.headDim)
        for (i, (qp, kp)) in sets.enumerated() {
            try rope(views[2 * i], nil, ropeShape, qp, inv)
            try rope(views[2 * i + 1], nil, ropeShape, kp, inv)
        }
        let inputs = SelfExtendInputs(q: UnsafePointer(views[0]), k: UnsafePointer(views[1]),
                                      qLower: UnsafePointer(views[2]), kLower: UnsafePointer(views[3]),
                                      qUpper: UnsafePointer(views[4]), kUpper: UnsafePointer(views[5]))
        try kernels.selfExtendAttention(shape: shape, window: pos.window, inputs: inputs,
                                        v: UnsafePointer(q + 2 * h), out: out)
    }

    private func rope(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>?, _ shape: RoPEShape,
                      _ positions: [Float], _ inv: [Float]) throws(KernelError) {
        try positions.withUnsafeBufferPointer { (p: UnsafeBufferPointer<Float>) throws(KernelError) in
            try inv.withUnsafeBufferPointer { (f: UnsafeBufferPointer<Float>) throws(KernelError) in
                try kernels.rope(q: q, k: k, shape: shape, positions: p.baseAddress!,
                                 inverseFrequencies: f.baseAddress!, layout: .rotateHalf)
            }
        }
    }
}
