import CKernels
import Foundation
import Testing
import LongEmbed

@Suite struct RuntimeTests {
    @Test func threadsCanBeSet() throws {
        let before = NativeRuntime.threads
        try NativeRuntime.setThreads(1)
        #expect(NativeRuntime.threads == 1 || !NativeRuntime.openMPEnabled)
        try NativeRuntime.setThreads(max(before, 1))
        #expect(throws: KernelError.self) { try NativeRuntime.setThreads(0) }
    }

    /// OpenBLAS 0.3.21 falls back to SSE3 kernels on CPUs newer than itself; the runtime must
    /// have re-selected AVX2/AVX-512 kernels on an AVX2 machine (unless the user chose a core).
    @Test func blasRunsVectorKernelsOnAVX2Machines() {
        let env = ProcessInfo.processInfo.environment
        guard NativeRuntime.detectedISA >= .avx2, env["OPENBLAS_CORETYPE"] == nil, env["LONGEMBED_KEEP_BLAS_CORE"] == nil else { return }
        let old = ["prescott", "core2", "penryn", "dunnington", "nehalem", "sandybridge", "atom", "katmai", "coppermine",
                   "northwood", "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "bulldozer", "piledriver", "nano"]
        #expect(!old.contains(NativeRuntime.blasCore.lowercased()), "OpenBLAS runs \(NativeRuntime.blasCore) kernels")
    }

    @Test func clockProbeMeasuresCoresAndRejectsBadArguments() throws {
        var seconds = 0.0
        #expect(ck_clock_probe(0, 10, &seconds) == CK_ERR_INVALID_VALUE)
        #expect(ck_clock_probe(1, 0, &seconds) == CK_ERR_INVALID_VALUE)
        #expect(ck_clock_probe(1, 10, nil) == CK_ERR_NULL_POINTER)
        #expect(ck_clock_probe(1, 1 << 16, &seconds) == CK_OK && seconds > 0)
        let iterations = try ScalingBenchmark.calibrateProbe(seconds: 0.01)
        let cores = try ScalingBenchmark.probeCores(threads: 2, iterations: iterations)
        #expect(cores > 0.3 && cores < 2.6, "\(cores)")
    }

    @Test func scalingBenchmarkReportsEveryRound() throws {
        var calls = 0
        let r = try ScalingBenchmark.run(threads: 2, rounds: 3) { calls += 1 }
        #expect(r.rounds.count == 3 && calls == 2 + 2 * 3)
        #expect(r.rounds.allSatisfy { $0.oneThreadSeconds >= 0 && $0.manyThreadSeconds >= 0 && $0.probeCores > 0 })
        #expect(throws: KernelError.self) { try ScalingBenchmark.run(threads: 1, rounds: 1) {} }
    }

    @Test func numaReportsAtLeastOneNode() {
        #expect(NativeRuntime.numaNodes >= 1)
    }
}
