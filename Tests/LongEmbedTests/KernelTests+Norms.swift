import CKernels
import Foundation
import Testing
import LongEmbed

// RMSNorm, per-head RMSNorm, bias-free LayerNorm and the residual + norm epilogue: C kernels
// against the Swift oracle on every ISA this CPU has, at 1 and 2 threads.

extension NativeKernelTests {
    static let normKinds: [NormKind] = [.layerNorm, .rmsNorm(addOne: false), .rmsNorm(addOne: true)]

    /// Every norm output of `k` for one input, named.
    static func normOutputs(_ k: any LayerKernels, rows: Int, cols: Int) throws -> [(String, [Float])] {
        let x = TestSupport.randomFloats(rows * cols, seed: UInt64(rows * 7 + cols), scale: 3)
        let r0 = TestSupport.randomFloats(rows * cols, seed: 71)
        let g = TestSupport.randomFloats(cols, seed: 72), b = TestSupport.randomFloats(cols, seed: 73)
        var outs: [(String, [Float])] = []
        for addOne in [false, true] {
            var y = [Float](repeating: .nan, count: rows * cols)
            try k.rmsNorm(y: &y, x: x, weight: g, rows: rows, cols: cols, eps: 1e-6, addOne: addOne)
            var inPlace = x
            try inPlace.withUnsafeMutableBufferPointer { p throws(KernelError) in
                try k.rmsNorm(y: p.baseAddress!, x: p.baseAddress!, weight: g, rows: rows, cols: cols, eps: 1e-6, addOne: addOne)
            }
            outs += [("rmsNorm addOne \(addOne)", y), ("rmsNorm in place addOne \(addOne)", inPlace)]
        }
        var ln = [Float](repeating: .nan, count: rows * cols)
        try k.layerNorm(y: &ln, x: x, gamma: g, beta: nil, rows: rows, cols: cols, eps: 1e-5)
        var brl = [Float](repeating: .nan, count: rows * cols)
        try k.biasResidualLayerNorm(y: &brl, x: x, bias: b, residual: r0, gamma: g, beta: nil, rows: rows, cols: cols, eps: 1e-5)
        outs += [("layerNorm without beta", ln), ("biasResidualLayerNorm without beta", brl)]
        for kind in normKinds {
            for (bias, beta) in [(true, true), (false, false), (true, false)] {
                var residual = r0
                var y = [Float](repeating: .nan, count: rows * cols)
                try k.residualNorm(residual: &residual, x: x, bias: bias ? b : nil, y: &y, gamma: g, beta: beta ? b : nil,
                                   rows: rows, cols: cols, eps: 1e-6, kind: kind)
                outs += [("residualNorm \(kind) bias \(bias) beta \(beta): y", y), ("... residual", residual)]
            }
        }
        return outs
    }

