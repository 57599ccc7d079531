import Foundation

/// How to run a model on inputs longer than its trained context window `Lo`.
///
/// Every training-free method of LongEmbed (Zhu et al. 2024, "LongEmbed: Extending Embedding
/// Models for Long Context Retrieval", arXiv:2404.12096, Sec. 3) plus YaRN and dynamic NTK.
/// Parameters left `nil` come from the paper's presets (Table 6) for the target length.
///
/// ```swift
/// var ext = ContextExtension(.positionInterpolation(), targetLength: 4096)
/// ext.attentionScaling = true   // the default, as in the paper
/// ```
public struct ContextExtension: Sendable, Hashable, CustomStringConvertible {
    /// The extension method and its explicit parameters (`nil`: the paper's preset).
    public enum Method: Sendable, Hashable {
        /// No extension: inputs are truncated to the model's context.
        case none
        /// Extrapolation: positions `0..<L` past the trained context, unchanged (RoPE models;
        /// the official E5-RoPE default forward). Absolute-position models cannot extrapolate.
        case extrapolation
        /// Parallel context windows: chunks of `Lo` tokens embedded separately and averaged.
        case parallelContextWindows
        /// Grouped positions: `pid -> floor(pid / s)`.
        case groupedPositions(factor: Int? = nil)
        /// Recurrent positions: `pid -> pid mod Lo`.
        case recurrentPositions
        /// Linear position interpolation: `pid -> pid / s` (APE: interpolated table rows).
        case positionInterpolation(factor: Double? = nil)
        /// NTK-aware interpolation (RoPE only): base `-> base * lambda`.
        case ntk(lambda: Double? = nil)
        /// SelfExtend (RoPE only): neighbour window `w`, group size `g`.
        case selfExtend(group: Int? = nil, window: Int? = nil)
        /// YaRN (RoPE only), Hugging Face `rope_scaling: {"type": "yarn"}` formulas.
        case yarn(factor: Double? = nil)
        /// Dynamic NTK (RoPE only), Hugging Face `rope_scaling: {"type": "dynamic"}` formula.
        case dynamicNTK(factor: Double? = nil)
        /// A model whose position table was already extended by PI and then tuned (like E5-Base-4k):
        /// inputs of at most `originalLength` tokens use positions `{0, s, 2s, ...}` so that they
        /// behave exactly like the original model; longer inputs use `0..<L`.
        case tunedPositionInterpolation(originalLength: Int, factor: Int)

        /// Short name used on the command line and in result files.
        public var name: String {
            switch self {
            case .none: return "none"
            case .extrapolation: return "extrapolate"
            case .parallelContextWindows: return "pcw"
            case .groupedPositions: return "gp"
            case .recurrentPositions: return "rp"
            case .positionInterpolation: return "pi"
            case .ntk: return "ntk"
            case .selfExtend: return "self-extend"
            case .yarn: return "yarn"
            case .dynamicNTK: return "dynamic-ntk"
            case .tunedPositionInterpolation: return "tuned-pi"
            }
        }

        /// Whether the method only exists for rotary-position models.
        public var requiresRoPE: Bool {
            switch self {
            case .extrapolation, .ntk, .selfExtend, .yarn, .dynamicNTK: return true
            default: return false
            }
        }
    }

    /// Behaviours of the official LongEmbed code that differ from the paper; off by default,
    /// on to reproduce published numbers.
    public struct OfficialVariants: Sendable, Hashable {
        /// GP divides by `ceil(L_padded / Lo)` with `L_padded` the length rounded up to a
        /// multiple of 8, instead of the paper's `s = ceil(Lt / Lo)`.
        public var groupDivisorFromPaddedLength = false
        /// PCW averages the chunks' raw pooled vectors, then normalizes (the paper's tooling
        /// normalizes each chunk embedding first).
        public var pcwAverageUnnormalized = false
        /// PCW decodes each token chunk to text and re-tokenizes it (truncating at `Lo`).
        public var pcwRetokenize = false
        /// SelfExtend below `Lo` tokens runs plain attention without attention scaling, and its
        /// scaling factor uses the length padded to a multiple of 8.
        public var selfExtendShortInputFallback = false

        public init() {}

        /// Every official behaviour switched on.
        public static var all: OfficialVariants {
            var v = OfficialVariants()
            v.groupDivisorFromPaddedLength = true
            v.pcwAverageUnnormalized = true
            v.pcwRetokenize = true
            v.selfExtendShortInputFallback = true
            return v
        }
    }

