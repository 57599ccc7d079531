import ArgumentParser
import Foundation
import LongEmbed

/// `longembed bench scaling`: 1 -> N thread speed-up with a clock probe around every round.
struct BenchScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Thread speed-up (1 vs N threads) of the encoder or the attention kernel, checked by a clock probe.",
        discussion: """
            Each round times the workload on 1 thread and on N threads back to back; a clock probe \
            (the same FMA-throughput loop on 1 and on N threads) runs right before and after the pair and \
            /proc/stat steal time is read during the N-thread run, so rounds in which the host did \
            not give N cores are visible and reported apart.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Workload: encoder (one document through the model) or attention (the kernel, 12 heads, d 32).")
    var workload: Workload = .encoder

    /// What `bench scaling` times.
    enum Workload: String, ExpressibleByArgument, CaseIterable { case encoder, attention }

    @Option(name: .customLong("tokens"), help: "Document length in tokens.")
    var length: Int = 4096

    @Option(name: .long, help: "Rounds (median reported).")
    var rounds: Int = 5

    func run() throws {
        let n = modelOptions.threads ?? NativeRuntime.threads
        guard n >= 2 else { throw ValidationError("--threads must be at least 2 (the machine reports \(NativeRuntime.threads))") }
        guard rounds >= 1, length >= 2, length <= EncoderBenchmark.maxDocumentTokens else {
            throw ValidationError("--rounds must be >= 1 and --tokens from 2 to \(EncoderBenchmark.maxDocumentTokens)")
        }
        let body: () throws -> Void
        switch workload {
        case .encoder:
            let model = try modelOptions.loadModel()
            let lo = model.trainedContext.tokens
            let ext: ContextExtension = length <= lo ? .none : ContextExtension(.positionInterpolation(), targetLength: length)
            let encoder = try Encoder(model: model, options: EncoderOptions(maxTokens: length <= lo ? length : nil,
                                                                              contextExtension: ext, batchTokens: max(8192, length)))
            let ids = EncoderBenchmark.document(tokens: length, tokenizer: encoder.tokenizer)
            body = { _ = try encoder.embed(tokenIDs: [ids]) }
        case .attention:
            let heads = 12, d = 32
            let q = (0..<(length * heads * d)).map { Float(($0 * 7919) % 2001 - 1000) / 1000 }
            var out = [Float](repeating: 0, count: q.count)
            let shape = AttentionShape(queries: length, keys: length, heads: heads, headDim: d)
            body = { try NativeKernels().attention(shape: shape, q: q, k: q, v: q, out: &out) }
        }
        print("workload: \(workload)  tokens: \(length)  isa: \(NativeRuntime.isa)  threads: 1 vs \(n)  blas: \(NativeRuntime.blasCore)")
        let r = try ScalingBenchmark.run(threads: n, rounds: rounds, workload: body)
        for (i, x) in r.rounds.enumerated() {
            let steal = x.stealFraction.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a"
            let busy = x.cpuUtilization.map { String(format: "%.0f%%", $0 * 100) } ?? "n/a"
            print(String(format: "round %d: 1 thread %.3f s  %d threads %.3f s  speed-up %.2fx  probe %.2f cores  per probe core %.2fx  cpu busy %@  steal %@",
                         i + 1, x.oneThreadSeconds, n, x.manyThreadSeconds, x.speedup, x.probeCores,
                         x.probeNormalizedSpeedup(threads: n), busy, steal))
        }
        let free = r.freeCoreRounds.count
        print(String(format: "median speed-up %.2fx over %d rounds; scaled to %d probe cores %.2fx", r.medianSpeedup, r.rounds.count,
                     n, r.medianProbeNormalizedSpeedup))
        if let s = r.medianSpeedupOnFreeCores {
            print(String(format: "median speed-up %.2fx over the %d rounds where the probe saw %d free cores", s, free, n))
        } else {
            print("the probe never saw \(n) free cores: no scaling figure can be claimed from this run")
        }
    }
}
