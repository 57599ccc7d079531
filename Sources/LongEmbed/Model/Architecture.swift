import Foundation

/// The model families this package runs, each read from `config.json` by its own small reader
/// (``ArchitectureDescription/read(config:path:)``) into one ``ArchitectureDescription`` that a
/// single forward pass executes.
public enum ModelFamily: String, Sendable, CaseIterable, Codable {
    /// BERT with an absolute position table (all-MiniLM, E5, BGE v1.5, Contriever).
    case bert
    /// BERT with RoPE on q and k in every layer and no position table (LongEmbed's E5-RoPE).
    case e5rope
    /// XLM-RoBERTa (bge-m3, multilingual-e5): BERT with positions offset by `padding_idx + 1`.
    case xlmRoberta = "xlm-roberta"
    /// NomicBERT (nomic-embed-text v1/v1.5): RoPE, SwiGLU, post-LayerNorm.
    case nomicBert = "nomic-bert"
    /// GTE v1.5 (Alibaba-NLP's "new" architecture): RoPE, fused GLU, post-LayerNorm.
    case gte
    /// ModernBERT: pre-norm, no biases, GeGLU, global and sliding-window layers.
    case modernBert = "modernbert"
    /// Gemma 3 with bidirectional attention (EmbeddingGemma).
    case gemma3 = "gemma3-bidirectional"
    /// Llama (Llama 2/3 and the embedders built on them): causal, pre-RMSNorm, SwiGLU, GQA,
    /// Llama-3 RoPE scaling.
    case llama
    /// Mistral (E5-Mistral): Llama with a causal sliding window on every layer.
    case mistral
    /// Qwen2 (gte-Qwen2): Llama with q/k/v biases.
    case qwen2
    /// Qwen3 (Qwen3-Embedding): Llama with per-head q/k RMSNorm.
    case qwen3
    /// Gemma 3 with its causal attention (a decoder).
    case gemma3Causal = "gemma3"

    /// Whether the family's attention is causal (a decoder LLM embedder).
    public var isDecoder: Bool {
        switch self {
        case .llama, .mistral, .qwen2, .qwen3, .gemma3Causal: return true
        default: return false
        }
    }
}

/// Where a transformer layer normalizes.
public enum NormPlacement: String, Sendable, Equatable, Codable {
    /// After each residual add (BERT): `x = norm(x + f(x))`.
    case post
    /// Before each sub-layer (ModernBERT): `x = x + f(norm(x))`, a final norm at the end.
    case pre
    /// Before and after each sub-layer (Gemma 3): `x = x + norm₂(f(norm₁(x)))`.
    case sandwich
}

/// The attention span of one layer.
public enum LayerKind: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Every token attends to every token of its sequence.
    case global
    /// Token `i` attends to tokens `j` with `|i - j| < window`.
    case sliding(window: Int)

    public var description: String {
        switch self {
        case .global: return "global"
        case .sliding(let w): return "sliding(|i-j| < \(w))"
        }
    }
}

/// Rotary position embedding of a family (Su et al., RoFormer, arXiv:2104.09864).
public struct RotarySpec: Sendable, Equatable {
    /// Base of the global layers' frequencies.
    public var theta: Double
    /// Base of the sliding-window layers' frequencies (ModernBERT, Gemma 3); `theta` otherwise.
    public var localTheta: Double
    /// A constant factor on every inverse frequency that the trained model applies (GTE v1.5's
    /// NTK scaling: `f^(-2/d)` after the base was multiplied by `f`); 1 elsewhere.
    public var frequencyFactor: Double
    /// Whether pairs are `(x[2i], x[2i+1])` instead of `(x[i], x[i+d/2])`.
    public var interleaved: Bool
    /// The trained Llama-3 frequency scaling (Llama 3.1/3.2 configs), applied to the global
    /// layers' inverse frequencies after any method's own scaling; nil for none.
    public var llama3: Llama3RoPEScaling? = nil
    /// Per-frequency divisors, `headDim / 2` of them: inverse frequency `j` of the global layers is
    /// divided by `frequencyDivisors[j]` after any method's scaling. This is how llama.cpp stores
    /// Llama 3.1's scaling in a GGUF file (`rope_freqs.weight`, ggml's `freq_factors`); nil for none.
    public var frequencyDivisors: [Double]? = nil
}

