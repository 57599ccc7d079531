import Foundation

/// Per-forward working memory, allocated once per batch (never per layer).
struct Workspace {
    let x: FloatBuffer        // [T, H] residual stream
    let normed: FloatBuffer   // [T, H] pre-norm / sandwich: the next sub-layer's normalized input
    let qkv: FloatBuffer      // [T, (heads + 2 kvHeads) d]
    let context: FloatBuffer  // [T, heads d] attention output
    let scratch: FloatBuffer  // [T, H]
    let ffn: FloatBuffer      // [C, I] or [C, 2I] (gated), C = min(T, ffnChunkRows)
    let gated: FloatBuffer?   // [C, I] gated activation output
    /// Six views (q, k, q_lower, k_lower, q_upper, k_upper) of the longest SelfExtend sequence;
    /// nil when no sequence uses SelfExtend.
    let selfExtend: FloatBuffer?
    /// Rows of 16-bit weight matrices widened to fp32 inside each product (empty when every
    /// matrix is fp32).
    let widened: FloatBuffer

    init(_ a: ArchitectureDescription, tokens total: Int, selfExtendLength: Int, widenedFloats: Int) throws(EncoderError) {
        let h = a.hiddenSize, qkvRow = (a.heads + 2 * a.kvHeads) * a.headDim
        let ffnWidth = a.feedForward.gated ? 2 * a.intermediateSize : a.intermediateSize
        x = try FloatBuffer(count: total * h)
        normed = try FloatBuffer(count: a.placement == .post ? 0 : total * h)
        qkv = try FloatBuffer(count: total * qkvRow)
        context = try FloatBuffer(count: total * a.heads * a.headDim)
        scratch = try FloatBuffer(count: total * h)
        let chunk = min(total, Self.ffnChunkRows)
        ffn = try FloatBuffer(count: chunk * ffnWidth)
        gated = a.feedForward.gated ? try FloatBuffer(count: chunk * a.intermediateSize) : nil
        let view = max(a.heads, a.kvHeads) * a.headDim
        selfExtend = selfExtendLength > 0 ? try FloatBuffer(count: 6 * selfExtendLength * view) : nil
        widened = try FloatBuffer(count: widenedFloats)
    }

    /// Rows of a 16-bit matrix widened per GEMM block. Measured with `longembed bench linear`
    /// (Zen 3, 2 threads, 2048 x 4096 -> 4096): blocks of 64 rows cost 1.28x the fp32 product,
    /// 256 rows 1.04x, 512 and 1024 rows 1.01x; 512 rows of a 14336-wide matrix are 29 MB.
    static let widenedRows = 512

    /// Tokens the feed-forward block runs at a time (it is row-independent): its `[C, 2I]`
    /// intermediate is the largest activation (2.5 GB at 32768 tokens of a 7B model's 14336-wide
    /// FFN, with another half of that for the gated product), and 4096 rows keep every GEMM at
    /// full speed.
    static let ffnChunkRows = 4096

    /// The scratch floats the model's 16-bit matrices need (0 when none is 16-bit).
    static func widenedFloats(_ a: ArchitectureDescription, _ w: EncoderWeights) -> Int {
        let ffnRows = a.feedForward.gated ? 2 * a.intermediateSize : a.intermediateSize
        let qkvRows = (a.heads + 2 * a.kvHeads) * a.headDim
        var most = 0
        for l in w.layers {
            for (m, rows, cols) in [(l.qkv, qkvRows, a.hiddenSize), (l.output, a.hiddenSize, a.heads * a.headDim),
                                    (l.ffnIn, ffnRows, a.hiddenSize), (l.ffnOut, a.hiddenSize, a.intermediateSize)]
                where m.halfFormat != nil {
                most = max(most, min(rows, widenedRows) * cols)
            }
        }
        return most
    }
}

