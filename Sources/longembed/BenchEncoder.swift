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
    var extensionKind: ExtensionKind = .pi

    @Flag(name: .long, help: "Print the time per operation of the last forward pass.")
    var profile = false

    /// Tokens one timed call may hold (batch x length).
    static let maxTokensPerCall = 1 << 24

    func validate() throws {
        guard (1...CLIBounds.maxBatch).contains(batch), (1...1000).contains(repeats) else {
            throw ValidationError("--batch must be between 1 and \(CLIBounds.maxBatch) and --repeats between 1 and 1000")
        }
        for n in try lengths() where n * batch > Self.maxTokensPerCall {
            throw ValidationError("--batch \(batch) x --tokens \(n) exceeds \(Self.maxTokensPerCall) tokens per call")
        }
    }

    private func lengths() throws -> [Int] {
        try tokens.split(separator: ",").map { s -> Int in
            guard let n = Int(s.trimmingCharacters(in: .whitespaces)), n >= 2, n <= EncoderBenchmark.maxDocumentTokens else {
                throw ValidationError("--tokens takes lengths from 2 to \(EncoderBenchmark.maxDocumentTokens), got '\(s)'")
            }
            return n
        }
    }

    func run() throws {
        try modelOptions.applyThreads()
        guard let method = extensionKind.method() else { throw ValidationError("--extension \(extensionKind.rawValue) is API-only") }
        let model = try modelOptions.loadModel()
        let lo = model.trainedContext.tokens
        print("model: \(model.directory.lastPathComponent)  Lo: \(model.trainedContext)  isa: \(NativeRuntime.isa)  threads: \(NativeRuntime.threads)  kernels: \(DefaultKernels.self)")
        for n in try lengths() {
            let ext: ContextExtension = n <= lo ? .none : ContextExtension(method, targetLength: n)
            let options = EncoderOptions(maxTokens: n <= lo ? n : nil, contextExtension: ext,
                                         batchTokens: min(max(8192, n), EncoderOptions.maxBatchTokens))
            let r = try EncoderBenchmark.run(tokens: n, batch: batch, repeats: repeats, profile: profile) { k in
                try Encoder(model: model, options: options, kernels: k)
            }
            let rss = r.peakResidentBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "n/a"
            print(String(format: "tokens %6d  batch %3d  extension %@  median %.3f s  %.0f tokens/s  tokenize %.4f s  peak RSS %@",
                         r.tokens, r.batch, ext.description, r.medianSeconds, r.tokensPerSecond, r.tokenizeSeconds, rss))
            if profile { print(EncoderBenchmark.formatProfile(r.profile)) }
        }
    }
}
