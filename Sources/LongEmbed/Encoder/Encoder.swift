import Foundation

/// Options of an ``Encoder``.
public struct EncoderOptions: Sendable, Hashable {
    /// Pooling; `nil` takes it from the model folder (sentence-transformers' `1_Pooling`), else mean.
    public var pooling: Pooling?
    /// L2-normalize output vectors; `nil`: as the folder's sentence-transformers modules say
    /// (a Normalize module), and on for folders without them. LongEmbed's evaluations compare by
    /// cosine, so either gives the same scores.
    /// all LongEmbed evaluations, do).
    public var normalize: Bool?
    /// Truncation in tokens, special tokens included; `nil`: without extension,
    /// sentence-transformers' `max_seq_length` (at most `Lo`); with one, the target length.
    public var maxTokens: Int?
    /// Query and document prefixes; `nil`: the model's own (``Model/defaultPrefixes``).
    public var prefixes: Prefixes?
    /// How inputs longer than the model's context are handled.
    public var contextExtension: ContextExtension
    /// Tokens packed into one forward batch (sequences are packed without padding).
    public var batchTokens: Int
    /// Matryoshka truncation: keep the first `dimensions` components of every vector (then
    /// L2-normalize again when vectors are normalized); `nil` keeps them all. At least 1 and at
    /// most the model's output size.
    public var dimensions: Int?

    /// The largest `batchTokens` accepted.
    public static let maxBatchTokens = 1 << 22

    public init(pooling: Pooling? = nil, normalize: Bool? = nil, maxTokens: Int? = nil,
                prefixes: Prefixes? = nil, contextExtension: ContextExtension = .none,
                batchTokens: Int = 8192, dimensions: Int? = nil) {
        self.dimensions = dimensions
        self.pooling = pooling
        self.normalize = normalize
        self.maxTokens = maxTokens
        self.prefixes = prefixes
        self.contextExtension = contextExtension
        self.batchTokens = batchTokens
    }
}

/// A text encoder: a shared ``Model`` run with one set of options.
///
/// Runs every ``ModelFamily``: BERT with absolute positions (all-MiniLM, E5, BGE, Contriever),
/// E5-RoPE, XLM-RoBERTa (bge-m3, multilingual-e5), NomicBERT, GTE v1.5, ModernBERT and
/// bidirectional Gemma 3 (EmbeddingGemma). Output vectors match sentence-transformers to fp32
/// precision.
///
/// ```swift
/// let model = try Model(directory: URL(fileURLWithPath: ".models/all-MiniLM-L6-v2"))
/// let encoder = try Encoder(model: model)
/// let vectors = try encoder.embed(["a long document ..."], role: .document)
/// ```
public final class Encoder: TextEmbedder {
    /// The model (shared, immutable).
    public let model: Model
    /// Options in force.
    public let options: EncoderOptions
    /// The kernel implementation running the maths.
    public let kernels: any Kernels
    /// The pooling in force.
    public let pooling: Pooling
    /// The prefixes in force: the options', else the model's.
    public let prefixes: Prefixes
    /// Whether output vectors are L2-normalized (see ``EncoderOptions/normalize``).
    public let normalizes: Bool

    let geometry: PositionGeometry

    /// An encoder running `model` with `options`.
    public init(model: Model, options: EncoderOptions = EncoderOptions(),
                kernels: any Kernels = DefaultKernels()) throws(EncoderError) {
        self.model = model
        self.options = options
        self.kernels = kernels
        pooling = options.pooling ?? model.pooling
        prefixes = options.prefixes ?? model.defaultPrefixes
        normalizes = options.normalize ?? model.sentenceTransformers?.normalize ?? true
        let a = model.architecture
        geometry = PositionGeometry(originalLength: model.trainedContext.tokens, positionTableSize: a.positionTableSize,
                                    headDim: a.headDim, ropeBase: a.rotary?.theta ?? 10_000,
                                    frequencyFactor: a.rotary?.frequencyFactor ?? 1, llama3: a.rotary?.llama3,
                                    frequencyDivisors: a.rotary?.frequencyDivisors,
                                    prefixIDs: model.tokenizer.prefixIDs, suffixIDs: model.tokenizer.suffixIDs)
        try validateOptions()
    }

    /// Loads the model folder `directory` and runs it with `options` (a model of its own; use
    /// ``init(model:options:kernels:)`` to share one model between encoders).
    public convenience init(directory: URL, options: EncoderOptions = EncoderOptions(),
                            kernels: any Kernels = DefaultKernels()) throws(EncoderError) {
        try self.init(model: Model(directory: directory), options: options, kernels: kernels)
    }

    private func validateOptions() throws(EncoderError) {
        try options.contextExtension.validate(for: geometry)
        if let m = options.maxTokens {
            // [CLS] + one token + [SEP]: fewer gives every text the same vector.
            guard (3...ContextExtension.maxTargetLength).contains(m) else {
                throw .invalidOption("max tokens must be between 3 and \(ContextExtension.maxTargetLength), got \(m)")
            }
            if case .none = options.contextExtension.method, m > geometry.originalLength {
                throw .invalidOption("max tokens \(m) exceeds the model's context of \(geometry.originalLength) tokens; "
                    + "choose a context extension (e.g. --extension pcw or pi with --extend-to \(m)) to embed past it")
            }
        }
        if let n = options.dimensions, !(1...fullDimension).contains(n) {
            throw .invalidOption("dimensions must be between 1 and the model's \(fullDimension) output components, got \(n)")
        }
        guard (1...EncoderOptions.maxBatchTokens).contains(options.batchTokens) else {
            throw .invalidOption("batch tokens must be between 1 and \(EncoderOptions.maxBatchTokens), got \(options.batchTokens)")
        }
    }

