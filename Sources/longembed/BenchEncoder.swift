import ArgumentParser
import Foundation
import LongEmbed

/// `longembed bench encoder`: end-to-end throughput, peak RSS and an optional per-op profile.
struct BenchEncoder: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Time the encoder on synthetic documents: tokens/s, peak RSS, and per-operation profile.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Comma-separated document lengths in tokens.")
    var tokens: String = "512"

    @Option(name: .long, help: "Documents per call.")
    var batch: Int = 1

    @Option(name: .long, help: "Timed repeats (median reported).")
    var repeats: Int = 3

    @Option(name: .customLong("extension"), help: "Extension for lengths past the model's context (default pi).")
    var extensionName: String = "pi"

    @Flag(name: .long, help: "Print the time per operation of the last forward pass.")
    var profile = false

    func run() throws {
        try modelOptions.applyThreads()
        let lengths = try tokens.split(separator: ",").map { s -> Int in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= 2, n <= EncoderBenchmark.maxDocumentTokens else {
                throw ValidationError("--tokens takes lengths from 2 to \(EncoderBenchmark.maxDocumentTokens), got '\(s)'")
            }
            return n
        }
        guard batch >= 1, repeats >= 1 else { throw ValidationError("--batch and --repeats must be at least 1") }
        guard let method = ContextExtension.method(named: extensionName) else {
            throw ValidationError("unknown extension '\(extensionName)'")
        }
        let url = URL(fileURLWithPath: modelOptions.model)
        print("model: \(url.lastPathComponent)  isa: \(NativeRuntime.isa)  threads: \(NativeRuntime.threads)  kernels: \(DefaultKernels.self)")
        let lo = try ModelConfig.load(directory: url).maxPositionEmbeddings
        for n in lengths {
            let ext: ContextExtension = n <= lo ? .none : ContextExtension(method, targetLength: n)
            let options = EncoderOptions(maxTokens: n <= lo ? n : nil, contextExtension: ext,
                                         batchTokens: max(8192, n))
            let r = try EncoderBenchmark.run(tokens: n, batch: batch, repeats: repeats, profile: profile) { k in
                try Encoder(directory: url, options: options, kernels: k)
            }
            let rss = r.peakResidentBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "n/a"
            print(String(format: "tokens %6d  batch %3d  extension %@  median %.3f s  %.0f tokens/s  tokenize %.4f s  peak RSS %@",
                         r.tokens, r.batch, ext.description, r.medianSeconds, r.tokensPerSecond, r.tokenizeSeconds, rss))
            if profile { print(EncoderBenchmark.formatProfile(r.profile)) }
        }
    }
}