/// Llama 3.1's RoPE scaling (`rope_type: llama3`): wavelengths longer than
/// `originalLength / lowFrequencyFactor` are divided by `factor`, shorter than
/// `originalLength / highFrequencyFactor` kept, and the band between interpolated smoothly
/// (transformers' `_compute_llama3_parameters`).
public struct Llama3RoPEScaling: Sendable, Equatable {
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    /// `original_max_position_embeddings`.
    public var originalLength: Int

    /// `inv` with the scaling applied (in double, rounded to Float).
    public func apply(_ inv: [Float]) -> [Float] {
        let lo = Double(originalLength)
        let lowWavelength = lo / lowFrequencyFactor, highWavelength = lo / highFrequencyFactor
        return inv.map { f in
            let x = Double(f), wavelength = 2 * Double.pi / x
            if wavelength < highWavelength { return f }
            if wavelength > lowWavelength { return Float(x / factor) }
            let smooth = (lo / wavelength - lowFrequencyFactor) / (highFrequencyFactor - lowFrequencyFactor)
            return Float((1 - smooth) * x / factor + smooth * x)
        }
    }
}

/// Position information of a family.
public enum PositionEncoding: Sendable, Equatable {
    /// A learned table of `rows` positions; token `t` of a sequence reads row `offset + t`
    /// (XLM-R: `offset = padding_idx + 1`).
    case absolute(rows: Int, offset: Int)
    /// RoPE on q and k.
    case rotary(RotarySpec)
}

/// The feed-forward block of a layer.
public struct FeedForwardSpec: Sendable, Equatable {
    /// The activation.
    public var activation: Activation
    /// GLU form `act(gate) * up` (SwiGLU, GeGLU) instead of `act(x W1)`.
    public var gated: Bool
}

/// Which projections and norms carry a bias.
public struct BiasSpec: Sendable, Equatable {
    /// q, k and v projections.
    public var qkv: Bool
    /// The attention output projection.
    public var attentionOutput: Bool
    /// The feed-forward input projection(s).
    public var ffnIn: Bool
    /// The feed-forward output projection.
    public var ffnOut: Bool
    /// LayerNorm's additive `beta`.
    public var norm: Bool

    /// Every bias present (BERT).
    public static let all = BiasSpec(qkv: true, attentionOutput: true, ffnIn: true, ffnOut: true, norm: true)
    /// No bias anywhere (ModernBERT, Gemma).
    public static let noBias = BiasSpec(qkv: false, attentionOutput: false, ffnIn: false, ffnOut: false, norm: false)
}

/// One transformer encoder described by data: everything the forward pass needs to know about
/// a family, filled from `config.json` by a per-family reader. Adding a family is a reader and
/// a weight map (``WeightMap``), not a new forward pass.
public struct ArchitectureDescription: Sendable, Equatable {
    /// The family read.
    public var family: ModelFamily
    /// The config's `model_type` (for messages).
    public var modelType: String
    public var hiddenSize: Int
    public var layerCount: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    public var kvHeads: Int
    /// Per-head dimension (`hiddenSize / heads` unless the config sets it).
    public var headDim: Int
    public var intermediateSize: Int
    public var vocabSize: Int
    /// The norm of every layer (LayerNorm or RMSNorm) and its epsilon.
    public var norm: NormKind
    public var normEps: Double
    public var placement: NormPlacement
    public var feedForward: FeedForwardSpec
    /// Which weights carry biases.
    public var biases: BiasSpec
    /// Logits are `attentionScale * q·k`; `1/sqrt(headDim)` for most families.
    public var attentionScale: Double
    /// Per-head RMSNorm of q and k before RoPE (Gemma 3, Qwen3).
    public var qkNorm: Bool
    /// The span of each layer, `layerCount` entries.
    public var layerKinds: [LayerKind]
    public var positions: PositionEncoding
    /// Multiplies the word embeddings (Gemma: `sqrt(hidden)` rounded to the weights' dtype).
    public var embeddingScale: Float?
    /// Whether row 0 of a token-type table is added to every token.
    public var tokenTypeEmbeddings: Bool
    /// A norm right after the embeddings (BERT family, ModernBERT).
    public var embeddingNorm: Bool
    /// A norm after the last layer (pre-norm and sandwich families).
    public var finalNorm: Bool
    /// The trained context the config states outright, where a family has such a key
    /// (NomicBERT's `max_trained_positions`); nil: the package's general rule.
    public var statedTrainedLength: Int?
    /// `max_position_embeddings` (RoPE families: the length the config was set up for).
    public var maxPositions: Int
    /// Causal attention (decoders): token `i` attends to tokens `j <= i` only.
    public var causal = false
    /// Whether sliding-window layers rotate with their own local base at their trained
    /// positions under every method (ModernBERT, Gemma 3: a separate local rotary embedding in
    /// transformers), or with the sequence's plan like the global layers (Mistral, Qwen2: one
    /// rotary embedding for all layers).
    public var slidingLayersKeepTrainedRotation = true

