import Foundation

/// A norm's weights: `gamma` (RMSNorm: `w`) and LayerNorm's optional `beta`.
struct NormWeights: Sendable {
    let gamma: FloatBuffer
    let beta: FloatBuffer?
}

/// One transformer layer in the PyTorch `nn.Linear` layout `[out, in]`, whatever the family.
struct LayerWeights: Sendable {
    /// q, k and v stacked: `[(heads + 2 kvHeads) d, hidden]`.
    let qkv: WeightMatrix
    let qkvBias: FloatBuffer?
    let qNorm: FloatBuffer?
    let kNorm: FloatBuffer?
    /// `[hidden, heads d]`.
    let output: WeightMatrix
    let outputBias: FloatBuffer?
    let attentionNorm: NormWeights?
    let postAttentionNorm: NormWeights?
    let ffnNorm: NormWeights
    let postFFNNorm: NormWeights?
    /// `[I, hidden]` (plain) or `[2I, hidden]` (gated: halves as ``activatedFirst`` says).
    let ffnIn: WeightMatrix
    let ffnInBias: FloatBuffer?
    let activatedFirst: Bool
    /// `[hidden, I]`.
    let ffnOut: WeightMatrix
    let ffnOutBias: FloatBuffer?
}

/// How a model keeps its weight matrices (projections and the token embedding table) in memory.
public enum WeightStorage: String, Sendable, CaseIterable {
    /// The file's dtype when it is bf16 or fp16 (half the memory of fp32, widened exactly to
    /// fp32 block by block inside each product), fp32 otherwise. Quantized GGUF types are
    /// dequantized to fp32.
    case file
    /// Every matrix widened to fp32 at load.
    case fp32
}

/// All weights of an encoder described by an ``ArchitectureDescription``.
struct EncoderWeights: Sendable {
    /// `[vocab, hidden]`.
    let word: WeightMatrix
    /// `[rows, hidden]` for absolute-position models.
    let position: FloatBuffer?
    /// Row 0 of the token-type table (every input is segment A).
    let tokenType0: FloatBuffer?
    let embeddingNorm: NormWeights?
    let layers: [LayerWeights]
    let finalNorm: NormWeights?

    /// Loads and shape-checks every tensor the description needs; the weights must hold exactly
    /// `layerCount` layers.
    init(store: any WeightSource, architecture a: ArchitectureDescription, storage: WeightStorage = .file) throws(ModelError) {
        let map = WeightMap.forFamily(a.family)
        let prefix = map.prefixes.first { p in map.word.contains { store.contains(p + $0) } } ?? ""
        let loader = WeightLoader(store: store, prefix: prefix, architecture: a, keepHalf: storage == .file)
        let layerPrefix = map.layerPrefixes.first { lp in store.names.contains { $0.hasPrefix(prefix + lp) } } ?? map.layerPrefixes[0]
        try Self.checkLayerCount(store, marker: prefix + layerPrefix, configured: a.layerCount)

        word = try loader.weightMatrix(try loader.loaded(map.word, [a.vocabSize, a.hiddenSize]))
        if case .absolute(let rows, _) = a.positions {
            position = try loader.buffer(map.position, [rows, a.hiddenSize])
        } else {
            position = nil
        }
        if a.tokenTypeEmbeddings {
            let types = try loader.matrix(map.tokenType, rowLength: a.hiddenSize)
            tokenType0 = try loader.wrap(Array(types[0..<a.hiddenSize]))
        } else {
            tokenType0 = nil
        }
        embeddingNorm = a.embeddingNorm ? try loader.norm(map.embeddingNorm) : nil
        var layers: [LayerWeights] = []
        for i in 0..<a.layerCount {
            layers.append(try loader.layer(map.layer, prefix: "\(layerPrefix)\(i).", first: i == 0))
        }
        self.layers = layers
        finalNorm = a.finalNorm ? try loader.norm(map.finalNorm) : nil
    }

