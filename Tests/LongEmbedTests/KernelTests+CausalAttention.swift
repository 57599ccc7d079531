import CKernels
import Foundation
import Testing
import LongEmbed

// Causal (decoder) attention, causal sliding windows and causal SelfExtend: the C kernels
// against the Swift oracle on every ISA this CPU has, at 1 and 2 threads, plus the properties
// that define causality.

extension NativeKernelTests {
    /// Single token, odd lengths, SIMD tails (d 17), tile boundaries (64, 65), query-tile
    /// boundaries (96, 97: the causal hand-out runs tiles last-first), padded keys, GQA, fused QKV.
    static let causalCases: [LocalAttentionCase] = [
        .init(length: 1, valid: 1, heads: 2, kvHeads: 1, headDim: 32, fused: false),
        .init(length: 7, valid: 7, heads: 2, kvHeads: 2, headDim: 64, fused: false),
        .init(length: 64, valid: 64, heads: 3, kvHeads: 3, headDim: 17, fused: true),
        .init(length: 65, valid: 65, heads: 4, kvHeads: 2, headDim: 128, fused: false),
        .init(length: 97, valid: 97, heads: 4, kvHeads: 1, headDim: 64, fused: true),
        .init(length: 300, valid: 290, heads: 2, kvHeads: 1, headDim: 64, fused: false),   // padded keys
        .init(length: 517, valid: 517, heads: 2, kvHeads: 2, headDim: 48, fused: false),
    ]

    /// Causal windows at strip (6, 12), key-tile (64) and query-tile (96) boundaries; 0 = none.
    static let causalWindows = [0, 1, 2, 6, 13, 63, 64, 65, 96, 97, 200]

