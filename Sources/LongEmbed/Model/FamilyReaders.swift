import Foundation

/// One small reader per family: `config.json` -> ``ArchitectureDescription``. Each reads the
/// keys of the checkpoints as they come from the Hugging Face Hub (and transformers' own
/// spelling where it differs), and rejects an option the description cannot express by name.
enum FamilyReaders {
    /// The activation a config names.
    static func activation(_ name: String, _ c: ConfigFile) throws(ModelError) -> Activation {
        switch name.lowercased() {
        case "gelu": return .geluErf
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": return .geluTanh
        case "silu", "swish", "swiglu": return .silu
        case "geglu": return .geluErf
        default: throw c.unsupported("activation \"\(name)\"")
        }
    }

    /// The hidden size must split evenly into the heads (families whose head dim follows from it).
    static func checkHeads(_ h: Int, _ heads: Int, _ c: ConfigFile, names: (String, String)) throws(ModelError) {
        guard heads > 0, h % heads == 0 else {
            throw .invalidConfig(path: c.path, reason: "\(names.0) \(h) is not a multiple of \(names.1) \(heads)")
        }
    }

    /// Every layer global.
    static func allGlobal(_ n: Int) -> [LayerKind] { [LayerKind](repeating: .global, count: max(n, 0)) }

    /// `rope_theta` from the classic key or transformers 5's `rope_parameters`.
    static func ropeTheta(_ c: ConfigFile, layerType: String? = nil, keys: [String] = ["rope_theta"]) throws(ModelError) -> Double? {
        if let p = try c.object("rope_parameters") {
            if let layerType, let sub = try p.object(layerType), let t = try sub.double("rope_theta") { return t }
            if let t = try p.double("rope_theta") { return t }
        }
        for k in keys { if let t = try c.double(k) { return t } }
        return nil
    }

    /// The config's own (trained) rope scaling: a dictionary under `rope_scaling`, or transformers
    /// 5's `rope_parameters` (for `layerType` when split by layer type). `default` counts as none.
    static func trainedRopeScaling(_ c: ConfigFile, layerType: String? = nil) throws(ModelError) -> (type: String, factor: Double)? {
        var dict = try c.object("rope_scaling")
        if dict == nil, let p = try c.object("rope_parameters") {
            dict = try layerType.flatMap { t throws(ModelError) in try p.object(t) } ?? p
        }
        guard let d = dict else { return nil }
        let type = (try d.string("rope_type", "type") ?? "default").lowercased()
        if type == "default" { return nil }
        guard let f = try d.double("factor"), f > 0 else { throw .invalidConfig(path: c.path, reason: "rope scaling \"\(type)\" without a positive factor") }
        return (type, f)
    }

    // MARK: BERT family

    static func bert(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let type = try c.string("position_embedding_type") ?? "absolute"
        guard type == "absolute" else { throw c.unsupported("BERT with position_embedding_type \"\(type)\"") }
        return try bertLike(c, family: .bert, offset: 0)
    }

    static func xlmRoberta(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let type = try c.string("position_embedding_type") ?? "absolute"
        guard type == "absolute" else { throw c.unsupported("XLM-RoBERTa with position_embedding_type \"\(type)\"") }
        // RoBERTa's positions start after the padding index: padding_idx + 1 + t.
        return try bertLike(c, family: .xlmRoberta, offset: (try c.int("pad_token_id") ?? 1) + 1)
    }

    static func e5rope(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        if try c.bool("rotary_value") == true { throw c.unsupported("E5-RoPE with rotary_value true") }
        var d = try bertLike(c, family: .e5rope, offset: 0)
        let theta = try ropeTheta(c) ?? 10_000
        d.positions = .rotary(RotarySpec(theta: theta, localTheta: theta, frequencyFactor: 1, interleaved: false))
        return d
    }

