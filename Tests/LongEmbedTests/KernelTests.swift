import CKernels
import Foundation
import Testing
import LongEmbed

/// Runs `body` with the ISA capped at `isa` and a thread count, restoring both.
func withKernelMode<T>(isa: KernelISA, threads: Int, _ body: () throws -> T) throws -> T {
    let before = NativeRuntime.threads
    NativeRuntime.limitISA(to: isa)
    try NativeRuntime.setThreads(threads)
    defer {
        NativeRuntime.limitISA(to: .avx512)
        try? NativeRuntime.setThreads(before)
    }
    return try body()
}

/// Runs `body` with the scalar path forced on, or with the best ISA of this CPU.
func withKernelMode<T>(scalar: Bool, threads: Int, _ body: () throws -> T) throws -> T {
    try withKernelMode(isa: scalar ? .scalar : NativeRuntime.detectedISA, threads: threads, body)
}

/// A kernel variant under test: every ISA this CPU has (scalar, AVX2, AVX-512), 1 and 2 threads.
struct Variant: CustomTestStringConvertible, Sendable {
    var isa: KernelISA
    var threads: Int
    var testDescription: String { "\(isa), \(threads) thread(s)" }
    static let all: [Variant] = KernelISA.allCases.filter { $0 <= NativeRuntime.detectedISA }.reversed()
        .flatMap { isa in [Variant(isa: isa, threads: 1), Variant(isa: isa, threads: 2)] }
}

// MARK: - Attention

struct AttentionCase: CustomTestStringConvertible, Sendable {
    var queries: Int, keys: Int, valid: Int, heads: Int, headDim: Int, fused: Bool
    var testDescription: String { "q\(queries) k\(keys) valid\(valid) h\(heads) d\(headDim)\(fused ? " fused" : "")" }

    static let all: [AttentionCase] = [
        .init(queries: 1, keys: 1, valid: 1, heads: 1, headDim: 32, fused: false),      // single token
        .init(queries: 7, keys: 7, valid: 7, heads: 2, headDim: 64, fused: false),      // odd length
        .init(queries: 33, keys: 33, valid: 33, heads: 3, headDim: 128, fused: true),   // odd, fused QKV
        .init(queries: 63, keys: 63, valid: 63, heads: 1, headDim: 32, fused: false),   // tile - 1
        .init(queries: 64, keys: 64, valid: 64, heads: 2, headDim: 64, fused: false),   // tile boundary
        .init(queries: 65, keys: 65, valid: 65, heads: 2, headDim: 32, fused: true),    // tile + 1
        .init(queries: 130, keys: 130, valid: 97, heads: 2, headDim: 64, fused: false), // padded keys
        .init(queries: 97, keys: 200, valid: 129, heads: 1, headDim: 128, fused: false),// queries != keys
        .init(queries: 40, keys: 40, valid: 40, heads: 2, headDim: 5, fused: false),    // SIMD tail only
        .init(queries: 70, keys: 70, valid: 70, heads: 3, headDim: 17, fused: true),    // 16 + 1
        .init(queries: 257, keys: 257, valid: 250, heads: 2, headDim: 48, fused: false),// 32 + 16
        .init(queries: 107, keys: 107, valid: 100, heads: 2, headDim: 64, fused: true), // 96 + 11: a strip of 11
    ]
}

/// Random q, k, v laid out as separate or fused buffers, with poisoned padding.
struct AttentionInputs {
    var shape: AttentionShape
    var q: [Float], k: [Float], v: [Float]
    var qOffset = 0, kOffset = 0, vOffset = 0

