import ArgumentParser
import Foundation
import LongEmbed

/// Parses "256-4096" (the synthetic lengths in that range) or "256,1024" (lengths from 16 to
/// ``SyntheticData/maxLength``).
func parseLengths(_ s: String) throws -> [Int] {
    if s.contains("-") {
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("--lengths takes A-B or a list, got '\(s)'") }
        let r = LongEmbedTask.syntheticLengths.filter { $0 >= parts[0] && $0 <= parts[1] }
        guard !r.isEmpty else { throw ValidationError("--lengths \(s) contains none of \(LongEmbedTask.syntheticLengths)") }
        return r
    }
    let list = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    let valid = list.compactMap { $0 }.filter { (16...SyntheticData.maxLength).contains($0) }
    guard !list.isEmpty, valid.count == list.count else {
        throw ValidationError("--lengths takes A-B or a list of lengths from 16 to \(SyntheticData.maxLength), got '\(s)'")
    }
    return valid
}

/// `--tasks`: a comma-separated list of task names, or `all`.
struct TaskSelection: ExpressibleByArgument {
    var tasks: [LongEmbedTask]

    init(_ tasks: [LongEmbedTask]) { self.tasks = tasks }

    init?(argument: String) {
        if argument == "all" { tasks = LongEmbedTask.allCases; return }
        let parsed = argument.split(separator: ",").map { LongEmbedTask.named(String($0)) }
        guard !parsed.isEmpty, parsed.allSatisfy({ $0 != nil }) else { return nil }
        tasks = parsed.compactMap { $0 }
    }

    var defaultValueDescription: String { tasks.map(\.shortName).joined(separator: ",") }
    static var allValueStrings: [String] { LongEmbedTask.allCases.map(\.shortName) + ["all"] }
}

