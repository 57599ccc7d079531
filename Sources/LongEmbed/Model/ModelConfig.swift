import Foundation

/// A Hugging Face `config.json` of a BERT-family encoder.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var architectures: [String]?
    public var modelType: String?
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var vocabSize: Int
    public var layerNormEps: Double
    public var hiddenAct: String
    public var positionEmbeddingType: String?
    /// RoPE base (E5-RoPE).
    public var ropeTheta: Double?
    /// Whether v is rotated too (E5-RoPE; only `false` is supported).
    public var rotaryValue: Bool?

    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size"
        case vocabSize = "vocab_size"
        case layerNormEps = "layer_norm_eps"
        case hiddenAct = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
        case ropeTheta = "rope_theta"
        case rotaryValue = "rotary_value"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 512
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-12
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType)
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        rotaryValue = try c.decodeIfPresent(Bool.self, forKey: .rotaryValue)
    }

    /// The architectures this package runs.
    public enum Architecture: String, Sendable, Equatable {
        /// BERT with an absolute position table (all-MiniLM, E5, GTE, BGE, Contriever).
        case bert
        /// BERT without a position table, RoPE on q and k in every layer (LongEmbed's E5-RoPE).
        case e5rope
    }

    /// Reads and validates `directory/config.json`.
    public static func load(directory: URL) throws(ModelError) -> ModelConfig {
        let url = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw .fileNotFound(path: url.path) }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .unreadable(path: url.path, reason: "permission denied or not a file")
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: data) } catch {
            throw .invalidConfig(path: url.path, reason: Self.describe(error))
        }
        try config.validate(path: url.path)
        return config
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing key \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        case DecodingError.dataCorrupted(let ctx): return "malformed JSON: \(ctx.debugDescription)"
        default: return "\(error)"
        }
    }

    func validate(path: String) throws(ModelError) {
        for (name, v) in [("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                          ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                          ("max_position_embeddings", maxPositionEmbeddings), ("vocab_size", vocabSize)] where v < 1 {
            throw .invalidConfig(path: path, reason: "\(name) must be positive, got \(v)")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw .invalidConfig(path: path, reason: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else { throw .invalidConfig(path: path, reason: "layer_norm_eps must be positive") }
        guard hiddenAct == "gelu" else {
            throw .invalidConfig(path: path, reason: "hidden_act \"\(hiddenAct)\" is not supported (only the exact erf \"gelu\")")
        }
        if let t = ropeTheta, !(t > 1) { throw .invalidConfig(path: path, reason: "rope_theta must be > 1") }
    }

    /// The architecture to run, or `unsupportedArchitecture` naming what the config declares.
    public func architecture() throws(ModelError) -> Architecture {
        let type = modelType?.lowercased() ?? ""
        let arch = architectures?.first ?? ""
        if type == "e5rope" || arch == "E5RopeModel" {
            if rotaryValue == true { throw .unsupportedArchitecture("\(arch.isEmpty ? type : arch) with rotary_value true") }
            return .e5rope
        }
        let bertArchitectures: Set<String> = ["BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification", ""]
        if type == "bert" && bertArchitectures.contains(arch) {
            if let p = positionEmbeddingType, p != "absolute" {
                throw .unsupportedArchitecture("BERT with position_embedding_type \"\(p)\"")
            }
            return .bert
        }
        throw .unsupportedArchitecture(arch.isEmpty ? "model_type \"\(type)\"" : "\(arch) (model_type \"\(type)\")")
    }
}

/// The sentence-transformers configuration of a model folder: pooling, normalization and
/// maximum sequence length (`modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`).
///
/// Only a file that does not exist counts as absent: a file that is present but unreadable (a
/// directory at that path, no permission) or malformed is a typed error naming its path, never
/// a silent fall-back to the defaults. A leading UTF-8 byte-order mark is ignored.
public struct SentenceTransformersConfig: Sendable, Equatable {
    /// Pooling of token vectors.
    public var pooling: Pooling
    /// Whether a Normalize module follows pooling.
    public var normalize: Bool
    /// sentence-transformers' truncation length.
    public var maxSeqLength: Int?

    /// The smallest accepted `max_seq_length`: `[CLS]`, one token of text and `[SEP]`.
    public static let minimumMaxSeqLength = 3

    /// Reads the folder's sentence-transformers files; nil when it has no `modules.json`.
    public static func load(directory: URL) throws(ModelError) -> SentenceTransformersConfig? {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let modulesData = try ModelJSON.contentsIfPresent(modulesURL) else { return nil }
        guard let modules = ModelJSON.parse(modulesData) as? [[String: Any]] else {
            throw .invalidConfig(path: modulesURL.path, reason: "expected a JSON list of modules")
        }
        var pooling = Pooling.mean
        var normalize = false
        for m in modules {
            let type = m["type"] as? String ?? ""
            if type.hasSuffix("Normalize") { normalize = true }
            if type.hasSuffix("Pooling") {
                pooling = try loadPooling(directory: directory, module: m, modulesPath: modulesURL.path)
            }
        }
        let maxSeq = try loadMaxSeqLength(directory: directory)
        return SentenceTransformersConfig(pooling: pooling, normalize: normalize, maxSeqLength: maxSeq)
    }

    /// The pooling mode of a Pooling module's `config.json`.
    private static func loadPooling(directory: URL, module: [String: Any], modulesPath: String) throws(ModelError) -> Pooling {
        let path = module["path"] as? String ?? "1_Pooling"
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !parts.contains("..") else {
            throw .invalidConfig(path: modulesPath, reason: "module path \"\(path)\" leaves the model folder")
        }
        let url = directory.appendingPathComponent(path).appendingPathComponent("config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else {
            throw .invalidConfig(path: url.path, reason: "missing pooling config")
        }
        guard let cfg = ModelJSON.parse(data) as? [String: Any] else {
            throw .invalidConfig(path: url.path, reason: "malformed pooling config: expected a JSON object")
        }
        func on(_ key: String) -> Bool { (cfg[key] as? Bool) ?? false }
        if on("pooling_mode_cls_token") { return .cls }
        if on("pooling_mode_lasttoken") { return .lastToken }
        if on("pooling_mode_mean_tokens") { return .mean }
        throw .invalidConfig(path: url.path, reason: "pooling mode not supported (mean, cls and last token are)")
    }

    /// `max_seq_length` of `sentence_bert_config.json`: nil when the file is absent or the key
    /// is absent or null; otherwise an integer of at least ``minimumMaxSeqLength``.
    private static func loadMaxSeqLength(directory: URL) throws(ModelError) -> Int? {
        let url = directory.appendingPathComponent("sentence_bert_config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else { return nil }
        guard let cfg = ModelJSON.parse(data) as? [String: Any] else {
            throw .invalidConfig(path: url.path, reason: "malformed JSON: expected an object")
        }
        guard let value = cfg["max_seq_length"], !(value is NSNull) else { return nil }
        guard let n = ModelJSON.integer(value) else {
            throw .invalidConfig(path: url.path, reason: "max_seq_length must be an integer, got \(value)")
        }
        guard n >= minimumMaxSeqLength else {
            throw .invalidConfig(path: url.path, reason: "max_seq_length \(n) is too small: at least \(minimumMaxSeqLength) tokens hold [CLS], text and [SEP]")
        }
        return n
    }
}
