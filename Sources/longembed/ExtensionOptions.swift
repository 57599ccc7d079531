import ArgumentParser
import LongEmbed

/// Command-line options shared by `embed`, `eval` and `bench encoder` that choose the model
/// and the context-extension method.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Hugging Face model folder (default: the model `make setup` fetched).")
    var model: String = ".models/all-MiniLM-L6-v2"

    @Option(name: .long, help: "Prefix preset: none, e5, nomic, bge.")
    var prefix: String = "none"

    @Option(name: .long, help: "Query prefix (overrides --prefix).")
    var queryPrefix: String?

    @Option(name: .long, help: "Document prefix (overrides --prefix).")
    var documentPrefix: String?

    @Option(name: .long, help: "Pooling: mean, cls, lastToken (default: from the model folder).")
    var pooling: String?

    @Option(name: .long, help: "Truncate inputs to this many tokens (special tokens included).")
    var maxTokens: Int?

    @Option(name: .long, help: "Threads for the kernels (default: all cores).")
    var threads: Int?

    func prefixes() throws -> Prefixes {
        guard var p = Prefixes.preset(named: prefix) else {
            throw ValidationError("unknown prefix preset '\(prefix)'; use none, e5, nomic or bge")
        }
        if let q = queryPrefix { p.query = q }
        if let d = documentPrefix { p.document = d }
        return p
    }

    func poolingMode() throws -> Pooling? {
        guard let pooling else { return nil }
        guard let p = Pooling(rawValue: pooling) else {
            throw ValidationError("unknown pooling '\(pooling)'; use mean, cls or lastToken")
        }
        return p
    }

    func applyThreads() throws {
        if let threads {
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            try NativeRuntime.setThreads(threads)
        }
    }
}

struct ExtensionOptions: ParsableArguments {
    @Option(name: .customLong("extension"),
            help: "Context extension: none, pcw, gp, rp, pi, ntk, self-extend, yarn, dynamic-ntk (comma-separated where a command compares several).")
    var extensionNames: String = "none"

    @Option(name: .long, help: "Target context length Lt in tokens (presets follow the paper's Table 6).")
    var extendTo: Int?

    @Option(name: .long, help: "SelfExtend group size g.")
    var group: Int?

    @Option(name: .long, help: "SelfExtend neighbour window w.")
    var window: Int?

    @Option(name: .long, help: "NTK lambda (base multiplier).")
    var ntkLambda: Double?

    @Option(name: .long, help: "Extension factor s for GP, PI, YaRN and dynamic NTK (default ceil(Lt/Lo)).")
    var factor: Double?

    @Flag(name: .long, help: "Switch attention scaling off (on by default, as in the paper).")
    var noAttentionScaling = false

    @Flag(name: .long, help: "Reproduce the official LongEmbed code's behaviour where it differs from the paper.")
    var official = false

    /// The methods named in --extension, each with the explicit parameters given.
    func extensions() throws -> [(name: String, value: ContextExtension)] {
        let names = extensionNames.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--extension needs at least one method") }
        return try names.map { name in
            guard let base = ContextExtension.method(named: name) else {
                throw ValidationError("unknown extension '\(name)'; use none, pcw, gp, rp, pi, ntk, self-extend, yarn or dynamic-ntk")
            }
            let method: ContextExtension.Method
            switch base {
            case .groupedPositions: method = .groupedPositions(factor: factor.map { Int($0.rounded(.up)) })
            case .positionInterpolation: method = .positionInterpolation(factor: factor)
            case .ntk: method = .ntk(lambda: ntkLambda)
            case .selfExtend: method = .selfExtend(group: group, window: window)
            case .yarn: method = .yarn(factor: factor)
            case .dynamicNTK: method = .dynamicNTK(factor: factor)
            default: method = base
            }
            if case .none = method {} else if extendTo == nil {
                throw ValidationError("--extension \(name) needs --extend-to N (the target length in tokens)")
            }
            let ext = ContextExtension(method, targetLength: extendTo, attentionScaling: !noAttentionScaling,
                                       official: official ? .all : .init())
            return (name, ext)
        }
    }
}
