import Foundation

// The one place where positions are decided: every method's remapping, RoPE frequency
// scaling, SelfExtend's position sets and PCW chunking become one complete plan per sequence
// (LongEmbed, Zhu et al. 2024, Sec. 3), which the forward pass only executes.

/// What the planner needs to know about the model.
struct PositionGeometry: Sendable {
    /// `Lo`: the trained context (see ``Model/trainedContext``).
    var originalLength: Int
    /// Rows of the absolute position table; `nil` for rotary models.
    var positionTableSize: Int?
    /// Per-head dimension.
    var headDim: Int
    /// RoPE base (rotary models).
    var ropeBase: Double
    /// A constant factor the trained model applies to every global-layer inverse frequency
    /// (``RotarySpec/frequencyFactor``; 1 for most models), applied after any method's scaling.
    var frequencyFactor: Double = 1
    /// The trained Llama-3 frequency scaling (``RotarySpec/llama3``), applied after any
    /// method's scaling and the frequency factor.
    var llama3: Llama3RoPEScaling? = nil
    /// Per-frequency divisors (``RotarySpec/frequencyDivisors``), applied last.
    var frequencyDivisors: [Double]? = nil
    /// The special tokens the tokenizer puts before and after a single sequence ([CLS] / [SEP],
    /// `<s>` / `</s>`, `<bos>` ...), which PCW repeats around every chunk.
    var prefixIDs: [Int32]
    var suffixIDs: [Int32]

    /// Whether the model rotates q and k (RoPE) instead of adding a position table.
    var usesRoPE: Bool { positionTableSize == nil }

    /// The model's own global-layer RoPE inverse frequencies (empty for absolute-position models).
    var defaultInverseFrequencies: [Float] {
        usesRoPE ? scaled(RoPEScaling.inverseFrequencies(headDim: headDim, base: ropeBase)) : []
    }

    /// `inv` times ``frequencyFactor`` (in double), then the trained Llama-3 scaling, then the
    /// per-frequency divisors of a GGUF file.
    func scaled(_ inv: [Float]) -> [Float] {
        let factored = frequencyFactor == 1 ? inv : inv.map { Float(Double($0) * frequencyFactor) }
        let llama = llama3?.apply(factored) ?? factored
        guard let d = frequencyDivisors, d.count == llama.count else { return llama }
        return zip(llama, d).map { Float(Double($0) / $1) }
    }

    /// A sequence at `positions` (APE: table row coordinates; RoPE: rotation positions).
    func sequence(_ ids: [Int32], positions: [Double], factor: Double, inverseFrequencies: [Float]? = nil) -> SequencePlan {
        let plan: PositionPlan = usesRoPE
            ? .rotary(positions.map { Float($0) }, inverseFrequencies: inverseFrequencies.map(scaled) ?? defaultInverseFrequencies)
            : .table(positions)
        return SequencePlan(ids: ids, positions: plan, attentionFactor: factor)
    }
}

/// The positions of one sequence, complete.
enum PositionPlan: Sendable {
    /// Absolute model: per token, the row coordinate into the position table (fractional:
    /// linear interpolation between rows, LongEmbed Sec. 3.2).
    case table([Double])
    /// RoPE at these positions with these inverse frequencies.
    case rotary([Float], inverseFrequencies: [Float])
    /// SelfExtend's normal and grouped rotations (merged in one attention pass).
    case selfExtend(SelfExtendPlanner.Positions, inverseFrequencies: [Float])

    /// One coordinate per token (SelfExtend: the normal positions), for inspection.
    var coordinates: [Double] {
        switch self {
        case .table(let p): return p
        case .rotary(let p, _): return p.map(Double.init)
        case .selfExtend(let p, _): return p.normal.map(Double.init)
        }
    }
}

/// One sequence the encoder runs.
struct SequencePlan: Sendable {
    /// Token ids, special tokens included.
    var ids: [Int32]
    /// Where each token sits.
    var positions: PositionPlan
    /// Multiplies the logits `q·k / sqrt(d)` (attention scaling, YaRN's mscale²).
    var attentionFactor: Double
}

/// How a document's chunk vectors become one vector.
enum ChunkCombination: Sendable {
    /// One sequence: its pooled vector.
    case single
    /// Average of L2-normalized chunk vectors (the paper), then normalize.
    case meanOfNormalized
    /// Average of raw pooled chunk vectors, then normalize (official LongEmbed code).
    case meanOfRaw
}

extension ContextExtension {
    /// The maximum number of tokens (special tokens included) a document keeps before planning.
    func tokenBudget(_ g: PositionGeometry) -> Int {
        switch method {
        case .none, .tunedPositionInterpolation: return g.originalLength
        default: return max(targetLength ?? g.originalLength, 1)
        }
    }

    /// `s = ceil(Lt / Lo)` for this model.
    func factor(_ g: PositionGeometry) -> Int {
        ExtensionPresets.factor(targetLength: targetLength ?? g.originalLength, originalLength: g.originalLength)
    }

