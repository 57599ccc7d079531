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

    /// Loads and shape-checks every tensor.
    init(store: WeightStore, config: ModelConfig, architecture: ModelConfig.Architecture) throws(EncoderError) {
        let h = config.hiddenSize
        let inter = config.intermediateSize
        let prefix = Self.detectPrefix(store)

        func load(_ names: [String], _ shape: [Int]) throws(EncoderError) -> [Float] {
            let candidates = names.map { prefix + $0 }
            do {
                return try store.tensor(anyOf: candidates, shape: shape)
            } catch {
                throw .model(error)
            }
        }
        func buffer(_ names: [String], _ shape: [Int]) throws(EncoderError) -> FloatBuffer {
            try FloatBuffer(try load(names, shape))
        }
        func ln(_ base: String) throws(EncoderError) -> (FloatBuffer, FloatBuffer) {
            (try buffer(["\(base).weight", "\(base).gamma"], [h]), try buffer(["\(base).bias", "\(base).beta"], [h]))
        }

        wordEmbeddings = try buffer(["embeddings.word_embeddings.weight"], [config.vocabSize, h])
        switch architecture {
        case .bert:
            positionEmbeddings = try buffer(["embeddings.position_embeddings.weight"], [config.maxPositionEmbeddings, h])
        case .e5rope:
            positionEmbeddings = nil
        }
        let types = try load(["embeddings.token_type_embeddings.weight"], [max(config.typeVocabSize, 1), h])
        tokenType0 = try FloatBuffer(Array(types[0..<h]))
        (embeddingNormGamma, embeddingNormBeta) = try ln("embeddings.LayerNorm")

        var layers: [BertLayerWeights] = []
        for i in 0..<config.numHiddenLayers {
            let p = "encoder.layer.\(i)."
            let q = try load(["\(p)attention.self.query.weight"], [h, h])
            let k = try load(["\(p)attention.self.key.weight"], [h, h])
            let v = try load(["\(p)attention.self.value.weight"], [h, h])
            let qb = try load(["\(p)attention.self.query.bias"], [h])
            let kb = try load(["\(p)attention.self.key.bias"], [h])
            let vb = try load(["\(p)attention.self.value.bias"], [h])
            let (ag, ab) = try ln("\(p)attention.output.LayerNorm")
            let (og, ob) = try ln("\(p)output.LayerNorm")
            layers.append(BertLayerWeights(
                qkvWeight: try FloatBuffer(q + k + v),
                qkvBias: try FloatBuffer(qb + kb + vb),
                attentionOutWeight: try buffer(["\(p)attention.output.dense.weight"], [h, h]),
                attentionOutBias: try buffer(["\(p)attention.output.dense.bias"], [h]),
                attentionNormGamma: ag, attentionNormBeta: ab,
                intermediateWeight: try buffer(["\(p)intermediate.dense.weight"], [inter, h]),
                intermediateBias: try buffer(["\(p)intermediate.dense.bias"], [inter]),
                outputWeight: try buffer(["\(p)output.dense.weight"], [h, inter]),
                outputBias: try buffer(["\(p)output.dense.bias"], [h]),
                outputNormGamma: og, outputNormBeta: ob))
        }
        self.layers = layers
    }

    /// Hugging Face checkpoints of task heads prefix the encoder's weights ("bert.", "model.").
    private static func detectPrefix(_ store: WeightStore) -> String {
        for p in ["", "bert.", "model.", "roberta."] where store.contains(p + "embeddings.word_embeddings.weight") {
            return p
        }
        return ""
    }
}
