import Foundation
import Testing
import LongEmbed

/// Whole-model parity of every decoder family (Llama, Mistral, Qwen2, Qwen3, causal Gemma 3)
/// with transformers: tiny random models from `scripts/fixtures/decoders.py`, causal attention,
/// last-token pooling, every method transformers expresses, both kernel implementations.
@Suite struct DecoderFamilyTests {
    /// The case's model folder: the fixture's, or for the Llama-3 cases a copy whose
    /// config.json carries the case's trained `rope_scaling` (the model's own, not a method).
    static func modelFolder(_ c: FamilyCase) throws -> (url: URL, temporary: Bool) {
        let folder = FamilyCase.folder(c.family).appendingPathComponent("model")
        guard c.method == "llama3" else { return (folder, false) }
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: FamilyCase.folder(c.family)
            .appendingPathComponent("cases.json"))) as? [[String: Any]])
        let raw = try #require(cases.first { $0["name"] as? String == c.name })
        let equivalent = try #require((raw["hf"] as? [String: Any])?["config_json_equivalent"] as? [String: Any])
        let dir = try TestSupport.copyFixtureModel(folder)
        let url = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (k, v) in equivalent { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return (dir, true)
    }

    /// The case's model and an encoder running the case's method on `kernels`.
    static func encoder(_ c: FamilyCase, _ kernels: KernelChoice) throws -> (Model, Encoder) {
        let (url, temporary) = try modelFolder(c)
        defer { if temporary { try? FileManager.default.removeItem(at: url) } }
        let model = try Model(directory: url)
        let ext = try c.contextExtension(originalLength: model.trainedContext.tokens)
        return (model, try Encoder(model: model, options: EncoderOptions(contextExtension: ext), kernels: kernels.kernels))
    }

    @Test func everyDecoderFamilyHasFixtures() throws {
        let expected: [String: ModelFamily] = ["llama": .llama, "mistral": .mistral, "qwen2": .qwen2, "qwen3": .qwen3,
                                               "gemma3": .gemma3Causal]
        for family in FamilyCase.decoderFamilies {
            let cases = try FamilyCase.load(family)
            #expect(cases.count >= 8, "\(family): \(cases.count) cases")
            let model = try EncoderFamilyTests.model(family)
            #expect(model.family == expected[family] && model.architecture.causal, "\(family) read as \(model.family)")
            #expect(model.pooling == .lastToken && model.trainedContext.tokens == 128)
            // Every case runs past Lo or past a sliding window somewhere.
            #expect(cases.contains { $0.ids.count > 2 * model.trainedContext.tokens })
        }
    }

    @Test(arguments: FamilyCase.allDecoders, KernelChoice.allCases)
    func lastHiddenStateMatchesTransformers(c: FamilyCase, kernels: KernelChoice) throws {
        let file = try #require(c.hiddenFile)
        let (model, encoder) = try Self.encoder(c, kernels)
        try EncoderFamilyTests.expectHiddenState(c, file: file, model: model, encoder: encoder)
    }

    @Test(arguments: FamilyCase.allDecoders, KernelChoice.allCases)
    func lastTokenEmbeddingMatchesSentenceTransformers(c: FamilyCase, kernels: KernelChoice) throws {
        try EncoderFamilyTests.expectEmbedding(try #require(c.embedding), c, encoder: try Self.encoder(c, kernels).1)
    }

    /// The texts tokenize to the fixture's ids with the folder's own special tokens: the EOS the
    /// decoder pools is appended by tokenizer.json (Qwen, Llama-3, Gemma) or, for E5-Mistral's
    /// Llama tokenizer, by tokenizer_config.json's add_eos_token.
    @Test(arguments: FamilyCase.decoderFamilies)
    func textsTokenizeWithTheAppendedEOS(family: String) throws {
        let model = try EncoderFamilyTests.model(family)
        let eos: [String: String] = ["llama": "<|end_of_text|>", "mistral": "</s>", "qwen2": "<|endoftext|>",
                                     "qwen3": "<|endoftext|>", "gemma3": "</s>"]
        #expect(model.tokenizer.suffixIDs.map { model.tokenizer.token(for: $0) } == [eos[family]])
        for c in try FamilyCase.load(family) {
            guard let text = c.text else { continue }
            let ids = model.tokenizer.encode(c.prompt + text, maxTokens: nil)
            #expect(ids == c.ids, "\(c.name): \(ids.count) ids, fixture \(c.ids.count)")
        }
    }

    /// The same query through `embed` with the folder's own prompt: the case's embedding.
    @Test(arguments: FamilyCase.decoderFamilies)
    func queryPromptsComeFromTheFolder(family: String) throws {
        let c = try #require(try FamilyCase.load(family).first { $0.name == "short" })
        let model = try EncoderFamilyTests.model(family)
        #expect(model.defaultPrefixes.query == c.prompt)
        let v = try Encoder(model: model).embed([try #require(c.text)], role: .query)[0]
        #expect(try TestSupport.maxAbsDiff(try #require(c.embedding), v) <= 1e-5)
    }

    /// Causal SelfExtend on every decoder family (GQA, Mistral's sliding window, Gemma's local
    /// layers): C kernels against the Swift oracle; it groups positions (changes the output) and
    /// reduces to plain causal attention when the neighbour window covers the sequence.
    @Test(arguments: FamilyCase.decoderFamilies)
    func causalSelfExtendMatchesTheSwiftOracle(family: String) throws {
        let model = try EncoderFamilyTests.model(family)
        let ids = try #require(try FamilyCase.load(family).first { $0.name == "plain_350" }).ids
        let se = EncoderFamilyMethodTests.ext(.selfExtend(group: 4, window: 32), ids.count)
        let native = try Encoder(model: model, options: EncoderOptions(contextExtension: se), kernels: NativeKernels())
        let oracle = try Encoder(model: model, options: EncoderOptions(contextExtension: se), kernels: ReferenceKernels())
        let h1 = try native.lastHiddenState(ids: ids), h2 = try oracle.lastHiddenState(ids: ids)
        let scale = h2.map(abs).max() ?? 1
        #expect(try TestSupport.maxAbsDiff(h1, h2) / scale <= 1e-4)
        let plain = try EncoderFamilyMethodTests.embedding(model, EncoderFamilyMethodTests.ext(.extrapolation, ids.count), ids)
        let grouped = try native.embed(tokenIDs: [ids])[0]
        #expect(try TestSupport.maxAbsDiff(plain, grouped) > 1e-3)
        let wide = try EncoderFamilyMethodTests.embedding(
            model, EncoderFamilyMethodTests.ext(.selfExtend(group: 4, window: ids.count), ids.count), ids)
        #expect(try TestSupport.maxAbsDiff(plain, wide) <= 1e-6)
    }

    /// Causality through the whole model: a document's first rows do not depend on what follows.
    @Test(arguments: FamilyCase.decoderFamilies)
    func earlierRowsIgnoreLaterTokens(family: String) throws {
        let model = try EncoderFamilyTests.model(family)
        let ids = try #require(try FamilyCase.load(family).first { $0.name == "plain_350" }).ids
        let encoder = try Encoder(model: model, options: EncoderOptions(contextExtension: EncoderFamilyMethodTests.ext(.extrapolation, ids.count)))
        let full = try encoder.lastHiddenState(ids: ids)
        var changed = ids
        for i in 200..<changed.count { changed[i] = ids[i - 150] }
        let other = try encoder.lastHiddenState(ids: changed)
        let h = model.architecture.hiddenSize
        #expect(Array(full[..<(200 * h)]) == Array(other[..<(200 * h)]))
        #expect(Array(full[(200 * h)...]) != Array(other[(200 * h)...]))
    }

    /// Matryoshka truncation keeps the first components and normalizes again.
    @Test func dimensionsTruncateAndRenormalize() throws {
        let model = try EncoderFamilyTests.model("qwen3")
        let full = try Encoder(model: model).embed(["a short document"], role: .document)[0]
        let cut = try Encoder(model: model, options: EncoderOptions(dimensions: 16))
        #expect(cut.dimension == 16)
        let v = try cut.embed(["a short document"], role: .document)[0]
        let norm = full[..<16].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(v.count == 16)
        #expect(try TestSupport.maxAbsDiff(v, full[..<16].map { Float(Double($0) / norm) }) <= 1e-6)
        for bad in [0, -3, 65] {
            #expect(throws: EncoderError.self) { try Encoder(model: model, options: EncoderOptions(dimensions: bad)) }
        }
    }
}