    /// Whether the model rotates q and k.
    public var usesRoPE: Bool { if case .rotary = positions { true } else { false } }
    /// The rotary settings, nil for absolute-position models.
    public var rotary: RotarySpec? { if case .rotary(let r) = positions { r } else { nil } }
    /// Rows of the absolute position table usable by tokens (rows minus the offset), nil for RoPE.
    public var positionTableSize: Int? {
        if case .absolute(let rows, let offset) = positions { rows - offset } else { nil }
    }
    /// Whether any layer attends through a sliding window.
    public var hasSlidingLayers: Bool { layerKinds.contains { $0 != .global } }
}

extension ArchitectureDescription {
    /// Reads `config.json` at `directory` with the reader of its family.
    public static func load(directory: URL) throws(ModelError) -> ArchitectureDescription {
        let url = directory.appendingPathComponent("config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else { throw .fileNotFound(path: url.path) }
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch {
            throw .invalidConfig(path: url.path, reason: "malformed JSON: \(error.message) at byte \(error.offset)")
        }
        guard let object = root.objectValue else { throw .invalidConfig(path: url.path, reason: "expected a JSON object") }
        return try read(config: ConfigFile(object, path: url.path))
    }

    /// The family reader for the config's `model_type` / `architectures`.
    static func read(config c: ConfigFile) throws(ModelError) -> ArchitectureDescription {
        let type = (try c.string("model_type") ?? "").lowercased()
        let arch = try c.stringArray("architectures")?.first ?? ""
        let reader: (ConfigFile) throws(ModelError) -> ArchitectureDescription
        switch type {
        case "bert": reader = FamilyReaders.bert
        case "e5rope": reader = FamilyReaders.e5rope
        case "xlm-roberta", "xlm_roberta", "roberta": reader = FamilyReaders.xlmRoberta
        case "nomic_bert", "nomic-bert": reader = FamilyReaders.nomicBert
        case "new", "gte": reader = FamilyReaders.gte
        case "modernbert": reader = FamilyReaders.modernBert
        case "gemma3_text", "gemma3": reader = FamilyReaders.gemma3
        case "llama": reader = FamilyReaders.llama
        case "mistral": reader = FamilyReaders.mistral
        case "qwen2": reader = FamilyReaders.qwen2
        case "qwen3": reader = FamilyReaders.qwen3
        default:
            if arch == "E5RopeModel" { reader = FamilyReaders.e5rope; break }
            throw .unsupportedArchitecture(arch.isEmpty ? "model_type \"\(type)\"" : "\(arch) (model_type \"\(type)\")")
        }
        let description = try reader(c)
        try description.validate(path: c.path)
        return description
    }

    /// Rejects sizes the forward pass cannot run.
    func validate(path: String) throws(ModelError) {
        for (name, v) in [("hidden size", hiddenSize), ("layer count", layerCount), ("attention heads", heads),
                          ("key/value heads", kvHeads), ("head dim", headDim), ("intermediate size", intermediateSize),
                          ("vocabulary size", vocabSize), ("max positions", maxPositions)] where v < 1 {
            throw .invalidConfig(path: path, reason: "\(name) must be positive, got \(v)")
        }
        let limit = 1 << 20
        for (name, v) in [("hidden size", hiddenSize), ("intermediate size", intermediateSize), ("head dim", headDim)] where v > limit {
            throw .invalidConfig(path: path, reason: "\(name) \(v) is larger than \(limit)")
        }
        guard layerCount <= 1024, heads <= 4096, vocabSize <= 1 << 24 else {
            throw .invalidConfig(path: path, reason: "layer, head or vocabulary count out of range")
        }
        guard heads % kvHeads == 0 else {
            throw .invalidConfig(path: path, reason: "num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)")
        }
        guard normEps > 0, normEps.isFinite else { throw .invalidConfig(path: path, reason: "the norm epsilon must be positive") }
        guard attentionScale > 0, attentionScale.isFinite else { throw .invalidConfig(path: path, reason: "the attention scale must be positive") }
        guard layerKinds.count == layerCount else {
            throw .invalidConfig(path: path, reason: "\(layerKinds.count) layer types for \(layerCount) layers")
        }
        for case .sliding(let w) in layerKinds where w < 1 {
            throw .invalidConfig(path: path, reason: "a sliding window must be at least 1 token, got \(w)")
        }
        if placement == .post && norm != .layerNorm {
            throw .invalidConfig(path: path, reason: "post-norm layers with RMSNorm are not supported")
        }
        if let r = rotary {
            guard headDim % 2 == 0 else { throw .invalidConfig(path: path, reason: "RoPE needs an even head dim, got \(headDim)") }
            for (name, t) in [("rope theta", r.theta), ("local rope theta", r.localTheta)] where !(t > 1 && t.isFinite) {
                throw .invalidConfig(path: path, reason: "\(name) must be > 1, got \(t)")
            }
        }
        if case .absolute(let rows, let offset) = positions, offset < 0 || offset >= rows {
            throw .invalidConfig(path: path, reason: "position offset \(offset) outside the \(rows)-row table")
        }
    }
}

/// Typed access to a `config.json` object: a key that is present with the wrong type is an
/// error naming it, never a silent default.
struct ConfigFile {
    let object: JSONObject
    let path: String

