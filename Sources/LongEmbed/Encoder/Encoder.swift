import Foundation

/// Options of an ``Encoder``.
public struct EncoderOptions: Sendable, Hashable {
    /// Pooling; `nil` takes it from the model folder (sentence-transformers' `1_Pooling`), else mean.
    public var pooling: Pooling?
    /// L2-normalize output vectors (sentence-transformers models with a Normalize module, and
    /// all LongEmbed evaluations, do).
    public var normalize: Bool
    /// Truncation in tokens, special tokens included, when no context extension is used;
    /// `nil`: sentence-transformers' `max_seq_length`, else the model's position count.
    public var maxTokens: Int?
    /// Query and document prefixes.
    public var prefixes: Prefixes
    /// How inputs longer than the model's context are handled.
    public var contextExtension: ContextExtension
    /// Tokens packed into one forward batch (sequences are packed without padding).
    public var batchTokens: Int

    public init(pooling: Pooling? = nil, normalize: Bool = true, maxTokens: Int? = nil,
                prefixes: Prefixes = .none, contextExtension: ContextExtension = .none,
                batchTokens: Int = 8192) {
        self.pooling = pooling
        self.normalize = normalize
        self.maxTokens = maxTokens
        self.prefixes = prefixes
        self.contextExtension = contextExtension
        self.batchTokens = batchTokens
    }
}

/// A BERT-family text encoder loaded from a Hugging Face model folder.
///
/// Supports BERT with absolute positions (all-MiniLM, E5, GTE, BGE, Contriever) and the RoPE
/// BERT of LongEmbed (E5-RoPE). Output vectors match sentence-transformers to fp32 precision.
///
/// ```swift
/// let encoder = try Encoder(directory: URL(fileURLWithPath: ".models/all-MiniLM-L6-v2"))
/// let vectors = try encoder.embed(["a long document ..."], role: .document)
/// ```
public final class Encoder: TextEmbedder {
    /// The parsed `config.json`.
    public let config: ModelConfig
    /// The tokenizer from `tokenizer.json`.
    public let tokenizer: Tokenizer
    /// Options in force.
    public let options: EncoderOptions
    /// The kernel implementation running the maths.
    public let kernels: any Kernels
    /// The architecture detected from `config.json`.
    public let architecture: ModelConfig.Architecture
    /// The pooling in force.
    public let pooling: Pooling

    let weights: BertWeights
    let geometry: ModelGeometry
    let defaultInverseFrequencies: [Float]
    let fingerprint: String
    let defaultMaxTokens: Int

    /// Loads the model folder `directory` (config.json, model.safetensors or its sharded index,
    /// tokenizer.json, optional modules.json and 1_Pooling/config.json).
    public init(directory: URL, options: EncoderOptions = EncoderOptions(),
                kernels: any Kernels = DefaultKernels()) throws(EncoderError) {
        do {
            config = try ModelConfig.load(directory: directory)
            architecture = try config.architecture()
            tokenizer = try Tokenizer.load(directory: directory)
            let st = try SentenceTransformersConfig.load(directory: directory)
            pooling = options.pooling ?? st?.pooling ?? .mean
            defaultMaxTokens = min(st?.maxSeqLength ?? config.maxPositionEmbeddings, config.maxPositionEmbeddings)
            let store = try WeightStore(directory: directory)
            fingerprint = store.fingerprint
            weights = try BertWeights(store: store, config: config, architecture: architecture)
        } catch let e as ModelError {
            throw .model(e)
        } catch let e as EncoderError {
            throw e
        } catch {
            throw .invalidOption("unexpected error while loading \(directory.path): \(error)")
        }
        self.options = options
        self.kernels = kernels
        let headDim = config.hiddenSize / config.numAttentionHeads
        let base = config.ropeTheta ?? 10_000
        geometry = ModelGeometry(originalLength: config.maxPositionEmbeddings, usesRoPE: architecture == .e5rope,
                                 headDim: headDim, ropeBase: base,
                                 clsID: tokenizer.clsID, sepID: tokenizer.sepID)
        defaultInverseFrequencies = RoPEScaling.inverseFrequencies(headDim: headDim, base: base)
        if let m = options.maxTokens, m < 2 { throw .invalidOption("max tokens must be at least 2, got \(m)") }
        if options.batchTokens < 1 { throw .invalidOption("batch tokens must be at least 1") }
        try options.contextExtension.validate(for: geometry)
    }

    // MARK: TextEmbedder

    /// Hidden size of the output vectors.
    public var dimension: Int { config.hiddenSize }

    /// Model weights fingerprint plus every option that changes the vectors.
    public var identity: String {
        "\(fingerprint)|\(options.contextExtension)|pool=\(pooling.rawValue)|norm=\(options.normalize)|max=\(tokenLimit)|q=\(options.prefixes.query)|d=\(options.prefixes.document)"
    }