    /// The layers in the weights (highest index after `marker` + 1) must be `configured`:
    /// fewer would fail on a missing tensor, more would silently run a truncated model.
    static func checkLayerCount(_ store: any WeightSource, marker: String, configured: Int) throws(ModelError) {
        var found = 0
        for name in store.names where name.hasPrefix(marker) {
            let index = name.dropFirst(marker.count).prefix { $0 != "." }
            guard !index.isEmpty, index.allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
            let (next, overflow) = (Int(index) ?? Int.max).addingReportingOverflow(1)
            found = max(found, overflow ? Int.max : next)
        }
        guard found == configured else { throw .layerCountMismatch(configured: configured, inWeights: found) }
    }
}

/// Reads tensors under a checkpoint's prefix, shaped by the architecture.
private struct WeightLoader {
    let store: any WeightSource
    let prefix: String
    let architecture: ArchitectureDescription
    /// Keep F16/BF16 matrices in 16 bits (``WeightStorage/file``).
    let keepHalf: Bool

    /// A matrix tensor: 16-bit when the file has it so and ``keepHalf``, else fp32.
    func loaded(_ names: [String], _ shape: [Int]) throws(ModelError) -> LoadedTensor {
        let full = names.map { prefix + $0 }
        return keepHalf ? try store.loadedTensor(anyOf: full, shape: shape) : .f32(try store.tensor(anyOf: full, shape: shape))
    }

    func weightMatrix(_ t: LoadedTensor) throws(ModelError) -> WeightMatrix {
        switch t {
        case .f32(let v): return .f32(try wrap(v))
        case .half(let bits, let format):
            do { return .half(try HalfBuffer(bits, format: format)) } catch {
                throw .unreadable(path: prefix, reason: "out of memory for \(bits.count) weights")
            }
        }
    }

    func load(_ names: [String], _ shape: [Int]) throws(ModelError) -> [Float] {
        try store.tensor(anyOf: names.map { prefix + $0 }, shape: shape)
    }

    func buffer(_ names: [String], _ shape: [Int]) throws(ModelError) -> FloatBuffer {
        try wrap(try load(names, shape))
    }

    /// A matrix of any row count with `rowLength` columns (at least one row).
    func matrix(_ names: [String], rowLength: Int) throws(ModelError) -> [Float] {
        guard let name = names.map({ prefix + $0 }).first(where: store.contains) else {
            throw .tensorNotFound(name: prefix + (names.first ?? "?"))
        }
        let rows = store.shape(of: name)?.first ?? 0
        return try store.tensor(anyOf: [name], shape: [max(rows, 1), rowLength])
    }

    func wrap(_ values: [Float]) throws(ModelError) -> FloatBuffer {
        do { return try FloatBuffer(values) } catch {
            throw .unreadable(path: prefix, reason: "out of memory for \(values.count) weights")
        }
    }

    /// A norm over the hidden size (`dim` when given) with the family's bias rule.
    func norm(_ base: [String], dim: Int? = nil) throws(ModelError) -> NormWeights {
        let n = dim ?? architecture.hiddenSize
        let gamma = try buffer(base.flatMap { ["\($0).weight", "\($0).gamma"] }, [n])
        let hasBeta = architecture.biases.norm && architecture.norm == .layerNorm
        let beta = hasBeta ? try buffer(base.flatMap { ["\($0).bias", "\($0).beta"] }, [n]) : nil
        return NormWeights(gamma: gamma, beta: beta)
    }

    func linear(_ base: [String], _ shape: [Int], bias: Bool) throws(ModelError) -> (LoadedTensor, [Float]?) {
        let w = try loaded(base.map { "\($0).weight" }, shape)
        let b = bias ? try load(base.map { "\($0).bias" }, [shape[0]]) : nil
        return (w, b)
    }

    func optionalBuffer(_ values: [Float]?) throws(ModelError) -> FloatBuffer? {
        guard let values else { return nil }
        return try wrap(values)
    }