    /// Post-LayerNorm BERT with the classic keys.
    static func bertLike(_ c: ConfigFile, family: ModelFamily, offset: Int) throws(ModelError) -> ArchitectureDescription {
        let h = try c.requiredInt("hidden_size"), heads = try c.requiredInt("num_attention_heads")
        let layers = try c.requiredInt("num_hidden_layers")
        try checkHeads(h, heads, c, names: ("hidden_size", "num_attention_heads"))
        let rows = try c.int("max_position_embeddings") ?? 512
        return ArchitectureDescription(
            family: family, modelType: try c.string("model_type") ?? family.rawValue, hiddenSize: h, layerCount: layers,
            heads: heads, kvHeads: heads, headDim: h / heads, intermediateSize: try c.requiredInt("intermediate_size"),
            vocabSize: try c.requiredInt("vocab_size"), norm: .layerNorm, normEps: try c.double("layer_norm_eps") ?? 1e-12,
            placement: .post,
            feedForward: FeedForwardSpec(activation: try activation(try c.string("hidden_act") ?? "gelu", c), gated: false),
            biases: .all, attentionScale: 1 / Double(h / heads).squareRoot(), qkNorm: false, layerKinds: allGlobal(layers),
            positions: .absolute(rows: rows, offset: offset), embeddingScale: nil,
            tokenTypeEmbeddings: (try c.int("type_vocab_size") ?? 2) > 0, embeddingNorm: true, finalNorm: false,
            statedTrainedLength: nil, maxPositions: rows)
    }

    // MARK: RoPE encoders

    /// NomicBERT (nomic-embed-text): GPT-2 style keys (`n_embd`, `n_layer`, ...) on the Hub.
    static func nomicBert(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let h = try c.requiredInt("n_embd", "hidden_size"), heads = try c.requiredInt("n_head", "num_attention_heads")
        let layers = try c.requiredInt("n_layer", "num_hidden_layers")
        try checkHeads(h, heads, c, names: ("n_embd", "n_head"))
        if let f = try c.double("rotary_emb_fraction"), f != 1 { throw c.unsupported("NomicBERT with rotary_emb_fraction \(f)") }
        if try c.bool("prenorm") == true { throw c.unsupported("NomicBERT with prenorm true") }
        if try c.bool("use_rms_norm") == true { throw c.unsupported("NomicBERT with use_rms_norm true") }
        if try c.bool("causal") == true { throw c.unsupported("NomicBERT with causal true") }
        if let f = try c.double("rotary_scaling_factor") {
            // contrastors then applies dynamic NTK past max_trained_positions on its own; here
            // that is an explicit method, so the config is not silently run without it.
            throw c.unsupported("NomicBERT with rotary_scaling_factor \(f) (set it to null and pass --extension dynamic-ntk --factor \(f) instead)")
        }
        let act = try c.string("activation_function", "hidden_act") ?? "swiglu"
        let gated = ["swiglu", "geglu", "glu"].contains(act.lowercased())
        let theta = try ropeTheta(c, keys: ["rotary_emb_base"]) ?? 10_000
        let positions = try c.int("n_positions", "max_position_embeddings") ?? 2048
        // contrastors' NomicBertAttention: out_proj carries a bias exactly when Wqkv does.
        let qkvBias = try c.bool("qkv_proj_bias") ?? true
        let biases = BiasSpec(qkv: qkvBias, attentionOutput: qkvBias, ffnIn: try c.bool("mlp_fc1_bias") ?? true,
                              ffnOut: try c.bool("mlp_fc2_bias") ?? true, norm: true)
        return ArchitectureDescription(
            family: .nomicBert, modelType: try c.string("model_type") ?? "nomic_bert", hiddenSize: h, layerCount: layers,
            heads: heads, kvHeads: heads, headDim: h / heads,
            intermediateSize: try c.int("n_inner", "intermediate_size") ?? 4 * h, vocabSize: try c.requiredInt("vocab_size"),
            norm: .layerNorm, normEps: try c.double("layer_norm_epsilon", "layer_norm_eps") ?? 1e-12, placement: .post,
            feedForward: FeedForwardSpec(activation: try activation(act, c), gated: gated), biases: biases,
            attentionScale: 1 / Double(h / heads).squareRoot(), qkNorm: false, layerKinds: allGlobal(layers),
            positions: .rotary(RotarySpec(theta: theta, localTheta: theta, frequencyFactor: 1,
                                          interleaved: try c.bool("rotary_emb_interleaved") ?? false)),
            embeddingScale: nil, tokenTypeEmbeddings: (try c.int("type_vocab_size") ?? 2) > 0, embeddingNorm: true,
            finalNorm: false, statedTrainedLength: try c.int("max_trained_positions"), maxPositions: positions)
    }