extension Encoder {
    /// Runs packed sequences (no padding: each sequence attends only to its own tokens) through
    /// the encoder and returns the last hidden state `[T, H]`, `T` the total token count.
    /// `observe(layer, buffer, count)` sees the embedding output (layer 0), every layer's
    /// residual stream, and, for families with a final norm, the normalized output last.
    func forward(_ plans: [SequencePlan],
                 observe: ((Int, UnsafePointer<Float>, Int) -> Void)?) throws(EncoderError) -> FloatBuffer {
        let a = architecture, h = a.hiddenSize
        let total = plans.reduce(0) { $0 + $1.ids.count }
        let seLength = plans.filter { if case .selfExtend = $0.positions { true } else { false } }.map(\.ids.count).max() ?? 0
        let ws = try Workspace(a, tokens: total, selfExtendLength: seLength,
                               widenedFloats: Workspace.widenedFloats(a, model.weights))
        let layers = model.weights.layers
        try embedTokens(plans, into: ws.x)
        observe?(0, ws.x.constPointer, total * h)
        let local = LocalRotation(plans: plans, geometry: geometry, architecture: a)
        do {
            if a.placement != .post { try normalize(into: ws.normed, ws.x, layers.first?.attentionNorm, rows: total) }
            for (li, layer) in layers.enumerated() {
                try attentionBlock(li, layer, plans, ws, local, rows: total)
                let next = li + 1 < layers.count ? layers[li + 1].attentionNorm : model.weights.finalNorm
                try feedForwardBlock(layer, ws, rows: total, nextNorm: next)
                observe?(li + 1, ws.x.constPointer, total * h)
            }
        } catch {
            throw .kernel(error)
        }
        guard a.placement != .post else { return ws.x }
        if model.weights.finalNorm != nil { observe?(layers.count + 1, ws.normed.constPointer, total * h) }
        return ws.normed
    }

    /// `y = norm(x)` with the architecture's norm; without weights (ModernBERT's first layer),
    /// a copy.
    private func normalize(into y: FloatBuffer, _ x: FloatBuffer, _ norm: NormWeights?, rows: Int) throws(KernelError) {
        let h = architecture.hiddenSize
        guard let norm else {
            y.pointer.update(from: x.constPointer, count: rows * h)
            return
        }
        try applyNorm(y: y.pointer, x: x.constPointer, norm, rows: rows)
    }

    /// `y = norm(x)` over `rows` rows of the hidden size, with the architecture's norm kind.
    func applyNorm(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, _ norm: NormWeights, rows: Int) throws(KernelError) {
        let a = architecture, eps = Float(a.normEps)
        switch a.norm {
        case .layerNorm:
            try kernels.layerNorm(y: y, x: x, gamma: norm.gamma.constPointer, beta: norm.beta?.constPointer,
                                  rows: rows, cols: a.hiddenSize, eps: eps)
        case .rmsNorm(let addOne):
            try kernels.rmsNorm(y: y, x: x, weight: norm.gamma.constPointer, rows: rows, cols: a.hiddenSize,
                                eps: eps, addOne: addOne)
        }
    }

    /// `residual += x + bias`, then `normed = next(residual)` (pre-norm and sandwich epilogue);
    /// without a next norm, the sum alone.
    private func residualEpilogue(_ ws: Workspace, bias: FloatBuffer?, next: NormWeights?, rows: Int) throws(KernelError) {
        let a = architecture, n = rows * a.hiddenSize
        guard let next else {
            let x = ws.x.pointer, s = ws.scratch.constPointer, h = a.hiddenSize
            for i in 0..<n { x[i] += s[i] + (bias.map { $0.constPointer[i % h] } ?? 0) }
            ws.normed.pointer.update(from: ws.x.constPointer, count: n)
            return
        }
        try kernels.residualNorm(residual: ws.x.pointer, x: ws.scratch.constPointer, bias: bias?.constPointer,
                                 y: ws.normed.pointer, gamma: next.gamma.constPointer, beta: next.beta?.constPointer,
                                 rows: rows, cols: a.hiddenSize, eps: Float(a.normEps), kind: a.norm)
    }

