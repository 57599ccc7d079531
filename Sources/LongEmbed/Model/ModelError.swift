/// An error loading a model folder: its weights, config or tokenizer.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required file or folder does not exist.
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// A safetensors file is truncated or its header is malformed or inconsistent.
    case corruptSafeTensors(path: String, reason: String)
    /// A safetensors header length is larger than allowed or than the file.
    case headerTooLarge(path: String, bytes: UInt64)
    /// A tensor the model needs is absent.
    case tensorNotFound(name: String)
    /// A tensor has another shape than the config implies.
    case tensorShapeMismatch(name: String, expected: [Int], actual: [Int])
    /// A tensor's dtype cannot be converted to fp32.
    case unsupportedDType(name: String, dtype: String)
    /// A tensor holds NaN or infinity.
    case nonFiniteWeights(name: String)
    /// The config names an architecture this package does not run.
    case unsupportedArchitecture(String)
    /// config.json (or a sentence-transformers config) is malformed or inconsistent.
    case invalidConfig(path: String, reason: String)
    /// The model folder has no tokenizer.json.
    case tokenizerMissing(path: String)
    /// tokenizer.json is malformed or uses an unsupported model.
    case invalidTokenizer(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "file not found: \(p)"
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .corruptSafeTensors(let p, let r): return "corrupt safetensors file \(p): \(r)"
        case .headerTooLarge(let p, let b): return "corrupt safetensors file \(p): header length \(b) bytes is larger than allowed or than the file"
        case .tensorNotFound(let n): return "tensor not found in the model weights: \(n)"
        case .tensorShapeMismatch(let n, let e, let a): return "tensor \(n) has shape \(a), expected \(e)"
        case .unsupportedDType(let n, let d): return "tensor \(n) has dtype \(d); supported: F32, F16, BF16"
        case .nonFiniteWeights(let n): return "tensor \(n) contains NaN or infinite values"
        case .unsupportedArchitecture(let a):
            return "unsupported architecture \(a): supported are BertModel-family encoders with absolute positions (all-MiniLM, E5, GTE, BGE, Contriever) and E5-RoPE (model_type e5rope)"
        case .invalidConfig(let p, let r): return "invalid config \(p): \(r)"
        case .tokenizerMissing(let p): return "no tokenizer.json in the model folder \(p)"
        case .invalidTokenizer(let p, let r): return "invalid tokenizer \(p): \(r)"
        }
    }
}