    /// GTE v1.5 (`model_type` "new"): RoPE with a trained NTK scaling, fused up/gate GLU.
    static func gte(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        var d = try bertLike(c, family: .gte, offset: 0)
        let posType = try c.string("position_embedding_type") ?? "rope"
        guard posType == "rope" else { throw c.unsupported("GTE with position_embedding_type \"\(posType)\"") }
        if let n = try c.string("layer_norm_type"), n != "layer_norm" { throw c.unsupported("GTE with layer_norm_type \"\(n)\"") }
        if try c.bool("logn_attention_scale") == true { throw c.unsupported("GTE with logn_attention_scale true") }
        let theta = try ropeTheta(c) ?? 10_000
        var spec = RotarySpec(theta: theta, localTheta: theta, frequencyFactor: 1, interleaved: false)
        if let s = try trainedRopeScaling(c) {
            // GTE's NTKScalingRotaryEmbedding: base * f, then every inverse frequency / f^(2/d).
            guard s.type == "ntk" else { throw c.unsupported("GTE with rope_scaling \"\(s.type)\"") }
            spec.theta = theta * s.factor
            spec.localTheta = spec.theta
            spec.frequencyFactor = pow(s.factor, -2 / Double(d.headDim))
        }
        d.positions = .rotary(spec)
        d.feedForward.gated = true
        // NewGatedMLP: up_gate_proj has no bias, down_proj has one.
        d.biases.ffnIn = false
        return d
    }

    /// ModernBERT: pre-norm, bias-free LayerNorm, GeGLU, a global layer every n and sliding
    /// windows of `local_attention` tokens (|i - j| <= local_attention / 2) in the others.
    static func modernBert(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let h = try c.requiredInt("hidden_size"), heads = try c.requiredInt("num_attention_heads")
        let layers = try c.requiredInt("num_hidden_layers")
        try checkHeads(h, heads, c, names: ("hidden_size", "num_attention_heads"))
        if try c.bool("norm_bias") == true { throw c.unsupported("ModernBERT with norm_bias true") }
        for key in ["attention_bias", "mlp_bias"] where try c.bool(key) == true { throw c.unsupported("ModernBERT with \(key) true") }
        let local = try c.int("local_attention") ?? 128
        let every = try c.int("global_attn_every_n_layers") ?? 3
        guard local >= 1, every >= 1 else { throw .invalidConfig(path: c.path, reason: "local_attention and global_attn_every_n_layers must be positive") }
        let kinds = try layerKinds(c, count: layers, window: local / 2 + 1) { $0 % every == 0 }
        let global = try ropeTheta(c, layerType: "full_attention", keys: ["global_rope_theta"]) ?? 160_000
        let localTheta = try ropeTheta(c, layerType: "sliding_attention", keys: ["local_rope_theta"]) ?? 10_000
        let positions = try c.int("max_position_embeddings") ?? 8192
        return ArchitectureDescription(
            family: .modernBert, modelType: "modernbert", hiddenSize: h, layerCount: layers, heads: heads, kvHeads: heads,
            headDim: h / heads, intermediateSize: try c.requiredInt("intermediate_size"), vocabSize: try c.requiredInt("vocab_size"),
            norm: .layerNorm, normEps: try c.double("norm_eps") ?? 1e-5, placement: .pre,
            feedForward: FeedForwardSpec(activation: try activation(try c.string("hidden_activation") ?? "gelu", c), gated: true),
            biases: .noBias, attentionScale: 1 / Double(h / heads).squareRoot(), qkNorm: false, layerKinds: kinds,
            positions: .rotary(RotarySpec(theta: global, localTheta: localTheta, frequencyFactor: 1, interleaved: false)),
            embeddingScale: nil, tokenTypeEmbeddings: false, embeddingNorm: true, finalNorm: true,
            statedTrainedLength: nil, maxPositions: positions)
    }

