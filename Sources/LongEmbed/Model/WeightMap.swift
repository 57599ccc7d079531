import Foundation

/// The tensor names of one family's checkpoints, as they come from the Hub (transformers 5's
/// `save_pretrained` writes the same names: it reverses its own renaming on save). Entries list
/// alternatives where checkpoints differ; norms are base names read as `.weight`/`.gamma` and
/// `.bias`/`.beta`.
struct WeightMap: Sendable {
    /// How q, k and v are stored.
    enum QKV: Sendable {
        /// One `[(heads + 2 kvHeads) d, hidden]` matrix.
        case fused([String])
        /// Three matrices.
        case split(q: [String], k: [String], v: [String])
    }

    /// How the feed-forward input projection is stored.
    enum FeedForwardIn: Sendable {
        /// One matrix (plain FFN).
        case plain([String])
        /// One `[2I, hidden]` matrix: the activated half first or second.
        case fused([String], activatedFirst: Bool)
        /// Gate (activated) and up (linear) matrices.
        case split(gate: [String], up: [String])
    }

    /// Names relative to a layer's prefix.
    struct Layer: Sendable {
        var qkv: QKV
        var output: [String]
        var qNorm: [String] = []
        var kNorm: [String] = []
        /// Post placement: the norm after the attention residual; pre and sandwich: before attention.
        var attentionNorm: [String]
        /// Sandwich: the norm of the attention output before the residual add.
        var postAttentionNorm: [String] = []
        /// Post placement: after the FFN residual; pre and sandwich: before the FFN.
        var ffnNorm: [String]
        /// Sandwich: the norm of the FFN output before the residual add.
        var postFFNNorm: [String] = []
        var ffnIn: FeedForwardIn
        var ffnOut: [String]
        /// Whether layer 0 may lack `attentionNorm` (ModernBERT's first layer uses Identity).
        var firstAttentionNormOptional = false
    }

    /// Prefixes a checkpoint may put before every name ("bert.", "model.").
    var prefixes: [String]
    var word: [String]
    var position: [String] = []
    var tokenType: [String] = []
    var embeddingNorm: [String] = []
    var finalNorm: [String] = []
    /// Layer `i`'s names start with `layerPrefixes[k] + "\(i)."`.
    var layerPrefixes: [String]
    var layer: Layer

    /// The map of `family`.
    static func forFamily(_ family: ModelFamily) -> WeightMap {
        switch family {
        case .bert, .e5rope, .xlmRoberta: return bert
        case .nomicBert: return nomicBert
        case .gte: return gte
        case .modernBert: return modernBert
        case .gemma3, .gemma3Causal: return gemma3
        case .llama, .mistral, .qwen2, .qwen3: return llama
        }
    }

    static let bert = WeightMap(
        prefixes: ["", "bert.", "model.", "roberta.", "xlm_roberta."],
        word: ["embeddings.word_embeddings.weight"], position: ["embeddings.position_embeddings.weight"],
        tokenType: ["embeddings.token_type_embeddings.weight"], embeddingNorm: ["embeddings.LayerNorm"],
        layerPrefixes: ["encoder.layer."],
        layer: Layer(qkv: .split(q: ["attention.self.query"], k: ["attention.self.key"], v: ["attention.self.value"]),
                     output: ["attention.output.dense"], attentionNorm: ["attention.output.LayerNorm"],
                     ffnNorm: ["output.LayerNorm"], ffnIn: .plain(["intermediate.dense"]), ffnOut: ["output.dense"]))

    /// contrastors' NomicBERT (the Hub's nomic-embed-text folders): `fc11` is the linear half
    /// and `fc12` the activated gate (`y = fc11(x) * act(fc12(x))`).
    static let nomicBert = WeightMap(
        prefixes: ["", "model.", "bert."],
        word: ["embeddings.word_embeddings.weight"], tokenType: ["embeddings.token_type_embeddings.weight"],
        embeddingNorm: ["emb_ln"],
        layerPrefixes: ["encoder.layers."],
        layer: Layer(qkv: .fused(["attn.Wqkv"]), output: ["attn.out_proj"],
                     attentionNorm: ["norm1"], ffnNorm: ["norm2"],
                     ffnIn: .split(gate: ["mlp.fc12"], up: ["mlp.fc11"]), ffnOut: ["mlp.fc2"]))

    /// Alibaba-NLP's "new" GTE: `up_gate_proj` holds up then gate.
    static let gte = WeightMap(
        prefixes: ["", "new.", "model."],
        word: ["embeddings.word_embeddings.weight"], tokenType: ["embeddings.token_type_embeddings.weight"],
        embeddingNorm: ["embeddings.LayerNorm"],
        layerPrefixes: ["encoder.layer."],
        layer: Layer(qkv: .fused(["attention.qkv_proj"]), output: ["attention.o_proj"], attentionNorm: ["attn_ln"],
                     ffnNorm: ["mlp_ln"], ffnIn: .fused(["mlp.up_gate_proj"], activatedFirst: false),
                     ffnOut: ["mlp.down_proj"]))

    /// ModernBERT: `Wi` holds the activated input then the gate; layer 0 has no attention norm.
    static let modernBert = WeightMap(
        prefixes: ["", "model."],
        word: ["embeddings.tok_embeddings.weight"], embeddingNorm: ["embeddings.norm"], finalNorm: ["final_norm"],
        layerPrefixes: ["layers."],
        layer: Layer(qkv: .fused(["attn.Wqkv"]), output: ["attn.Wo"], attentionNorm: ["attn_norm"],
                     ffnNorm: ["mlp_norm"], ffnIn: .fused(["mlp.Wi"], activatedFirst: true), ffnOut: ["mlp.Wo"],
                     firstAttentionNormOptional: true))

    static let gemma3 = WeightMap(
        prefixes: ["", "model.", "model.language_model.", "language_model.model."],
        word: ["embed_tokens.weight"], finalNorm: ["norm"],
        layerPrefixes: ["layers."],
        layer: Layer(qkv: .split(q: ["self_attn.q_proj"], k: ["self_attn.k_proj"], v: ["self_attn.v_proj"]),
                     output: ["self_attn.o_proj"], qNorm: ["self_attn.q_norm"], kNorm: ["self_attn.k_norm"],
                     attentionNorm: ["input_layernorm"], postAttentionNorm: ["post_attention_layernorm"],
                     ffnNorm: ["pre_feedforward_layernorm"], postFFNNorm: ["post_feedforward_layernorm"],
                     ffnIn: .split(gate: ["mlp.gate_proj"], up: ["mlp.up_proj"]), ffnOut: ["mlp.down_proj"]))

    /// Llama, Mistral, Qwen2 and Qwen3 checkpoints (`LlamaModel` names, `model.` under a
    /// `*ForCausalLM` head): `post_attention_layernorm` is the norm before the FFN.
    static let llama = WeightMap(
        prefixes: ["", "model."],
        word: ["embed_tokens.weight"], finalNorm: ["norm"],
        layerPrefixes: ["layers."],
        layer: Layer(qkv: .split(q: ["self_attn.q_proj"], k: ["self_attn.k_proj"], v: ["self_attn.v_proj"]),
                     output: ["self_attn.o_proj"], qNorm: ["self_attn.q_norm"], kNorm: ["self_attn.k_norm"],
                     attentionNorm: ["input_layernorm"], ffnNorm: ["post_attention_layernorm"],
                     ffnIn: .split(gate: ["mlp.gate_proj"], up: ["mlp.up_proj"]), ffnOut: ["mlp.down_proj"]))
}
