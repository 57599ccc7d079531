import Foundation

/// The weights of one transformer layer, in the PyTorch `nn.Linear` layout `[out, in]`.
struct BertLayerWeights: Sendable {
    /// q, k and v projections stacked: `[3H, H]` and bias `[3H]`.
    let qkvWeight: FloatBuffer
    let qkvBias: FloatBuffer
    let attentionOutWeight: FloatBuffer   // [H, H]
    let attentionOutBias: FloatBuffer     // [H]
    let attentionNormGamma: FloatBuffer   // [H]
    let attentionNormBeta: FloatBuffer
    let intermediateWeight: FloatBuffer   // [I, H]
    let intermediateBias: FloatBuffer     // [I]
    let outputWeight: FloatBuffer         // [H, I]
    let outputBias: FloatBuffer           // [H]
    let outputNormGamma: FloatBuffer
    let outputNormBeta: FloatBuffer
}

/// All weights of a BERT-style encoder (absolute positions or RoPE).
struct BertWeights: Sendable {
    let wordEmbeddings: FloatBuffer       // [V, H]
    /// `[P, H]` for absolute-position models, nil for RoPE encoders.
    let positionEmbeddings: FloatBuffer?
    /// Row 0 of the token-type table, `[H]` (every input is segment A).
    let tokenType0: FloatBuffer
    let embeddingNormGamma: FloatBuffer
    let embeddingNormBeta: FloatBuffer
    let layers: [BertLayerWeights]

    /// Loads and shape-checks every tensor. The weights must hold exactly
    /// `num_hidden_layers` layers (`encoder.layer.0` to `encoder.layer.{n-1}`), else
    /// ``ModelError/layerCountMismatch(configured:inWeights:)``.
    init(store: WeightStore, config: ModelConfig, architecture: ModelConfig.Architecture) throws(EncoderError) {
        let h = config.hiddenSize
        let loader = Loader(store: store, prefix: Self.detectPrefix(store), hidden: h)
        try Self.checkLayerCount(store, prefix: loader.prefix, configured: config.numHiddenLayers)

        wordEmbeddings = try loader.buffer(["embeddings.word_embeddings.weight"], [config.vocabSize, h])
        switch architecture {
        case .bert:
            positionEmbeddings = try loader.buffer(["embeddings.position_embeddings.weight"], [config.maxPositionEmbeddings, h])
        case .e5rope:
            positionEmbeddings = nil
        }
        let types = try loader.load(["embeddings.token_type_embeddings.weight"], [max(config.typeVocabSize, 1), h])
        tokenType0 = try FloatBuffer(Array(types[0..<h]))
        (embeddingNormGamma, embeddingNormBeta) = try loader.layerNorm("embeddings.LayerNorm")

        var layers: [BertLayerWeights] = []
        for i in 0..<config.numHiddenLayers {
            layers.append(try loader.layer(i, intermediate: config.intermediateSize))
        }
        self.layers = layers
    }

    /// Reads tensors under the checkpoint's prefix.
    private struct Loader {
        let store: WeightStore
        let prefix: String
        let hidden: Int

        func load(_ names: [String], _ shape: [Int]) throws(EncoderError) -> [Float] {
            do {
                return try store.tensor(anyOf: names.map { prefix + $0 }, shape: shape)
            } catch {
                throw .model(error)
            }
        }

        func buffer(_ names: [String], _ shape: [Int]) throws(EncoderError) -> FloatBuffer {
            try FloatBuffer(try load(names, shape))
        }

        func layerNorm(_ base: String) throws(EncoderError) -> (FloatBuffer, FloatBuffer) {
            (try buffer(["\(base).weight", "\(base).gamma"], [hidden]), try buffer(["\(base).bias", "\(base).beta"], [hidden]))
        }

        /// Layer `i`, q/k/v stacked.
        func layer(_ i: Int, intermediate inter: Int) throws(EncoderError) -> BertLayerWeights {
            let h = hidden
            let p = "encoder.layer.\(i)."
            let q = try load(["\(p)attention.self.query.weight"], [h, h])
            let k = try load(["\(p)attention.self.key.weight"], [h, h])
            let v = try load(["\(p)attention.self.value.weight"], [h, h])
            let qb = try load(["\(p)attention.self.query.bias"], [h])
            let kb = try load(["\(p)attention.self.key.bias"], [h])
            let vb = try load(["\(p)attention.self.value.bias"], [h])
            let (ag, ab) = try layerNorm("\(p)attention.output.LayerNorm")
            let (og, ob) = try layerNorm("\(p)output.LayerNorm")
            return BertLayerWeights(
                qkvWeight: try FloatBuffer(q + k + v),
                qkvBias: try FloatBuffer(qb + kb + vb),
                attentionOutWeight: try buffer(["\(p)attention.output.dense.weight"], [h, h]),
                attentionOutBias: try buffer(["\(p)attention.output.dense.bias"], [h]),
                attentionNormGamma: ag, attentionNormBeta: ab,
                intermediateWeight: try buffer(["\(p)intermediate.dense.weight"], [inter, h]),
                intermediateBias: try buffer(["\(p)intermediate.dense.bias"], [inter]),
                outputWeight: try buffer(["\(p)output.dense.weight"], [h, inter]),
                outputBias: try buffer(["\(p)output.dense.bias"], [h]),
                outputNormGamma: og, outputNormBeta: ob)
        }
    }

    /// The layers in the weights (highest `encoder.layer.N` index + 1) must be `configured`:
    /// fewer would fail on a missing tensor, more would silently run a truncated model.
    static func checkLayerCount(_ store: WeightStore, prefix: String, configured: Int) throws(EncoderError) {
        let marker = prefix + "encoder.layer."
        var found = 0
        for name in store.names where name.hasPrefix(marker) {
            let index = name.dropFirst(marker.count).prefix { $0 != "." }
            guard !index.isEmpty, index.allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
            let (next, overflow) = (Int(index) ?? Int.max).addingReportingOverflow(1)
            found = max(found, overflow ? Int.max : next)
        }
        guard found == configured else {
            throw .model(.layerCountMismatch(configured: configured, inWeights: found))
        }
    }

    /// Hugging Face checkpoints of task heads prefix the encoder's weights ("bert.", "model.").
    private static func detectPrefix(_ store: WeightStore) -> String {
        for p in ["", "bert.", "model.", "roberta."] where store.contains(p + "embeddings.word_embeddings.weight") {
            return p
        }
        return ""
    }
}
