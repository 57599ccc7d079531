import Crypto
import Foundation
import Synchronization

/// An immutable model loaded once from a Hugging Face folder: config, weights, tokenizer,
/// pooling, its trained context `Lo` and a content identity. Any number of ``Encoder``s share
/// one `Model` (one copy of the weights), each with its own options.
///
/// ```swift
/// let model = try Model(directory: URL(fileURLWithPath: ".models/all-MiniLM-L6-v2"))
/// let plain = try Encoder(model: model)
/// let pi = try Encoder(model: model, options: EncoderOptions(contextExtension:
///     ContextExtension(.positionInterpolation(), targetLength: 4096)))
/// ```
public final class Model: Sendable {
    /// The model folder.
    public let directory: URL
    /// The architecture read from `config.json` by its family's reader.
    public let architecture: ArchitectureDescription
    /// The tokenizer from `tokenizer.json`.
    public let tokenizer: Tokenizer
    /// The folder's sentence-transformers configuration, when it has one.
    public let sentenceTransformers: SentenceTransformersConfig?
    /// `Lo`, the context the model was trained at (see ``TrainedContext``).
    public let trainedContext: TrainedContext
    /// The files whose bytes define the vectors (weights, config, tokenizer, sentence-transformers
    /// modules), hashed by ``contentDigest()``.
    public let contentFiles: [URL]

    /// How the weight matrices are kept in memory.
    public let weightStorage: WeightStorage

    let weights: EncoderWeights

    /// Loads `directory` (config.json, model.safetensors or its sharded index, tokenizer.json,
    /// optional sentence-transformers files), or a llama.cpp GGUF model file when `directory`
    /// is a file whose name ends in `.gguf` (architecture, tokenizer and weights from the file;
    /// see ``ArchitectureDescription/read(gguf:vocabularySize:)``). `contextLength` overrides
    /// the trained context. `weightStorage` chooses whether bf16 and fp16 weights stay in 16 bits
    /// in memory (``WeightStorage/file``, the default) or are widened to fp32 at load; both give
    /// the same vectors up to fp32 summation order.
    public init(directory: URL, contextLength: Int? = nil, weightStorage: WeightStorage = .file) throws(EncoderError) {
        self.directory = directory
        self.weightStorage = weightStorage
        if directory.pathExtension.lowercased() == "gguf" {
            (architecture, tokenizer, weights, declaredPooling) = try Self.loadGGUF(directory, storage: weightStorage)
            sentenceTransformers = nil
            contentFiles = [directory]
            trainedContext = try TrainedContext.resolve(architecture: architecture, sentenceTransformers: nil,
                                                        override: contextLength)
            return
        }
        declaredPooling = nil
        do {
            architecture = try ArchitectureDescription.load(directory: directory)
            tokenizer = try Tokenizer.load(directory: directory)
            try tokenizer.validate(vocabSize: architecture.vocabSize)
            sentenceTransformers = try SentenceTransformersConfig.load(directory: directory)
            if let first = sentenceTransformers?.dense.first, first.inFeatures != architecture.hiddenSize {
                throw ModelError.invalidConfig(path: directory.path, reason: "the first Dense module takes \(first.inFeatures) features, the model outputs \(architecture.hiddenSize)")
            }
            let store = try WeightStore(directory: directory)
            contentFiles = store.fileURLs + Self.configFiles(directory)
            weights = try EncoderWeights(store: store, architecture: architecture, storage: weightStorage)
        } catch let e as ModelError {
            throw .model(e)
        } catch let e as EncoderError {
            throw e
        } catch {
            throw .invalidOption("unexpected error while loading \(directory.path): \(error)")
        }
        trainedContext = try TrainedContext.resolve(architecture: architecture,
                                                    sentenceTransformers: sentenceTransformers, override: contextLength)
    }

