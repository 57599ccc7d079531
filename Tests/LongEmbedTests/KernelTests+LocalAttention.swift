import CKernels
import Foundation
import Testing
import LongEmbed

// Grouped-query attention, sliding-window attention and RoPE with grouped k, C kernels
// against the Swift oracle on every ISA this CPU has, at 1 and 2 threads.

/// A grouped-query / local attention case over one sequence of `length` tokens.
struct LocalAttentionCase: CustomTestStringConvertible, Sendable {
    var length: Int, valid: Int, heads: Int, kvHeads: Int, headDim: Int, fused: Bool
    var testDescription: String {
        "L\(length) valid\(valid) h\(heads)/kv\(kvHeads) d\(headDim)\(fused ? " fused" : "")"
    }
}

/// Random q, k, v for a ``LocalAttentionCase``: separate buffers, or one fused QKV buffer of row
/// `(heads + 2 kvHeads) headDim + 3`. Padded keys are poisoned.
struct LocalAttentionInputs {
    var c: LocalAttentionCase
    var q: [Float], k: [Float], v: [Float]
    var qStride: Int, kvStride: Int
    var kOffset = 0, vOffset = 0

    init(_ c: LocalAttentionCase, seed: UInt64) {
        self.c = c
        let row = c.heads * c.headDim, kvRow = c.kvHeads * c.headDim
        if c.fused {
            qStride = row + 2 * kvRow + 3
            kvStride = qStride
            q = TestSupport.randomFloats(c.length * qStride, seed: seed, scale: 1.5)
            k = q; v = q
            kOffset = row; vOffset = row + kvRow
        } else {
            qStride = row; kvStride = kvRow
            q = TestSupport.randomFloats(c.length * row, seed: seed, scale: 1.5)
            k = TestSupport.randomFloats(c.length * kvRow, seed: seed + 1, scale: 1.5)
            v = TestSupport.randomFloats(c.length * kvRow, seed: seed + 2)
            for j in c.valid..<c.length { for x in 0..<kvRow { k[j * kvRow + x] = 1e30; v[j * kvRow + x] = .nan } }
        }
    }

    func shape(window: Int, causal: Bool = false) -> AttentionShape {
        AttentionShape(queries: c.length, keys: c.length, validKeys: c.valid, heads: c.heads, headDim: c.headDim,
                       kvHeads: c.kvHeads, window: window, causal: causal, qStride: qStride, kStride: kvStride,
                       vStride: kvStride)
    }

    func run(_ kernels: any AttentionKernels, window: Int, causal: Bool = false) throws -> [Float] {
        let shape = shape(window: window, causal: causal)
        var out = [Float](repeating: .nan, count: c.length * shape.outStride)
        try q.withUnsafeBufferPointer { qp in
            try k.withUnsafeBufferPointer { kp in
                try v.withUnsafeBufferPointer { vp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try kernels.attention(shape: shape, q: qp.baseAddress!, k: kp.baseAddress! + kOffset,
                                              v: vp.baseAddress! + vOffset, out: op.baseAddress!)
                    }
                }
            }
        }
        return out
    }

    /// The same inputs as multi-head attention: every kv head copied to each query head of its group.
    func expandedToMultiHead() -> LocalAttentionInputs {
        let d = c.headDim, group = c.heads / c.kvHeads
        var mha = c
        mha.kvHeads = c.heads
        mha.fused = false
        var e = LocalAttentionInputs(mha, seed: 0)
        e.q = []
        e.k = []
        e.v = []
        for t in 0..<c.length {
            e.q += q[(t * qStride)..<(t * qStride + c.heads * d)]
            for h in 0..<c.heads {
                let kv = t * kvStride + h / group * d
                e.k += k[(kv + kOffset)..<(kv + kOffset + d)]
                e.v += v[(kv + vOffset)..<(kv + vOffset + d)]
            }
        }
        return e
    }
}

/// The case of a ``KernelError``, for tests of which error an argument gives.
enum KernelErrorKind: Equatable {
    case nullPointer, invalidShape, outOfMemory, unsupported, invalidValue
}

/// The kind of error `body` throws, or nil when it returns normally.
func kernelErrorKind(_ body: () throws(KernelError) -> Void) -> KernelErrorKind? {
    do {
        try body()
        return nil
    } catch {
        switch error {
        case .nullPointer: return .nullPointer
        case .invalidShape: return .invalidShape
        case .outOfMemory: return .outOfMemory
        case .unsupported: return .unsupported
        case .invalidValue: return .invalidValue
        }
    }
}

