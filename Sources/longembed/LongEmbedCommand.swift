import ArgumentParser
import Foundation
import LongEmbed

@main
struct LongEmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "longembed",
        abstract: "Long-context text embeddings on multicore CPUs (LongEmbed, Zhu et al. 2024).",
        subcommands: [Embed.self, Tokenize.self, Eval.self, DataCommand.self, Bench.self, Models.self]
    )

    /// Runs the command; on SIGINT, SIGTERM or SIGHUP unfinished outputs' temporary files are
    /// removed first, so an interrupted run leaves no `.partial-*` file and no changed output.
    static func main() {
        StandardInput.checkOpen()
        TemporaryFiles.removeOnTermination()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Whether the process started with standard input closed (`<&-`).
enum StandardInput {
    nonisolated(unsafe) private(set) static var wasClosed = false

    /// Call first thing in `main`: when descriptor 0 is closed, remember it and park /dev/null
    /// there, so that no file opened later takes descriptor 0 and is read as input.
    static func checkOpen() {
        guard fcntl(0, F_GETFD) == -1 else { return }
        wasClosed = true
        _ = open("/dev/null", O_RDONLY)
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks and machine information.",
        subcommands: [Info.self, BenchAttention.self, BenchEncoder.self, BenchLinear.self, BenchScaling.self, BenchSGEMM.self, BenchTokenizer.self]
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
