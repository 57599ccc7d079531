import Foundation
import Testing
@testable import LongEmbed

/// Models whose files hold bf16 or fp16 tensors keep them in 16 bits and still compute in fp32:
/// parity with transformers' float32 run on the same files (`Tests/Fixtures/half_weights`).
@Suite struct HalfWeightModelTests {
    @Test(arguments: FamilyCase.allHalfWeights, KernelChoice.allCases)
    func lastHiddenStateMatchesTransformersInFloat32(c: FamilyCase, kernels: KernelChoice) throws {
        let (model, encoder) = try EncoderFamilyTests.encoder(c, kernels)
        try EncoderFamilyTests.expectHiddenState(c, file: try #require(c.hiddenFile), model: model, encoder: encoder)
    }

    @Test(arguments: FamilyCase.allHalfWeights, KernelChoice.allCases)
    func lastTokenEmbeddingMatchesSentenceTransformers(c: FamilyCase, kernels: KernelChoice) throws {
        try EncoderFamilyTests.expectEmbedding(try #require(c.embedding), c, encoder: try EncoderFamilyTests.encoder(c, kernels).1)
    }

    /// The matrices stay in the file's format (half the bytes of the fp32 copy), and widening
    /// them at load instead gives the same hidden state up to summation order.
    @Test(arguments: FamilyCase.halfWeightModels)
    func matricesStayInTheFileFormat(folder: String) throws {
        let url = FamilyCase.folder(folder).appendingPathComponent("model")
        let kept = try Model(directory: url)
        let widened = try Model(directory: url, weightStorage: .fp32)
        let format = folder.hasSuffix("bf16") ? "bf16" : "f16"
        #expect(kept.weightFormats == format && widened.weightFormats == "fp32")
        #expect(kept.weightStorage == .file && widened.weightStorage == .fp32)
        let matrices = { (m: Model) in [m.weights.word] + m.weights.layers.flatMap { [$0.qkv, $0.output, $0.ffnIn, $0.ffnOut] } }
        let matrixValues = matrices(kept).reduce(0) { $0 + $1.count }
        #expect(widened.weightBytes - kept.weightBytes == 2 * matrixValues)
        #expect(kept.parameterCount == widened.parameterCount)
        for (a, b) in zip(matrices(kept), matrices(widened)) { #expect(a.toArray() == b.toArray()) }
        let c = try #require(try FamilyCase.load(folder).first { $0.ids.count > 300 })
        let options = EncoderOptions(contextExtension: try c.contextExtension(originalLength: kept.trainedContext.tokens))
        let h16 = try Encoder(model: kept, options: options).lastHiddenState(ids: c.ids)
        let h32 = try Encoder(model: widened, options: options).lastHiddenState(ids: c.ids)
        let scale = h32.map(abs).max() ?? 1
        #expect(try TestSupport.maxAbsDiff(h16, h32) / scale <= 1e-6)
    }

    /// A NaN or an infinity stored in 16 bits is refused by name, as in fp32 files.
    @Test(arguments: [(HalfFormat.bf16, UInt16(0x7FC0)), (.bf16, 0xFF80), (.f16, 0x7E00), (.f16, 0x7C00)])
    func nonFinite16BitWeightsAreRefused(format: HalfFormat, bits: UInt16) throws {
        let dir = try TestSupport.copyFixtureModel(FamilyCase.folder(format == .bf16 ? "llama-bf16" : "qwen3-f16")
            .appendingPathComponent("model"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("model.safetensors")
        let st = try SafeTensorsFile(url: file)
        let name = try #require(st.tensorNames.first { $0.hasSuffix("mlp.down_proj.weight") })
        let info = try #require(st.info(name))
        var bytes = try Data(contentsOf: file)
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        let at = 8 + Int(headerLength) + info.byteRange.lowerBound + 2 * 5
        bytes[at] = UInt8(bits & 0xFF)
        bytes[at + 1] = UInt8(bits >> 8)
        try bytes.write(to: file)
        #expect {
            try Model(directory: dir)
        } throws: { error in
            guard case .model(.nonFiniteWeights(let n)) = error as? EncoderError else { return false }
            return n == name
        }
    }
}
