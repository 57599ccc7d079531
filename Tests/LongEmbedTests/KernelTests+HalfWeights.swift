import CKernels
import Foundation
import Testing
import LongEmbed

/// 16-bit weights: exact widening of every bf16 / fp16 bit pattern on every ISA path, and the
/// blocked GEMM over widened rows against the Swift oracle.
@Suite struct HalfWeightKernelTests {
    /// `ck_widen_half_f32` on all 65536 patterns (from an odd offset too: a vector tail and an
    /// unaligned start) equals Swift's own conversion: bit for bit, NaN as NaN.
    @Test(arguments: [HalfFormat.bf16, .f16], Variant.all)
    func widensEveryBitPatternExactly(format: HalfFormat, variant: Variant) throws {
        let bits = (0...UInt16.max).map { $0 }
        let expected = bits.map(format.widen)
        for start in [0, 1, 65_529] {
            let src = Array(bits[start...])
            var out = [Float](repeating: 7, count: src.count)
            let status = try withKernelMode(isa: variant.isa, threads: variant.threads) {
                ck_widen_half_f32(&out, src, Int64(src.count), format == .bf16 ? CK_HALF_BF16 : CK_HALF_F16)
            }
            #expect(status == CK_OK)
            var wrong = 0
            for (i, v) in out.enumerated() {
                let e = expected[start + i]
                if e.isNaN ? !v.isNaN : v.bitPattern != e.bitPattern { wrong += 1 }
            }
            #expect(wrong == 0, "\(format) from \(start): \(wrong) values differ")
        }
    }

    @Test func widenRejectsBadArguments() {
        var out = [Float](repeating: 0, count: 4)
        let src: [UInt16] = [0, 1, 2, 3]
        #expect(ck_widen_half_f32(&out, src, 0, CK_HALF_BF16) == CK_ERR_INVALID_SHAPE)
        #expect(ck_widen_half_f32(nil, src, 4, CK_HALF_BF16) == CK_ERR_NULL_POINTER)
        #expect(ck_widen_half_f32(&out, src, 4, ck_half_format(rawValue: 9)) == CK_ERR_UNSUPPORTED)
    }

    /// Random values rounded to the format, with fp16 subnormals and zeros among them.
    static func halfWeights(_ n: Int, _ format: HalfFormat, seed: UInt64) -> [UInt16] {
        TestSupport.randomFloats(n, seed: seed, scale: 0.5).enumerated().map { i, v in
            let x = i % 13 == 0 ? v * 1e-5 : (i % 29 == 0 ? 0 : v)
            return format == .bf16 ? UInt16(x.bitPattern >> 16) : Float16(x).bitPattern
        }
    }

    struct LinearCase: CustomTestStringConvertible, Sendable {
        var rows: Int, inFeatures: Int, outFeatures: Int, blockRows: Int
        var testDescription: String { "\(rows)x\(inFeatures) -> \(outFeatures), blocks of \(blockRows)" }
        static let all: [LinearCase] = [
            .init(rows: 1, inFeatures: 1, outFeatures: 1, blockRows: 1),      // single everything
            .init(rows: 1, inFeatures: 7, outFeatures: 3, blockRows: 256),    // one token, SIMD tail
            .init(rows: 5, inFeatures: 17, outFeatures: 11, blockRows: 4),    // blocks of 4: 4 + 4 + 3
            .init(rows: 33, inFeatures: 64, outFeatures: 65, blockRows: 16),  // a last block of one row
            .init(rows: 97, inFeatures: 383, outFeatures: 130, blockRows: 7), // odd everything
            .init(rows: 300, inFeatures: 384, outFeatures: 1536, blockRows: 256), // encoder FFN shape, parallel
        ]
    }

    /// The blocked 16-bit GEMM equals the oracle's fp32 product of the widened weights, with and
    /// without bias, for both formats and every ISA path and thread count.
    @Test(arguments: LinearCase.all)
    func blockedLinearMatchesOracle(c: LinearCase) throws {
        let x = TestSupport.randomFloats(c.rows * c.inFeatures, seed: UInt64(c.rows + c.inFeatures), scale: 2)
        let bias = TestSupport.randomFloats(c.outFeatures, seed: 5)
        let scratch = c.blockRows * c.inFeatures
        for format in [HalfFormat.bf16, .f16] {
            let w = Self.halfWeights(c.outFeatures * c.inFeatures, format, seed: UInt64(c.outFeatures))
            for withBias in [true, false] {
                func run(_ k: any LayerKernels) throws -> [Float] {
                    var y = [Float](repeating: .nan, count: c.rows * c.outFeatures)
                    var s = [Float](repeating: .nan, count: scratch)
                    try k.linear(y: &y, x: x, halfWeight: w, format: format, bias: withBias ? bias : nil, rows: c.rows,
                                 inFeatures: c.inFeatures, outFeatures: c.outFeatures, scratch: &s, scratchCount: scratch)
                    return y
                }
                let ref = try run(ReferenceKernels())
                for variant in Variant.all {
                    let out = try withKernelMode(isa: variant.isa, threads: variant.threads) { try run(NativeKernels()) }
                    let e = try TestSupport.nmse(ref, out)
                    #expect(e <= 1e-10, "\(format) bias \(withBias) \(variant.testDescription): nmse \(e)")
                }
            }
        }
    }

    /// Scratch must hold one row; both implementations refuse less with a typed error.
    @Test func scratchSmallerThanARowIsRejected() {
        let x = [Float](repeating: 1, count: 8), w = [UInt16](repeating: 0x3F80, count: 16)
        for k in [NativeKernels() as any LayerKernels, ReferenceKernels()] {
            var y = [Float](repeating: 0, count: 2), s = [Float](repeating: 0, count: 7)
            #expect(throws: KernelError.self) {
                try k.linear(y: &y, x: x, halfWeight: w, format: .bf16, bias: nil, rows: 1, inFeatures: 8,
                             outFeatures: 2, scratch: &s, scratchCount: 7)
            }
        }
    }
}
