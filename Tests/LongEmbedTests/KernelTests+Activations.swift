import CKernels
import Foundation
import Testing
import LongEmbed

// Bias + activation and the gated (GLU) product: C kernels against the Swift oracle on every
// ISA this CPU has, at 1 and 2 threads, and against Double on a dense sweep.

extension NativeKernelTests {
    /// Every activation output of `k` for one input, named: bias + activation with and without
    /// bias, and the gated product from separate buffers, from a fused [rows, 2 cols] buffer, and
    /// in place over the gate and over the up half.
    static func activationOutputs(_ k: any LayerKernels, rows: Int, cols: Int, activation: Activation) throws -> [(String, [Float])] {
        let x = TestSupport.randomFloats(rows * cols, seed: UInt64(rows * 11 + cols), scale: 6)
        let b = TestSupport.randomFloats(cols, seed: 91)
        var outs: [(String, [Float])] = []
        for bias in [true, false] {
            var y = x
            try k.biasActivation(x: &y, bias: bias ? b : nil, rows: rows, cols: cols, activation: activation)
            outs.append(("biasActivation bias \(bias)", y))
        }
        let inStride = cols + 1, outStride = cols + 3
        let gate = TestSupport.randomFloats(rows * inStride, seed: 92, scale: 6)
        let up = TestSupport.randomFloats(rows * inStride, seed: 93, scale: 2)
        var separate = [Float](repeating: -7, count: rows * outStride)
        try k.gatedActivation(out: &separate, outStride: outStride, gate: gate, up: up, inStride: inStride,
                              rows: rows, cols: cols, activation: activation)
        outs.append(("gated, separate buffers", separate))
        let fused = TestSupport.randomFloats(rows * 2 * cols, seed: 94, scale: 6)
        var compact = [Float](repeating: 0, count: rows * cols)
        try fused.withUnsafeBufferPointer { f throws(KernelError) in
            try k.gatedActivation(out: &compact, outStride: cols, gate: f.baseAddress!, up: f.baseAddress! + cols,
                                  inStride: 2 * cols, rows: rows, cols: cols, activation: activation)
        }
        outs.append(("gated, fused input", compact))
        for (name, outOffset) in [("gated in place over gate", 0), ("gated in place over up", cols)] {
            var buf = fused
            try buf.withUnsafeMutableBufferPointer { f throws(KernelError) in
                let p = f.baseAddress!
                try k.gatedActivation(out: p + outOffset, outStride: 2 * cols, gate: p, up: p + cols, inStride: 2 * cols,
                                      rows: rows, cols: cols, activation: activation)
            }
            outs.append((name, buf))
        }
        return outs
    }

