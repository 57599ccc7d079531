import CKernels
import Foundation

/// One round of ``ScalingBenchmark``: the workload on one thread and on `threads` threads,
/// back to back, with the host's capacity measured around them.
public struct ScalingRound: Sendable {
    /// Seconds of the workload on one thread.
    public var oneThreadSeconds: Double
    /// Seconds of the workload on ``ScalingResult/threads`` threads.
    public var manyThreadSeconds: Double
    /// Cores' worth of CPU the host gave, by the clock probe right before and right after the
    /// timed pair (the lower of the two): `threads` when every thread had a free core.
    public var probeCores: Double
    /// Share of CPU time the hypervisor stole from this VM during the multi-thread run
    /// (`steal` in /proc/stat, all CPUs), or nil where the kernel does not report it.
    public var stealFraction: Double?
    /// CPU time of the process during the multi-thread run over `threads` x its wall time:
    /// below 1 where our threads waited (serial parts, imbalance; idle OpenMP threads sleep).
    public var cpuUtilization: Double?
    /// One-thread time over multi-thread time.
    public var speedup: Double { oneThreadSeconds / manyThreadSeconds }
    /// ``speedup`` scaled to `threads` full cores: `speedup * threads / probeCores` (the probe
    /// also drops when all cores busy run at a lower clock than one).
    public func probeNormalizedSpeedup(threads: Int) -> Double { speedup * Double(threads) / probeCores }
}

/// Result of ``ScalingBenchmark/run(threads:rounds:workload:)``.
public struct ScalingResult: Sendable {
    public var threads: Int
    public var rounds: [ScalingRound]
    /// Median speed-up over all rounds.
    public var medianSpeedup: Double { Statistics.median(rounds.map(\.speedup)) }
    /// Rounds in which the probe saw (nearly) a free core per thread, before and after.
    public var freeCoreRounds: [ScalingRound] { rounds.filter { $0.probeCores >= Double(threads) * 0.95 } }
    /// Median of ``ScalingRound/probeNormalizedSpeedup(threads:)`` over all rounds.
    public var medianProbeNormalizedSpeedup: Double { Statistics.median(rounds.map { $0.probeNormalizedSpeedup(threads: threads) }) }
    /// Median speed-up over ``freeCoreRounds``, or nil when the host never gave the cores.
    public var medianSpeedupOnFreeCores: Double? {
        let r = freeCoreRounds
        return r.isEmpty ? nil : Statistics.median(r.map(\.speedup))
    }
}

/// Thread scaling measured honestly on a shared host.
///
/// A VM's "two cores" are sometimes one core's worth of CPU. Each round times the workload on
/// one thread and on `threads` threads, and runs a clock probe (``ck_clock_probe``: the same
/// FMA-throughput loop on 1 and on `threads` pthreads, which also exposes hyperthread siblings
/// posing as cores) immediately before and after the pair, plus
/// the hypervisor's steal time during the multi-thread run. Rounds where the probe saw fewer
/// cores than threads say nothing about our scaling and are reported apart.
public enum ScalingBenchmark {
    /// Cores' worth of CPU available to `threads` threads right now (1 ... threads).
    public static func probeCores(threads: Int, iterations: Int64) throws(KernelError) -> Double {
        var one = 0.0, many = 0.0
        try checkStatus(ck_clock_probe(1, iterations, &one), "clock probe")
        try checkStatus(ck_clock_probe(Int32(threads), iterations, &many), "clock probe")
        return Double(threads) * one / many
    }

    /// Iterations of the probe chain that take about `seconds` on one free core.
    public static func calibrateProbe(seconds: Double = 0.1) throws(KernelError) -> Int64 {
        var t = 0.0
        let trial: Int64 = 1 << 22
        try checkStatus(ck_clock_probe(1, trial, &t), "clock probe")
        return max(trial, Int64(Double(trial) * seconds / max(t, 1e-6)))
    }

    /// Runs `rounds` rounds; the thread count is restored afterwards.
    public static func run(threads: Int, rounds: Int, workload: () throws -> Void) throws -> ScalingResult {
        guard threads >= 2, rounds >= 1 else {
            throw KernelError.invalidValue(operation: "bench scaling", detail: "threads must be >= 2 and rounds >= 1")
        }
        let before = NativeRuntime.threads
        defer { try? NativeRuntime.setThreads(before) }
        let iterations = try calibrateProbe()
        // Warm-up on both thread counts (page faults, OpenMP team creation).
        try NativeRuntime.setThreads(1); try workload()
        try NativeRuntime.setThreads(threads); try workload()
        var out: [ScalingRound] = []
        for _ in 0..<rounds {
            let p0 = try probeCores(threads: threads, iterations: iterations)
            try NativeRuntime.setThreads(1)
            let t1 = try BenchmarkTimer.seconds(workload)
            try NativeRuntime.setThreads(threads)
            let steal0 = CPUSteal.read()
            let cpu0 = processCPUSeconds()
            let tn = try BenchmarkTimer.seconds(workload)
            let cpu1 = processCPUSeconds()
            let steal1 = CPUSteal.read()
            let p1 = try probeCores(threads: threads, iterations: iterations)
            var stolen: Double?
            if let a = steal0, let b = steal1, b.total > a.total { stolen = Double(b.steal - a.steal) / Double(b.total - a.total) }
            out.append(ScalingRound(oneThreadSeconds: t1, manyThreadSeconds: tn, probeCores: min(p0, p1), stealFraction: stolen,
                                    cpuUtilization: tn > 0 ? (cpu1 - cpu0) / (tn * Double(threads)) : nil))
        }
        return ScalingResult(threads: threads, rounds: out)
    }

    /// User + system CPU seconds of the whole process so far.
    static func processCPUSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

/// Aggregate CPU jiffies from the first line of /proc/stat.
enum CPUSteal {
    static func read() -> (steal: UInt64, total: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let f = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard f.count >= 8 else { return nil }
        return (f[7], f.reduce(0, +))
    }
}
