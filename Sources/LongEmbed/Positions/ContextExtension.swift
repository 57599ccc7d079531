import Foundation

/// How to run a model on inputs longer than its trained context window `Lo`.
///
/// Every training-free method of LongEmbed (Zhu et al. 2024, "LongEmbed: Extending Embedding
/// Models for Long Context Retrieval", arXiv:2404.12096, Sec. 3) plus YaRN and dynamic NTK.
/// Parameters left `nil` come from the paper's presets (Table 6, extended by its rules past
/// s = 8: see ``ExtensionPresets``) for the target length.
///
/// A sequence of at most `Lo` tokens keeps its original positions under every method, as the
/// paper promises ("strictly preserving original behavior for short inputs") and the official
/// code does; ``remapShortInputs`` switches to the paper-literal "remap every input".
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

        /// The method's kind, without parameters.
        public var kind: ExtensionKind {
            switch self {
            case .none: return .none
            case .extrapolation: return .extrapolate
            case .parallelContextWindows: return .pcw
            case .groupedPositions: return .gp
            case .recurrentPositions: return .rp
            case .positionInterpolation: return .pi
            case .ntk: return .ntk
            case .selfExtend: return .selfExtend
            case .yarn: return .yarn
            case .dynamicNTK: return .dynamicNTK
            case .tunedPositionInterpolation: return .tunedPI
            }
        }

        /// Short name used on the command line and in result files.
        public var name: String { kind.rawValue }

        /// Whether the method only exists for rotary-position models.
        public var requiresRoPE: Bool {
            switch self {
            case .extrapolation, .ntk, .selfExtend, .yarn, .dynamicNTK: return true
            default: return false
            }
        }
    }

    /// Behaviours of the official LongEmbed code that differ from the paper; each off by
    /// default and switchable on its own, all on to reproduce published numbers.
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
            for variant in OfficialVariant.allCases { v[variant] = true }
            return v
        }

        /// Whether `variant` is on.
        public subscript(variant: OfficialVariant) -> Bool {
            get {
                switch variant {
                case .gpPaddedDivisor: return groupDivisorFromPaddedLength
                case .pcwRawMean: return pcwAverageUnnormalized
                case .pcwRetokenize: return pcwRetokenize
                case .selfExtendShortFallback: return selfExtendShortInputFallback
                }
            }
            set {
                switch variant {
                case .gpPaddedDivisor: groupDivisorFromPaddedLength = newValue
                case .pcwRawMean: pcwAverageUnnormalized = newValue
                case .pcwRetokenize: pcwRetokenize = newValue
                case .selfExtendShortFallback: selfExtendShortInputFallback = newValue
                }
            }
        }

        /// The variants switched on, in declaration order.
        public var enabled: [OfficialVariant] { OfficialVariant.allCases.filter { self[$0] } }
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
    /// Remap inputs of at most `Lo` tokens too (the paper's formulas taken literally). Off by
    /// default: short inputs keep their original positions under every method.
    public var remapShortInputs: Bool

    public init(_ method: Method = .none, targetLength: Int? = nil, attentionScaling: Bool = true,
                official: OfficialVariants = OfficialVariants(), remapShortInputs: Bool = false) {
        self.method = method
        self.targetLength = targetLength
        self.attentionScaling = attentionScaling
        self.official = official
        self.remapShortInputs = remapShortInputs
    }

    /// No extension.
    public static let none = ContextExtension(.none)

    /// The largest target length accepted (2^20 tokens).
    public static let maxTargetLength = 1 << 20

    /// Every setting, one token per option (part of the embedding-cache key).
    public var description: String {
        var s = method.name + parameterDescription
        if let t = targetLength { s += "@\(t)" }
        if !attentionScaling { s += "-noscale" }
        for v in official.enabled { s += "-official:\(v.rawValue)" }
        if remapShortInputs { s += "-remap-short" }
        return s
    }

    private var parameterDescription: String {
        switch method {
        case .groupedPositions(let f): return f.map { "(s=\($0))" } ?? ""
        case .positionInterpolation(let f), .yarn(let f), .dynamicNTK(let f): return f.map { "(s=\($0))" } ?? ""
        case .ntk(let l): return l.map { "(lambda=\($0))" } ?? ""
        case .selfExtend(let g, let w):
            guard g != nil || w != nil else { return "" }
            return "(g=\(g.map(String.init) ?? "auto"),w=\(w.map(String.init) ?? "auto"))"
        case .tunedPositionInterpolation(let lo, let f): return "(Lo=\(lo),s=\(f))"
        default: return ""
        }
    }

    /// Parses a method name ("none", "pcw", "gp", "rp", "pi", "ntk", "self-extend", "yarn",
    /// "dynamic-ntk", "extrapolate" and their aliases); parameters are left to the presets.
    public static func method(named name: String) -> Method? {
        ExtensionKind(name: name)?.method()
    }
}

/// The kinds of context extension, by command-line name.
public enum ExtensionKind: String, Sendable, CaseIterable {
    case none, extrapolate, pcw, gp, rp, pi, ntk
    case selfExtend = "self-extend"
    case yarn
    case dynamicNTK = "dynamic-ntk"
    case tunedPI = "tuned-pi"