    init(_ c: AttentionCase, seed: UInt64, scale: Float = 1) {
        let row = c.heads * c.headDim
        if c.fused {
            let stride = 3 * row + 3
            let buf = TestSupport.randomFloats(max(c.queries, c.keys) * stride, seed: seed, scale: scale)
            q = buf; k = buf; v = buf
            kOffset = row; vOffset = 2 * row
            shape = AttentionShape(queries: c.queries, keys: c.keys, validKeys: c.valid, heads: c.heads, headDim: c.headDim,
                                   qStride: stride, kStride: stride, vStride: stride)
        } else {
            q = TestSupport.randomFloats(c.queries * row, seed: seed, scale: scale)
            k = TestSupport.randomFloats(c.keys * row, seed: seed + 1, scale: scale)
            v = TestSupport.randomFloats(c.keys * row, seed: seed + 2, scale: scale)
            shape = AttentionShape(queries: c.queries, keys: c.keys, validKeys: c.valid, heads: c.heads, headDim: c.headDim)
        }
        // Padding keys get huge values: they must not influence anything.
        if c.valid < c.keys && !c.fused {
            for j in c.valid..<c.keys { for x in 0..<row { k[j * row + x] = 1e30; v[j * row + x] = .nan } }
        }
    }

    func run(_ kernels: any AttentionKernels) throws -> [Float] {
        var out = [Float](repeating: 0, count: shape.queries * shape.outStride)
        try q.withUnsafeBufferPointer { qp in
            try k.withUnsafeBufferPointer { kp in
                try v.withUnsafeBufferPointer { vp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try kernels.attention(shape: shape, q: qp.baseAddress! + qOffset, k: kp.baseAddress! + kOffset,
                                              v: vp.baseAddress! + vOffset, out: op.baseAddress!)
                    }
                }
            }
        }
        return out
    }
}

/// Random inputs for SelfExtend: six independent q/k arrays and v (k and v with `kvHeads`
/// heads per row: grouped-query attention when fewer than `heads`).
struct SelfExtendCase {
    var n: Int, heads: Int, headDim: Int
    var arrays: [[Float]]
    var v: [Float]
    var shape: AttentionShape

    init(n: Int, heads: Int, headDim: Int, seed: UInt64, identical: Bool = false, kvHeads: Int? = nil,
         slidingWindow: Int = 0) {
        self.n = n; self.heads = heads; self.headDim = headDim
        let row = heads * headDim, kvRow = (kvHeads ?? heads) * headDim
        let base = TestSupport.randomFloats(n * row, seed: seed, scale: 1.5)
        let baseK = TestSupport.randomFloats(n * kvRow, seed: seed + 7, scale: 1.5)
        arrays = (0..<6).map { (i: Int) -> [Float] in
            if identical { return i % 2 == 0 ? base : baseK }
            let count = n * (i % 2 == 0 ? row : kvRow)
            return TestSupport.randomFloats(count, seed: seed + UInt64(i) * 13, scale: 1.5)
        }
        v = TestSupport.randomFloats(n * kvRow, seed: seed + 99)
        shape = AttentionShape(queries: n, keys: n, heads: heads, headDim: headDim, kvHeads: kvHeads, window: slidingWindow)
    }

    func run(_ kernels: any AttentionKernels, window: Int) throws -> [Float] {
        var out = [Float](repeating: 0, count: n * heads * headDim)
        let ptrs = arrays.map { a -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: a.count)
            p.initialize(from: a, count: a.count)
            return p
        }
        defer { ptrs.forEach { $0.deallocate() } }
        let inputs = SelfExtendInputs(q: ptrs[0], k: ptrs[1], qLower: ptrs[2], kLower: ptrs[3], qUpper: ptrs[4], kUpper: ptrs[5])
        try v.withUnsafeBufferPointer { vp in
            try out.withUnsafeMutableBufferPointer { op in
                try kernels.selfExtendAttention(shape: shape, window: window, inputs: inputs, v: vp.baseAddress!, out: op.baseAddress!)
            }
        }
        return out
    }

    func plain(_ kernels: any AttentionKernels) throws -> [Float] {
        var out = [Float](repeating: 0, count: n * heads * headDim)
        try arrays[0].withUnsafeBufferPointer { qp in
            try arrays[1].withUnsafeBufferPointer { kp in
                try v.withUnsafeBufferPointer { vp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try kernels.attention(shape: shape, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!)
                    }
                }
            }
        }
        return out
    }
}