    /// QKV projection, q/k norms, RoPE and attention per sequence, output projection and the
    /// placement's residual epilogue.
    private func attentionBlock(_ li: Int, _ layer: LayerWeights, _ plans: [SequencePlan], _ ws: Workspace,
                                _ local: LocalRotation, rows total: Int) throws(KernelError) {
        let a = architecture, h = a.hiddenSize, d = a.headDim
        let qDim = a.heads * d, row = (a.heads + 2 * a.kvHeads) * d
        let input = a.placement == .post ? ws.x.constPointer : ws.normed.constPointer
        try project(y: ws.qkv.pointer, x: input, layer.qkv, bias: layer.qkvBias, rows: total, inFeatures: h,
                    outFeatures: row, ws)
        if let qn = layer.qNorm, let kn = layer.kNorm {
            let eps = Float(a.normEps), addOne = a.norm == .rmsNorm(addOne: true)
            try kernels.headRMSNorm(x: ws.qkv.pointer, stride: row, rows: total, heads: a.heads, headDim: d,
                                    weight: qn.constPointer, eps: eps, addOne: addOne)
            try kernels.headRMSNorm(x: ws.qkv.pointer + qDim, stride: row, rows: total, heads: a.kvHeads, headDim: d,
                                    weight: kn.constPointer, eps: eps, addOne: addOne)
        }
        let buffers = AttentionBuffers(qkv: ws.qkv.pointer, context: ws.context.pointer, selfExtend: ws.selfExtend?.pointer)
        var offset = 0
        for (i, plan) in plans.enumerated() {
            try attend(plan, kind: a.layerKinds[li], localPositions: local.positions[i], localInverse: local.inverse,
                       tokenOffset: offset, ws: buffers)
            offset += plan.ids.count
        }
        try project(y: ws.scratch.pointer, x: ws.context.constPointer, layer.output, bias: nil, rows: total,
                    inFeatures: qDim, outFeatures: h, ws)
        switch a.placement {
        case .post:
            guard let norm = layer.attentionNorm else { throw .nullPointer(operation: "attention norm") }
            try postNorm(ws, bias: layer.outputBias, norm, rows: total)
        case .pre, .sandwich:
            // Sandwich layers (Gemma) normalize the sub-layer output first; pre-norm layers have no such norm.
            if let post = layer.postAttentionNorm { try applyNorm(y: ws.scratch.pointer, x: ws.scratch.constPointer, post, rows: total) }
            try residualEpilogue(ws, bias: layer.outputBias, next: layer.ffnNorm, rows: total)
        }
    }

    /// `y = x Wᵀ + bias` with `W` as it is stored: fp32, or 16-bit widened block by block.
    private func project(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, _ w: WeightMatrix, bias: FloatBuffer?,
                         rows: Int, inFeatures: Int, outFeatures: Int, _ ws: Workspace) throws(KernelError) {
        switch w {
        case .f32(let m):
            try kernels.linear(y: y, x: x, weight: m.constPointer, bias: bias?.constPointer, rows: rows,
                               inFeatures: inFeatures, outFeatures: outFeatures)
        case .half(let m):
            try kernels.linear(y: y, x: x, halfWeight: m.constPointer, format: m.format, bias: bias?.constPointer,
                               rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                               scratch: ws.widened.pointer, scratchCount: ws.widened.count)
        }
    }

    /// `x = LayerNorm(scratch + bias + x)`: BERT's sub-layer epilogue.
    private func postNorm(_ ws: Workspace, bias: FloatBuffer?, _ norm: NormWeights, rows: Int) throws(KernelError) {
        try kernels.biasResidualLayerNorm(y: ws.x.pointer, x: ws.scratch.constPointer, bias: bias?.constPointer,
                                          residual: ws.x.constPointer, gamma: norm.gamma.constPointer,
                                          beta: norm.beta?.constPointer, rows: rows, cols: architecture.hiddenSize,
                                          eps: Float(architecture.normEps))
    }

