// LongEmbed benchmark suites. Every figure is a median over repeats (LongEmbed's BenchmarkTimer,
// ContinuousClock), and every kernel figure is printed beside a reference measured in the same
// run (OpenBLAS sgemm of equal FLOPs), so ratios stay meaningful on a shared, noisy machine.
//
//   swift run -c release LongEmbedBenchmarks                 # all suites, quick sizes
//   swift run -c release LongEmbedBenchmarks attention-32k   # the README's 32k figures
//   swift run -c release LongEmbedBenchmarks attention-once 4096 2 # one call, L heads (callgrind)
import Foundation
import LongEmbed

func attention(_ lengths: [Int], headDims: [Int], repeats: Int) throws {
    print("## attention vs OpenBLAS sgemm (same run)")
    for d in headDims {
        for n in lengths {
            let heads = d == 32 ? 12 : 768 / d
            let plain = try AttentionBenchmark.run(tokens: n, heads: heads, headDim: d, selfExtend: nil, repeats: repeats)
            print(String(format: "L=%6d heads=%2d d=%3d  attention %.3f s %6.1f GFLOP/s  sgemm %6.1f GFLOP/s  ratio %.2f  peak RSS %.0f MiB",
                         n, heads, d, plain.seconds, plain.gflops, plain.sgemmGflops, plain.ratio,
                         Double(plain.peakResidentBytes ?? 0) / 1_048_576))
        }
    }
}

func selfExtend(_ lengths: [Int], repeats: Int) throws {
    print("## SelfExtend (g=9, w=512) vs plain attention (same run), 12 heads, d=64")
    for n in lengths {
        let r = try AttentionBenchmark.run(tokens: n, heads: 12, headDim: 64, selfExtend: (9, 512), repeats: repeats)
        print(String(format: "L=%6d  SelfExtend %.3f s  plain %.3f s  ratio %.2f", n, r.seconds, r.plainSeconds ?? 0,
                     r.seconds / (r.plainSeconds ?? r.seconds)))
    }
}

func tokenizer(model: URL) throws {
    print("## tokenizer")
    let tok = try Tokenizer.load(directory: model)
    let text = String(repeating: SyntheticData.filler + " ", count: 1400)
    var n = 0
    let t = BenchmarkTimer.median(repeats: 5) { n = tok.encode(text).count }
    print(String(format: "%d tokens in %.4f s: %.0f tokens/s", n, t, Double(n) / t))
}

func encoder(model url: URL, lengths: [Int]) throws {
    // One model for every length; Lo is the model's trained context.
    let model = try Model(directory: url)
    let lo = model.trainedContext.tokens
    print("## encoder end to end (PI past Lo = \(lo) tokens)")
    for n in lengths {
        let ext: ContextExtension = n <= lo ? .none : ContextExtension(.positionInterpolation(), targetLength: n)
        let r = try EncoderBenchmark.run(tokens: n, batch: 1, repeats: 3, profile: false) { k in
            try Encoder(model: model, options: EncoderOptions(maxTokens: n <= lo ? n : nil, contextExtension: ext,
                                                              batchTokens: max(8192, n)), kernels: k)
        }
        print(String(format: "tokens %6d  median %.3f s  %.0f tokens/s  peak RSS %.0f MiB", r.tokens, r.medianSeconds,
                     r.tokensPerSecond, Double(r.peakResidentBytes ?? 0) / 1_048_576))
    }
}

let args = Array(CommandLine.arguments.dropFirst())
let model = URL(fileURLWithPath: "../.models/all-MiniLM-L6-v2")
do {
    switch args.first ?? "all" {
    case "attention-32k":
        try attention([32768], headDims: [64, 32], repeats: 3)
        try selfExtend([32768], repeats: 3)
    case "attention-once":
        // One plain attention call (L tokens, h heads, d = 32), for instruction counting under
        // callgrind. The count is linear in the heads, so few heads keep valgrind's run short.
        let n = args.count > 1 ? Int(args[1]) ?? 4096 : 4096
        let h = args.count > 2 ? Int(args[2]) ?? 12 : 12
        let row = h * 32
        let q = (0..<(n * row)).map { Float(($0 * 7919) % 2003) / 1001.5 - 1 }
        let k = (0..<(n * row)).map { Float(($0 * 104_729) % 1999) / 999.5 - 1 }
        var out = [Float](repeating: 0, count: n * row)
        try NativeKernels().attention(shape: AttentionShape(queries: n, keys: n, heads: h, headDim: 32), q: q, k: k, v: q, out: &out)
        print(out[0])
    case "all":
        try attention([1024, 4096], headDims: [64, 32], repeats: 3)
        try selfExtend([4096], repeats: 3)
        try tokenizer(model: model)
        try encoder(model: model, lengths: [512, 2048])
    default:
        print("suites: all, attention-32k, attention-once [L [heads]]")
    }
} catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
    exit(1)
}