    @Test(arguments: [(1, 1), (1, 7), (3, 9), (33, 15), (5, 17), (97, 383), (2, 385), (300, 384), (40, 1024)])
    func normsMatchOracle(rows: Int, cols: Int) throws {
        let ref = try Self.normOutputs(ReferenceKernels(), rows: rows, cols: cols)
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                try Self.normOutputs(NativeKernels(), rows: rows, cols: cols)
            }
            for ((name, a), (_, b)) in zip(ref, out) {
                let e = try TestSupport.nmse(a, b)
                #expect(e <= 1e-10, "\(name) \(rows)x\(cols) \(variant.testDescription): nmse \(e)")
            }
        }
    }

    /// The LayerNorm epilogue equals biasResidualLayerNorm bit for bit (same sum, same row
    /// normalization), and leaves the sum in `residual`; x may be the residual itself.
    @Test(arguments: [(1, 5), (33, 384), (300, 385)])
    func residualNormEqualsBiasResidualLayerNorm(rows: Int, cols: Int) throws {
        let x = TestSupport.randomFloats(rows * cols, seed: 5, scale: 2)
        let r0 = TestSupport.randomFloats(rows * cols, seed: 6)
        let g = TestSupport.randomFloats(cols, seed: 7), b = TestSupport.randomFloats(cols, seed: 8)
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                var fused = [Float](repeating: 0, count: rows * cols), old = fused, residual = r0
                try NativeKernels().residualNorm(residual: &residual, x: x, bias: b, y: &fused, gamma: g, beta: b,
                                                 rows: rows, cols: cols, eps: 1e-12, kind: .layerNorm)
                try NativeKernels().biasResidualLayerNorm(y: &old, x: x, bias: b, residual: r0, gamma: g, beta: b,
                                                          rows: rows, cols: cols, eps: 1e-12)
                #expect(fused == old, "\(variant.testDescription)")
                let sums: [Float] = (0..<(rows * cols)).map { (i: Int) -> Float in (x[i] + b[i % cols]) + r0[i] }
                #expect(residual == sums, "\(variant.testDescription)")
                var doubled = r0, y = fused
                try doubled.withUnsafeMutableBufferPointer { p throws(KernelError) in
                    try NativeKernels().residualNorm(residual: p.baseAddress!, x: p.baseAddress!, bias: nil, y: &y, gamma: g,
                                                     beta: nil, rows: rows, cols: cols, eps: 1e-6, kind: .rmsNorm(addOne: false))
                }
                #expect(doubled == r0.map { $0 + $0 })
            }
        }
    }

    @Test(arguments: [(1, 1, 2), (7, 4, 64), (33, 2, 128), (5, 3, 17), (300, 8, 64), (2, 16, 256)])
    func headRMSNormMatchesOracle(rows: Int, heads: Int, headDim: Int) throws {
        let stride = heads * headDim + 5
        let x0 = TestSupport.randomFloats(rows * stride, seed: UInt64(rows + heads + headDim), scale: 2)
        let w = TestSupport.randomFloats(headDim, seed: 9)
        for addOne in [false, true] {
            func run(_ k: any LayerKernels) throws -> [Float] {
                var x = x0
                try k.headRMSNorm(x: &x, stride: stride, rows: rows, heads: heads, headDim: headDim, weight: w, eps: 1e-6, addOne: addOne)
                return x
            }
            let ref = try run(ReferenceKernels())
            for variant in Variant.all {
                let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try run(NativeKernels()) }
                let e = try TestSupport.nmse(ref, out)
                #expect(e <= 1e-10, "addOne \(addOne) \(variant.testDescription): nmse \(e)")
                for r in 0..<rows { #expect(out[(r * stride + heads * headDim)..<((r + 1) * stride)] == x0[(r * stride + heads * headDim)..<((r + 1) * stride)]) }
                // Contiguous heads: the same as rmsNorm over [rows * heads, headDim].
                let packed: [Float] = (0..<rows).flatMap { (r: Int) -> ArraySlice<Float> in
                    x0[(r * stride)..<(r * stride + heads * headDim)]
                }
                var y = packed
                try withKernelMode(isa: variant.isa, threads: variant.threads) {
                    try NativeKernels().rmsNorm(y: &y, x: packed, weight: w, rows: rows * heads, cols: headDim, eps: 1e-6, addOne: addOne)
                }
                let outPacked: [Float] = (0..<rows).flatMap { (r: Int) -> ArraySlice<Float> in
                    out[(r * stride)..<(r * stride + heads * headDim)]
                }
                #expect(y == outPacked)
            }
        }
    }

    @Test func normKernelsRejectInvalidArguments() throws {
        let buf = [Float](repeating: 1, count: 64)
        var out = [Float](repeating: 0, count: 64)
        for k in [NativeKernels() as any LayerKernels, ReferenceKernels()] {
            var kinds: [(String, KernelErrorKind?, KernelErrorKind)] = []
            func check(_ name: String, _ expected: KernelErrorKind, _ body: () throws(KernelError) -> Void) {
                kinds.append((name, kernelErrorKind(body), expected))
            }
            check("rmsNorm eps 0", .invalidValue) { () throws(KernelError) in
                try k.rmsNorm(y: &out, x: buf, weight: buf, rows: 2, cols: 4, eps: 0, addOne: false)
            }
            check("rmsNorm rows 0", .invalidShape) { () throws(KernelError) in
                try k.rmsNorm(y: &out, x: buf, weight: buf, rows: 0, cols: 4, eps: 1e-6, addOne: true)
            }
            check("headRMSNorm stride", .invalidShape) { () throws(KernelError) in
                try k.headRMSNorm(x: &out, stride: 7, rows: 2, heads: 2, headDim: 4, weight: buf, eps: 1e-6, addOne: false)
            }
            check("headRMSNorm heads 0", .invalidShape) { () throws(KernelError) in
                try k.headRMSNorm(x: &out, stride: 8, rows: 2, heads: 0, headDim: 4, weight: buf, eps: 1e-6, addOne: false)
            }
            check("headRMSNorm eps nan", .invalidValue) { () throws(KernelError) in
                try k.headRMSNorm(x: &out, stride: 8, rows: 2, heads: 2, headDim: 4, weight: buf, eps: .nan, addOne: false)
            }
            check("residualNorm eps", .invalidValue) { () throws(KernelError) in
                var r = buf
                try k.residualNorm(residual: &r, x: buf, bias: nil, y: &out, gamma: buf, beta: nil, rows: 2, cols: 4, eps: -1, kind: .layerNorm)
            }
            check("residualNorm cols 0", .invalidShape) { () throws(KernelError) in
                var r = buf
                try k.residualNorm(residual: &r, x: buf, bias: nil, y: &out, gamma: buf, beta: nil, rows: 2, cols: 0, eps: 1e-6, kind: .layerNorm)
            }
            var r = buf
            r.withUnsafeMutableBufferPointer { p in
                let base = p.baseAddress!
                check("residualNorm y = residual", .invalidShape) { () throws(KernelError) in
                    try k.residualNorm(residual: base, x: buf, bias: nil, y: base, gamma: buf, beta: nil, rows: 2, cols: 4, eps: 1e-6,
                                       kind: .rmsNorm(addOne: false))
                }
                check("residualNorm y overlaps residual", .invalidShape) { () throws(KernelError) in
                    try k.residualNorm(residual: base, x: buf, bias: nil, y: base + 3, gamma: buf, beta: nil, rows: 2, cols: 4, eps: 1e-6,
                                       kind: .layerNorm)
                }
                check("residualNorm y = x", .invalidShape) { () throws(KernelError) in
                    try k.residualNorm(residual: &out, x: base, bias: nil, y: base, gamma: buf, beta: nil, rows: 2, cols: 4, eps: 1e-6,
                                       kind: .layerNorm)
                }
            }
            for (name, got, expected) in kinds { #expect(got == expected, "\(type(of: k)) \(name)") }
        }
        #expect(ck_rmsnorm_f32(&out, buf, nil, 2, 4, 1e-6, 0) == CK_ERR_NULL_POINTER)
        #expect(ck_head_rmsnorm_f32(nil, 8, 2, 2, 4, buf, 1e-6, 0) == CK_ERR_NULL_POINTER)
        var r = buf
        #expect(ck_residual_norm_f32(&r, buf, nil, &out, buf, nil, 2, 4, 1e-6, ck_norm_kind(rawValue: 9)) == CK_ERR_UNSUPPORTED)
        #expect(ck_layernorm_f32(&out, buf, buf, nil, 2, 4, 1e-6) == CK_OK)
    }
}

extension Array {
    /// The array concatenated `count` times.
    func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}