    /// The kind named `name` or one of its aliases (case-insensitive); `tuned-pi` needs
    /// parameters and is API-only, so it is not parsed.
    public init?(name: String) {
        let aliases: [String: ExtensionKind] = [
            "truncate": .none, "plain": .extrapolate, "grouped": .gp, "recurrent": .rp,
            "interpolate": .pi, "selfextend": .selfExtend, "se": .selfExtend, "dynamic": .dynamicNTK,
        ]
        let key = name.lowercased().trimmingCharacters(in: .whitespaces)
        guard let kind = ExtensionKind(rawValue: key) ?? aliases[key], kind != .tunedPI else { return nil }
        self = kind
    }

    /// The kinds a user can name on the command line.
    public static var parseable: [ExtensionKind] { allCases.filter { $0 != .tunedPI } }

    /// The method of this kind with preset parameters (`nil` for `tuned-pi`, which needs them).
    public func method() -> ContextExtension.Method? {
        switch self {
        case .none: return ContextExtension.Method.none
        case .extrapolate: return .extrapolation
        case .pcw: return .parallelContextWindows
        case .gp: return .groupedPositions()
        case .rp: return .recurrentPositions
        case .pi: return .positionInterpolation()
        case .ntk: return .ntk()
        case .selfExtend: return .selfExtend()
        case .yarn: return .yarn()
        case .dynamicNTK: return .dynamicNTK()
        case .tunedPI: return nil
        }
    }
}

/// One behaviour of the official LongEmbed code that differs from the paper.
public enum OfficialVariant: String, Sendable, CaseIterable {
    /// GP's divisor from the padded length (``ContextExtension/OfficialVariants/groupDivisorFromPaddedLength``).
    case gpPaddedDivisor = "gp-padded-divisor"
    /// PCW's mean of raw chunk vectors (``ContextExtension/OfficialVariants/pcwAverageUnnormalized``).
    case pcwRawMean = "pcw-raw-mean"
    /// PCW's decode and re-tokenize (``ContextExtension/OfficialVariants/pcwRetokenize``).
    case pcwRetokenize = "pcw-retokenize"
    /// SelfExtend's short-input fallback (``ContextExtension/OfficialVariants/selfExtendShortInputFallback``).
    case selfExtendShortFallback = "se-short-fallback"
}

// MARK: - Validation

extension ContextExtension {
    /// Upper bound of explicit scaling factors (s, NTK lambda): larger ones make every angle
    /// underflow to zero or the base overflow.
    public static let maxFactor = 1e6

    /// Checks the method and its parameters apply to a model of this geometry; every numeric
    /// parameter is range-checked here, so planning never meets a non-finite or absurd value.
    func validate(for g: PositionGeometry) throws(EncoderError) {
        if method.requiresRoPE && !g.usesRoPE {
            throw .extensionNotApplicable(method: method.name,
                reason: "it changes rotary position embeddings, and this model uses an absolute position table")
        }
        if let t = targetLength, !(2...Self.maxTargetLength).contains(t) {
            throw .invalidOption("--extend-to must be between 2 and \(Self.maxTargetLength) tokens, got \(t)")
        }
        try validateParameters(g)
    }

    private func checkFactor(_ value: Double?, _ name: String) throws(EncoderError) {
        guard let value else { return }
        guard value.isFinite, value >= 1, value <= Self.maxFactor else {
            throw .invalidOption("\(name) must be a finite number from 1 to \(Int(Self.maxFactor)), got \(value)")
        }
    }

    private func validateParameters(_ g: PositionGeometry) throws(EncoderError) {
        switch method {
        case .groupedPositions(let f): try checkFactor(f.map(Double.init), "the group factor")
        case .positionInterpolation(let f): try checkFactor(f, "the interpolation factor")
        case .ntk(let l): try checkFactor(l, "NTK lambda")
        case .yarn(let f), .dynamicNTK(let f): try checkFactor(f, "the scaling factor")
        case .selfExtend(let gr, let w):
            if let gr, !(1...Self.maxTargetLength).contains(gr) {
                throw .invalidOption("SelfExtend group size must be between 1 and \(Self.maxTargetLength), got \(gr)")
            }
            if let w, !(0...Self.maxTargetLength).contains(w) {
                throw .invalidOption("SelfExtend window must be between 0 and \(Self.maxTargetLength), got \(w)")
            }
        case .parallelContextWindows:
            // Each chunk holds Lo - 2 content tokens between [CLS] and [SEP]: it must hold one.
            guard g.originalLength >= 3 else {
                throw .invalidOption("PCW needs a context of at least 3 tokens, the model's is \(g.originalLength)")
            }
        case .tunedPositionInterpolation(let lo, let f):
            if lo < 2 || f < 1 { throw .invalidOption("tuned PI needs originalLength >= 2 and factor >= 1") }
            if g.usesRoPE { throw .extensionNotApplicable(method: method.name, reason: "it is defined for absolute position tables") }
        case .none, .extrapolation, .recurrentPositions: break
        }
    }
}