    /// Attention scaling factor for a sequence of `n` real tokens: max(1, ln n / ln Lo), computed
    /// in fp32 as the official code does.
    static func scalingFactor(tokens n: Int, originalLength lo: Int) -> Double {
        let f = Float(log(Double(n))) / Float(log(Double(lo)))
        return Double(max(1, f))
    }

    /// Whether an `n`-token sequence runs at its original positions, unscaled: always without
    /// extension; at most `Lo` tokens under every method unless ``remapShortInputs``; below `Lo`
    /// for the official SelfExtend fallback (which does group at exactly `Lo`). Tuned PI has its
    /// own short-input rule.
    func keepsOriginalPositions(tokens n: Int, _ g: PositionGeometry) -> Bool {
        switch method {
        case .none: return true
        case .tunedPositionInterpolation: return false
        case .selfExtend where official.selfExtendShortInputFallback: return n < g.originalLength
        default: return n <= g.originalLength && !remapShortInputs
        }
    }

    /// Splits a tokenized document (with [CLS] ... [SEP]) into the sequences the encoder runs.
    ///
    /// - Parameter ids: the document's ids, special tokens included, already cut to ``tokenBudget(_:)``.
    /// - Parameter retokenize: for the official PCW variant: decodes a chunk's content ids and
    ///   re-tokenizes them (returns ids with special tokens).
    func plan(ids: [Int32], geometry g: PositionGeometry,
              retokenize: ((ArraySlice<Int32>) -> [Int32])? = nil) throws(EncoderError)
        -> (sequences: [SequencePlan], combination: ChunkCombination) {
        let n = ids.count
        if keepsOriginalPositions(tokens: n, g) {
            if let rows = g.positionTableSize, n > rows {
                throw .invalidOption("an input of \(n) tokens does not fit the model's \(rows)-row position table without a context extension")
            }
            if case .none = method, g.usesRoPE, n > g.originalLength {
                throw .invalidOption("an input of \(n) tokens exceeds the model's context of \(g.originalLength) tokens; choose an extension (e.g. extrapolate, ntk, self-extend)")
            }
            return ([g.sequence(ids, positions: (0..<n).map(Double.init), factor: 1)], .single)
        }
        if case .parallelContextWindows = method { return planChunks(ids, g, retokenize) }
        return ([planSingle(ids, g)], .single)
    }

    /// One remapped sequence of every method but PCW.
    private func planSingle(_ ids: [Int32], _ g: PositionGeometry) -> SequencePlan {
        let n = ids.count, lo = g.originalLength
        let scale = attentionScaling ? Self.scalingFactor(tokens: n, originalLength: lo) : 1
        let arange = (0..<n).map(Double.init)
        switch method {
        case .none, .extrapolation, .parallelContextWindows:
            return g.sequence(ids, positions: arange, factor: scale)
        case .groupedPositions(let explicit):
            var s = explicit ?? factor(g)
            if official.groupDivisorFromPaddedLength { s = max(1, ((n + 7) / 8 * 8 + lo - 1) / lo) }
            return g.sequence(ids, positions: (0..<n).map { Double($0 / s) }, factor: scale)
        case .recurrentPositions:
            return g.sequence(ids, positions: (0..<n).map { Double($0 % lo) }, factor: scale)
        case .positionInterpolation(let explicit):
            let s = explicit ?? Double(factor(g))
            return g.sequence(ids, positions: (0..<n).map { Double($0) / s }, factor: scale)
        case .tunedPositionInterpolation(let originalLength, let s):
            let pos = n <= originalLength ? (0..<n).map { Double($0 * s) } : arange
            let f = attentionScaling ? Self.scalingFactor(tokens: n, originalLength: originalLength) : 1
            return g.sequence(ids, positions: pos, factor: f)
        case .ntk(let explicit):
            let lambda = explicit ?? ExtensionPresets.ntkLambda(factor: factor(g))
            let inv = RoPEScaling.inverseFrequencies(headDim: g.headDim, base: g.ropeBase * lambda)
            return g.sequence(ids, positions: arange, factor: scale, inverseFrequencies: inv)
        case .selfExtend(let group, let window):
            return planSelfExtend(ids, g, group: group, window: window, scale: scale)
        case .yarn(let explicit):
            let y = RoPEScaling.yarn(headDim: g.headDim, base: g.ropeBase, factor: explicit ?? Double(factor(g)), originalLength: lo)
            return g.sequence(ids, positions: arange, factor: scale * y.attentionFactor * y.attentionFactor,
                              inverseFrequencies: y.inverseFrequencies)
        case .dynamicNTK(let explicit):
            let inv = RoPEScaling.dynamicNTK(headDim: g.headDim, base: g.ropeBase, factor: explicit ?? Double(factor(g)),
                                             originalLength: lo, sequenceLength: n)
            return g.sequence(ids, positions: arange, factor: scale, inverseFrequencies: inv)
        }
    }