    init(_ object: JSONObject, path: String) {
        self.object = object
        self.path = path
    }

    private func value(_ keys: [String]) -> (String, JSONValue)? {
        for k in keys { if let v = object[k], !v.isNull { return (k, v) } }
        return nil
    }

    private func wrong(_ key: String, _ expected: String, _ v: JSONValue) -> ModelError {
        .invalidConfig(path: path, reason: "\(key) must be \(expected), got \(v.brief)")
    }

    /// The first present (non-null) key of `keys` as an integer.
    func int(_ keys: String...) throws(ModelError) -> Int? {
        guard let (k, v) = value(keys) else { return nil }
        guard let i = v.integerValue else { throw wrong(k, "an integer", v) }
        return i
    }

    /// As ``int(_:)``, but absent is an error.
    func requiredInt(_ keys: String...) throws(ModelError) -> Int {
        guard let (k, v) = value(keys) else { throw .invalidConfig(path: path, reason: "missing key \"\(keys[0])\"") }
        guard let i = v.integerValue else { throw wrong(k, "an integer", v) }
        return i
    }

    func double(_ keys: String...) throws(ModelError) -> Double? {
        guard let (k, v) = value(keys) else { return nil }
        guard let d = v.numberValue else { throw wrong(k, "a finite number", v) }
        return d
    }

    func bool(_ keys: String...) throws(ModelError) -> Bool? {
        guard let (k, v) = value(keys) else { return nil }
        guard let b = v.boolValue else { throw wrong(k, "true or false", v) }
        return b
    }

    func string(_ keys: String...) throws(ModelError) -> String? {
        guard let (k, v) = value(keys) else { return nil }
        guard let s = v.stringValue else { throw wrong(k, "a string", v) }
        return s
    }

    func stringArray(_ key: String) throws(ModelError) -> [String]? {
        guard let (k, v) = value([key]) else { return nil }
        guard let a = v.arrayValue else { throw wrong(k, "a list of strings", v) }
        var out: [String] = []
        for e in a {
            guard let s = e.stringValue else { throw wrong(k, "a list of strings", v) }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(ModelError) -> ConfigFile? {
        guard let (k, v) = value([key]) else { return nil }
        guard let o = v.objectValue else { throw wrong(k, "an object", v) }
        return ConfigFile(o, path: path)
    }

    /// An option the description cannot express.
    func unsupported(_ what: String) -> ModelError {
        .unsupportedArchitecture("\(what) (in \(path))")
    }
}
