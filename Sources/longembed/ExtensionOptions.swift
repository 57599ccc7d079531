import ArgumentParser
import Foundation
import LongEmbed

extension Pooling: ExpressibleByArgument {}
extension TextRole: ExpressibleByArgument {}
extension WeightStorage: ExpressibleByArgument {}
extension OfficialVariant: ExpressibleByArgument {}

extension ExtensionKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { parseable.map(\.rawValue) }
}

/// A comma-separated list of values, e.g. `--extension none,pcw,pi`.
struct CommaList<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = parts.compactMap { Element(argument: $0) }
        guard !parts.isEmpty, parsed.count == parts.count else { return nil }
        values = parsed
    }

    var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
    static var allValueStrings: [String] { Element.allValueStrings }
}

/// The prefix presets of ``Prefixes``.
enum PrefixPreset: String, ExpressibleByArgument, CaseIterable {
    case none, e5, nomic, bge, instruct
    var prefixes: Prefixes { Prefixes.preset(named: rawValue) ?? .none }
}

/// Upper bounds of counts given on the command line (each a clear message, never a crash).
enum CLIBounds {
    /// Threads: enough for the largest servers, far below what makes OpenMP abort.
    static let maxThreads = 4096
    /// Texts or documents per batch.
    static let maxBatch = 1 << 16
}

/// `--threads`, shared by every command that runs kernels.
struct ThreadOptions: ParsableArguments {
    @Option(name: .long, help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, !(1...CLIBounds.maxThreads).contains(threads) {
            throw ValidationError("--threads must be between 1 and \(CLIBounds.maxThreads), got \(threads)")
        }
    }

    /// Sets the kernels' thread count when `--threads` was given.
    func apply() throws {
        if let threads { try NativeRuntime.setThreads(threads) }
    }
}

/// Command-line options shared by `embed`, `eval` and the benchmarks that choose the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Hugging Face model folder (default: the model `make setup` fetched).")
    var model: String = ".models/all-MiniLM-L6-v2"

    @Option(name: .long, help: "Prefix preset (default: the model's own prompts or its family's convention; see `longembed models`).")
    var prefix: PrefixPreset?

    @Option(name: .long, help: "Query prefix (overrides --prefix).")
    var queryPrefix: String?

    @Option(name: .long, help: ArgumentHelp("A task description for instruction-tuned embedders: queries get \"Instruct: TASK\\nQuery: \" (overrides --prefix; --query-prefix overrides it).", valueName: "TASK"))
    var prompt: String?

    @Option(name: .long, help: "Document prefix (overrides --prefix).")
    var documentPrefix: String?

    @Option(name: .long, help: "Pooling (default: from the model folder).")
    var pooling: Pooling?

    @Option(name: .long, help: "Truncate inputs to this many tokens (special tokens included).")
    var maxTokens: Int?

    @Option(name: .long, help: "The model's trained context Lo in tokens (default: the per-family rule, see the README).")
    var contextLength: Int?

    @Option(name: .long, help: "Matryoshka truncation: keep the first N components of each vector, then normalize again (default: all).")
    var dimensions: Int?

    @Option(name: .long, help: "How weights are kept in memory: file (bf16/fp16 files stay 16-bit, half the memory) or fp32 (widened at load; faster for inputs of a few tokens).")
    var weights: WeightStorage = .file

    @OptionGroup var threadOptions: ThreadOptions

    /// `--threads`, when given.
    var threads: Int? { threadOptions.threads }

    func validate() throws {
        if let maxTokens, !(3...ContextExtension.maxTargetLength).contains(maxTokens) {
            throw ValidationError("--max-tokens must be between 3 and \(ContextExtension.maxTargetLength), got \(maxTokens)")
        }
        if let contextLength, !(2...ContextExtension.maxTargetLength).contains(contextLength) {
            throw ValidationError("--context-length must be between 2 and \(ContextExtension.maxTargetLength), got \(contextLength)")
        }
        if let dimensions, !(1...(1 << 20)).contains(dimensions) {
            throw ValidationError("--dimensions must be between 1 and \(1 << 20), got \(dimensions)")
        }
        if let prompt, prompt.isEmpty { throw ValidationError("--prompt needs a task description") }
    }

    /// The prefixes: the preset (else the model's default), then the explicit query/document
    /// prefixes.
    func prefixes(for model: Model) -> Prefixes {
        var p = prefix?.prefixes ?? model.defaultPrefixes
        if let prompt { p.query = Prefixes.instruction(task: prompt).query }
        if let q = queryPrefix { p.query = q }
        if let d = documentPrefix { p.document = d }
        return p
    }

    /// Loads the model once (shared by every encoder of the command).
    func loadModel() throws -> Model {
        try Model(directory: URL(fileURLWithPath: model), contextLength: contextLength, weightStorage: weights)
    }

    func applyThreads() throws { try threadOptions.apply() }
}