/// C kernels against the Swift oracle. Serialized: the cases flip process-wide state (ISA, threads).
@Suite(.serialized) struct NativeKernelTests {
    @Test(arguments: AttentionCase.all)
    func attentionMatchesOracle(c: AttentionCase) throws {
        let inputs = AttentionInputs(c, seed: UInt64(c.queries * 31 + c.headDim))
        let reference = try inputs.run(ReferenceKernels())
        var outputs: [[Float]] = []
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try inputs.run(NativeKernels()) }
            let e = try TestSupport.nmse(reference, out)
            #expect(e <= 1e-8, "\(variant.testDescription): nmse \(e)")
            outputs.append(out)
        }
        // One and two threads agree.
        #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6)
        #expect(try TestSupport.maxAbsDiff(outputs[2], outputs[3]) <= 1e-6)
    }

    @Test func attentionWithLargeLogitsStaysStable() throws {
        // Sharp attention (logits in the hundreds) exercises the running max.
        let c = AttentionCase(queries: 150, keys: 150, valid: 150, heads: 2, headDim: 64, fused: false)
        let inputs = AttentionInputs(c, seed: 5, scale: 4)
        let reference = try inputs.run(ReferenceKernels())
        let out = try inputs.run(NativeKernels())
        #expect(out.allSatisfy { $0.isFinite })
        #expect(try TestSupport.nmse(reference, out) <= 1e-8)
    }

    @Test(arguments: [0, 1, 5, 63, 64, 65, 100, 128, 200, 400])
    func selfExtendMatchesOracle(window: Int) throws {
        let c = SelfExtendCase(n: 211, heads: 2, headDim: 32, seed: UInt64(window) + 3)
        let reference = try c.run(ReferenceKernels(), window: window)
        var outputs: [[Float]] = []
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try c.run(NativeKernels(), window: window) }
            let e = try TestSupport.nmse(reference, out)
            #expect(e <= 1e-8, "\(variant.testDescription) window \(window): nmse \(e)")
            outputs.append(out)
        }
        #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6)
    }

    @Test(arguments: [(1, 32), (64, 64), (130, 128), (97, 17)])
    func selfExtendReducesToPlainAttention(n: Int, headDim: Int) throws {
        // w >= L: every pair is a neighbour, so only (q, k) matter.
        let c = SelfExtendCase(n: n, heads: 2, headDim: headDim, seed: 11)
        let plain = try c.plain(ReferenceKernels())
        #expect(try TestSupport.nmse(plain, try c.run(NativeKernels(), window: n)) <= 1e-8)
        #expect(try TestSupport.nmse(plain, try c.run(ReferenceKernels(), window: n + 100)) <= 1e-12)
        // g = 1 after rotation: all three views identical, so any window gives plain attention.
        let same = SelfExtendCase(n: n, heads: 2, headDim: headDim, seed: 12, identical: true)
        let plainSame = try same.plain(ReferenceKernels())
        for w in [0, 1, n / 2] {
            #expect(try TestSupport.nmse(plainSame, try same.run(NativeKernels(), window: w)) <= 1e-8)
        }
    }

    @Test func expMatchesDoubleWithinTwoPPM() throws {
        let n = 2_000_001
        let xs = (0..<n).map { Float(-87.3 + (88.7 + 87.3) * Double($0) / Double(n - 1)) }
        for scalar in [false, true] {
            let ys = try withKernelMode(scalar: scalar, threads: 1) { try NativeMath.exp(xs) }
            var worst = 0.0
            for (x, y) in zip(xs, ys) {
                let ref = Foundation.exp(Double(x))
                worst = max(worst, abs(Double(y) - ref) / ref)
            }
            #expect(worst <= 2e-6, "\(scalar ? "scalar" : "avx2"): max relative error \(worst)")
        }
        let edges = try NativeMath.exp([0, -200, 200, -Float.infinity, 1, -1, 0.5, -0.5, 3])
        #expect(edges[0] == 1)
        #expect(edges[1] == 0 || edges[1] < 1e-38)
        #expect(edges[2] == .infinity)
        #expect(edges[3] == 0)
    }

    // MARK: RoPE

    static let ropeShapes: [(tokens: Int, heads: Int, headDim: Int, fused: Bool)] = [
        (1, 1, 16, false), (7, 3, 32, false), (33, 2, 64, true), (97, 1, 128, false), (5, 4, 2, true), (9, 2, 18, false),
    ]

    @Test(arguments: 0..<6)
    func ropeMatchesOracle(index: Int) throws {
        let s = Self.ropeShapes[index]
        let row = s.heads * s.headDim
        let stride = s.fused ? 3 * row : row
        let positions = (0..<s.tokens).map { Float($0) * 37.25 - 11 + (s.fused ? 30_000 : 0) }
        let inv = RoPEScaling.inverseFrequencies(headDim: s.headDim, base: 10_000)
        for layout in [RoPELayout.rotateHalf, .interleaved] {
            for withK in [true, false] {
                let q0 = TestSupport.randomFloats(s.tokens * stride, seed: 1)
                let k0 = TestSupport.randomFloats(s.tokens * stride, seed: 2)
                func run(_ kernels: any RoPEKernels) throws -> ([Float], [Float]) {
                    var q = q0, k = k0
                    try q.withUnsafeMutableBufferPointer { qp in
                        try k.withUnsafeMutableBufferPointer { kp in
                            try kernels.rope(q: qp.baseAddress!, k: withK ? kp.baseAddress! : nil,
                                             shape: RoPEShape(tokens: s.tokens, heads: s.heads, headDim: s.headDim, qStride: stride, kStride: stride),
                                             positions: positions, inverseFrequencies: inv, layout: layout)
                        }
                    }
                    return (q, k)
                }
                let ref = try run(ReferenceKernels())
                for variant in Variant.all {
                    let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try run(NativeKernels()) }
                    #expect(try TestSupport.nmse(ref.0, out.0) <= 1e-10, "q \(layout) \(variant.testDescription)")
                    #expect(try TestSupport.nmse(ref.1, out.1) <= 1e-10, "k \(layout) \(variant.testDescription)")
                    if !withK { #expect(out.1 == k0) }
                    if s.fused {
                        // The v third of each fused row is untouched.
                        for t in 0..<s.tokens { #expect(Array(out.0[(t * stride + 2 * row)..<((t + 1) * stride)]) == Array(q0[(t * stride + 2 * row)..<((t + 1) * stride)])) }
                    }
                }
            }
        }
    }

    // MARK: Layer ops

    @Test(arguments: [(1, 1), (7, 7), (3, 9), (33, 15), (5, 17), (97, 383), (2, 385), (300, 384)])
    func layerOpsMatchOracle(rows: Int, cols: Int) throws {
        let x = TestSupport.randomFloats(rows * cols, seed: UInt64(rows * 1000 + cols), scale: 3)
        let r = TestSupport.randomFloats(rows * cols, seed: 77)
        let g = TestSupport.randomFloats(cols, seed: 78)
        let b = TestSupport.randomFloats(cols, seed: 79)
        var mask = [UInt8](repeating: 1, count: rows)
        if rows > 2 { mask[rows - 1] = 0; mask[rows / 2] = 0 }
        func all(_ k: any LayerKernels) throws -> [[Float]] {
            var outs: [[Float]] = []
            var y = [Float](repeating: 0, count: rows * cols)
            try k.layerNorm(y: &y, x: x, gamma: g, beta: b, rows: rows, cols: cols, eps: 1e-12)
            outs.append(y)
            var gl = x
            try k.biasGELU(x: &gl, bias: b, rows: rows, cols: cols)
            outs.append(gl)
            // The fused sub-layer epilogue, with each optional operand present and absent,
            // and in place over the residual (as the encoder calls it).
            for (useBias, useResidual) in [(true, true), (false, true), (true, false)] {
                var yl = [Float](repeating: .nan, count: rows * cols)
                try k.biasResidualLayerNorm(y: &yl, x: x, bias: useBias ? b : nil, residual: useResidual ? r : nil,
                                            gamma: g, beta: b, rows: rows, cols: cols, eps: 1e-12)
                outs.append(yl)
            }
            var inPlace = r
            try inPlace.withUnsafeMutableBufferPointer { rp throws(KernelError) in
                try k.biasResidualLayerNorm(y: rp.baseAddress!, x: x, bias: b, residual: UnsafePointer(rp.baseAddress!),
                                            gamma: g, beta: b, rows: rows, cols: cols, eps: 1e-12)
            }
            outs.append(inPlace)
            for mode in Pooling.allCases {
                var p = [Float](repeating: 0, count: cols)
                try k.pool(out: &p, x: x, mask: mask, rows: rows, cols: cols, mode: mode)
                outs.append(p)
            }
            var n = x
            try k.l2Normalize(x: &n, rows: rows, cols: cols)
            outs.append(n)
            let outF = 11
            let w = TestSupport.randomFloats(outF * cols, seed: 80)
            let bias = TestSupport.randomFloats(outF, seed: 81)
            var lin = [Float](repeating: 0, count: rows * outF)
            try k.linear(y: &lin, x: x, weight: w, bias: bias, rows: rows, inFeatures: cols, outFeatures: outF)
            outs.append(lin)
            return outs
        }
        let ref = try all(ReferenceKernels())
        let names = ["layerNorm", "biasGELU", "biasResidualLayerNorm", "residualLayerNorm", "biasLayerNorm",
                     "biasResidualLayerNorm in place", "pool mean", "pool cls", "pool last", "l2Normalize", "linear"]
        #expect(ref.count == names.count)
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try all(NativeKernels()) }
            for (i, name) in names.enumerated() {
                let e = try TestSupport.nmse(ref[i], out[i])
                #expect(e <= 1e-10, "\(name) \(rows)x\(cols) \(variant.testDescription): nmse \(e)")
            }
        }
    }

    /// GELU against the double-precision definition x Phi(x) on a dense sweep of [-13, 13]:
    /// the AVX2 path keeps relative accuracy in the negative tail (erfc form), the scalar
    /// fallback (1 + erff) is held to an absolute bound there.
    @Test func geluMatchesDoubleOnADenseSweep() throws {
        let n = 520_001
        let xs = (0..<n).map { Float(-13 + 26 * Double($0) / Double(n - 1)) }
        for scalar in [false, true] {
            var ys = xs
            try withKernelMode(scalar: scalar, threads: 2) {
                try NativeKernels().biasGELU(x: &ys, bias: nil, rows: 1, cols: n)
            }
            var worstRel = 0.0, worstAbs = 0.0
            for (x, y) in zip(xs, ys) {
                let ref = Double(x) * 0.5 * erfc(-Double(x) / 2.0.squareRoot())
                let err = abs(Double(y) - ref)
                // Relative bound 3e-6, widened in the negative tail by the conditioning of
                // Phi there: z = fl(|x| fl(1/sqrt 2)) carries two fp32 roundings (<= 1.2e-7
                // relative), which move exp(-z^2) by up to z^2 * 2.4e-7.
                let allowed = 3e-6 + 2.4e-7 * Double(x) * Double(x) / 2
                if abs(ref) > 1e-30 { worstRel = max(worstRel, err / abs(ref) / allowed) }
                worstAbs = max(worstAbs, err / max(1, abs(Double(x))))
            }
            if scalar {
                #expect(worstAbs <= 4e-7, "scalar: max abs error \(worstAbs)")
            } else {
                #expect(worstRel <= 1, "avx2: max relative error \(worstRel) x the allowed bound")
            }
        }
        // Bias is added before the activation; odd widths exercise the scalar tail.
        var row: [Float] = [-1, 0, 1, 2, 3]
        try NativeKernels().biasGELU(x: &row, bias: [1, 0, -1, -2, -3], rows: 1, cols: 5)
        #expect(row == [0, 0, 0, 0, 0])
    }

    /// `ck_sgemm_f32` splits C over the OpenMP team by rows or by columns above a size
    /// threshold: every transpose combination, padded leading dimensions and beta != 0 at
    /// 1 and 2 threads against a double-precision loop.
    @Test(arguments: [(70, 200, 160), (300, 50, 150), (1, 1, 1), (33, 17, 9), (129, 130, 131)])
    func sgemmBlocksMatchOracle(m: Int, n: Int, k: Int) throws {
        for transA in [0, 1] {
            for transB in [0, 1] {
                let (ar, ac) = transA == 1 ? (k, m) : (m, k)
                let (br, bc) = transB == 1 ? (n, k) : (k, n)
                let lda = ac + 3, ldb = bc + 5, ldc = n + 7
                let a = TestSupport.randomFloats(ar * lda, seed: UInt64(m + transA))
                let b = TestSupport.randomFloats(br * ldb, seed: UInt64(n + 10 * transB))
                let c0 = TestSupport.randomFloats(m * ldc, seed: 5)
                var ref = c0
                for i in 0..<m {
                    for j in 0..<n {
                        var acc = 0.0
                        for p in 0..<k {
                            let av = transA == 1 ? a[p * lda + i] : a[i * lda + p]
                            let bv = transB == 1 ? b[j * ldb + p] : b[p * ldb + j]
                            acc += Double(av) * Double(bv)
                        }
                        ref[i * ldc + j] = Float(0.5 * acc + 0.25 * Double(c0[i * ldc + j]))
                    }
                }
                for threads in [1, 2] {
                    var c = c0
                    let status = try withKernelMode(scalar: false, threads: threads) {
                        ck_sgemm_f32(Int32(transA), Int32(transB), Int64(m), Int64(n), Int64(k), 0.5, a, Int64(lda),
                                     b, Int64(ldb), 0.25, &c, Int64(ldc))
                    }
                    #expect(status == CK_OK)
                    let e = try TestSupport.nmse(ref, c)
                    #expect(e <= 1e-10, "\(m)x\(n)x\(k) tA\(transA) tB\(transB) \(threads) thread(s): nmse \(e)")
                    // Padding columns of C are never written.
                    for i in 0..<m { #expect(Array(c[(i * ldc + n)..<((i + 1) * ldc)]) == Array(c0[(i * ldc + n)..<((i + 1) * ldc)])) }
                }
            }
        }
    }

    // MARK: Errors

    @Test func invalidArgumentsAreTypedErrors() throws {
        let kernels: [any Kernels] = [NativeKernels(), ReferenceKernels()]
        let buf = [Float](repeating: 1, count: 64)
        var out = [Float](repeating: 0, count: 64)
        for k in kernels {
            #expect(throws: KernelError.self) {
                try k.attention(shape: AttentionShape(queries: 0, keys: 4, heads: 1, headDim: 4), q: buf, k: buf, v: buf, out: &out)
            }
            #expect(throws: KernelError.self) {
                try k.attention(shape: AttentionShape(queries: 4, keys: 4, validKeys: 5, heads: 1, headDim: 4), q: buf, k: buf, v: buf, out: &out)
            }
            #expect(throws: KernelError.self) {
                try k.attention(shape: AttentionShape(queries: 4, keys: 4, heads: 2, headDim: 4, qStride: 4), q: buf, k: buf, v: buf, out: &out)
            }
            #expect(throws: KernelError.self) {
                try k.attention(shape: AttentionShape(queries: 4, keys: 4, heads: 1, headDim: 4, scale: .nan), q: buf, k: buf, v: buf, out: &out)
            }
            let se = SelfExtendInputs(q: buf, k: buf, qLower: buf, kLower: buf, qUpper: buf, kUpper: buf)
            #expect(throws: KernelError.self) {
                try k.selfExtendAttention(shape: AttentionShape(queries: 2, keys: 4, heads: 1, headDim: 4), window: 1, inputs: se, v: buf, out: &out)
            }
            #expect(throws: KernelError.self) {
                try k.selfExtendAttention(shape: AttentionShape(queries: 4, keys: 4, heads: 1, headDim: 4), window: -1, inputs: se, v: buf, out: &out)
            }
            var q = buf
            #expect(throws: KernelError.self) {
                try k.rope(q: &q, k: nil, shape: RoPEShape(tokens: 2, heads: 1, headDim: 3), positions: buf, inverseFrequencies: buf, layout: .rotateHalf)
            }
            #expect(throws: KernelError.self) {
                try k.layerNorm(y: &out, x: buf, gamma: buf, beta: buf, rows: 2, cols: 4, eps: 0)
            }
            #expect(throws: KernelError.self) {
                try k.pool(out: &out, x: buf, mask: [0, 0], rows: 2, cols: 4, mode: .mean)
            }
            #expect(throws: KernelError.self) {
                try k.linear(y: &out, x: buf, weight: buf, bias: nil, rows: 0, inFeatures: 4, outFeatures: 4)
            }
        }
        #expect(ck_attention_f32(nil, nil, nil, nil, nil) == CK_ERR_NULL_POINTER)
        #expect(ck_exp_f32(nil, nil, 4) == CK_ERR_NULL_POINTER)
    }
}