    @Test(arguments: [(1, 1), (1, 8), (3, 9), (33, 15), (5, 17), (97, 383), (2, 385), (300, 384), (20, 1536)])
    func activationsMatchOracle(rows: Int, cols: Int) throws {
        for activation in Activation.allCases {
            let ref = try Self.activationOutputs(ReferenceKernels(), rows: rows, cols: cols, activation: activation)
            for variant in Variant.all {
                let out = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                    try Self.activationOutputs(NativeKernels(), rows: rows, cols: cols, activation: activation)
                }
                for ((name, a), (_, b)) in zip(ref, out) {
                    let e = try TestSupport.nmse(a, b)
                    #expect(e <= 1e-10, "\(activation) \(name) \(rows)x\(cols) \(variant.testDescription): nmse \(e)")
                }
            }
        }
    }

    /// biasGELU is biasActivation(.geluErf), bit for bit, on every path.
    @Test func biasGELUEqualsGeluErfActivation() throws {
        let x = TestSupport.randomFloats(37 * 101, seed: 3, scale: 8)
        let b = TestSupport.randomFloats(101, seed: 4)
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                var old = x, new = x
                try NativeKernels().biasGELU(x: &old, bias: b, rows: 37, cols: 101)
                try NativeKernels().biasActivation(x: &new, bias: b, rows: 37, cols: 101, activation: .geluErf)
                #expect(old == new, "\(variant.testDescription)")
            }
        }
    }

    /// f(x) in Double for the sweep, from forms stable in both tails, and the relative error
    /// allowed there: 3e-6, widened where fp32 rounding of the argument is amplified. Exact GELU:
    /// z = fl(|x| fl(1/sqrt 2)) carries two roundings, which move erfc(z) by up to
    /// z^2 * 2.4e-7 (as in geluMatchesDoubleOnADenseSweep). Tanh GELU: u is formed in fp32 (x^3,
    /// a product and a sum: <= 3 roundings of 6e-8), which moves exp(-2u) by up to |2u| * 1.8e-7.
    static func sweepReference(_ activation: Activation, _ x: Float) -> (value: Double, allowed: Double) {
        let v = Double(x)
        switch activation {
        case .geluErf:
            return (v * 0.5 * erfc(-v / 2.0.squareRoot()), 3e-6 + 2.4e-7 * v * v / 2)
        case .geluTanh:
            let twoU = 2 * (2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)
            return (v / (1 + exp(-twoU)), 3e-6 + abs(twoU) * 1.8e-7)   // x sigmoid(2u)
        case .silu:
            return (v / (1 + exp(-v)), 3e-6)
        }
    }

    /// Every activation against its Double value on a dense sweep of [-90, 90] in steps of 2e-4
    /// (SIMD body and scalar tail: 900,001 is not a multiple of 8), on the SIMD and the scalar
    /// path, through biasActivation and through gatedActivation with up = 1 (the same values),
    /// where |f(x)| > 1e-30.
    @Test func activationsMatchDoubleOnADenseSweep() throws {
        let n = 900_001
        let xs = (0..<n).map { Float(-90 + 180 * Double($0) / Double(n - 1)) }
        let ones = [Float](repeating: 1, count: n)
        for activation in Activation.allCases {
            for scalar in [false, true] {
                var ys = xs, gated = xs
                try withKernelMode(scalar: scalar, threads: 2) {
                    try NativeKernels().biasActivation(x: &ys, bias: nil, rows: 1, cols: n, activation: activation)
                    try NativeKernels().gatedActivation(out: &gated, outStride: n, gate: xs, up: ones, inStride: n,
                                                        rows: 1, cols: n, activation: activation)
                }
                #expect(ys == gated)
                var worst = 0.0, worstAt: Float = 0
                for (x, y) in zip(xs, ys) {
                    let ref = Self.sweepReference(activation, x)
                    guard abs(ref.value) > 1e-30 else { continue }
                    let e = abs(Double(y) - ref.value) / abs(ref.value) / ref.allowed
                    if e > worst { worst = e; worstAt = x }
                }
                #expect(worst <= 1, "\(activation) \(scalar ? "scalar" : "avx2"): \(worst) x the allowed bound at x = \(worstAt)")
            }
        }
        // Limits: large positive inputs give x, large negative ones 0 (or -0); 15 values fill
        // one SIMD vector and a scalar tail.
        let edges = [Float]([200, -200, 1e20, -1e20, 0].repeated(3))
        for activation in [Activation.geluTanh, .silu] {
            var ys = edges
            try NativeKernels().biasActivation(x: &ys, bias: nil, rows: 1, cols: ys.count, activation: activation)
            #expect(ys == [200, 0, 1e20, 0, 0].repeated(3), "\(activation)")
        }
    }

    @Test func activationKernelsRejectInvalidArguments() throws {
        let buf = [Float](repeating: 1, count: 64)
        var out = [Float](repeating: 0, count: 64)
        for k in [NativeKernels() as any LayerKernels, ReferenceKernels()] {
            let rows0 = kernelErrorKind { () throws(KernelError) in
                try k.biasActivation(x: &out, bias: nil, rows: 0, cols: 4, activation: .silu)
            }
            #expect(rows0 == .invalidShape)
            let narrowIn = kernelErrorKind { () throws(KernelError) in
                try k.gatedActivation(out: &out, outStride: 4, gate: buf, up: buf, inStride: 3, rows: 2, cols: 4, activation: .silu)
            }
            #expect(narrowIn == .invalidShape)
            let narrowOut = kernelErrorKind { () throws(KernelError) in
                try k.gatedActivation(out: &out, outStride: 2, gate: buf, up: buf, inStride: 8, rows: 2, cols: 4, activation: .geluTanh)
            }
            #expect(narrowOut == .invalidShape)
            var fused = buf
            fused.withUnsafeMutableBufferPointer { f in
                let p = f.baseAddress!
                for (o, name) in [(p, "gate"), (p + 4, "up")] {
                    let aliased = kernelErrorKind { () throws(KernelError) in
                        try k.gatedActivation(out: o, outStride: 4, gate: p, up: p + 4, inStride: 8, rows: 2, cols: 4, activation: .geluErf)
                    }
                    #expect(aliased == .invalidShape, "out = \(name) with outStride != inStride")
                }
            }
        }
        #expect(ck_bias_act_f32(&out, nil, 2, 4, ck_activation(rawValue: 7)) == CK_ERR_UNSUPPORTED)
        #expect(ck_gated_act_f32(&out, 4, buf, buf, 4, 2, 4, ck_activation(rawValue: 3)) == CK_ERR_UNSUPPORTED)
        #expect(ck_gated_act_f32(&out, 4, nil, buf, 4, 2, 4, CK_ACT_SILU) == CK_ERR_NULL_POINTER)
        #expect(ck_bias_act_f32(nil, nil, 2, 4, CK_ACT_SILU) == CK_ERR_NULL_POINTER)
    }
}
