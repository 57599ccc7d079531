import Foundation

/// The decoder families: causal LLMs used as embedders (E5-Mistral, Qwen3-Embedding,
/// gte-Qwen2, Llama-based embedders). One shape, read from the Hub's `config.json` keys:
/// pre-RMSNorm layers, a SwiGLU FFN with split gate/up projections, grouped-query attention,
/// RoPE (rotate-half), a final norm, causal attention; per family only the differences.
extension FamilyReaders {
    /// Llama: `attention_bias` (q, k, v and o) and `mlp_bias`; Llama-3 RoPE scaling.
    static func llama(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        var d = try decoder(c, family: .llama)
        let attention = try c.bool("attention_bias") ?? false, mlp = try c.bool("mlp_bias") ?? false
        d.biases = BiasSpec(qkv: attention, attentionOutput: attention, ffnIn: mlp, ffnOut: mlp, norm: false)
        return d
    }

    /// Mistral: a causal sliding window of `sliding_window` tokens on every layer (query `i`
    /// sees `i - w < j <= i`), or none when the key is null.
    static func mistral(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        var d = try decoder(c, family: .mistral)
        if let w = try c.int("sliding_window") {
            d.layerKinds = try layerKinds(c, count: d.layerCount, window: w) { _ in false }
        }
        return d
    }

    /// Qwen2: biases on q, k and v only; sliding windows only with `use_sliding_window`, on the
    /// layers from `max_window_layers` on (or as `layer_types` lists them).
    static func qwen2(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        var d = try decoder(c, family: .qwen2)
        d.biases = BiasSpec(qkv: true, attentionOutput: false, ffnIn: false, ffnOut: false, norm: false)
        d.layerKinds = try qwenLayerKinds(c, count: d.layerCount)
        return d
    }

    /// Qwen3: per-head q/k RMSNorm before RoPE, `attention_bias` on q, k, v and o.
    static func qwen3(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        var d = try decoder(c, family: .qwen3)
        let attention = try c.bool("attention_bias") ?? false
        d.biases = BiasSpec(qkv: attention, attentionOutput: attention, ffnIn: false, ffnOut: false, norm: false)
        d.qkNorm = true
        d.layerKinds = try qwenLayerKinds(c, count: d.layerCount)
        return d
    }

    /// Qwen's sliding layers: only with `use_sliding_window` true.
    private static func qwenLayerKinds(_ c: ConfigFile, count: Int) throws(ModelError) -> [LayerKind] {
        guard try c.bool("use_sliding_window") == true else { return allGlobal(count) }
        guard let w = try c.int("sliding_window") else {
            throw .invalidConfig(path: c.path, reason: "use_sliding_window is true but sliding_window is missing")
        }
        let first = try c.int("max_window_layers") ?? count
        return try layerKinds(c, count: count, window: w) { $0 < first }
    }

    /// The shared decoder shape; biases, q/k norms and sliding layers are the families'.
    static func decoder(_ c: ConfigFile, family: ModelFamily) throws(ModelError) -> ArchitectureDescription {
        let h = try c.requiredInt("hidden_size"), heads = try c.requiredInt("num_attention_heads")
        let layers = try c.requiredInt("num_hidden_layers")
        if try c.int("head_dim") == nil { try checkHeads(h, heads, c, names: ("hidden_size", "num_attention_heads")) }
        let headDim = try c.int("head_dim") ?? h / max(heads, 1)
        if let f = try c.double("partial_rotary_factor"), f != 1 { throw c.unsupported("\(family.rawValue) with partial_rotary_factor \(f)") }
        for key in ["attn_logit_softcapping", "final_logit_softcapping"] where try c.double(key) != nil {
            throw c.unsupported("\(family.rawValue) with \(key)")
        }
        let theta = try ropeTheta(c) ?? 10_000
        var rotary = RotarySpec(theta: theta, localTheta: theta, frequencyFactor: 1, interleaved: false)
        try applyTrainedScaling(c, to: &rotary, headDim: headDim, family: family)
        var d = ArchitectureDescription(
            family: family, modelType: try c.string("model_type") ?? family.rawValue, hiddenSize: h, layerCount: layers,
            heads: heads, kvHeads: try c.int("num_key_value_heads") ?? heads, headDim: headDim,
            intermediateSize: try c.requiredInt("intermediate_size"), vocabSize: try c.requiredInt("vocab_size"),
            norm: .rmsNorm(addOne: false), normEps: try c.double("rms_norm_eps") ?? 1e-6, placement: .pre,
            feedForward: FeedForwardSpec(activation: try activation(try c.string("hidden_act") ?? "silu", c), gated: true),
            biases: .noBias, attentionScale: 1 / Double(headDim).squareRoot(), qkNorm: false, layerKinds: allGlobal(layers),
            positions: .rotary(rotary), embeddingScale: nil, tokenTypeEmbeddings: false, embeddingNorm: false,
            finalNorm: true, statedTrainedLength: nil, maxPositions: try c.int("max_position_embeddings") ?? 2048)
        d.causal = true
        // One rotary embedding for every layer (transformers' Mistral/Qwen2): a sliding layer
        // follows the sequence's plan like a global one.
        d.slidingLayersKeepTrainedRotation = false
        return d
    }

    /// A trained `rope_scaling` in the config: `llama3` (Llama 3.1/3.2) and `linear` become part
    /// of the model's frequencies; any other type is an explicit method here and is refused with
    /// the flag that does the same.
    private static func applyTrainedScaling(_ c: ConfigFile, to r: inout RotarySpec, headDim: Int,
                                            family: ModelFamily) throws(ModelError) {
        guard let s = try trainedRopeScaling(c) else { return }
        switch s.type {
        case "linear":
            r.frequencyFactor = 1 / s.factor
        case "llama3":
            var dict = try c.object("rope_scaling")
            if dict == nil { dict = try c.object("rope_parameters") }
            guard let dict, let low = try dict.double("low_freq_factor"), let high = try dict.double("high_freq_factor"),
                  let original = try dict.int("original_max_position_embeddings") else {
                throw .invalidConfig(path: c.path, reason: "llama3 rope scaling needs low_freq_factor, high_freq_factor and original_max_position_embeddings")
            }
            guard high > low, low > 0, original >= 2 else {
                throw .invalidConfig(path: c.path, reason: "llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings >= 2")
            }
            r.llama3 = Llama3RoPEScaling(factor: s.factor, lowFrequencyFactor: low, highFrequencyFactor: high, originalLength: original)
        default:
            let flag = ["dynamic": "dynamic-ntk", "yarn": "yarn", "ntk": "ntk"][s.type] ?? s.type
            throw c.unsupported("\(family.rawValue) with a trained rope_scaling \"\(s.type)\" (remove it from the config and pass --extension \(flag) --factor \(s.factor) instead)")
        }
    }
}