    @Test(arguments: causalCases)
    func causalAttentionMatchesOracle(c: LocalAttentionCase) throws {
        let inputs = LocalAttentionInputs(c, seed: UInt64(c.length * 5 + c.headDim))
        for window in Self.causalWindows {
            let reference = try inputs.run(ReferenceKernels(), window: window, causal: true)
            var outputs: [[Float]] = []
            for variant in Variant.all {
                let out = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                    try inputs.run(NativeKernels(), window: window, causal: true)
                }
                let e = try TestSupport.nmse(reference, out)
                #expect(e <= 1e-8, "causal window \(window) \(variant.testDescription): nmse \(e)")
                outputs.append(out)
            }
            #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6, "window \(window): 1 vs 2 threads")
        }
    }

    /// What defines causality, bit for bit in the C kernel: rows 0...t do not change when
    /// anything after token t changes; the first row is exactly v's first row; a causal window
    /// reaching the start is causal global attention.
    @Test(arguments: [causalCases[3], causalCases[4], causalCases[6]])
    func causalRowsIgnoreLaterTokens(c: LocalAttentionCase) throws {
        let inputs = LocalAttentionInputs(c, seed: 23)
        let cut = c.length / 2 + 3
        var changed = inputs
        for t in cut..<c.length {
            for x in 0..<changed.qStride { changed.q[t * changed.qStride + x] += 1 }
            for x in 0..<changed.kvStride { changed.k[t * changed.kvStride + x] -= 2; changed.v[t * changed.kvStride + x] *= 3 }
        }
        let row = c.heads * c.headDim, d = c.headDim, group = c.heads / c.kvHeads
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                for window in [0, 40] {
                    let a = try inputs.run(NativeKernels(), window: window, causal: true)
                    let b = try changed.run(NativeKernels(), window: window, causal: true)
                    #expect(a[..<(cut * row)] == b[..<(cut * row)], "\(variant.testDescription) window \(window)")
                    #expect(a[(cut * row)...] != b[(cut * row)...])
                    for h in 0..<c.heads {
                        let vRow = inputs.v[(inputs.vOffset + h / group * d)..<(inputs.vOffset + h / group * d + d)]
                        #expect(Array(a[(h * d)..<(h * d + d)]) == Array(vRow), "row 0 head \(h)")
                    }
                }
                let global = try inputs.run(NativeKernels(), window: 0, causal: true)
                #expect(try inputs.run(NativeKernels(), window: c.length, causal: true) == global)
                #expect(try inputs.run(NativeKernels(), window: 1 << 40, causal: true) == global)
            }
        }
    }

    /// The last query row of causal attention sees every key: it equals the bidirectional result.
    @Test func lastCausalRowEqualsBidirectional() throws {
        let c = LocalAttentionCase(length: 200, valid: 200, heads: 2, kvHeads: 1, headDim: 64, fused: false)
        let inputs = LocalAttentionInputs(c, seed: 5)
        let row = c.heads * c.headDim
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                let causal = try inputs.run(NativeKernels(), window: 0, causal: true)
                let full = try inputs.run(NativeKernels(), window: 0)
                let e = try TestSupport.nmse(Array(full[(199 * row)...]), Array(causal[(199 * row)...]))
                #expect(e <= 1e-12, "\(variant.testDescription): nmse \(e)")
            }
        }
    }

    /// Causal SelfExtend (the decoder form of Jin et al. 2024): against the oracle, with GQA and
    /// causal sliding windows; the upper views are NaN, so reading them would show.
    @Test(arguments: [(0, 0), (1, 0), (5, 0), (64, 0), (100, 0), (33, 97), (65, 40), (200, 64)])
    func causalSelfExtendMatchesOracle(seWindow: Int, window: Int) throws {
        var c = SelfExtendCase(n: 211, heads: 4, headDim: 32, seed: UInt64(seWindow * 7 + window + 1), kvHeads: 2,
                               slidingWindow: window)
        c.shape.causal = true
        for i in [4, 5] { c.arrays[i] = [Float](repeating: .nan, count: c.arrays[i].count) }
        let reference = try c.run(ReferenceKernels(), window: seWindow)
        #expect(reference.allSatisfy { $0.isFinite })
        var outputs: [[Float]] = []
        for variant in Variant.all {
            let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try c.run(NativeKernels(), window: seWindow) }
            let e = try TestSupport.nmse(reference, out)
            #expect(e <= 1e-8, "\(variant.testDescription): nmse \(e)")
            outputs.append(out)
        }
        #expect(try TestSupport.maxAbsDiff(outputs[0], outputs[1]) <= 1e-6)
        // Every pair within the neighbour window: plain causal attention on the normal views.
        if seWindow >= 211 || (window > 0 && window <= seWindow) {
            #expect(try TestSupport.nmse(try c.plain(ReferenceKernels()), reference) <= 1e-12)
        }
    }

    /// A neighbour window covering the sequence makes causal SelfExtend plain causal attention.
    @Test func causalSelfExtendWithWideWindowIsCausalAttention() throws {
        var c = SelfExtendCase(n: 150, heads: 2, headDim: 64, seed: 3)
        c.shape.causal = true
        for variant in Variant.all {
            try withKernelMode(isa: variant.isa, threads: variant.threads) {
                let se = try c.run(NativeKernels(), window: 150)
                let plain = try c.plain(NativeKernels())
                #expect(try TestSupport.nmse(plain, se) <= 1e-12, "\(variant.testDescription)")
            }
        }
    }

    /// FLOPs count the attended pairs only: causal L = 10 has 55 pairs per head, and with a
    /// causal window of 3, 1 + 2 + 8 * 3 = 27.
    @Test func profiledCausalAttentionCountsItsPairs() throws {
        let c = LocalAttentionCase(length: 10, valid: 10, heads: 2, kvHeads: 1, headDim: 8, fused: false)
        let inputs = LocalAttentionInputs(c, seed: 2)
        #expect(inputs.shape(window: 0, causal: true).attendedPairs == 55)
        #expect(inputs.shape(window: 3, causal: true).attendedPairs == 27)
        let profiler = ProfilingKernels(wrapping: NativeKernels())
        #expect(try inputs.run(profiler, window: 3, causal: true) == inputs.run(NativeKernels(), window: 3, causal: true))
        #expect(profiler.profile.first { $0.name == "attention, sliding w=3, causal" }?.flops == Double(4 * 27 * 8 * 2))
    }

    @Test func causalAttentionRejectsInvalidArguments() throws {
        let buf = [Float](repeating: 1, count: 256)
        var out = [Float](repeating: 0, count: 256)
        let rect = AttentionShape(queries: 3, keys: 4, heads: 1, headDim: 4, causal: true)
        for k in [NativeKernels() as any Kernels, ReferenceKernels()] {
            let kind = kernelErrorKind { () throws(KernelError) in try k.attention(shape: rect, q: buf, k: buf, v: buf, out: &out) }
            #expect(kind == .invalidShape)
        }
        var p = ck_attention_params()
        p.n_queries = 4; p.n_keys = 4; p.n_valid = 4; p.n_heads = 2; p.head_dim = 4
        p.q_stride = 8; p.k_stride = 8; p.v_stride = 8; p.out_stride = 8; p.scale = 1
        p.causal = 2
        #expect(ck_attention_f32(&p, buf, buf, buf, &out) == CK_ERR_INVALID_VALUE)
        p.causal = 1
        #expect(ck_attention_f32(&p, buf, buf, buf, &out) == CK_OK)
        buf.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            // Causal SelfExtend never reads the upper views: they may be NULL there, not elsewhere.
            var se = ck_selfextend_inputs(q: base, k: base, q_lower: base, k_lower: base, q_upper: nil, k_upper: nil)
            #expect(ck_selfextend_attention_f32(&p, 2, &se, base, &out) == CK_OK)
            p.causal = 0
            #expect(ck_selfextend_attention_f32(&p, 2, &se, base, &out) == CK_ERR_NULL_POINTER)
        }
    }
}