/// Properties that tie the kernels to the maths of the paper.
@Suite struct KernelPropertyTests {
    @Test func ropeScoreDependsOnlyOnRelativePosition() throws {
        let d = 64
        let inv = RoPEScaling.inverseFrequencies(headDim: d, base: 10_000)
        func score(_ pq: Float, _ pk: Float, seed: UInt64) throws -> Double {
            var q = TestSupport.randomFloats(d, seed: seed)
            var k = TestSupport.randomFloats(d, seed: seed + 1)
            let shape = RoPEShape(tokens: 1, heads: 1, headDim: d)
            try NativeKernels().rope(q: &q, k: nil, shape: shape, positions: [pq], inverseFrequencies: inv, layout: .rotateHalf)
            try NativeKernels().rope(q: &k, k: nil, shape: shape, positions: [pk], inverseFrequencies: inv, layout: .rotateHalf)
            return zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        for (i, (a, b)) in [(0, 0), (3, 17), (100, 4), (511, 0), (1000, 2000)].enumerated() {
            let near = try score(Float(a), Float(b), seed: UInt64(i * 2))
            let far = try score(Float(a + 30_000), Float(b + 30_000), seed: UInt64(i * 2))
            let scale = max(abs(near), 1)
            #expect(abs(near - far) / scale <= 1e-4, "positions \(a),\(b): \(near) vs \(far)")
        }
        // Position 0 is the identity.
        var q = TestSupport.randomFloats(d, seed: 9)
        let q0 = q
        try NativeKernels().rope(q: &q, k: nil, shape: RoPEShape(tokens: 1, heads: 1, headDim: d), positions: [0], inverseFrequencies: inv, layout: .interleaved)
        #expect(q == q0)
    }

    @Test func selfExtendRelativePositionsReproduceThePaperExample() {
        let m = SelfExtendPlanner.relativePositionMatrix(length: 10, group: 2, window: 4)
        #expect(m[0] == [0, 1, 2, 3, 4, 4, 5, 5, 6, 6])
        #expect(m[4] == [-4, -3, -2, -1, 0, 1, 2, 3, 4, 4])
        // Official edge case: the shift is 0 when the largest position is below the window.
        #expect(SelfExtendPlanner.positions(length: 10, group: 3, window: 64).shift == 0)
        #expect(SelfExtendPlanner.positions(length: 1024, group: 3, window: 256).shift == 256 - 85)
    }

    @Test func inverseFrequenciesFollowTheFormula() throws {
        let inv = RoPEScaling.inverseFrequencies(headDim: 16, base: 10_000)
        var c = [Float](repeating: 0, count: 8)
        #expect(ck_rope_inv_freq_f32(&c, 16, 10_000) == CK_OK)
        #expect(inv == c)
        for j in 0..<8 { #expect(abs(Double(inv[j]) - pow(10_000, -Double(2 * j) / 16)) <= 1e-7 * pow(10_000, -Double(2 * j) / 16)) }
    }
}