    /// The method.
    public var method: Method
    /// Target context `Lt` in tokens; `nil` means the model's own context `Lo`.
    public var targetLength: Int?
    /// Attention scaling `q *= max(1, ln n / ln Lo)`, `n` the sequence's unpadded length
    /// (on by default, as in the paper).
    public var attentionScaling: Bool
    /// Official-code behaviours (see ``OfficialVariants``).
    public var official: OfficialVariants

    public init(_ method: Method = .none, targetLength: Int? = nil, attentionScaling: Bool = true,
                official: OfficialVariants = OfficialVariants()) {
        self.method = method
        self.targetLength = targetLength
        self.attentionScaling = attentionScaling
        self.official = official
    }

    /// No extension.
    public static let none = ContextExtension(.none)

    public var description: String {
        var s = method.name
        switch method {
        case .groupedPositions(let f): if let f { s += "(s=\(f))" }
        case .positionInterpolation(let f): if let f { s += "(s=\(f))" }
        case .ntk(let l): if let l { s += "(lambda=\(l))" }
        case .selfExtend(let g, let w):
            if g != nil || w != nil { s += "(g=\(g.map(String.init) ?? "auto"),w=\(w.map(String.init) ?? "auto"))" }
        case .yarn(let f), .dynamicNTK(let f): if let f { s += "(s=\(f))" }
        case .tunedPositionInterpolation(let lo, let f): s += "(Lo=\(lo),s=\(f))"
        default: break
        }
        if let t = targetLength { s += "@\(t)" }
        if !attentionScaling { s += "-noscale" }
        if official != OfficialVariants() { s += "-official" }
        return s
    }

    /// Parses a CLI method name ("none", "pcw", "gp", "rp", "pi", "ntk", "self-extend", "yarn",
    /// "dynamic-ntk"); explicit parameters are filled in by the caller.
    public static func method(named name: String) -> Method? {
        switch name.lowercased() {
        case "none", "truncate": return Method.none
        case "extrapolate", "plain": return .extrapolation
        case "pcw": return .parallelContextWindows
        case "gp", "grouped": return .groupedPositions()
        case "rp", "recurrent": return .recurrentPositions
        case "pi", "interpolate": return .positionInterpolation()
        case "ntk": return .ntk()
        case "self-extend", "selfextend", "se": return .selfExtend()
        case "yarn": return .yarn()
        case "dynamic-ntk", "dynamic": return .dynamicNTK()
        default: return nil
        }
    }
}

// MARK: - Presets (LongEmbed Table 6)

/// The paper's hyperparameter presets by extension factor.
public enum ExtensionPresets {
    /// `s = ceil(Lt / Lo)`, at least 1.
    public static func factor(targetLength: Int, originalLength: Int) -> Int {
        max(1, (targetLength + originalLength - 1) / originalLength)
    }

    /// NTK lambda for extension factor `s` (Table 6: 2 -> 3, 4 -> 5, 8 -> 10; larger factors
    /// keep 10, as the authors' scripts do at every length).
    public static func ntkLambda(factor s: Int) -> Double {
        if s <= 1 { return 1 }
        if s <= 2 { return 3 }
        if s <= 4 { return 5 }
        return 10
    }

    /// SelfExtend (g, w) for factor `s` and original length `Lo` (Table 6: Lo = 512 gives
    /// (3,256)/(5,128)/(9,64); Lo = 4096 gives (3,2048)/(5,1024)/(9,512): w = Lo/2, Lo/4, Lo/8).
    public static func selfExtend(factor s: Int, originalLength lo: Int) -> (group: Int, window: Int) {
        if s <= 2 { return (3, lo / 2) }
        if s <= 4 { return (5, lo / 4) }
        return (9, lo / 8)
    }
}

// MARK: - Planning

/// One sequence the encoder runs: token ids and, per token, the position used by the model.
struct SequencePlan: Sendable {
    /// Token ids, special tokens included.
    var ids: [Int32]
    /// Per token: the row coordinate into the position table (APE, fractional = interpolation)
    /// or the rotation position (RoPE).
    var positions: [Double]
    /// Multiplies the logits `q·k / sqrt(d)` (attention scaling, YaRN's mscale²).
    var attentionFactor: Double
    /// RoPE inverse frequencies replacing the model's own (NTK, YaRN, dynamic NTK).
    var inverseFrequencies: [Float]?
    /// SelfExtend (group, window), when the merged attention runs.
    var selfExtend: SelfExtendSetting?
}