    /// SelfExtend (LongEmbed Sec. 3.3; Jin et al. 2024): the merged attention's position sets.
    private func planSelfExtend(_ ids: [Int32], _ g: PositionGeometry, group: Int?, window: Int?,
                                scale: Double) -> SequencePlan {
        let n = ids.count, lo = g.originalLength
        let preset = ExtensionPresets.selfExtend(factor: factor(g), originalLength: lo)
        var f = scale
        if official.selfExtendShortInputFallback {
            // Official: the factor uses the length padded to a multiple of 8 (log base Lo).
            f = attentionScaling ? max(1, log(Double((n + 7) / 8 * 8)) / log(Double(lo))) : 1
        }
        let positions = SelfExtendPlanner.positions(length: n, group: group ?? preset.group, window: window ?? preset.window)
        return SequencePlan(ids: ids, positions: .selfExtend(positions, inverseFrequencies: g.defaultInverseFrequencies),
                            attentionFactor: f)
    }

    /// PCW (LongEmbed Sec. 3.1): token-level chunks of `Lo` minus the special tokens; the last
    /// chunk overlaps the one before so that it is full length. Every chunk gets the tokenizer's
    /// prefix and suffix tokens when the input has them.
    private func planChunks(_ ids: [Int32], _ g: PositionGeometry,
                            _ retokenize: ((ArraySlice<Int32>) -> [Int32])?) -> ([SequencePlan], ChunkCombination) {
        let n = ids.count, lo = g.originalLength
        let (pre, suf) = (g.prefixIDs, g.suffixIDs)
        let hasSpecials = n >= pre.count + suf.count && ids.starts(with: pre) && ids.reversed().starts(with: suf.reversed())
            && pre.count + suf.count < lo
        let body = hasSpecials ? ids[pre.count..<(n - suf.count)] : ids[0..<n]
        let content = hasSpecials ? lo - pre.count - suf.count : lo
        let starts = Self.chunkStarts(contentTokens: body.count, chunkSize: content).map { body.startIndex + $0 }
        let seqs = starts.map { s -> SequencePlan in
            let slice = body[s..<min(s + content, body.endIndex)]
            var chunk: [Int32]
            if official.pcwRetokenize, let retokenize {
                chunk = retokenize(slice)
                if chunk.count > lo { chunk = Array(chunk.prefix(lo - suf.count)) + suf }
            } else {
                chunk = hasSpecials ? pre + slice + suf : Array(slice)
            }
            return g.sequence(chunk, positions: (0..<chunk.count).map(Double.init), factor: 1)
        }
        return (seqs, official.pcwAverageUnnormalized ? .meanOfRaw : .meanOfNormalized)
    }

    /// Chunk starts over `contentTokens` tokens in chunks of `chunkSize >= 1`: every chunk
    /// advances by `chunkSize`; the last one starts at `contentTokens - chunkSize`.
    static func chunkStarts(contentTokens: Int, chunkSize: Int) -> [Int] {
        let size = max(1, chunkSize)
        guard contentTokens > size else { return [0] }
        var starts = Array(stride(from: 0, to: contentTokens - size, by: size))
        starts.append(contentTokens - size)
        return starts
    }
}

// MARK: - Inspection

extension ContextExtension {
    private static func geometry(originalLength lo: Int) -> PositionGeometry {
        PositionGeometry(originalLength: lo, positionTableSize: nil, headDim: 2, ropeBase: 10_000,
                         prefixIDs: [-1], suffixIDs: [-2])
    }

    private func inspect(tokenCount n: Int, originalLength lo: Int) -> SequencePlan? {
        let ids = [Int32](repeating: 0, count: max(n, 0))
        return (try? plan(ids: ids, geometry: Self.geometry(originalLength: max(lo, 3))))?.sequences.first
    }

    /// The position of each token of an `n`-token sequence under this method, in units of the
    /// original position table (APE row coordinate, fractional for PI) or rotation position
    /// (RoPE). PCW sequences are chunks at ordinary positions.
    public func positions(tokenCount n: Int, originalLength lo: Int) -> [Double] {
        inspect(tokenCount: n, originalLength: lo)?.positions.coordinates ?? []
    }

    /// The factor multiplying the attention logits of an `n`-token sequence (attention scaling,
    /// YaRN's mscale²).
    public func attentionFactor(tokenCount n: Int, originalLength lo: Int) -> Double {
        inspect(tokenCount: n, originalLength: lo)?.attentionFactor ?? 1
    }

    /// PCW: the start of each chunk within the content tokens (between [CLS] and [SEP]) of an
    /// `n`-token input (special tokens included).
    public func chunkStarts(tokenCount n: Int, originalLength lo: Int) -> [Int] {
        guard n > lo else { return [0] }
        return Self.chunkStarts(contentTokens: n - 2, chunkSize: lo - 2)
    }
}
