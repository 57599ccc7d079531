import ArgumentParser
import Foundation
import LongEmbed

/// Parses "256-4096" (the synthetic lengths in that range) or "256,1024".
func parseLengths(_ s: String) throws -> [Int] {
    if s.contains("-") {
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("--lengths takes A-B or a list, got '\(s)'") }
        let r = LongEmbedTask.syntheticLengths.filter { $0 >= parts[0] && $0 <= parts[1] }
        guard !r.isEmpty else { throw ValidationError("--lengths \(s) contains none of \(LongEmbedTask.syntheticLengths)") }
        return r
    }
    let list = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !list.isEmpty, list.allSatisfy({ ($0 ?? 0) >= 16 }) else { throw ValidationError("--lengths takes A-B or a list of lengths >= 16, got '\(s)'") }
    return list.map { $0! }
}

/// `longembed eval`: the LongEmbed benchmark.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run LongEmbed tasks and write MTEB-compatible results, a Table-2 summary and an SVG chart.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var extensionOptions: ExtensionOptions

    @Option(name: .long, help: "Dataset folder in the published layout (DIR/<task>/{corpus,queries,qrels}.jsonl). Without it, passkey and needle are generated.")
    var data: String?

    @Option(name: .long, help: "Tasks: passkey, needle, narrativeqa, qmsum, wikimqa, summscreenfd, or all.")
    var tasks: String = "passkey,needle"

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

    func run() throws {
        try modelOptions.applyThreads()
        let taskList: [LongEmbedTask] = try tasks == "all" ? LongEmbedTask.allCases : tasks.split(separator: ",").map {
            guard let t = LongEmbedTask.named(String($0)) else {
                throw ValidationError("unknown task '\($0)'; use passkey, needle, narrativeqa, qmsum, wikimqa, summscreenfd or all")
            }
            return t
        }
        let lengthList = try parseLengths(lengths)
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let maxDocs, maxDocs < 2 { throw ValidationError("--max-docs must be at least 2") }
        if data == nil, let real = taskList.first(where: { !$0.isSynthetic }) {
            throw CLIError("task \(real.shortName) needs --data DIR: download the Hugging Face dataset dwzhu/LongEmbed and pass its folder")
        }
        var extOptions = extensionOptions
        if extOptions.extendTo == nil { extOptions.extendTo = lengthList.max() }
        let model = URL(fileURLWithPath: modelOptions.model)
        // Without extension the benchmark truncates at the model's context Lo (as the paper's
        // baselines do), not at sentence-transformers' shorter default max_seq_length.
        let contextLength = try ModelConfig.load(directory: model).maxPositionEmbeddings
        var settings: [EvaluationSetting] = []
        for (name, ext) in try extOptions.extensions() {
            let isNone: Bool = { if case .none = ext.method { return true } else { return false } }()
            let maxTokens = modelOptions.maxTokens ?? (isNone ? contextLength : nil)
            let options = EncoderOptions(pooling: try modelOptions.poolingMode(), maxTokens: maxTokens,
                                         prefixes: try modelOptions.prefixes(), contextExtension: ext)
            settings.append(EvaluationSetting(name: name, embedder: try Encoder(directory: model, options: options)))
        }
        let runner = EvaluationRunner(settings: settings, tasks: taskList, lengths: lengthList, maxDocs: maxDocs,
                                      batchSize: batchSize, cache: cache == "none" ? nil : EmbeddingCache(directory: URL(fileURLWithPath: cache)),
                                      showProgress: true)
        let dataDir = data.map { URL(fileURLWithPath: $0) }
        let haystackURL = URL(fileURLWithPath: haystack ?? SyntheticData.defaultHaystackFile)
        let seed = self.seed
        let results = try runner.run { task throws(EvaluationError) -> RetrievalSet in
            if let dataDir { return try RetrievalDataIO.load(task: task, from: dataDir) }
            if task == .passkey { return SyntheticData.passkey(lengths: lengthList, seed: seed) }
            return try SyntheticData.needle(haystack: try SyntheticData.loadHaystack(haystackURL), lengths: lengthList, seed: seed)
        }

        let out = URL(fileURLWithPath: output)
        let modelName = model.standardizedFileURL.lastPathComponent
        let revision = data == nil ? "generated-seed-\(seed)" : "local"
        var rows: [(name: String, evaluations: [TaskEvaluation])] = []
        for s in settings {
            let evaluations = results[s.name] ?? []
            rows.append(("\(modelName) + \(s.name)", evaluations))
            for e in evaluations {
                try AtomicFile.write(ResultWriter.mtebJSON(e, datasetRevision: revision),
                                     to: out.appendingPathComponent(s.name).appendingPathComponent("\(modelName)_\(e.task.rawValue).json"))
            }
            try AtomicFile.write(ResultWriter.overallJSON(evaluations),
                                 to: out.appendingPathComponent(s.name).appendingPathComponent("\(modelName)_overall_results.json"))
        }
        let table = ResultWriter.markdownTable(rows: rows) + ResultWriter.lengthTable(rows: rows)
        try AtomicFile.write(Data(table.utf8), to: out.appendingPathComponent("summary.md"))
        try AtomicFile.write(Data(ResultWriter.svg(rows: rows).utf8), to: out.appendingPathComponent("accuracy.svg"))
        print(table)
        print("results: \(out.path)/ (per-setting MTEB JSON, summary.md, accuracy.svg); texts embedded this run: \(runner.embedded.count)")
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