/// Command-line options choosing the context-extension method(s) and their parameters.
struct ExtensionOptions: ParsableArguments {
    @Option(name: .customLong("extension"),
            help: "Context extension: none, pcw, gp, rp, pi, ntk, self-extend, yarn, dynamic-ntk, extrapolate (comma-separated where a command compares several).")
    var extensions = CommaList<ExtensionKind>([.none])

    @Option(name: .long, help: "Target context length Lt in tokens (presets follow the paper's Table 6 rules).")
    var extendTo: Int?

    @Option(name: .long, help: "SelfExtend group size g.")
    var group: Int?

    @Option(name: .long, help: "SelfExtend neighbour window w.")
    var window: Int?

    @Option(name: .long, help: "NTK lambda (base multiplier), from 1 to 1e6.")
    var ntkLambda: Double?

    @Option(name: .long, help: "Extension factor s for GP, PI, YaRN and dynamic NTK, from 1 to 1e6 (default ceil(Lt/Lo)).")
    var factor: Double?

    @Flag(name: .long, help: "Switch attention scaling off (on by default, as in the paper).")
    var noAttentionScaling = false

    @Flag(name: .long, help: "Remap inputs of at most Lo tokens too (paper-literal; by default they keep their positions).")
    var remapShortInputs = false

    @Flag(name: .long, help: "Reproduce every behaviour of the official LongEmbed code where it differs from the paper.")
    var official = false

    @Option(name: .long, help: "One official-code behaviour (repeatable): gp-padded-divisor, pcw-raw-mean, pcw-retokenize, se-short-fallback.")
    var officialVariant: [OfficialVariant] = []

    func validate() throws {
        let bound = ContextExtension.maxTargetLength
        if let extendTo, !(2...bound).contains(extendTo) {
            throw ValidationError("--extend-to must be between 2 and \(bound) tokens, got \(extendTo)")
        }
        for (name, value) in [("--factor", factor), ("--ntk-lambda", ntkLambda)] {
            if let value, !(value.isFinite && value >= 1 && value <= ContextExtension.maxFactor) {
                throw ValidationError("\(name) must be a finite number from 1 to \(Int(ContextExtension.maxFactor)), got \(value)")
            }
        }
        if let group, !(1...bound).contains(group) { throw ValidationError("--group must be between 1 and \(bound), got \(group)") }
        if let window, !(0...bound).contains(window) { throw ValidationError("--window must be between 0 and \(bound), got \(window)") }
    }

    /// The methods named in --extension, each with the explicit parameters given; the target
    /// length is --extend-to, else `defaultTarget` (a command's own choice), else an error.
    func contextExtensions(defaultTarget: Int? = nil) throws -> [(name: String, value: ContextExtension)] {
        let target = extendTo ?? defaultTarget
        for kind in extensions.values where kind != .none && target == nil {
            throw ValidationError("--extension \(kind.rawValue) needs --extend-to N (the target length in tokens)")
        }
        var variants = official ? ContextExtension.OfficialVariants.all : ContextExtension.OfficialVariants()
        for v in officialVariant { variants[v] = true }
        return extensions.values.map { kind in
            let method: ContextExtension.Method
            switch kind {
            case .gp: method = .groupedPositions(factor: factor.map { Int($0.rounded(.up)) })
            case .pi: method = .positionInterpolation(factor: factor)
            case .ntk: method = .ntk(lambda: ntkLambda)
            case .selfExtend: method = .selfExtend(group: group, window: window)
            case .yarn: method = .yarn(factor: factor)
            case .dynamicNTK: method = .dynamicNTK(factor: factor)
            default: method = kind.method() ?? .none
            }
            let ext = ContextExtension(method, targetLength: target, attentionScaling: !noAttentionScaling,
                                       official: variants, remapShortInputs: remapShortInputs)
            return (kind.rawValue, ext)
        }
    }
}
