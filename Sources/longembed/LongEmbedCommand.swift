import ArgumentParser
import LongEmbed

@main
struct LongEmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "longembed",
        abstract: "Long-context text embeddings on multicore CPUs (LongEmbed, Zhu et al. 2024).",
        subcommands: [Embed.self, Eval.self, DataCommand.self, Bench.self]
    )
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks and machine information.",
        subcommands: [Info.self, BenchAttention.self, BenchEncoder.self, BenchScaling.self, BenchSGEMM.self]
    )

    @Flag(name: .long, help: "Print the kernel runtime (same as `bench info`).")
    var info = false

    func run() throws {
        guard info else { throw CleanExit.helpRequest(self) }
        try Info().run()
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the kernel runtime: ISA, threads, OpenMP, NUMA topology.")
        func run() throws {
            print("isa:          \(NativeRuntime.isa)")
            print("openmp:       \(NativeRuntime.openMPEnabled ? "on" : "off")")
            print("threads:      \(NativeRuntime.threads)")
            print("numa nodes:   \(NativeRuntime.numaNodes)")
            print("blas core:    \(NativeRuntime.blasCore)")
            print("kernels:      \(String(describing: DefaultKernels.self))")
        }
    }
}
