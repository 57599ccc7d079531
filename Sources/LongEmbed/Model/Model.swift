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
    /// The parsed `config.json`.
    public let config: ModelConfig
    /// The architecture detected from `config.json`.
    public let architecture: ModelConfig.Architecture
    /// The tokenizer from `tokenizer.json`.
    public let tokenizer: Tokenizer
    /// The folder's sentence-transformers configuration, when it has one.
    public let sentenceTransformers: SentenceTransformersConfig?
    /// `Lo`, the context the model was trained at (see ``TrainedContext``).
    public let trainedContext: TrainedContext
    /// The files whose bytes define the vectors (weights, config, tokenizer), hashed by
    /// ``contentDigest()``.
    public let contentFiles: [URL]

    let weights: BertWeights

    /// Loads `directory` (config.json, model.safetensors or its sharded index, tokenizer.json,
    /// optional sentence-transformers files). `contextLength` overrides the trained context.
    public init(directory: URL, contextLength: Int? = nil) throws(EncoderError) {
        self.directory = directory
        do {
            config = try ModelConfig.load(directory: directory)
            architecture = try config.architecture()
            tokenizer = try Tokenizer.load(directory: directory)
            try tokenizer.validate(vocabSize: config.vocabSize)
            sentenceTransformers = try SentenceTransformersConfig.load(directory: directory)
            let store = try WeightStore(directory: directory)
            contentFiles = store.fileURLs + ["config.json", "tokenizer.json"].map { directory.appendingPathComponent($0) }
            weights = try BertWeights(store: store, config: config, architecture: architecture)
        } catch let e as ModelError {
            throw .model(e)
        } catch let e as EncoderError {
            throw e
        } catch {
            throw .invalidOption("unexpected error while loading \(directory.path): \(error)")
        }
        trainedContext = try TrainedContext.resolve(config: config, architecture: architecture,
                                                    sentenceTransformers: sentenceTransformers, override: contextLength)
    }

    /// The pooling the model folder declares (sentence-transformers), else mean.
    public var pooling: Pooling { sentenceTransformers?.pooling ?? .mean }

    /// The default truncation without extension: sentence-transformers' `max_seq_length`,
    /// at most `Lo`; `Lo` when the folder has none.
    public var defaultMaxTokens: Int {
        min(sentenceTransformers?.maxSeqLength ?? trainedContext.tokens, trainedContext.tokens)
    }

    /// Rows of the absolute position table; nil for rotary models.
    public var positionTableSize: Int? { architecture == .e5rope ? nil : config.maxPositionEmbeddings }

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
    /// 2. BERT with an absolute table: the table size `max_position_embeddings` (BERT was
    ///    pre-trained at that length and the LongEmbed paper uses Lo = 512 for BERT-type
    ///    models; sentence-transformers' smaller `max_seq_length`, e.g. 256 for all-MiniLM, is a
    ///    fine-tuning truncation and stays the default truncation without extension);
    /// 3. rotary models (E5-RoPE): sentence-transformers' `max_seq_length` where present (the
    ///    position count of a RoPE config is not a trained length), else `max_position_embeddings`.
    static func resolve(config: ModelConfig, architecture: ModelConfig.Architecture,
                        sentenceTransformers st: SentenceTransformersConfig?, override: Int?) throws(EncoderError) -> TrainedContext {
        let table = architecture == .e5rope ? nil : config.maxPositionEmbeddings
        if let override {
            guard override >= 2, override <= (table ?? ContextExtension.maxTargetLength) else {
                let bound = table.map { "the \($0)-row position table" } ?? "\(ContextExtension.maxTargetLength)"
                throw .invalidOption("--context-length must be between 2 and \(bound), got \(override)")
            }
            return TrainedContext(tokens: override, source: "--context-length")
        }
        if let table { return TrainedContext(tokens: table, source: "position table (max_position_embeddings)") }
        if let m = st?.maxSeqLength { return TrainedContext(tokens: m, source: "sentence-transformers max_seq_length") }
        return TrainedContext(tokens: config.maxPositionEmbeddings, source: "max_position_embeddings")
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
