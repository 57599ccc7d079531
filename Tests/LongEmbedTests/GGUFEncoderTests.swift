import Foundation
import Testing
import LongEmbed

/// Embedding models as llama.cpp GGUF files of the `bert` and `nomic-bert` architectures
/// (`scripts/fixtures/gguf_encoders.py`: a tiny random BertModel in Q8_0 with CLS pooling, the
/// NomicBERT fixture in F16 with mean pooling, the XLM-RoBERTa fixture in F16 as llama.cpp writes
/// it: `bert` with a `t5` vocabulary and the position table shifted), against transformers on
/// the weights as stored.
@Suite struct GGUFEncoderTests {
    static func url(_ name: String) -> URL {
        FamilyCase.folder(name).appendingPathComponent("model.gguf")
    }

    static var cases: [FamilyCase] {
        (try? FamilyCase.ggufEncoderModels.flatMap { try FamilyCase.load($0) }) ?? []
    }

    @Test func filesReadAsTheirFamilies() throws {
        let bert = try Model(directory: Self.url("bert-q8"))
        #expect(bert.family == .bert && bert.pooling == .cls && bert.trainedContext.tokens == 512)
        #expect(bert.architecture.positionTableSize == 512 && bert.architecture.tokenTypeEmbeddings)
        #expect(bert.architecture.feedForward.activation == .geluErf && !bert.architecture.feedForward.gated)
        let nomic = try Model(directory: Self.url("nomic-bert-f16"))
        #expect(nomic.family == .nomicBert && nomic.pooling == .mean && nomic.trainedContext.tokens == 256)
        #expect(nomic.architecture.feedForward.gated && nomic.architecture.rotary?.theta == 1000)
        #expect(nomic.architecture.rotary?.interleaved == false)
        #expect(nomic.defaultPrefixes == .nomic)
        #expect(!nomic.architecture.biases.qkv && !nomic.architecture.biases.ffnIn)
        #expect(nomic.weightFormats.contains("f16"), "\(nomic.weightFormats)")
        let xlmr = try Model(directory: Self.url("xlm-roberta-f16"))
        #expect(xlmr.family == .xlmRoberta && xlmr.pooling == .cls && xlmr.trainedContext.tokens == 128)
        #expect(xlmr.architecture.positionTableSize == 128 && xlmr.defaultPrefixes == .none)
        #expect(Self.cases.count == 8)
    }

    @Test(arguments: cases, KernelChoice.allCases)
    func matchesTransformersOnTheStoredWeights(c: FamilyCase, kernels: KernelChoice) throws {
        let model = try Model(directory: Self.url(c.family))
        let ext = try c.contextExtension(originalLength: model.trainedContext.tokens)
        let encoder = try Encoder(model: model, options: EncoderOptions(contextExtension: ext), kernels: kernels.kernels)
        try EncoderFamilyTests.expectHiddenState(c, file: try #require(c.hiddenFile), model: model, encoder: encoder)
        try EncoderFamilyTests.expectEmbedding(try #require(c.embedding), c, encoder: encoder)
        if let text = c.text { #expect(model.tokenizer.encode(c.prompt + text, maxTokens: nil) == c.ids, "\(c.name) ids") }
    }

    /// The declared pooling is what makes the BERT file's vectors right: mean pooling over the
    /// same hidden states is far from the CLS reference.
    @Test func poolingTypeIsRead() throws {
        let c = try #require(try FamilyCase.load("bert-q8").first { $0.name == "plain_200" })
        let model = try Model(directory: Self.url("bert-q8"))
        let mean = try Encoder(model: model, options: EncoderOptions(pooling: .mean)).embed(tokenIDs: [c.ids])[0]
        #expect(try TestSupport.maxAbsDiff(try #require(c.embedding), mean) > 1e-2)
    }

    /// A copy of `name`'s file with the value after metadata key `key` (its 4-byte type, then
    /// the value) replaced by `value`.
    static func patched(_ name: String, key: String, value: [UInt8]) throws -> URL {
        var bytes = [UInt8](try Data(contentsOf: url(name)))
        let needle = [UInt8](key.utf8)
        let at = try #require((0...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) })
        let start = at + needle.count + 4
        bytes.replaceSubrange(start..<(start + value.count), with: value)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("patched-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: out)
        return out
    }

    @Test func unknownPoolingAndCausalFilesAreRefused() throws {
        let pooling = try Self.patched("bert-q8", key: "bert.pooling_type", value: [9, 0, 0, 0])
        defer { try? FileManager.default.removeItem(at: pooling) }
        #expect { try Model(directory: pooling) } throws: { e in
            guard case EncoderError.model(.unsupportedArchitecture(let what)) = e else { return false }
            return what.contains("pooling_type 9")
        }
        let causal = try Self.patched("nomic-bert-f16", key: "nomic-bert.attention.causal", value: [1])
        defer { try? FileManager.default.removeItem(at: causal) }
        #expect { try Model(directory: causal) } throws: { e in
            guard case EncoderError.model(.unsupportedArchitecture(let what)) = e else { return false }
            return what.contains("attention.causal true")
        }
    }
}