/// `longembed eval`: the LongEmbed benchmark.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run LongEmbed tasks and write MTEB-compatible results, a Table-2 summary and an SVG chart.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var extensionOptions: ExtensionOptions

    @Option(name: .long, help: "Dataset folder in the published layout (DIR/<task>/{corpus,queries,qrels}.jsonl). Without it, passkey and needle are generated.")
    var data: String?

    @Option(name: .long, help: "Tasks: passkey, needle, narrativeqa, qmsum, wikimqa, summscreenfd (comma-separated), or all.")
    var tasks = TaskSelection([.passkey, .needle])

    @Option(name: .long, help: "Synthetic context lengths: A-B or a list.")
    var lengths: String = "256-32768"

    @Option(name: .long, help: "Result folder.")
    var output: String = "results"

    @Option(name: .long, help: "At most this many documents per split (quick runs).")
    var maxDocs: Int?

    @Option(name: .long, help: "Documents per embedding batch.")
    var batchSize: Int = 16

    @Option(name: .long, help: "Embedding cache folder ('none' to disable).")
    var cache: String = ".cache/embeddings"

    @Option(name: .long, help: "Seed of the generated passkey and needle data.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Needle haystack: a folder of .txt files or one file (default: the King James Bible from `make setup`).")
    var haystack: String?

    func validate() throws {
        _ = try parseLengths(lengths)
        guard (1...CLIBounds.maxBatch).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and \(CLIBounds.maxBatch), got \(batchSize)")
        }
        if let maxDocs, !(2...1_000_000).contains(maxDocs) { throw ValidationError("--max-docs must be between 2 and 1000000, got \(maxDocs)") }
        if data == nil, let real = tasks.tasks.first(where: { !$0.isSynthetic }) {
            throw ValidationError("task \(real.shortName) needs --data DIR: download the Hugging Face dataset dwzhu/LongEmbed and pass its folder")
        }
    }

    func run() throws {
        try modelOptions.applyThreads()
        let lengthList = try parseLengths(lengths)
        // One model, shared by every setting: the weights are in memory once.
        let model = try modelOptions.loadModel()
        var settings: [EvaluationSetting] = []
        for (name, ext) in try extensionOptions.contextExtensions(defaultTarget: lengthList.max()) {
            // Without extension the benchmark truncates at the model's context Lo (as the paper's
            // baselines do), not at sentence-transformers' shorter default max_seq_length.
            let isNone: Bool = { if case .none = ext.method { return true } else { return false } }()
            let maxTokens = modelOptions.maxTokens ?? (isNone ? model.trainedContext.tokens : nil)
            let options = EncoderOptions(pooling: modelOptions.pooling, maxTokens: maxTokens,
                                         prefixes: modelOptions.prefixes(for: model), contextExtension: ext,
                                         dimensions: modelOptions.dimensions)
            settings.append(EvaluationSetting(name: name, embedder: try Encoder(model: model, options: options)))
        }
        let runner = EvaluationRunner(settings: settings, tasks: tasks.tasks, lengths: lengthList, maxDocs: maxDocs,
                                      batchSize: batchSize, cache: cache == "none" ? nil : EmbeddingCache(directory: URL(fileURLWithPath: cache)),
                                      showProgress: true)
        let results = try runner.run { task throws(EvaluationError) -> RetrievalSet in try loadTask(task, lengths: lengthList) }
        try writeResults(results, settings: settings, modelName: model.directory.standardizedFileURL.lastPathComponent)
        let rss = ProcessMemory.peakResidentBytes().map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "n/a"
        print("model: Lo = \(model.trainedContext); weights loaded once, shared by \(settings.count) setting(s); peak RSS \(rss)")
        print("results: \(output)/ (per-setting MTEB JSON, summary.md, accuracy.svg); texts embedded this run: \(runner.embedded.count)")
    }

    /// A task's data: the published folder, or generated (only the documents --max-docs keeps).
    private func loadTask(_ task: LongEmbedTask, lengths: [Int]) throws(EvaluationError) -> RetrievalSet {
        if let data { return try RetrievalDataIO.load(task: task, from: URL(fileURLWithPath: data)) }
        if task == .passkey { return SyntheticData.passkey(lengths: lengths, seed: seed, maxDocs: maxDocs) }
        let text = try SyntheticData.loadHaystack(URL(fileURLWithPath: haystack ?? SyntheticData.defaultHaystackFile))
        return try SyntheticData.needle(haystack: text, lengths: lengths, seed: seed, maxDocs: maxDocs)
    }

    /// What the setting fed the model, beside its scores: the prompts (instruction included),
    /// the special tokens around every text, pooling, method and `Lo`.
    static func settingJSON(_ e: Encoder, name: String) throws -> Data {
        let t = e.tokenizer
        let object: [String: Any] = [
            "setting": name, "family": e.model.family.rawValue, "extension": e.options.contextExtension.description,
            "query_prompt": e.prefixes.query, "document_prompt": e.prefixes.document,
            "prompt_source": e.options.prefixes == nil ? e.model.prefixSource : "command line",
            "tokens_before_text": t.prefixIDs.map { t.token(for: $0) ?? "" },
            "tokens_after_text": t.suffixIDs.map { t.token(for: $0) ?? "" },
            "pooling": e.pooling.rawValue, "normalize": e.normalizes, "dimensions": e.dimension,
            "trained_context": e.model.trainedContext.tokens, "max_tokens": e.tokenLimit,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    private func writeResults(_ results: [String: [TaskEvaluation]], settings: [EvaluationSetting], modelName: String) throws {
        let out = URL(fileURLWithPath: output)
        let revision = data == nil ? "generated-seed-\(seed)" : "local"
        var rows: [(name: String, evaluations: [TaskEvaluation])] = []
        for s in settings {
            let evaluations = results[s.name] ?? []
            rows.append(("\(modelName) + \(s.name)", evaluations))
            let dir = out.appendingPathComponent(s.name)
            for e in evaluations {
                try AtomicFile.write(try ResultWriter.mtebJSON(e, datasetRevision: revision),
                                     to: dir.appendingPathComponent("\(modelName)_\(e.task.rawValue).json"))
            }
            try AtomicFile.write(try ResultWriter.overallJSON(evaluations), to: dir.appendingPathComponent("\(modelName)_overall_results.json"))
            if let encoder = s.embedder as? Encoder {
                try AtomicFile.write(try Self.settingJSON(encoder, name: s.name), to: dir.appendingPathComponent("\(modelName)_setting.json"))
            }
        }
        let table = ResultWriter.markdownTable(rows: rows) + ResultWriter.lengthTable(rows: rows)
        try AtomicFile.write(Data(table.utf8), to: out.appendingPathComponent("summary.md"))
        try AtomicFile.write(Data(ResultWriter.svg(rows: rows).utf8), to: out.appendingPathComponent("accuracy.svg"))
        print(table)
    }
}

/// `longembed data`: write the synthetic tasks in the published layout.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Generate the synthetic LongEmbed tasks in the published layout.",
        subcommands: [Passkey.self, Needle.self])

    struct Passkey: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Passkey retrieval (the paper's recipe).")
        @Option(name: .long, help: "Output folder (the task goes to OUT/passkey/).") var out: String
        @Option(name: .long, help: "Context lengths: A-B or a list.") var lengths: String = "256-32768"
        @Option(name: .long, help: "Seed.") var seed: UInt64 = 0
        func run() throws {
            let set = SyntheticData.passkey(lengths: try parseLengths(lengths), seed: seed)
            try RetrievalDataIO.write(set, task: .passkey, to: URL(fileURLWithPath: out))
            print("wrote \(set.corpus.count) documents and \(set.queries.count) queries to \(out)/passkey/")
        }
    }

    struct Needle: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Needle retrieval: the project's facts in a public-domain haystack.")
        @Option(name: .long, help: "Output folder (the task goes to OUT/needle/).") var out: String
        @Option(name: .long, help: "Context lengths: A-B or a list.") var lengths: String = "256-32768"
        @Option(name: .long, help: "Seed.") var seed: UInt64 = 0
        @Option(name: .long, help: "Haystack: a folder of .txt files or one file.") var haystack: String?
        func run() throws {
            let text = try SyntheticData.loadHaystack(URL(fileURLWithPath: haystack ?? SyntheticData.defaultHaystackFile))
            let set = try SyntheticData.needle(haystack: text, lengths: try parseLengths(lengths), seed: seed)
            try RetrievalDataIO.write(set, task: .needle, to: URL(fileURLWithPath: out))
            print("wrote \(set.corpus.count) documents and \(set.queries.count) queries to \(out)/needle/")
        }
    }
}