    /// `layer_types` when the config lists them ("full_attention" / "sliding_attention"), else
    /// `isGlobal(layer)`.
    static func layerKinds(_ c: ConfigFile, count: Int, window: Int,
                           isGlobal: (Int) -> Bool) throws(ModelError) -> [LayerKind] {
        guard let types = try c.stringArray("layer_types") else {
            return (0..<max(count, 0)).map { isGlobal($0) ? .global : .sliding(window: window) }
        }
        guard types.count == count else {
            throw .invalidConfig(path: c.path, reason: "layer_types lists \(types.count) layers, num_hidden_layers is \(count)")
        }
        var kinds: [LayerKind] = []
        for t in types {
            switch t {
            case "full_attention": kinds.append(.global)
            case "sliding_attention": kinds.append(.sliding(window: window))
            default: throw c.unsupported("layer type \"\(t)\"")
            }
        }
        return kinds
    }

    /// Gemma 3 text model: sandwich RMSNorm with `1 + w`, GQA, q/k norms, embeddings times
    /// `sqrt(hidden)`, alternating sliding and global layers. With `use_bidirectional_attention`
    /// (EmbeddingGemma) an encoder whose local layers see `|i - j| < sliding_window / 2 + 1`;
    /// without it the causal decoder, whose local layers see `i - sliding_window < j <= i`.
    static func gemma3(_ c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let causal = try c.bool("use_bidirectional_attention") != true
        if let s = try c.double("attn_logit_softcapping") { throw c.unsupported("Gemma 3 with attn_logit_softcapping \(s)") }
        let h = try c.requiredInt("hidden_size"), heads = try c.requiredInt("num_attention_heads")
        let layers = try c.requiredInt("num_hidden_layers")
        let headDim = try c.int("head_dim") ?? 256
        let window = try c.int("sliding_window") ?? 512
        let pattern = try c.int("sliding_window_pattern") ?? 6
        guard window >= 1, pattern >= 1 else { throw .invalidConfig(path: c.path, reason: "sliding_window and sliding_window_pattern must be positive") }
        // Bidirectional Gemma 3 attends to |i - j| < sliding_window / 2 + 1 (transformers'
        // bidirectional sliding mask over the Hub config's window); causal Gemma 3 to the last
        // sliding_window tokens.
        let kinds = try layerKinds(c, count: layers, window: causal ? window : window / 2 + 1) { ($0 + 1) % pattern == 0 }
        let global = try ropeTheta(c, layerType: "full_attention") ?? 1_000_000
        let local = try ropeTheta(c, layerType: "sliding_attention", keys: ["rope_local_base_freq"]) ?? 10_000
        var factor = 1.0
        if let s = try trainedRopeScaling(c, layerType: "full_attention") {
            guard s.type == "linear" else { throw c.unsupported("Gemma 3 with rope scaling \"\(s.type)\"") }
            factor = 1 / s.factor
        }
        let scalar = try c.double("query_pre_attn_scalar") ?? Double(headDim)
        let attentionBias = try c.bool("attention_bias") ?? false
        let positions = try c.int("max_position_embeddings") ?? 2048
        var d = ArchitectureDescription(
            family: causal ? .gemma3Causal : .gemma3, modelType: try c.string("model_type") ?? "gemma3_text", hiddenSize: h, layerCount: layers,
            heads: heads, kvHeads: try c.int("num_key_value_heads") ?? heads, headDim: headDim,
            intermediateSize: try c.requiredInt("intermediate_size"), vocabSize: try c.requiredInt("vocab_size"),
            norm: .rmsNorm(addOne: true), normEps: try c.double("rms_norm_eps") ?? 1e-6, placement: .sandwich,
            feedForward: FeedForwardSpec(activation: try activation(try c.string("hidden_activation", "hidden_act") ?? "gelu_pytorch_tanh", c), gated: true),
            biases: attentionBias ? BiasSpec(qkv: true, attentionOutput: true, ffnIn: false, ffnOut: false, norm: false) : .noBias,
            attentionScale: 1 / scalar.squareRoot(), qkNorm: true, layerKinds: kinds,
            positions: .rotary(RotarySpec(theta: global, localTheta: local, frequencyFactor: factor, interleaved: false)),
            embeddingScale: Float(Double(h).squareRoot()), tokenTypeEmbeddings: false, embeddingNorm: false, finalNorm: true,
            statedTrainedLength: nil, maxPositions: positions)
        d.causal = causal
        return d
    }
}