extension NativeKernelTests {
    static let gqaCases: [LocalAttentionCase] = [
        .init(length: 1, valid: 1, heads: 2, kvHeads: 1, headDim: 32, fused: false),
        .init(length: 70, valid: 70, heads: 4, kvHeads: 1, headDim: 64, fused: true),    // multi-query
        .init(length: 97, valid: 90, heads: 4, kvHeads: 2, headDim: 17, fused: false),   // SIMD tail, padding
        .init(length: 130, valid: 130, heads: 6, kvHeads: 3, headDim: 128, fused: true),
        .init(length: 200, valid: 200, heads: 8, kvHeads: 2, headDim: 48, fused: false),
    ]

    @Test(arguments: gqaCases)
    func gqaAttentionMatchesOracle(c: LocalAttentionCase) throws {
        let inputs = LocalAttentionInputs(c, seed: UInt64(c.length * 7 + c.heads))
        let reference = try inputs.run(ReferenceKernels(), window: 0)
        var outputs: [[Float]] = []
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try inputs.run(NativeKernels(), window: 0) }
            let e = try TestSupport.nmse(reference, out)
            #expect(e <= 1e-8, "\(variant.testDescription): nmse \(e)")
            outputs.append(out)
        }
        #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6)
    }

    /// Grouped-query attention is multi-head attention with each kv head copied to the query
    /// heads of its group: bit for bit in the C kernel (same packed tiles, same order of
    /// operations), globally and with a window, and in the oracle.
    @Test(arguments: gqaCases)
    func gqaEqualsMultiHeadWithCopiedKVHeads(c: LocalAttentionCase) throws {
        let gqa = LocalAttentionInputs(c, seed: 41)
        let mha = gqa.expandedToMultiHead()
        for window in [0, 33] {
            let (ra, rb) = (try gqa.run(ReferenceKernels(), window: window), try mha.run(ReferenceKernels(), window: window))
            #expect(ra == rb)
            for variant in Variant.all {
                let (a, b) = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                    (try gqa.run(NativeKernels(), window: window), try mha.run(NativeKernels(), window: window))
                }
                let diff = try TestSupport.maxAbsDiff(a, b)
                #expect(a == b, "\(variant.testDescription) window \(window): max diff \(diff)")
            }
        }
    }

    static let localCases: [LocalAttentionCase] = [
        .init(length: 1, valid: 1, heads: 2, kvHeads: 2, headDim: 32, fused: false),
        .init(length: 7, valid: 7, heads: 2, kvHeads: 1, headDim: 64, fused: false),
        .init(length: 64, valid: 64, heads: 3, kvHeads: 3, headDim: 17, fused: true),
        .init(length: 65, valid: 65, heads: 4, kvHeads: 2, headDim: 128, fused: false),
        .init(length: 300, valid: 290, heads: 2, kvHeads: 1, headDim: 64, fused: false),   // padded keys
        .init(length: 1000, valid: 1000, heads: 2, kvHeads: 2, headDim: 32, fused: false),
    ]

    /// Windows at key-tile (64), query-strip (6, 12) and query-tile (96) boundaries.
    static let windows = [1, 2, 31, 32, 33, 64, 65, 96, 97, 129]

    @Test(arguments: localCases)
    func slidingWindowAttentionMatchesOracle(c: LocalAttentionCase) throws {
        let inputs = LocalAttentionInputs(c, seed: UInt64(c.length + 3))
        for window in Self.windows {
            let reference = try inputs.run(ReferenceKernels(), window: window)
            var outputs: [[Float]] = []
            for variant in Variant.all {
                let out = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                    try inputs.run(NativeKernels(), window: window)
                }
                let e = try TestSupport.nmse(reference, out)
                #expect(e <= 1e-8, "window \(window) \(variant.testDescription): nmse \(e)")
                outputs.append(out)
            }
            #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6, "window \(window): 1 vs 2 threads")
        }
    }

    /// With padded keys, query rows whose window holds no valid key get zeros (no NaN).
    @Test func slidingWindowRowsWithoutKeysAreZero() throws {
        let c = LocalAttentionCase(length: 300, valid: 290, heads: 2, kvHeads: 1, headDim: 64, fused: false)
        let inputs = LocalAttentionInputs(c, seed: 8)
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try inputs.run(NativeKernels(), window: 3) }
            let row = c.heads * c.headDim
            #expect(out[(292 * row)...].allSatisfy { $0 == 0 }, "\(variant.testDescription)")
            #expect(out[..<(292 * row)].allSatisfy { $0.isFinite && $0 != 0 }, "\(variant.testDescription)")
        }
    }

    /// A window reaching past both ends of the sequence is global attention, exactly.
    @Test(arguments: [localCases[1], localCases[3], localCases[4]])
    func windowCoveringTheSequenceEqualsGlobal(c: LocalAttentionCase) throws {
        let inputs = LocalAttentionInputs(c, seed: 17)
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                let global = try inputs.run(NativeKernels(), window: 0)
                for window in [c.length, c.length + 1, 1 << 40] {
                    #expect(try inputs.run(NativeKernels(), window: window) == global, "\(variant.testDescription) window \(window)")
                }
            }
        }
        let (wide, global) = (try inputs.run(ReferenceKernels(), window: c.length), try inputs.run(ReferenceKernels(), window: 0))
        #expect(wide == global)
    }

    /// SelfExtend with grouped-query heads and inside a sliding window, against the oracle.
    @Test(arguments: [(0, 1), (5, 33), (64, 65), (100, 64), (63, 129), (200, 97), (65, 0), (0, 0)])
    func selfExtendWithGQAAndSlidingWindowMatchesOracle(seWindow: Int, window: Int) throws {
        let c = SelfExtendCase(n: 211, heads: 4, headDim: 32, seed: UInt64(seWindow * 3 + window), kvHeads: 2,
                               slidingWindow: window)
        let reference = try c.run(ReferenceKernels(), window: seWindow)
        var outputs: [[Float]] = []
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try c.run(NativeKernels(), window: seWindow) }
            let e = try TestSupport.nmse(reference, out)
            #expect(e <= 1e-8, "\(variant.testDescription): nmse \(e)")
            outputs.append(out)
        }
        #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6)
        // A sliding window inside the SelfExtend neighbour window never reads the grouped views.
        if window > 0 && window <= seWindow {
            #expect(try TestSupport.nmse(try c.plain(ReferenceKernels()), reference) <= 1e-12)
        }
    }

    /// The profiler counts the FLOPs of the attended band only: for L = 10, w = 3 the band
    /// holds 3 + 4 + 6 * 5 + 4 + 3 = 44 pairs per head.
    @Test func profiledLocalAttentionCountsTheBand() throws {
        let c = LocalAttentionCase(length: 10, valid: 10, heads: 2, kvHeads: 1, headDim: 8, fused: false)
        let inputs = LocalAttentionInputs(c, seed: 1)
        let profiler = ProfilingKernels(wrapping: NativeKernels())
        #expect(try inputs.run(profiler, window: 3) == inputs.run(NativeKernels(), window: 3))
        #expect(profiler.profile.first { $0.name == "attention, sliding w=3" }?.flops == Double(4 * 44 * 8 * 2))
        profiler.reset()
        _ = try inputs.run(profiler, window: 0)
        #expect(profiler.profile.first { $0.name == "attention, global" }?.flops == Double(4 * 100 * 8 * 2))
    }

    // MARK: RoPE with grouped k

    @Test(arguments: [(1, 2, 1, 16, false), (7, 4, 2, 32, true), (33, 8, 1, 64, false), (9, 6, 3, 18, true)])
    func ropeWithGroupedKMatchesOracle(tokens: Int, heads: Int, kvHeads: Int, headDim: Int, fused: Bool) throws {
        let row = heads * headDim, kvRow = kvHeads * headDim
        let (qStride, kStride) = fused ? (row + 2 * kvRow, row + 2 * kvRow) : (row, kvRow)
        let positions = (0..<tokens).map { Float($0) * 13.5 + 2 }
        let inv = RoPEScaling.inverseFrequencies(headDim: headDim, base: 10_000)
        let q0 = TestSupport.randomFloats(tokens * qStride, seed: 3)
        let k0 = TestSupport.randomFloats(tokens * kStride, seed: 4)
        let shape = RoPEShape(tokens: tokens, heads: heads, headDim: headDim, kvHeads: kvHeads, qStride: qStride, kStride: kStride)
        func run(_ kernels: any RoPEKernels, layout: RoPELayout) throws -> ([Float], [Float]) {
            var q = q0, k = k0
            try kernels.rope(q: &q, k: &k, shape: shape, positions: positions, inverseFrequencies: inv, layout: layout)
            return (q, k)
        }
        for layout in [RoPELayout.rotateHalf, .interleaved] {
            let ref = try run(ReferenceKernels(), layout: layout)
            // k rotated as a q with kvHeads heads gives the same values.
            var kAlone = k0
            try ReferenceKernels().rope(q: &kAlone, k: nil, shape: RoPEShape(tokens: tokens, heads: kvHeads, headDim: headDim, qStride: kStride),
                                        positions: positions, inverseFrequencies: inv, layout: layout)
            #expect(ref.1 == kAlone)
            for variant in Variant.all {
                let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try run(NativeKernels(), layout: layout) }
                #expect(try TestSupport.nmse(ref.0, out.0) <= 1e-10, "q \(layout) \(variant.testDescription)")
                #expect(try TestSupport.nmse(ref.1, out.1) <= 1e-10, "k \(layout) \(variant.testDescription)")
                if fused {
                    // Floats past the kv heads of each k row are untouched.
                    for t in 0..<tokens { #expect(out.1[(t * kStride + kvRow)..<((t + 1) * kStride)] == k0[(t * kStride + kvRow)..<((t + 1) * kStride)]) }
                }
            }
        }
    }

    // MARK: Errors

    @Test func gqaWindowAndGroupedRoPERejectInvalidArguments() throws {
        let buf = [Float](repeating: 1, count: 256)
        var out = [Float](repeating: 0, count: 256)
        let se = SelfExtendInputs(q: buf, k: buf, qLower: buf, kLower: buf, qUpper: buf, kUpper: buf)
        let bad: [(AttentionShape, KernelErrorKind)] = [
            (AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: 3), .invalidShape),   // does not divide
            (AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: 0), .invalidShape),
            (AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: -2), .invalidShape),
            (AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: 2, kStride: 7), .invalidShape),
            (AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: 2, vStride: 7), .invalidShape),
            (AttentionShape(queries: 4, keys: 4, heads: 1, headDim: 4, window: -1), .invalidValue),
            (AttentionShape(queries: 3, keys: 4, heads: 1, headDim: 4, window: 2), .invalidShape),
        ]
        for k in [NativeKernels() as any Kernels, ReferenceKernels()] {
            for (shape, kind) in bad {
                let plain = kernelErrorKind { () throws(KernelError) in
                    try k.attention(shape: shape, q: buf, k: buf, v: buf, out: &out)
                }
                #expect(plain == kind, "\(shape)")
                if shape.queries == shape.keys {
                    let extended = kernelErrorKind { () throws(KernelError) in
                        try k.selfExtendAttention(shape: shape, window: 2, inputs: se, v: buf, out: &out)
                    }
                    #expect(extended == kind, "SelfExtend \(shape)")
                }
            }
            // Strides only as long as the kv rows are fine for k and v; q and out need all heads.
            let narrowKV = AttentionShape(queries: 4, keys: 4, heads: 4, headDim: 4, kvHeads: 2, kStride: 8, vStride: 8)
            let accepted = kernelErrorKind { () throws(KernelError) in
                try k.attention(shape: narrowKV, q: buf, k: buf, v: buf, out: &out)
            }
            #expect(accepted == nil)
            var q = buf, kk = buf
            let badRoPE = [RoPEShape(tokens: 2, heads: 4, headDim: 4, kvHeads: 0),
                           RoPEShape(tokens: 2, heads: 4, headDim: 4, kvHeads: 2, kStride: 7)]
            for shape in badRoPE {
                let kind = kernelErrorKind { () throws(KernelError) in
                    try k.rope(q: &q, k: &kk, shape: shape, positions: buf, inverseFrequencies: buf, layout: .rotateHalf)
                }
                #expect(kind == .invalidShape, "\(shape)")
            }
        }
        var p = ck_attention_params()
        p.n_queries = 4; p.n_keys = 4; p.n_valid = 4; p.n_heads = 2; p.head_dim = 4
        p.q_stride = 8; p.k_stride = 8; p.v_stride = 8; p.out_stride = 8; p.scale = 1
        #expect(ck_attention_f32(&p, buf, buf, buf, &out) == CK_OK)   // zero-initialized new fields: plain MHA
        p.n_kv_heads = -1
        #expect(ck_attention_f32(&p, buf, buf, buf, &out) == CK_ERR_INVALID_SHAPE)
        #expect(ck_rope_qk_gqa_f32(nil, 8, nil, 8, 1, 2, 1, 4, buf, buf, CK_ROPE_ROTATE_HALF) == CK_ERR_NULL_POINTER)
    }
}