struct SelfExtendSetting: Sendable, Hashable {
    var group: Int
    var window: Int
}

/// How a document's chunk vectors become one vector.
enum ChunkCombination: Sendable {
    /// One sequence: its pooled vector.
    case single
    /// Average of L2-normalized chunk vectors (paper / golden), then normalize.
    case meanOfNormalized
    /// Average of raw pooled chunk vectors, then normalize (official LongEmbed code).
    case meanOfRaw
}

/// What the planner needs to know about the model.
struct ModelGeometry: Sendable {
    var originalLength: Int          // Lo: the position table size (APE) or max_position_embeddings (RoPE)
    var usesRoPE: Bool
    var headDim: Int
    var ropeBase: Double
    var clsID: Int32
    var sepID: Int32
}

extension ContextExtension {
    /// The maximum number of tokens (special tokens included) a document keeps before planning.
    func tokenBudget(_ g: ModelGeometry) -> Int {
        switch method {
        case .none: return g.originalLength
        case .tunedPositionInterpolation: return g.originalLength
        default: return max(targetLength ?? g.originalLength, 1)
        }
    }

    /// Checks the method applies to the model.
    func validate(for g: ModelGeometry) throws(EncoderError) {
        if method.requiresRoPE && !g.usesRoPE {
            throw .extensionNotApplicable(method: method.name,
                reason: "it changes rotary position embeddings, and this model uses an absolute position table")
        }
        if let t = targetLength, t < 2 { throw .invalidOption("--extend-to must be at least 2 tokens, got \(t)") }
        switch method {
        case .groupedPositions(let f): if let f, f < 1 { throw .invalidOption("group factor must be >= 1, got \(f)") }
        case .positionInterpolation(let f): if let f, !(f >= 1) { throw .invalidOption("interpolation factor must be >= 1, got \(f)") }
        case .ntk(let l): if let l, !(l > 0) { throw .invalidOption("NTK lambda must be > 0, got \(l)") }
        case .selfExtend(let gr, let w):
            if let gr, gr < 1 { throw .invalidOption("SelfExtend group size must be >= 1, got \(gr)") }
            if let w, w < 0 { throw .invalidOption("SelfExtend window must be >= 0, got \(w)") }
        case .yarn(let f), .dynamicNTK(let f): if let f, !(f >= 1) { throw .invalidOption("scaling factor must be >= 1, got \(f)") }
        case .tunedPositionInterpolation(let lo, let f):
            if lo < 2 || f < 1 { throw .invalidOption("tuned PI needs originalLength >= 2 and factor >= 1") }
            if g.usesRoPE { throw .extensionNotApplicable(method: method.name, reason: "it is defined for absolute position tables") }
        default: break
        }
    }

    /// `s = ceil(Lt / Lo)` for this model.
    func factor(_ g: ModelGeometry) -> Int {
        ExtensionPresets.factor(targetLength: targetLength ?? g.originalLength, originalLength: g.originalLength)
    }

    /// Attention scaling factor for a sequence of `n` real tokens: max(1, ln n / ln Lo), computed
    /// in fp32 as the official code does.
    static func scalingFactor(tokens n: Int, originalLength lo: Int) -> Double {
        let f = Float(log(Double(n))) / Float(log(Double(lo)))
        return Double(max(1, f))
    }