    /// The architecture, tokenizer (`tokenizer.ggml.*`), dequantized weights and declared pooling
    /// (`<arch>.pooling_type`) of a GGUF file.
    private static func loadGGUF(_ url: URL, storage: WeightStorage) throws(EncoderError) -> (ArchitectureDescription, Tokenizer, EncoderWeights, Pooling?) {
        do {
            let data = try MappedFile.read(url)
            let file = try GGUFFile(data: data, path: url.path)
            guard let embedding = file.tensor("token_embd.weight"), embedding.dimensions.count == 2 else {
                throw ModelError.corruptGGUF(path: url.path, reason: "no two-dimensional token_embd.weight tensor")
            }
            let store = try GGUFWeights(file: file, data: data)
            let shapes = Dictionary(uniqueKeysWithValues: store.names.compactMap { n in store.shape(of: n).map { (n, $0) } })
            let a = try ArchitectureDescription.read(gguf: file, vocabularySize: embedding.dimensions[1],
                                                     ropeFrequencyFactors: try store.ropeFrequencyFactors(), tensorShapes: shapes)
            let tokenizer = try Tokenizer(gguf: file)
            try tokenizer.validate(vocabSize: a.vocabSize)
            let weights = try EncoderWeights(store: store, architecture: a, storage: storage)
            return (a, tokenizer, weights, try ggufPooling(file))
        } catch let e as ModelError {
            throw .model(e)
        } catch {
            throw .invalidOption("unexpected error while loading \(url.path): \(error)")
        }
    }

    /// llama.cpp's `<arch>.pooling_type` (1 mean, 2 CLS, 3 last token); nil when absent or 0
    /// (none: llama.cpp then returns token vectors), so the family's default applies.
    private static func ggufPooling(_ file: GGUFFile) throws(ModelError) -> Pooling? {
        let arch = file["general.architecture"]?.stringValue ?? ""
        guard let v = file["\(arch).pooling_type"] else { return nil }
        switch v.integerValue {
        case 0: return nil
        case 1: return .mean
        case 2: return .cls
        case 3: return .lastToken
        default:
            throw .unsupportedArchitecture("GGUF \(arch).pooling_type \(v.integerValue.map(String.init) ?? v.typeDescription) (in \(file.path); supported: 0 none, 1 mean, 2 cls, 3 last)")
        }
    }