    // MARK: Model shortcuts

    /// The architecture read from `config.json`.
    public var architecture: ArchitectureDescription { model.architecture }
    /// The tokenizer from `tokenizer.json`.
    public var tokenizer: Tokenizer { model.tokenizer }

    // MARK: TextEmbedder

    /// Size of the output vectors: ``EncoderOptions/dimensions`` when set, else
    /// the model's full output size.
    public var dimension: Int { options.dimensions ?? fullDimension }

    /// The model's output size: the last Dense module's outputs, else the hidden size.
    var fullDimension: Int { model.sentenceTransformers?.dense.last?.outFeatures ?? architecture.hiddenSize }

    /// The weights' content (SHA-256 of the model's files) plus every option that changes a
    /// vector, as canonical JSON: the embedding-cache key.
    public var identity: String {
        get throws {
            let ext = options.contextExtension
            let fields: [String: Any] = [
                "model": try model.contentDigest(), "context_length": geometry.originalLength,
                "extension": ext.description, "pooling": pooling.rawValue, "normalize": normalizes,
                "max_tokens": tokenLimit, "query_prefix": prefixes.query,
                "document_prefix": prefixes.document, "precision": "fp32", "dimensions": dimension,
                "kernels": String(describing: type(of: kernels)),
            ]
            let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// The number of tokens (special tokens included) a text keeps.
    public var tokenLimit: Int {
        let budget = options.contextExtension.tokenBudget(geometry)
        if case .none = options.contextExtension.method {
            return options.maxTokens ?? model.defaultMaxTokens
        }
        return options.maxTokens.map { min($0, budget) } ?? budget
    }

    /// Tokenizes `text` with the role's prefix, cut to ``tokenLimit``.
    public func tokenize(_ text: String, role: TextRole = .document) -> [Int32] {
        tokenizer.encode(prefixes.prefix(for: role) + text, maxTokens: tokenLimit)
    }

    /// Tokens run for `text` as a document (after truncation to ``tokenLimit``).
    public func tokenCount(_ text: String) -> Int { tokenize(text).count }

    /// Embeds `texts`, one vector per text, in order.
    public func embed(_ texts: [String], role: TextRole) throws(EncoderError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        // Tokenized on every core (the same ids as ``tokenize(_:role:)``).
        let tok = tokenizer, prefix = prefixes.prefix(for: role), limit = tokenLimit
        return try embed(tokenIDs: tok.encode(batch: texts, threads: nil) { tok.encode(prefix + $0, maxTokens: limit) })
    }

    /// Embeds pre-tokenized inputs (each with its special tokens). A vector that is not finite
    /// (overflow in the model or an extreme setting) is an error, never returned.
    public func embed(tokenIDs docs: [[Int32]]) throws(EncoderError) -> [[Float]] {
        var plans: [(doc: Int, plan: SequencePlan)] = []
        var combos: [ChunkCombination] = []
        for (d, ids) in docs.enumerated() {
            guard !ids.isEmpty else { throw .emptyInput }
            let (seqs, combo) = try options.contextExtension.plan(ids: ids, geometry: geometry, retokenize: retokenize)
            combos.append(combo)
            for s in seqs { plans.append((d, s)) }
        }
        let pooled = try poolAll(plans.map(\.plan))
        var out: [[Float]] = []
        out.reserveCapacity(docs.count)
        var index = 0
        for (d, combo) in combos.enumerated() {
            var chunks: [[Float]] = []
            while index < plans.count && plans[index].doc == d { chunks.append(pooled[index]); index += 1 }
            let v = try combine(chunks, combo)
            guard v.allSatisfy(\.isFinite) else { throw .nonFiniteOutput(input: d) }
            out.append(v)
        }
        return out
    }

    /// Official PCW: transformers' decode (tokenizers' decoder, then its whole-string space
    /// cleanup), then a fresh tokenization.
    private func retokenize(_ slice: ArraySlice<Int32>) -> [Int32] {
        tokenizer.encode(Tokenizer.cleanUpTokenizationSpaces(tokenizer.decode(Array(slice), skipSpecialTokens: true)),
                         maxTokens: nil)
    }

    /// The last hidden state `[n, hidden]` for one input, positions `0..<n` unless given.
    /// For parity checks against reference implementations.
    public func lastHiddenState(ids: [Int32]) throws(EncoderError) -> [Float] {
        try hiddenStates(ids: ids).last ?? []
    }

    /// The embedding output followed by every layer's output, each `[n, hidden]`, for one input
    /// planned with the encoder's context extension (a single sequence; PCW is refused).
    public func hiddenStates(ids: [Int32]) throws(EncoderError) -> [[Float]] {
        guard !ids.isEmpty else { throw .emptyInput }
        let (seqs, _) = try options.contextExtension.plan(ids: ids, geometry: geometry)
        guard seqs.count == 1 else { throw .invalidOption("hidden states are defined for one sequence; PCW splits this input") }
        var states: [[Float]] = []
        _ = try forward([seqs[0]]) { _, buffer, count in
            states.append(Array(UnsafeBufferPointer(start: buffer, count: count)))
        }
        return states
    }
}
