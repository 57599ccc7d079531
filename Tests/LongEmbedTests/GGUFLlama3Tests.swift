import Foundation
import Testing
@testable import LongEmbed

/// The tiny Llama fixture as llama.cpp GGUF files (`scripts/fixtures/gguf_llama3.py`): plain, and
/// with Llama 3.1 RoPE scaling stored as llama.cpp stores it (`rope_freqs.weight`), each against
/// the hidden states transformers computed for the same weights (`Tests/Fixtures/decoders/llama`).
@Suite struct GGUFLlama3Tests {
    struct Entry: CustomTestStringConvertible, Sendable {
        let file: String
        let cases: [String]
        let factors: [Float]?
        var testDescription: String { file }
    }

    static var entries: [Entry] {
        let url = TestSupport.golden.appendingPathComponent("gguf_llama3/manifest.json")
        guard let data = try? Data(contentsOf: url),
              let m = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let files = m["files"] as? [[String: Any]] else { return [] }
        return files.compactMap { f in
            guard let name = f["file"] as? String, let cases = f["reference_cases"] as? [String] else { return nil }
            return Entry(file: name, cases: cases, factors: (f["rope_freqs"] as? [NSNumber])?.map(\.floatValue))
        }
    }

    static func model(_ file: String) throws -> Model {
        try Model(directory: TestSupport.golden.appendingPathComponent("gguf_llama3/\(file)"))
    }

    @Test func manifestListsThreeFiles() {
        #expect(Self.entries.map(\.file) == ["llama-plain.gguf", "llama3-f4.gguf", "llama3-f8.gguf"])
    }

    @Test(arguments: entries, KernelChoice.allCases)
    func hiddenStatesMatchTransformersLlama3Scaling(entry: Entry, kernels: KernelChoice) throws {
        let model = try Self.model(entry.file)
        #expect(model.family == .llama && model.architecture.rotary?.interleaved == true)
        #expect(model.architecture.rotary?.frequencyDivisors == entry.factors?.map(Double.init))
        let cases = try FamilyCase.load("llama")
        for name in entry.cases {
            let c = try #require(cases.first { $0.name == name })
            let options = EncoderOptions(contextExtension: try c.contextExtension(originalLength: model.trainedContext.tokens))
            let encoder = try Encoder(model: model, options: options, kernels: kernels.kernels)
            try EncoderFamilyTests.expectHiddenState(c, file: try #require(c.hiddenFile), model: model, encoder: encoder)
            if let text = c.text { #expect(model.tokenizer.encode(c.prompt + text, maxTokens: nil) == c.ids, "\(name) ids") }
        }
    }

    /// The factors matter: the scaled file run on the plain case's ids is far from the plain
    /// reference, and the plain file far from the scaled one.
    @Test func factorsChangeTheResult() throws {
        let cases = try FamilyCase.load("llama")
        for (file, caseName) in [("llama3-f4.gguf", "plain_350"), ("llama-plain.gguf", "llama3_350")] {
            let model = try Self.model(file)
            let c = try #require(cases.first { $0.name == caseName })
            let options = EncoderOptions(contextExtension: try c.contextExtension(originalLength: model.trainedContext.tokens))
            let ours = try Encoder(model: model, options: options).lastHiddenState(ids: c.ids)
            let golden = try TestSupport.loadNpy(FamilyCase.folder("llama").appendingPathComponent(try #require(c.hiddenFile)))
            let scale = golden.values.map(abs).max() ?? 1
            #expect(try TestSupport.maxAbsDiff(golden.values, ours) / scale > 1e-2, "\(file) on \(caseName)")
        }
    }
}

/// `rope_freqs.weight` is checked before use: the wrong count, a zero, negative or non-finite
/// factor is a typed corruptGGUF error naming the tensor.
@Suite struct GGUFRopeFactorValidationTests {
    @Test(arguments: [[Float](repeating: 1, count: 7), [0] + [Float](repeating: 1, count: 7), [-2] + [Float](repeating: 1, count: 7),
                      [.infinity] + [Float](repeating: 1, count: 7), [.nan] + [Float](repeating: 1, count: 7)])
    func badFactorsAreRefused(factors: [Float]) throws {
        let url = TestSupport.golden.appendingPathComponent("gguf_llama3/llama3-f4.gguf")
        let data = try Data(contentsOf: url)
        let file = try GGUFFile(data: data, path: url.path)
        let weights = try GGUFWeights(file: file, data: data)
        let good = try #require(try weights.ropeFrequencyFactors())
        let vocab = try #require(file.tensor("token_embd.weight")).dimensions[1]
        let a = try ArchitectureDescription.read(gguf: file, vocabularySize: vocab, ropeFrequencyFactors: good)
        #expect(good.count == a.headDim / 2 && good.count == 8)
        #expect { _ = try ArchitectureDescription.read(gguf: file, vocabularySize: vocab, ropeFrequencyFactors: factors) } throws: { e in
            guard case ModelError.corruptGGUF(_, let reason) = e else { return false }
            return reason.contains("rope_freqs.weight")
        }
    }
}