    /// config.json, tokenizer.json and every sentence-transformers file that changes a vector.
    private static func configFiles(_ directory: URL) -> [URL] {
        var files = ["config.json", "tokenizer.json"].map { directory.appendingPathComponent($0) }
        let fm = FileManager.default
        for name in ["modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"]
            where fm.fileExists(atPath: directory.appendingPathComponent(name).path) {
            files.append(directory.appendingPathComponent(name))
        }
        let modules = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.contains("_") && $0.first?.isNumber == true }.sorted()
        for m in modules {
            for f in ["config.json", "model.safetensors"] where fm.fileExists(atPath: directory.appendingPathComponent("\(m)/\(f)").path) {
                files.append(directory.appendingPathComponent("\(m)/\(f)"))
            }
        }
        return files
    }

    /// The family of the model.
    public var family: ModelFamily { architecture.family }

    /// The query and document prefixes the model expects: the sentence-transformers prompts
    /// when the folder has them, else the family's convention (NomicBERT: `search_query: ` /
    /// `search_document: `; a mean-pooled XLM-RoBERTa, i.e. multilingual-e5: `query: ` /
    /// `passage: `; a decoder: LongEmbed's instruction before queries, ``Prefixes/instruct``),
    /// else none.
    public var defaultPrefixes: Prefixes {
        if let p = sentenceTransformers?.prompts { return p }
        switch family {
        case .nomicBert: return .nomic
        case .xlmRoberta where pooling == .mean: return .e5
        case _ where family.isDecoder: return .instruct
        default: return .none
        }
    }

    /// Where ``defaultPrefixes`` come from, for reports.
    public var prefixSource: String {
        if sentenceTransformers?.prompts != nil { return "config_sentence_transformers.json prompts" }
        switch family {
        case .nomicBert: return "NomicBERT convention"
        case .xlmRoberta where pooling == .mean: return "multilingual-e5 convention (mean-pooled XLM-RoBERTa)"
        case _ where family.isDecoder: return "decoder embedder convention (LongEmbed's E5-Mistral instruction)"
        default: return "none"
        }
    }

    /// The pooling the model folder declares (sentence-transformers) or a GGUF file's
    /// `<arch>.pooling_type`, else mean for encoders
    /// and the last token for decoders (whose last position is the only one that has seen the
    /// whole input).
    public var pooling: Pooling {
        sentenceTransformers?.pooling ?? declaredPooling ?? (family.isDecoder ? .lastToken : .mean)
    }

    /// The pooling a GGUF file declares (`<arch>.pooling_type`).
    let declaredPooling: Pooling?

    /// The default truncation without extension: sentence-transformers' `max_seq_length`,
    /// at most `Lo`; `Lo` when the folder has none.
    public var defaultMaxTokens: Int {
        min(sentenceTransformers?.maxSeqLength ?? trainedContext.tokens, trainedContext.tokens)
    }

    /// Rows of the absolute position table usable by tokens; nil for rotary models.
    public var positionTableSize: Int? { architecture.positionTableSize }

    /// SHA-256 (hex) of ``contentFiles``' bytes, computed once per process for each file's path,
    /// size and modification time, and remembered.
    public func contentDigest() throws(EncoderError) -> String {
        var hasher = SHA256()
        for url in contentFiles {
            let digest = try ContentDigest.file(url)
            hasher.update(data: Data((url.lastPathComponent + ":" + digest + ";").utf8))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// `Lo`, the context a model was trained at, and where it came from.
public struct TrainedContext: Sendable, Hashable, CustomStringConvertible {
    /// Tokens, special tokens included.
    public var tokens: Int
    /// Where the value came from, for messages and reports.
    public var source: String

    public var description: String { "\(tokens) (\(source))" }

    /// The per-family rule, in order:
    /// 1. `override` (`--context-length`): must be at least 2, and for absolute-position models
    ///    at most the position table (there are no rows past it);
    /// 2. absolute positions (BERT, XLM-RoBERTa): the table's usable rows (XLM-R: minus the
    ///    `padding_idx + 1` offset; BERT was pre-trained at that length and the LongEmbed paper
    ///    uses Lo = 512 for BERT-type models; sentence-transformers' smaller `max_seq_length`, e.g.
    ///    256 for all-MiniLM, is a fine-tuning truncation and stays the default truncation);
    /// 3. a trained length the config states (NomicBERT's `max_trained_positions`);
    /// 4. rotary models: sentence-transformers' `max_seq_length` where present (the position
    ///    count of a RoPE config is not a trained length), else `max_position_embeddings`.
    static func resolve(architecture a: ArchitectureDescription,
                        sentenceTransformers st: SentenceTransformersConfig?, override: Int?) throws(EncoderError) -> TrainedContext {
        let table = a.positionTableSize
        if let override {
            guard override >= 2, override <= (table ?? ContextExtension.maxTargetLength) else {
                let bound = table.map { "the \($0)-row position table" } ?? "\(ContextExtension.maxTargetLength)"
                throw .invalidOption("--context-length must be between 2 and \(bound), got \(override)")
            }
            return TrainedContext(tokens: override, source: "--context-length")
        }
        if let table { return TrainedContext(tokens: table, source: "position table (max_position_embeddings)") }
        if let stated = a.statedTrainedLength, stated >= 2 {
            return TrainedContext(tokens: stated, source: "max_trained_positions")
        }
        if let m = st?.maxSeqLength { return TrainedContext(tokens: m, source: "sentence-transformers max_seq_length") }
        return TrainedContext(tokens: a.maxPositions, source: "max_position_embeddings")
    }
}

/// SHA-256 of files, remembered per path + size + modification time for the process.
enum ContentDigest {
    private static let memo = Mutex<[String: String]>([:])

    static func file(_ url: URL) throws(EncoderError) -> String {
        let path = url.standardizedFileURL.path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int, let modified = attributes[.modificationDate] as? Date else {
            throw .model(.unreadable(path: path, reason: "cannot read its size and modification time"))
        }
        let key = "\(path)|\(size)|\(modified.timeIntervalSince1970)"
        if let known = memo.withLock({ $0[key] }) { return known }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .model(.unreadable(path: path, reason: "cannot open it to compute its SHA-256"))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        } catch {
            throw .model(.unreadable(path: path, reason: error.localizedDescription))
        }
        let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        memo.withLock { $0[key] = hex }
        return hex
    }

    /// SHA-256 of bytes, in hex.
    static func hex<D: DataProtocol>(_ bytes: D) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
