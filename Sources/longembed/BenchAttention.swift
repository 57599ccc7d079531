import ArgumentParser
import LongEmbed

/// `longembed bench attention`: the attention kernel against OpenBLAS sgemm, same run.
struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Time the attention kernel (plain or SelfExtend) and OpenBLAS sgemm of equal FLOPs in one run.")

    @Option(name: .long, help: "Sequence length L.")
    var tokens: Int = 4096

    @Option(name: .long, help: "Heads.")
    var heads: Int = 12

    @Option(name: .long, help: "Head dimension d.")
    var headDim: Int = 64

    @Option(name: .long, help: "SelfExtend group and window, as G,W (e.g. 9,512).")
    var selfExtend: String?

    @Option(name: .long, help: "Timed repeats (median reported).")
    var repeats: Int = 3

    @Flag(name: .long, help: "Causal (decoder) attention; the bidirectional kernel is timed beside it.")
    var causal = false

    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (1...EncoderBenchmark.maxDocumentTokens).contains(tokens) else {
            throw ValidationError("--tokens must be between 1 and \(EncoderBenchmark.maxDocumentTokens), got \(tokens)")
        }
        guard (1...256).contains(heads), (1...1024).contains(headDim), (1...1000).contains(repeats) else {
            throw ValidationError("--heads must be 1...256, --head-dim 1...1024 and --repeats 1...1000")
        }
        // q, k, v and the output: 4 x L x heads x d floats.
        guard tokens * heads * headDim <= 1 << 31 else {
            throw ValidationError("--tokens x --heads x --head-dim must be at most 2^31 (4 buffers of 4 bytes each)")
        }
    }

    func run() throws {
        try threadOptions.apply()
        var se: (group: Int, window: Int)?
        if let selfExtend {
            let parts = selfExtend.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 2, parts[0] >= 1, parts[1] >= 0 else {
                throw ValidationError("--self-extend takes G,W with G >= 1 and W >= 0, e.g. 9,512")
            }
            se = (parts[0], parts[1])
        }
        print("isa: \(NativeRuntime.isa)  threads: \(NativeRuntime.threads)  openmp: \(NativeRuntime.openMPEnabled ? "on" : "off")  numa nodes: \(NativeRuntime.numaNodes)  blas: \(NativeRuntime.blasCore)")
        let r = try AttentionBenchmark.run(tokens: tokens, heads: heads, headDim: headDim, selfExtend: se, repeats: repeats,
                                           causal: causal)
        let kind = (causal ? "causal " : "") + (se.map { "SelfExtend g=\($0.group) w=\($0.window)" } ?? "attention")
        print(String(format: "%@  L=%d heads=%d d=%d  median %.3f s  %.1f GFLOP/s", kind, tokens, heads, headDim, r.seconds, r.gflops))
        print(String(format: "OpenBLAS sgemm (equal FLOPs, same run)  %.1f GFLOP/s  ratio %.2f", r.sgemmGflops, r.ratio))
        if let plain = r.plainSeconds {
            print(String(format: "plain attention (same run)  median %.3f s  SelfExtend / plain time %.2f", plain, r.seconds / plain))
        }
        if let full = r.bidirectionalGflops {
            print(String(format: "bidirectional attention (same run)  %.1f GFLOP/s  causal / bidirectional rate %.2f", full, r.gflops / full))
        }
        if let rss = r.peakResidentBytes {
            print(String(format: "peak RSS %.0f MiB", Double(rss) / 1_048_576))
        }
    }
}

/// `longembed bench sgemm`: the dense GEMM rate (OpenBLAS through CKernels) on this machine.
struct BenchSGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "Time C[m,n] = A[m,k] B[k,n] through ck_sgemm_f32 (OpenBLAS; the reference rate for the kernels).")

    @Option(name: .long, help: "Rows of C.") var m: Int = 2048
    @Option(name: .long, help: "Columns of C.") var n: Int = 2048
    @Option(name: .long, help: "Inner dimension.") var k: Int = 2048
    @Option(name: .long, help: "Timed repeats (median reported).") var repeats: Int = 5
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be between 1 and 1000") }
    }

    func run() throws {
        try threadOptions.apply()
        let r = try GEMMBenchmark.run(m: m, n: n, k: k, repeats: repeats)
        print(String(format: "sgemm %dx%dx%d  threads %d  blas %@  median %.4f s  %.1f GFLOP/s", m, n, k, NativeRuntime.threads,
                     NativeRuntime.blasCore, r.seconds, r.gflops))
    }
}

/// `longembed bench linear`: a projection with fp32 weights against the same with 16-bit weights
/// widened block by block (what a bf16 or fp16 model runs), alternating rounds of one run.
struct BenchLinear: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "Time y = x W^T with fp32 W and with bf16/fp16 W widened block by block, in one run.")

    @Option(name: .long, help: "Rows of x (tokens).") var rows: Int = 4096
    @Option(name: .customLong("in"), help: "Input features.") var inFeatures: Int = 4096
    @Option(name: .customLong("out"), help: "Output features.") var outFeatures: Int = 4096
    @Option(name: .long, help: "Weight format: bf16 or f16.") var format: String = "bf16"
    @Option(name: .long, help: "Rows of W widened per GEMM block (the encoder uses 512).") var blockRows: Int = 512
    @Option(name: .long, help: "Alternating rounds (medians reported).") var rounds: Int = 5
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        guard HalfFormat(rawValue: format) != nil else { throw ValidationError("--format must be bf16 or f16, got \(format)") }
        for (name, v, most) in [("--rows", rows, 1 << 20), ("--in", inFeatures, 1 << 20), ("--out", outFeatures, 1 << 20),
                                ("--block-rows", blockRows, 1 << 20), ("--rounds", rounds, 1000)] where !(1...most).contains(v) {
            throw ValidationError("\(name) must be between 1 and \(most), got \(v)")
        }
    }

    func run() throws {
        try threadOptions.apply()
        let f = HalfFormat(rawValue: format) ?? .bf16
        let r = try GEMMBenchmark.halfLinear(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, format: f,
                                             blockRows: blockRows, rounds: rounds)
        print(String(format: "linear %dx%d -> %d  threads %d  blas %@  fp32 W %.4f s (%.1f GFLOP/s)  %@ W, blocks of %d rows %.4f s (%.1f GFLOP/s)  ratio %.3f",
                     rows, inFeatures, outFeatures, NativeRuntime.threads, NativeRuntime.blasCore, r.fp32Seconds, r.fp32Gflops,
                     format, blockRows, r.halfSeconds, r.halfGflops, r.ratio))
    }
}
