import Foundation

/// A sentence-transformers `Dense` module: `y = act(W x + b)` on the pooled vector.
public struct DenseLayer: Sendable, Equatable {
    /// The activations sentence-transformers' Dense modules name (`torch.nn.modules...`).
    public enum Function: String, Sendable, Equatable {
        case identity, tanh, relu, sigmoid, gelu
    }

    public var inFeatures: Int
    public var outFeatures: Int
    /// `[outFeatures, inFeatures]`.
    public var weight: [Float]
    public var bias: [Float]?
    public var activation: Function

    /// `act(W x + b)` for one vector of `inFeatures`, accumulated in double.
    public func apply(_ x: [Float]) -> [Float] {
        (0..<outFeatures).map { o in
            var acc = Double(bias?[o] ?? 0)
            let row = o * inFeatures
            for i in 0..<inFeatures { acc += Double(weight[row + i]) * Double(x[i]) }
            switch activation {
            case .identity: return Float(acc)
            case .tanh: return Float(Foundation.tanh(acc))
            case .relu: return Float(max(acc, 0))
            case .sigmoid: return Float(1 / (1 + exp(-acc)))
            case .gelu: return Float(0.5 * acc * (1 + erf(acc / 2.0.squareRoot())))
            }
        }
    }
}

/// The sentence-transformers configuration of a model folder: its modules in order
/// (`modules.json`: Transformer, Pooling, Dense..., Normalize), maximum sequence length
/// (`sentence_bert_config.json`) and prompts (`config_sentence_transformers.json`).
///
/// Only a file that does not exist counts as absent: a file that is present but unreadable (a
/// directory at that path, no permission) or malformed is a typed error naming its path, never
/// a silent fall-back to the defaults. A module of a type this package does not run is an
/// error naming it. A leading UTF-8 byte-order mark is ignored.
public struct SentenceTransformersConfig: Sendable, Equatable {
    /// Pooling of token vectors.
    public var pooling: Pooling
    /// Whether a Normalize module ends the pipeline.
    public var normalize: Bool
    /// sentence-transformers' truncation length.
    public var maxSeqLength: Int?
    /// Dense modules after pooling, in order.
    public var dense: [DenseLayer]
    /// The `query` and `document` prompts of `config_sentence_transformers.json`, when it has them.
    public var prompts: Prefixes?

    /// The smallest accepted `max_seq_length`: `[CLS]`, one token of text and `[SEP]`.
    public static let minimumMaxSeqLength = 3

    public init(pooling: Pooling, normalize: Bool, maxSeqLength: Int?, dense: [DenseLayer] = [], prompts: Prefixes? = nil) {
        self.pooling = pooling
        self.normalize = normalize
        self.maxSeqLength = maxSeqLength
        self.dense = dense
        self.prompts = prompts
    }

    /// Reads the folder's sentence-transformers files; nil when it has no `modules.json`.
    public static func load(directory: URL) throws(ModelError) -> SentenceTransformersConfig? {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let modulesData = try ModelJSON.contentsIfPresent(modulesURL) else { return nil }
        guard let modules = ModelJSON.parse(modulesData) as? [[String: Any]] else {
            throw .invalidConfig(path: modulesURL.path, reason: "expected a JSON list of modules")
        }
        var config = SentenceTransformersConfig(pooling: .mean, normalize: false, maxSeqLength: nil)
        var stage = -1   // 0: Transformer, 1: Pooling, 2: Dense, 3: Normalize
        for m in modules {
            let type = m["type"] as? String ?? ""
            let kind = type.split(separator: ".").last.map(String.init) ?? type
            let order = ["Transformer": 0, "Pooling": 1, "Dense": 2, "Normalize": 3][kind]
            guard let order else {
                throw .invalidConfig(path: modulesURL.path, reason: "module type \"\(type)\" is not supported (Transformer, Pooling, Dense and Normalize are)")
            }
            guard order >= stage, !(order == stage && order != 2) else {
                throw .invalidConfig(path: modulesURL.path, reason: "module \(kind) out of order (expected Transformer, Pooling, Dense..., Normalize)")
            }
            stage = order
            let folder = try modulePath(m, modulesPath: modulesURL.path, directory: directory)
            switch kind {
            case "Pooling": config.pooling = try loadPooling(folder)
            case "Dense": config.dense.append(try loadDense(folder, after: config.dense.last?.outFeatures))
            case "Normalize": config.normalize = true
            default: break
            }
        }
        config.maxSeqLength = try loadMaxSeqLength(directory: directory)
        config.prompts = try loadPrompts(directory: directory)
        return config
    }

