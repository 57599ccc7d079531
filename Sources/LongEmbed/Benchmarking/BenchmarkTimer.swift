/// Wall-clock timing shared by every benchmark: `ContinuousClock` (monotonic, counts time
/// asleep), seconds as `Double`, medians over repeats.
public enum BenchmarkTimer {
    /// `duration` in seconds.
    public static func seconds(_ duration: Duration) -> Double {
        let c = duration.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    /// Seconds one call of `body` takes.
    public static func seconds<E: Error>(_ body: () throws(E) -> Void) throws(E) -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        return seconds(start.duration(to: clock.now))
    }

    /// Seconds of each of `repeats` calls of `body`, in call order.
    public static func times<E: Error>(repeats: Int, _ body: () throws(E) -> Void) throws(E) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(max(0, repeats))
        for _ in 0..<max(0, repeats) { out.append(try seconds(body)) }
        return out
    }

    /// Median seconds of `repeats` timed calls of `body` (``Statistics/median(_:)``; NaN when
    /// `repeats < 1`). No warm-up call: make one first where it matters.
    public static func median<E: Error>(repeats: Int, _ body: () throws(E) -> Void) throws(E) -> Double {
        Statistics.median(try times(repeats: repeats, body))
    }
}

/// Summary statistics of benchmark samples.
public enum Statistics {
    /// The median of `xs`: the middle value, or the mean of the two middle values for an even
    /// count; NaN when `xs` is empty.
    public static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }
}
