import Foundation

/// The paper's hyperparameter presets by extension factor (LongEmbed Table 6), continued past
/// s = 8 by the rules that produce the table's values.
public enum ExtensionPresets {
    /// `s = ceil(Lt / Lo)`, at least 1.
    public static func factor(targetLength: Int, originalLength: Int) -> Int {
        max(1, (targetLength + originalLength - 1) / originalLength)
    }

    /// NTK lambda for extension factor `s`: `s + max(1, s / 4)`, which gives Table 6's 3 / 5 / 10
    /// at s = 2 / 4 / 8 and keeps growing with `s` (20 at s = 16, 40 at s = 32); 1 for s <= 1.
    public static func ntkLambda(factor s: Int) -> Double {
        guard s > 1 else { return 1 }
        return Double(s) + max(1, Double(s) / 4)
    }

    /// SelfExtend (g, w) for factor `s` and original length `Lo`: `g = s + 1`, `w = Lo / s`,
    /// which gives Table 6's (3, Lo/2), (5, Lo/4), (9, Lo/8) at s = 2, 4, 8 and (17, Lo/16) at 16.
    public static func selfExtend(factor s: Int, originalLength lo: Int) -> (group: Int, window: Int) {
        let s = max(s, 1)
        return (s + 1, max(1, lo / s))
    }
}

// MARK: - RoPE frequency scalings

/// Inverse-frequency tables of the RoPE scalings (Hugging Face `rope_scaling` formulas).
public enum RoPEScaling {
    /// `inv_freq[j] = base^(-2j/d)` for `j < d/2`, computed as `1 / base^(2j/d)` in Double and
    /// rounded to Float.
    public static func inverseFrequencies(headDim d: Int, base: Double) -> [Float] {
        (0..<(d / 2)).map { j in Float(1 / pow(base, Double(2 * j) / Double(d))) }
    }

    /// Dynamic NTK (HF "dynamic"): for sequences longer than `Lo`,
    /// `base' = base * (s * L / Lo - (s - 1))^(d / (d - 2))`; shorter ones keep `base`.
    public static func dynamicNTK(headDim d: Int, base: Double, factor s: Double, originalLength lo: Int,
                                  sequenceLength n: Int) -> [Float] {
        guard n > lo else { return inverseFrequencies(headDim: d, base: base) }
        let b = base * pow(s * Double(n) / Double(lo) - (s - 1), Double(d) / Double(d - 2))
        return inverseFrequencies(headDim: d, base: b)
    }

    /// YaRN (Peng et al. 2023, arXiv:2309.00071) as Hugging Face computes it: interpolated
    /// frequencies below the `beta_slow = 1` rotation boundary, extrapolated ones above
    /// `beta_fast = 32`, a linear ramp between, and attention factor `0.1 ln s + 1` applied to
    /// both cos and sin (so the logits scale by its square).
    public static func yarn(headDim d: Int, base: Double, factor s: Double, originalLength lo: Int)
        -> (inverseFrequencies: [Float], attentionFactor: Double) {
        let betaFast = 32.0, betaSlow = 1.0
        func correctionDim(_ rotations: Double) -> Double {
            Double(d) * log(Double(lo) / (rotations * 2 * Double.pi)) / (2 * log(base))
        }
        let low = max(floor(correctionDim(betaFast)), 0)
        var high = min(ceil(correctionDim(betaSlow)), Double(d - 1))
        if high == low { high += 0.001 }
        let half = d / 2
        var out = [Float](repeating: 0, count: half)
        for j in 0..<half {
            let posFreq = pow(base, Double(2 * j) / Double(d))
            let extrapolation = 1 / posFreq
            let interpolation = 1 / (s * posFreq)
            let ramp = min(max((Double(j) - low) / (high - low), 0), 1)
            let extrapolationWeight = 1 - ramp
            out[j] = Float(interpolation * (1 - extrapolationWeight) + extrapolation * extrapolationWeight)
        }
        let mscale = s <= 1 ? 1 : 0.1 * log(s) + 1
        return (out, mscale)
    }
}