    /// The folder a module names, which must stay inside the model folder.
    private static func modulePath(_ module: [String: Any], modulesPath: String, directory: URL) throws(ModelError) -> URL {
        let path = module["path"] as? String ?? ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.hasPrefix("/"), !parts.contains("..") else {
            throw .invalidConfig(path: modulesPath, reason: "module path \"\(path)\" leaves the model folder")
        }
        let type = module["type"] as? String ?? ""
        // Old folders leave the Pooling path empty; its files are in 1_Pooling.
        if path.isEmpty && type.hasSuffix("Pooling") { return directory.appendingPathComponent("1_Pooling") }
        return path.isEmpty ? directory : directory.appendingPathComponent(path)
    }

    /// The pooling mode of a Pooling module's `config.json`.
    private static func loadPooling(_ folder: URL) throws(ModelError) -> Pooling {
        let url = folder.appendingPathComponent("config.json")
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

    /// A Dense module: `config.json` (sizes, bias, activation) and `model.safetensors`
    /// (`linear.weight`, `linear.bias`).
    private static func loadDense(_ folder: URL, after previous: Int?) throws(ModelError) -> DenseLayer {
        let url = folder.appendingPathComponent("config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else { throw .invalidConfig(path: url.path, reason: "missing Dense config") }
        guard let cfg = ModelJSON.parse(data) as? [String: Any] else {
            throw .invalidConfig(path: url.path, reason: "malformed Dense config: expected a JSON object")
        }
        guard let n = cfg["in_features"].flatMap(ModelJSON.integer), let m = cfg["out_features"].flatMap(ModelJSON.integer),
              (1...(1 << 16)).contains(n), (1...(1 << 16)).contains(m) else {
            throw .invalidConfig(path: url.path, reason: "in_features and out_features must be integers between 1 and 65536")
        }
        if let previous, previous != n {
            throw .invalidConfig(path: url.path, reason: "in_features \(n) does not match the previous Dense module's \(previous) outputs")
        }
        let name = (cfg["activation_function"] as? String ?? "torch.nn.modules.activation.Tanh")
        let short = (name.split(separator: ".").last.map(String.init) ?? name).lowercased()
        guard let act = DenseLayer.Function(rawValue: short) else {
            throw .invalidConfig(path: url.path, reason: "Dense activation \"\(name)\" is not supported (Identity, Tanh, ReLU, Sigmoid, GELU are)")
        }
        let hasBias = (cfg["bias"] as? Bool) ?? true
        let store = try WeightStore(directory: folder)
        let weight = try store.tensor(anyOf: ["linear.weight"], shape: [m, n])
        let bias = hasBias ? try store.tensor(anyOf: ["linear.bias"], shape: [m]) : nil
        return DenseLayer(inFeatures: n, outFeatures: m, weight: weight, bias: bias, activation: act)
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

    /// The `query` and `document` (or `passage`) prompts of `config_sentence_transformers.json`.
    private static func loadPrompts(directory: URL) throws(ModelError) -> Prefixes? {
        let url = directory.appendingPathComponent("config_sentence_transformers.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else { return nil }
        guard let cfg = ModelJSON.parse(data) as? [String: Any] else {
            throw .invalidConfig(path: url.path, reason: "malformed JSON: expected an object")
        }
        guard let prompts = cfg["prompts"], !(prompts is NSNull) else { return nil }
        guard let table = prompts as? [String: Any] else { throw .invalidConfig(path: url.path, reason: "prompts must be an object") }
        func text(_ keys: [String]) throws(ModelError) -> String? {
            for k in keys {
                guard let v = table[k] else { continue }
                guard let s = v as? String else { throw .invalidConfig(path: url.path, reason: "prompt \"\(k)\" must be a string") }
                return s
            }
            return nil
        }
        let query = try text(["query", "search_query"]), document = try text(["document", "passage", "search_document"])
        guard query != nil || document != nil else { return nil }
        return Prefixes(query: query ?? "", document: document ?? "")
    }
}