    /// The feed-forward block: input projection, activation (GLU or plain) and output projection
    /// over chunks of ``Workspace/ffnChunkRows`` tokens, then the placement's epilogue over all
    /// rows (`nextNorm`: the norm of what follows, pre-norm families).
    private func feedForwardBlock(_ layer: LayerWeights, _ ws: Workspace, rows: Int, nextNorm: NormWeights?) throws(KernelError) {
        let a = architecture, h = a.hiddenSize
        let input = a.placement == .post ? ws.x.constPointer : ws.normed.constPointer
        var r0 = 0
        while r0 < rows {
            let n = min(Workspace.ffnChunkRows, rows - r0)
            try feedForwardRows(layer, ws, input: input + r0 * h, output: ws.scratch.pointer + r0 * h, rows: n)
            r0 += n
        }
        switch a.placement {
        case .post:
            try postNorm(ws, bias: layer.ffnOutBias, layer.ffnNorm, rows: rows)
        case .pre, .sandwich:
            if let post = layer.postFFNNorm { try applyNorm(y: ws.scratch.pointer, x: ws.scratch.constPointer, post, rows: rows) }
            try residualEpilogue(ws, bias: layer.ffnOutBias, next: nextNorm, rows: rows)
        }
    }

    /// `output = FFN(input)` for `rows <= ffnChunkRows` rows (no bias on the output projection:
    /// the epilogue adds it).
    private func feedForwardRows(_ layer: LayerWeights, _ ws: Workspace, input: UnsafePointer<Float>,
                                 output: UnsafeMutablePointer<Float>, rows: Int) throws(KernelError) {
        let a = architecture, h = a.hiddenSize, inter = a.intermediateSize
        let act = a.feedForward.activation
        let hidden: UnsafePointer<Float>
        if let gated = ws.gated {
            try project(y: ws.ffn.pointer, x: input, layer.ffnIn, bias: layer.ffnInBias, rows: rows, inFeatures: h,
                        outFeatures: 2 * inter, ws)
            let first = ws.ffn.constPointer, second = first + inter
            try kernels.gatedActivation(out: gated.pointer, outStride: inter, gate: layer.activatedFirst ? first : second,
                                        up: layer.activatedFirst ? second : first, inStride: 2 * inter, rows: rows,
                                        cols: inter, activation: act)
            hidden = gated.constPointer
        } else {
            try project(y: ws.ffn.pointer, x: input, layer.ffnIn, bias: nil, rows: rows, inFeatures: h,
                        outFeatures: inter, ws)
            try kernels.biasActivation(x: ws.ffn.pointer, bias: layer.ffnInBias?.constPointer, rows: rows, cols: inter, activation: act)
            hidden = ws.ffn.constPointer
        }
        try project(y: output, x: hidden, layer.ffnOut, bias: nil, rows: rows, inFeatures: inter, outFeatures: h, ws)
    }
}

/// The rotation of sliding-window layers: original positions `0..<n` with the local base, for
/// every method. A local layer never sees a distance of its window or more, which lies inside
/// the trained context, so every context-extension method leaves it as trained (as
/// transformers' Gemma 3 applies rope scaling to its global layers only).
struct LocalRotation {
    /// Per plan, `0..<n` as floats (empty when no layer is local or the model has no RoPE).
    let positions: [[Float]]
    let inverse: [Float]

    init(plans: [SequencePlan], geometry g: PositionGeometry, architecture a: ArchitectureDescription) {
        guard a.hasSlidingLayers, a.slidingLayersKeepTrainedRotation, let r = a.rotary else {
            positions = plans.map { _ in [] }
            inverse = []
            return
        }
        positions = plans.map { p in (0..<p.ids.count).map(Float.init) }
        inverse = RoPEScaling.inverseFrequencies(headDim: a.headDim, base: r.localTheta)
    }
}