    /// Layer weights under `prefix` (already including the layer index).
    func layer(_ names: WeightMap.Layer, prefix lp: String, first: Bool) throws(ModelError) -> LayerWeights {
        let a = architecture, h = a.hiddenSize, d = a.headDim
        let qRows = a.heads * d, kvRows = a.kvHeads * d
        let (qkv, qkvBias) = try attentionInput(names.qkv, prefix: lp, qRows: qRows, kvRows: kvRows)
        let (out, outBias) = try linear(names.output.map { lp + $0 }, [h, qRows], bias: a.biases.attentionOutput)
        let (ffnIn, ffnInBias, activatedFirst) = try feedForwardIn(names.ffnIn, prefix: lp)
        let (ffnOut, ffnOutBias) = try linear(names.ffnOut.map { lp + $0 }, [h, a.intermediateSize], bias: a.biases.ffnOut)
        let attentionNorm: NormWeights? = first && names.firstAttentionNormOptional
            && !names.attentionNorm.contains(where: { store.contains(prefix + lp + $0 + ".weight") })
            ? nil : try norm(names.attentionNorm.map { lp + $0 })
        return LayerWeights(
            qkv: try weightMatrix(qkv), qkvBias: try optionalBuffer(qkvBias),
            qNorm: a.qkNorm ? try buffer(names.qNorm.map { lp + $0 + ".weight" }, [d]) : nil,
            kNorm: a.qkNorm ? try buffer(names.kNorm.map { lp + $0 + ".weight" }, [d]) : nil,
            output: try weightMatrix(out), outputBias: try optionalBuffer(outBias),
            attentionNorm: attentionNorm,
            postAttentionNorm: a.placement == .sandwich ? try norm(names.postAttentionNorm.map { lp + $0 }) : nil,
            ffnNorm: try norm(names.ffnNorm.map { lp + $0 }),
            postFFNNorm: a.placement == .sandwich ? try norm(names.postFFNNorm.map { lp + $0 }) : nil,
            ffnIn: try weightMatrix(ffnIn), ffnInBias: try optionalBuffer(ffnInBias), activatedFirst: activatedFirst,
            ffnOut: try weightMatrix(ffnOut), ffnOutBias: try optionalBuffer(ffnOutBias))
    }

    /// q, k, v as one stacked matrix (and bias).
    private func attentionInput(_ qkv: WeightMap.QKV, prefix lp: String, qRows: Int, kvRows: Int) throws(ModelError) -> (LoadedTensor, [Float]?) {
        let h = architecture.hiddenSize, bias = architecture.biases.qkv
        switch qkv {
        case .fused(let names):
            return try linear(names.map { lp + $0 }, [qRows + 2 * kvRows, h], bias: bias)
        case .split(let q, let k, let v):
            let (qw, qb) = try linear(q.map { lp + $0 }, [qRows, h], bias: bias)
            let (kw, kb) = try linear(k.map { lp + $0 }, [kvRows, h], bias: bias)
            let (vw, vb) = try linear(v.map { lp + $0 }, [kvRows, h], bias: bias)
            return (.concatenated([qw, kw, vw]), bias ? (qb ?? []) + (kb ?? []) + (vb ?? []) : nil)
        }
    }

    /// The FFN input projection: `[I, h]`, or `[2I, h]` with the activated half's position.
    private func feedForwardIn(_ ffn: WeightMap.FeedForwardIn, prefix lp: String) throws(ModelError) -> (LoadedTensor, [Float]?, Bool) {
        let a = architecture, h = a.hiddenSize, i = a.intermediateSize, bias = a.biases.ffnIn
        switch (ffn, a.feedForward.gated) {
        case (.plain(let names), false):
            let (w, b) = try linear(names.map { lp + $0 }, [i, h], bias: bias)
            return (w, b, true)
        case (.fused(let names, let activatedFirst), true):
            let (w, b) = try linear(names.map { lp + $0 }, [2 * i, h], bias: bias)
            return (w, b, activatedFirst)
        case (.split(let gate, let up), true):
            let (gw, gb) = try linear(gate.map { lp + $0 }, [i, h], bias: bias)
            let (uw, ub) = try linear(up.map { lp + $0 }, [i, h], bias: bias)
            return (.concatenated([gw, uw]), bias ? (gb ?? []) + (ub ?? []) : nil, true)
        default:
            throw .unsupportedArchitecture("\(a.modelType) with a \(a.feedForward.gated ? "gated" : "plain") feed-forward block its weight map does not describe")
        }
    }
}
