/// Positions of bidirectional SelfExtend (Jin et al. 2024, arXiv:2401.01325, in the form of
/// LongEmbed's official code).
///
/// With neighbour window `w` and group size `g`, `shift = w' - floor(w'/g)` where `w' = w`,
/// except `w' = 0` when the largest position `L - 1` is below `w` (the official code's rule).
/// Pairs with `|i - j| < w` use ordinary positions; for `j <= i` the query sits at
/// `floor(i/g) + shift` and the key at `floor(j/g)`; for `j > i` the query at `floor(i/g)` and
/// the key at `floor(j/g) + shift`.
public enum SelfExtendPlanner {
    /// Per-token positions of the three rotations.
    public struct Positions: Sendable, Equatable {
        /// `i`: used where `|i - j| < window`.
        public var normal: [Float]
        public var queryLower: [Float]
        public var keyLower: [Float]
        public var queryUpper: [Float]
        public var keyUpper: [Float]
        /// The neighbour window the merged attention uses.
        public var window: Int
        /// The shift applied to grouped positions.
        public var shift: Int
    }

    /// The positions for a sequence of `length` tokens.
    public static func positions(length: Int, group g: Int, window w: Int) -> Positions {
        let g = max(g, 1)
        let effective = (length - 1) < w ? 0 : w
        let shift = effective - effective / g
        let normal = (0..<length).map { Float($0) }
        let grouped = (0..<length).map { Float($0 / g) }
        let shifted = (0..<length).map { Float($0 / g + shift) }
        return Positions(normal: normal, queryLower: shifted, keyLower: grouped,
                         queryUpper: grouped, keyUpper: shifted, window: w, shift: shift)
    }

    /// The distance `|q_pos - k_pos|` that query `i` sees for key `j`, for every pair: the
    /// relative-position matrix the merged attention realizes. For 10 tokens, `w = 4`, `g = 2`,
    /// row 0 is `[0, 1, 2, 3, 4, 4, 5, 5, 6, 6]` (the paper's example).
    public static func relativePositionMatrix(length: Int, group g: Int, window w: Int) -> [[Int]] {
        let p = positions(length: length, group: g, window: w)
        return (0..<length).map { i in
            (0..<length).map { j in
                if abs(i - j) < w { return j - i }
                if j <= i { return Int(p.keyLower[j] - p.queryLower[i]) }
                return Int(p.keyUpper[j] - p.queryUpper[i])
            }
        }
    }
}