    /// Splits a tokenized document (with [CLS] ... [SEP]) into the sequences the encoder runs.
    ///
    /// - Parameter ids: the document's ids, special tokens included, already cut to ``tokenBudget(_:)``.
    /// - Parameter retokenize: for the official PCW variant: decodes a chunk's content ids and
    ///   re-tokenizes them (returns ids with special tokens).
    func plan(ids: [Int32], geometry g: ModelGeometry,
              retokenize: ((ArraySlice<Int32>) -> [Int32])? = nil) -> (sequences: [SequencePlan], combination: ChunkCombination) {
        let n = ids.count
        let lo = g.originalLength
        let scale = attentionScaling ? Self.scalingFactor(tokens: n, originalLength: lo) : 1
        func arange() -> [Double] { (0..<n).map(Double.init) }

        switch method {
        case .none:
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: 1)], .single)

        case .extrapolation:
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: scale)], .single)

        case .parallelContextWindows:
            if n <= lo {
                return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: 1)], .single)
            }
            // Token-level chunks of Lo - 2 content tokens; the last chunk overlaps the one before
            // so that it is full length (LongEmbed Sec. 3.1, PCW).
            let hasSpecials = n >= 2 && ids.first == g.clsID && ids.last == g.sepID
            let body = hasSpecials ? ids[1..<(n - 1)] : ids[0..<n]
            let content = hasSpecials ? lo - 2 : lo
            let starts = chunkStarts(tokenCount: hasSpecials ? n : n + 2, originalLength: content + 2)
                .map { body.startIndex + $0 }
            let seqs = starts.map { s -> SequencePlan in
                let slice = body[s..<min(s + content, body.endIndex)]
                var chunk: [Int32]
                if official.pcwRetokenize, let retokenize {
                    chunk = retokenize(slice)
                    if chunk.count > lo { chunk = Array(chunk.prefix(lo - 1)) + [g.sepID] }
                } else {
                    chunk = hasSpecials ? [g.clsID] + slice + [g.sepID] : Array(slice)
                }
                return SequencePlan(ids: chunk, positions: (0..<chunk.count).map(Double.init), attentionFactor: 1)
            }
            return (seqs, official.pcwAverageUnnormalized ? .meanOfRaw : .meanOfNormalized)

        case .groupedPositions(let explicit):
            var s = explicit ?? factor(g)
            if official.groupDivisorFromPaddedLength {
                let padded = (n + 7) / 8 * 8
                s = max(1, (padded + lo - 1) / lo)
            }
            let pos = (0..<n).map { Double($0 / s) }
            return ([SequencePlan(ids: ids, positions: pos, attentionFactor: scale)], .single)

        case .recurrentPositions:
            let pos = (0..<n).map { Double($0 % lo) }
            return ([SequencePlan(ids: ids, positions: pos, attentionFactor: scale)], .single)

        case .positionInterpolation(let explicit):
            let s = explicit ?? Double(factor(g))
            let pos = (0..<n).map { Double($0) / s }
            return ([SequencePlan(ids: ids, positions: pos, attentionFactor: scale)], .single)

        case .tunedPositionInterpolation(let originalLength, let s):
            let pos = n <= originalLength ? (0..<n).map { Double($0 * s) } : arange()
            let f = attentionScaling ? Self.scalingFactor(tokens: n, originalLength: originalLength) : 1
            return ([SequencePlan(ids: ids, positions: pos, attentionFactor: f)], .single)

        case .ntk(let explicit):
            let lambda = explicit ?? ExtensionPresets.ntkLambda(factor: factor(g))
            let inv = RoPEScaling.inverseFrequencies(headDim: g.headDim, base: g.ropeBase * lambda)
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: scale, inverseFrequencies: inv)], .single)

        case .selfExtend(let group, let window):
            let preset = ExtensionPresets.selfExtend(factor: factor(g), originalLength: lo)
            let setting = SelfExtendSetting(group: group ?? preset.group, window: window ?? preset.window)
            if official.selfExtendShortInputFallback {
                // Official: below 512 tokens plain attention without scaling; the factor uses
                // the length padded to a multiple of 8 (log base 512).
                if n < lo {
                    return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: 1)], .single)
                }
                let padded = (n + 7) / 8 * 8
                let f = attentionScaling ? max(1, log(Double(padded)) / log(Double(lo))) : 1
                return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: f, selfExtend: setting)], .single)
            }
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: scale, selfExtend: setting)], .single)

        case .yarn(let explicit):
            let s = explicit ?? Double(factor(g))
            let y = RoPEScaling.yarn(headDim: g.headDim, base: g.ropeBase, factor: s, originalLength: lo)
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: scale * y.attentionFactor * y.attentionFactor,
                                  inverseFrequencies: y.inverseFrequencies)], .single)

        case .dynamicNTK(let explicit):
            let s = explicit ?? Double(factor(g))
            let inv = RoPEScaling.dynamicNTK(headDim: g.headDim, base: g.ropeBase, factor: s,
                                             originalLength: lo, sequenceLength: n)
            return ([SequencePlan(ids: ids, positions: arange(), attentionFactor: scale, inverseFrequencies: inv)], .single)
        }
    }
}