    /// The number of tokens (special tokens included) a text keeps.
    public var tokenLimit: Int {
        if case .none = options.contextExtension.method {
            return options.maxTokens ?? defaultMaxTokens
        }
        return options.maxTokens.map { min($0, options.contextExtension.tokenBudget(geometry)) }
            ?? options.contextExtension.tokenBudget(geometry)
    }

    /// Tokenizes `text` with the role's prefix, cut to ``tokenLimit``.
    public func tokenize(_ text: String, role: TextRole = .document) -> [Int32] {
        tokenizer.encode(options.prefixes.prefix(for: role) + text, maxTokens: tokenLimit)
    }

    /// Tokens run for `text` as a document (after truncation to ``tokenLimit``).
    public func tokenCount(_ text: String) -> Int { tokenize(text).count }

    /// Embeds `texts`, one vector per text, in order.
    public func embed(_ texts: [String], role: TextRole) throws(EncoderError) -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let ids = texts.map { tokenize($0, role: role) }
        return try embed(tokenIDs: ids)
    }

    /// Embeds pre-tokenized inputs (each with its special tokens).
    public func embed(tokenIDs docs: [[Int32]]) throws(EncoderError) -> [[Float]] {
        var plans: [(doc: Int, plan: SequencePlan)] = []
        var combos: [ChunkCombination] = []
        for (d, ids) in docs.enumerated() {
            guard !ids.isEmpty else { throw .emptyInput }
            let (seqs, combo) = options.contextExtension.plan(ids: ids, geometry: geometry, retokenize: { [tokenizer] slice in
                // Official PCW: transformers' decode (tokenizers' decoder, then its whole-string
                // space cleanup), then a fresh tokenization.
                tokenizer.encode(Tokenizer.cleanUpTokenizationSpaces(tokenizer.decode(Array(slice), skipSpecialTokens: true)),
                                 maxTokens: nil)
            })
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
            out.append(try combine(chunks, combo))
        }
        return out
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
        let (seqs, _) = options.contextExtension.plan(ids: ids, geometry: geometry)
        guard seqs.count == 1 else { throw .invalidOption("hidden states are defined for one sequence; PCW splits this input") }
        var states: [[Float]] = []
        _ = try forward([seqs[0]]) { layer, buffer, count in
            states.append(Array(UnsafeBufferPointer(start: buffer, count: count)))
        }
        return states
    }

    // MARK: Batching and pooling

    /// Pools every sequence; sequences are packed into batches of about `batchTokens` tokens.
    private func poolAll(_ plans: [SequencePlan]) throws(EncoderError) -> [[Float]] {
        var result = [[Float]](repeating: [], count: plans.count)
        // Similar lengths together keep attention work balanced within a batch.
        let order = plans.indices.sorted { plans[$0].ids.count > plans[$1].ids.count }
        var batch: [Int] = []
        var tokens = 0
        func flush() throws(EncoderError) {
            guard !batch.isEmpty else { return }
            let pooled = try forwardPooled(batch.map { plans[$0] })
            for (i, p) in zip(batch, pooled) { result[i] = p }
            batch.removeAll(keepingCapacity: true)
            tokens = 0
        }
        for i in order {
            let n = plans[i].ids.count
            if !batch.isEmpty && tokens + n > options.batchTokens { try flush() }
            batch.append(i)
            tokens += n
        }
        try flush()
        return result
    }

    private func forwardPooled(_ plans: [SequencePlan]) throws(EncoderError) -> [[Float]] {
        let h = config.hiddenSize
        let hidden = try forward(plans, observe: nil)
        var out: [[Float]] = []
        out.reserveCapacity(plans.count)
        var offset = 0
        for plan in plans {
            let n = plan.ids.count
            var v = [Float](repeating: 0, count: h)
            do {
                try v.withUnsafeMutableBufferPointer { dst throws(KernelError) in
                    try kernels.pool(out: dst.baseAddress!, x: hidden.constPointer + offset * h, mask: nil,
                                     rows: n, cols: h, mode: pooling)
                }
            } catch { throw .kernel(error) }
            out.append(v)
            offset += n
        }
        return out
    }

    private func combine(_ chunks: [[Float]], _ combo: ChunkCombination) throws(EncoderError) -> [Float] {
        let h = config.hiddenSize
        var v: [Float]
        switch combo {
        case .single:
            v = chunks[0]
        case .meanOfNormalized, .meanOfRaw:
            var acc = [Double](repeating: 0, count: h)
            for var c in chunks {
                if combo == .meanOfNormalized { try normalize(&c) }
                for j in 0..<h { acc[j] += Double(c[j]) }
            }
            v = acc.map { Float($0 / Double(chunks.count)) }
        }
        if options.normalize || combo != .single { try normalize(&v) }
        return v
    }

    private func normalize(_ v: inout [Float]) throws(EncoderError) {
        let h = v.count
        do {
            try v.withUnsafeMutableBufferPointer { p throws(KernelError) in
                try kernels.l2Normalize(x: p.baseAddress!, rows: 1, cols: h)
            }
        } catch { throw .kernel(error) }
    }
}
