import Foundation

/// An error loading a model folder: its weights, config or tokenizer.
public enum ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required file or folder does not exist.
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// A safetensors file is truncated or its header is malformed or inconsistent.
    case corruptSafeTensors(path: String, reason: String)
    /// A GGUF file is truncated, or its header, metadata or tensor directory is malformed or
    /// inconsistent (every count and length is checked against the bytes left in the file).
    case corruptGGUF(path: String, reason: String)
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
    /// tokenizer.json is malformed or inconsistent.
    case invalidTokenizer(path: String, reason: String)
    /// tokenizer.json names a component (model, normalizer, pre-tokenizer, post-processor,
    /// decoder) or an option of one that this package does not implement.
    case unsupportedTokenizerComponent(path: String, component: String)
    /// The layer count in config.json disagrees with the layer tensors (`encoder.layer.N`, `layers.N`) of the
    /// weights (`inWeights`: the highest layer index found plus one; 0 when there is none).
    case layerCountMismatch(configured: Int, inWeights: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "file not found: \(p)"
        case .unreadable(let p, let r): return "cannot read \(p): \(r)"
        case .corruptSafeTensors(let p, let r): return "corrupt safetensors file \(p): \(r)"
        case .corruptGGUF(let p, let r): return "corrupt GGUF file \(p): \(r)"
        case .headerTooLarge(let p, let b): return "corrupt safetensors file \(p): header length \(b) bytes is larger than allowed or than the file"
        case .tensorNotFound(let n): return "tensor not found in the model weights: \(n)"
        case .tensorShapeMismatch(let n, let e, let a): return "tensor \(n) has shape \(a), expected \(e)"
        case .unsupportedDType(let n, let d): return "tensor \(n) has dtype \(d); supported: F32, F16, BF16"
        case .nonFiniteWeights(let n): return "tensor \(n) contains NaN or infinite values"
        case .unsupportedArchitecture(let a):
            return "unsupported architecture \(a): supported are BERT (absolute positions), E5-RoPE, XLM-RoBERTa, NomicBERT, GTE v1.5 (model_type new), ModernBERT and bidirectional Gemma 3 encoders (see the README's model table)"
        case .invalidConfig(let p, let r): return "invalid config \(p): \(r)"
        case .tokenizerMissing(let p): return "no tokenizer.json in the model folder \(p)"
        case .invalidTokenizer(let p, let r): return "invalid tokenizer \(p): \(r)"
        case .unsupportedTokenizerComponent(let p, let c):
            return "tokenizer \(p) uses \(c), which is not implemented (see the README's list of tokenizer components)"
        case .layerCountMismatch(let c, let w):
            return "config.json sets \(c) layers, but the weights hold layer tensors for \(w) layers"
        }
    }
}

// MARK: - Mapping the binary files of a model folder

/// A weights or vocabulary file memory-mapped: a missing file is
/// ``ModelError/fileNotFound(path:)``, a directory or an unreadable file
/// ``ModelError/unreadable(path:reason:)``.
enum MappedFile {
    static func read(_ url: URL) throws(ModelError) -> Data {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        guard !isDirectory.boolValue else { throw .unreadable(path: path, reason: "is a directory, not a file") }
        do { return try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// Drops the pages of `range` (byte offsets into `data`) from this process' resident set once
    /// a tensor has been copied out: the mapping stays valid (a later read faults the pages back in
    /// from the page cache), but loading a 14 GB model no longer holds the file's 14 GB and the
    /// 14 GB copy resident at once. A no-op for data that is not page-mapped memory.
    static func releasePages(of data: Data, range: Range<Int>) {
        guard !range.isEmpty, range.lowerBound >= 0, range.upperBound <= data.count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            let start = Int(bitPattern: base) + range.lowerBound, end = Int(bitPattern: base) + range.upperBound
            // Whole pages inside the range only: the neighbours' bytes stay as they are.
            let first = (start + page - 1) / page * page, last = end / page * page
            guard last > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
            _ = madvise(p, last - first, Int32(MADV_DONTNEED))
        }
    }
}

// MARK: - Reading the JSON files of a model folder

/// One set of rules for the JSON files of a model folder (config, tokenizer, sentence-transformers
/// and shard index files): only a file that does not exist counts as absent; a directory, a
/// dangling link or an unreadable file at the path is an ``ModelError/unreadable(path:reason:)``;
/// a leading UTF-8 byte-order mark is removed before parsing; JSON numbers used as counts or ids
/// must be integers (a float literal such as `4096.0`, a fraction, a Boolean or a string is not).
enum ModelJSON {
    /// The UTF-8 encoding of U+FEFF.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The bytes of `url`, or nil when nothing exists at that path.
    static func contentsIfPresent(_ url: URL) throws(ModelError) -> Data? {
        let path = url.path
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                var linkInfo = stat()
                if lstat(path, &linkInfo) == 0 { throw .unreadable(path: path, reason: "a symbolic link to a missing file") }
                return nil
            }
            throw .unreadable(path: path, reason: String(cString: strerror(code)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .unreadable(path: path, reason: "is a directory, not a file") }
        do { return try Data(contentsOf: url) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    /// `data` without a leading UTF-8 byte-order mark.
    static func strippingByteOrderMark(_ data: Data) -> Data {
        data.starts(with: byteOrderMark) ? data.dropFirst(byteOrderMark.count) : data
    }

    /// The JSON value of `data` (a leading byte-order mark removed), or nil when it is not JSON.
    static func parse(_ data: Data) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(strippingByteOrderMark(data)))
    }

    /// `value` as an `Int` when it is a JSON integer literal that fits: nil for floats (even
    /// `4.0`), Booleans, strings, null and integers beyond `Int.max`.
    static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !(value is String) else { return nil }
        switch String(cString: number.objCType) {
        case "s", "i", "l", "q":
            return Int(exactly: number.int64Value)
        case "S", "I", "L", "Q":
            return Int(exactly: number.uint64Value)
        default:
            return nil   // "c": Bool; "f", "d": floats and NSDecimalNumber
        }
    }
}