// MARK: - RoPE frequency scalings

/// Inverse-frequency tables of the RoPE scalings (Hugging Face `rope_scaling` formulas).
public enum RoPEScaling {
    /// `inv_freq[j] = base^(-2j/d)` for `j < d/2`, computed as `1 / base^(2j/d)` in Double and
    /// rounded to Float.
    public static func inverseFrequencies(headDim d: Int, base: Double) -> [Float] {
        (0..<(d / 2)).map { j in Float(1 / pow(base, Double(2 * j) / Double(d))) }
    }

    /// Dynamic NTK (HF "dynamic"): for sequences longer than `Lo`,
    /// `base' = base * (s * L / Lo - (s - 1))^(d / (d - 2))`; shorter ones keep `base`.
    public static func dynamicNTK(headDim d: Int, base: Double, factor s: Double, originalLength lo: Int,
                                  sequenceLength n: Int) -> [Float] {
        guard n > lo else { return inverseFrequencies(headDim: d, base: base) }
        let b = base * pow(s * Double(n) / Double(lo) - (s - 1), Double(d) / Double(d - 2))
        return inverseFrequencies(headDim: d, base: b)
    }

    /// YaRN (Peng et al. 2023, arXiv:2309.00071) as Hugging Face computes it: interpolated
    /// frequencies below the `beta_slow = 1` rotation boundary, extrapolated ones above
    /// `beta_fast = 32`, a linear ramp between, and attention factor `0.1 ln s + 1` applied to
    /// both cos and sin (so the logits scale by its square).
    public static func yarn(headDim d: Int, base: Double, factor s: Double, originalLength lo: Int)
        -> (inverseFrequencies: [Float], attentionFactor: Double) {
        let betaFast = 32.0, betaSlow = 1.0
        func correctionDim(_ rotations: Double) -> Double {
            Double(d) * log(Double(lo) / (rotations * 2 * Double.pi)) / (2 * log(base))
        }
        let low = max(floor(correctionDim(betaFast)), 0)
        var high = min(ceil(correctionDim(betaSlow)), Double(d - 1))
        if high == low { high += 0.001 }
        let half = d / 2
        var out = [Float](repeating: 0, count: half)
        for j in 0..<half {
            let posFreq = pow(base, Double(2 * j) / Double(d))
            let extrapolation = 1 / posFreq
            let interpolation = 1 / (s * posFreq)
            let ramp = min(max((Double(j) - low) / (high - low), 0), 1)
            let extrapolationWeight = 1 - ramp
            out[j] = Float(interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight)
        }
        let mscale = s <= 1 ? 1 : 0.1 * log(s) + 1
        return (out, mscale)
    }
}

// MARK: - Inspection

extension ContextExtension {
    private static func geometry(originalLength lo: Int) -> ModelGeometry {
        ModelGeometry(originalLength: lo, usesRoPE: true, headDim: 2, ropeBase: 10_000, clsID: -1, sepID: -2)
    }

    /// The position of each token of an `n`-token sequence under this method, in units of the
    /// original position table (APE row coordinate, fractional for PI) or rotation position
    /// (RoPE). PCW sequences are chunks at ordinary positions.
    public func positions(tokenCount n: Int, originalLength lo: Int) -> [Double] {
        let ids = [Int32](repeating: 0, count: n)
        return plan(ids: ids, geometry: Self.geometry(originalLength: lo)).sequences.first?.positions ?? []
    }

    /// The factor multiplying the attention logits of an `n`-token sequence (attention scaling,
    /// YaRN's mscale²).
    public func attentionFactor(tokenCount n: Int, originalLength lo: Int) -> Double {
        let ids = [Int32](repeating: 0, count: n)
        return plan(ids: ids, geometry: Self.geometry(originalLength: lo)).sequences.first?.attentionFactor ?? 1
    }

    /// PCW: the start of each chunk within the content tokens (between [CLS] and [SEP]) of an
    /// `n`-token input (special tokens included).
    public func chunkStarts(tokenCount n: Int, originalLength lo: Int) -> [Int] {
        guard n > lo else { return [0] }
        let content = n - 2
        let size = lo - 2
        var starts: [Int] = []
        var start = 0
        while start < content {
            if start + size >= content {
                starts.append(max(0, content - size))
                break
            }
            starts.append(start)
            start += size
        }
        return starts
    }
}
