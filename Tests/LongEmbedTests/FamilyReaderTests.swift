import Foundation
import Testing
@testable import LongEmbed

/// The per-family `config.json` readers, on the configs of the real Hub checkpoints (their
/// architecture keys copied from the published config.json files).
@Suite struct FamilyReaderTests {
    static func read(_ json: String) throws -> ArchitectureDescription {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("family-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(json.utf8).write(to: dir.appendingPathComponent("config.json"))
        return try ArchitectureDescription.load(directory: dir)
    }

    @Test func bgeM3IsXLMRobertaWithOffsetPositions() throws {
        let a = try Self.read(#"{"architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096, "max_position_embeddings": 8194, "pad_token_id": 1, "type_vocab_size": 1, "vocab_size": 250002, "layer_norm_eps": 1e-05, "hidden_act": "gelu", "position_embedding_type": "absolute"}"#)
        #expect(a.family == .xlmRoberta)
        #expect(a.positions == .absolute(rows: 8194, offset: 2))
        #expect(a.positionTableSize == 8192)
        #expect(a.tokenTypeEmbeddings && a.placement == .post && a.biases == .all)
    }

    @Test func nomicEmbedV15() throws {
        let a = try Self.read(#"{"activation_function": "swiglu", "architectures": ["NomicBertModel"], "model_type": "nomic_bert", "n_embd": 768, "n_head": 12, "n_inner": 3072, "n_layer": 12, "n_positions": 8192, "max_trained_positions": 2048, "layer_norm_epsilon": 1e-12, "mlp_fc1_bias": false, "mlp_fc2_bias": false, "qkv_proj_bias": false, "prenorm": false, "rotary_emb_base": 1000, "rotary_emb_fraction": 1.0, "rotary_emb_interleaved": false, "rotary_scaling_factor": null, "type_vocab_size": 2, "vocab_size": 30528, "causal": false}"#)
        #expect(a.family == .nomicBert)
        #expect(a.rotary == RotarySpec(theta: 1000, localTheta: 1000, frequencyFactor: 1, interleaved: false))
        #expect(a.feedForward == FeedForwardSpec(activation: .silu, gated: true))
        #expect(a.statedTrainedLength == 2048 && a.maxPositions == 8192)
        #expect(!a.biases.qkv && !a.biases.attentionOutput && !a.biases.ffnIn && !a.biases.ffnOut && a.biases.norm)
    }

    @Test func gteBaseV15CarriesItsTrainedNTKScaling() throws {
        let a = try Self.read(#"{"architectures": ["NewModel"], "model_type": "new", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "layer_norm_type": "layer_norm", "max_position_embeddings": 8192, "position_embedding_type": "rope", "rope_scaling": {"factor": 2.0, "type": "ntk"}, "rope_theta": 500000, "type_vocab_size": 0, "vocab_size": 30528, "logn_attention_scale": false, "pack_qkv": true}"#)
        #expect(a.family == .gte && !a.tokenTypeEmbeddings && a.feedForward.gated && !a.biases.ffnIn)
        let r = try #require(a.rotary)
        #expect(r.theta == 1_000_000)
        #expect(abs(r.frequencyFactor - pow(2.0, -2.0 / 64)) < 1e-15)
    }

    @Test func modernBertBaseAlternatesGlobalAndSlidingLayers() throws {
        let a = try Self.read(#"{"architectures": ["ModernBertForMaskedLM"], "model_type": "modernbert", "hidden_size": 768, "num_hidden_layers": 22, "num_attention_heads": 12, "intermediate_size": 1152, "hidden_activation": "gelu", "norm_eps": 1e-05, "norm_bias": false, "attention_bias": false, "mlp_bias": false, "global_attn_every_n_layers": 3, "local_attention": 128, "global_rope_theta": 160000.0, "local_rope_theta": 10000.0, "max_position_embeddings": 8192, "vocab_size": 50368}"#)
        #expect(a.family == .modernBert && a.placement == .pre && a.biases == .noBias && a.finalNorm)
        #expect(a.layerKinds.count == 22)
        for (i, k) in a.layerKinds.enumerated() { #expect(k == (i % 3 == 0 ? .global : .sliding(window: 65)), "layer \(i)") }
        #expect(a.rotary?.theta == 160_000 && a.rotary?.localTheta == 10_000)
    }

    @Test func embeddingGemmaIsBidirectionalGemma3() throws {
        let a = try Self.read(#"{"architectures": ["Gemma3TextModel"], "model_type": "gemma3_text", "hidden_size": 768, "num_hidden_layers": 24, "num_attention_heads": 3, "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 1152, "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "sliding_window": 512, "query_pre_attn_scalar": 256, "use_bidirectional_attention": true, "max_position_embeddings": 2048, "vocab_size": 262144, "attn_logit_softcapping": null, "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]}"#)
        #expect(a.family == .gemma3 && a.placement == .sandwich && a.norm == .rmsNorm(addOne: true) && a.qkNorm)
        #expect(a.heads == 3 && a.kvHeads == 1 && a.headDim == 256)
        #expect(a.layerKinds.filter { $0 == .global }.count == 4)
        #expect(a.layerKinds[0] == .sliding(window: 257))
        #expect(a.embeddingScale == Float(Double(768).squareRoot()))
        #expect(abs(a.attentionScale - 1.0 / 16) < 1e-15)
    }

    @Test(arguments: [
        (#"{"model_type": "gemma3_text", "attn_logit_softcapping": 50.0, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100}"#, "softcapping"),
        (#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}"#, "--extension yarn"),
        (#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}"#, "--extension dynamic-ntk"),
        (#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}"#, "low_freq_factor"),
        (#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "partial_rotary_factor": 0.5}"#, "partial_rotary_factor"),
        (#"{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 3, "intermediate_size": 128, "vocab_size": 100}"#, "num_attention_heads"),
        (#"{"model_type": "mistral", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 128, "vocab_size": 100}"#, "num_key_value_heads"),
        (#"{"model_type": "mistral", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "sliding_window": 0}"#, "sliding window"),
        (#"{"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "use_sliding_window": true}"#, "sliding_window is missing"),
        (#"{"model_type": "qwen3", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "hidden_act": "relu2"}"#, "relu2"),
        (#"{"model_type": "gemma3_text", "use_bidirectional_attention": true, "attn_logit_softcapping": 50.0, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100}"#, "softcapping"),
        (#"{"model_type": "gemma3_text", "use_bidirectional_attention": true, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 128, "vocab_size": 100}"#, "num_key_value_heads"),
        (#"{"model_type": "modernbert", "norm_bias": true, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100}"#, "norm_bias"),
        (#"{"model_type": "modernbert", "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "layer_types": ["full_attention", "chunked_attention", "full_attention"]}"#, "chunked_attention"),
        (#"{"model_type": "modernbert", "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "layer_types": ["full_attention"]}"#, "layer_types"),
        (#"{"model_type": "nomic_bert", "n_embd": 64, "n_layer": 2, "n_head": 2, "vocab_size": 100, "rotary_emb_fraction": 0.5}"#, "rotary_emb_fraction"),
        (#"{"model_type": "nomic_bert", "n_embd": 64, "n_layer": 2, "n_head": 2, "vocab_size": 100, "prenorm": true}"#, "prenorm"),
        (#"{"model_type": "nomic_bert", "n_embd": 64, "n_layer": 2, "n_head": 2, "vocab_size": 100, "rotary_scaling_factor": 2.0}"#, "dynamic-ntk"),
        (#"{"model_type": "new", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "rope_scaling": {"type": "yarn", "factor": 2.0}}"#, "yarn"),
        (#"{"model_type": "new", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "rope_theta": "big"}"#, "rope_theta"),
        (#"{"model_type": "xlm-roberta", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "max_position_embeddings": 2, "pad_token_id": 1}"#, "offset"),
        (#"{"model_type": "t5", "d_model": 64}"#, "t5"),
        (#"{"model_type": "gemma3_text", "use_bidirectional_attention": true, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 0, "intermediate_size": 128, "vocab_size": 100}"#, "key/value heads"),
        (#"{"model_type": "gemma3_text", "use_bidirectional_attention": true, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "query_pre_attn_scalar": 0, "intermediate_size": 128, "vocab_size": 100}"#, "attention scale"),
        (#"{"model_type": "gemma3_text", "use_bidirectional_attention": true, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "sliding_window": 0, "intermediate_size": 128, "vocab_size": 100}"#, "sliding_window"),
        (#"{"model_type": "modernbert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 4194304, "vocab_size": 100}"#, "intermediate size"),
        (#"{"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "layer_norm_eps": -1}"#, "epsilon"),
    ])
    func optionsTheDescriptionCannotExpressAreTypedErrors(config: String, mentions: String) throws {
        do {
            let a = try Self.read(config)
            Issue.record("accepted a config mentioning \(mentions): \(a.family)")
        } catch let error as ModelError {
            #expect("\(error)".contains(mentions), "\(error)")
        }
    }

    // MARK: Decoders (architecture keys of the published config.json files)

    @Test func qwen3Embedding06B() throws {
        let a = try Self.read(#"{"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "intermediate_size": 3072, "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true, "use_sliding_window": false, "vocab_size": 151669}"#)
        #expect(a.family == .qwen3 && a.causal && a.family.isDecoder && a.qkNorm)
        #expect(a.heads == 16 && a.kvHeads == 8 && a.headDim == 128)   // head_dim != hidden / heads
        #expect(a.placement == .pre && a.norm == .rmsNorm(addOne: false) && a.finalNorm && !a.embeddingNorm)
        #expect(a.feedForward == FeedForwardSpec(activation: .silu, gated: true) && a.biases == .noBias)
        #expect(a.layerKinds.allSatisfy { $0 == .global } && a.rotary?.theta == 1_000_000)
        #expect(abs(a.attentionScale - 1 / Double(128).squareRoot()) < 1e-15)
    }

    @Test func e5MistralHasASlidingWindowOnEveryLayer() throws {
        let a = try Self.read(#"{"architectures": ["MistralModel"], "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false, "vocab_size": 32000}"#)
        #expect(a.family == .mistral && a.causal && a.kvHeads == 8 && a.headDim == 128)
        #expect(a.layerKinds.count == 32 && a.layerKinds.allSatisfy { $0 == .sliding(window: 4096) })
        #expect(!a.slidingLayersKeepTrainedRotation)
    }

    @Test func gteQwen2HasQKVBiasesOnly() throws {
        let a = try Self.read(#"{"architectures": ["Qwen2ForCausalLM"], "hidden_act": "silu", "hidden_size": 1536, "intermediate_size": 8960, "max_position_embeddings": 131072, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072, "use_sliding_window": false, "vocab_size": 151646}"#)
        #expect(a.family == .qwen2 && a.biases == BiasSpec(qkv: true, attentionOutput: false, ffnIn: false, ffnOut: false, norm: false))
        #expect(a.layerKinds.allSatisfy { $0 == .global })   // use_sliding_window false
        let w = try Self.read(#"{"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100, "use_sliding_window": true, "sliding_window": 32, "max_window_layers": 2}"#)
        #expect(w.layerKinds == [.global, .global, .sliding(window: 32), .sliding(window: 32)])
    }

    /// Llama 3.2 1B: the trained llama3 scaling, checked at the three bands of its rule.
    @Test func llama32HasTheLlama3FrequencyScaling() throws {
        let a = try Self.read(#"{"architectures": ["LlamaForCausalLM"], "attention_bias": false, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0, "tie_word_embeddings": true, "vocab_size": 128256}"#)
        let s = try #require(a.rotary?.llama3)
        #expect(s == Llama3RoPEScaling(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalLength: 8192))
        // wavelength 2 pi / f: < 2048 kept, > 8192 divided by 32, between: the smooth blend.
        let inv: [Float] = [1, Float(2 * Double.pi / 4096), 1e-4]
        let out = s.apply(inv)
        #expect(out[0] == 1 && out[2] == Float(1e-4 / 32))
        let smooth = (8192.0 / 4096 - 1) / 3
        #expect(abs(Double(out[1]) - ((1 - smooth) * Double(inv[1]) / 32 + smooth * Double(inv[1]))) < 1e-9)
    }

    @Test func causalGemma3IsADecoderWithOneSidedWindows() throws {
        let a = try Self.read(#"{"model_type": "gemma3_text", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": 100, "sliding_window": 512, "layer_types": ["sliding_attention", "full_attention"]}"#)
        #expect(a.family == .gemma3Causal && a.causal && a.layerKinds == [.sliding(window: 512), .global])
        #expect(a.slidingLayersKeepTrainedRotation)
    }
}
