import Foundation
import Testing
import LongEmbed

/// One reference case of `Tests/Fixtures/encoders/<family>/cases.json` (written by
/// `scripts/fixtures/encoders.py` with transformers' own model classes).
struct FamilyCase: CustomTestStringConvertible, Sendable {
    let family: String
    let name: String
    let ids: [Int32]
    let text: String?
    /// The prompt the fixture put before `text` (sentence-transformers prompts), or "".
    let prompt: String
    let method: String
    let parameters: [String: Double]
    let hiddenFile: String?
    let embedding: [Float]?
    /// Which layers the fixture scaled ("global only", "full_attention only", "global and local").
    let layers: String?

    /// Whether the case scales only the global layers, as this package does: a sliding-window
    /// layer keeps its trained rotation under every method. ModernBERT's `pi_all_650` (a legacy
    /// `rope_scaling` key that transformers also applies to local layers) documents the
    /// difference and is not compared.
    var appliesToGlobalLayersOnly: Bool { layers != "global and local" }

    var testDescription: String { "\(family)/\(name)" }

    /// The encoder families with fixtures (`Tests/Fixtures/encoders`).
    static let families = ["xlm-roberta", "nomic-bert", "gte", "modernbert", "gemma3-bidirectional"]
    /// The decoder families with fixtures (`Tests/Fixtures/decoders`, `scripts/fixtures/decoders.py`).
    static let decoderFamilies = ["llama", "mistral", "qwen2", "qwen3", "gemma3"]

    /// Decoder models stored in bf16 / fp16 (`Tests/Fixtures/half_weights`, `scripts/fixtures/half_weights.py`).
    static let halfWeightModels = ["llama-bf16", "qwen3-f16"]

    /// Encoder models written as llama.cpp GGUF files (`Tests/Fixtures/gguf_encoders`, `scripts/fixtures/gguf_encoders.py`).
    static let ggufEncoderModels = ["bert-q8", "nomic-bert-f16", "xlm-roberta-f16"]

    static func folder(_ family: String) -> URL {
        let set = decoderFamilies.contains(family) ? "decoders" : halfWeightModels.contains(family) ? "half_weights"
            : ggufEncoderModels.contains(family) ? "gguf_encoders" : "encoders"
        return TestSupport.golden.appendingPathComponent("\(set)/\(family)")
    }

    static func load(_ family: String) throws -> [FamilyCase] {
        let url = folder(family).appendingPathComponent("cases.json")
        guard let list = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [[String: Any]] else {
            throw FixtureError("\(url.path): expected a list of cases")
        }
        return try list.map { c in
            let ext = c["extension"] as? [String: Any] ?? [:]
            var parameters: [String: Double] = [:]
            for (k, v) in ext { if let n = v as? NSNumber, !(v is Bool) { parameters[k] = n.doubleValue } }
            return FamilyCase(family: family, name: c["name"] as? String ?? "?", ids: try Golden.ids(c["ids"]),
                              text: c["text"] as? String, prompt: c["prompt"] as? String ?? "", method: ext["method"] as? String ?? "none",
                              parameters: parameters, hiddenFile: c["hidden"] as? String,
                              embedding: try (c["embedding"] as? [NSNumber]).map { try Golden.floats($0) },
                              layers: ext["layers"] as? String)
        }
    }

    /// Every case of every encoder family (a missing fixture set is an error, not a skip).
    static var all: [FamilyCase] {
        (try? families.flatMap { try load($0) }) ?? []
    }

    /// Every case of every decoder family.
    static var allDecoders: [FamilyCase] {
        (try? decoderFamilies.flatMap { try load($0) }) ?? []
    }

    /// Every case of the 16-bit decoder models.
    static var allHalfWeights: [FamilyCase] {
        (try? halfWeightModels.flatMap { try load($0) }) ?? []
    }

    /// The context extension equivalent to what the fixture passed to transformers.
    func contextExtension(originalLength lo: Int) throws -> ContextExtension {
        let n = ids.count
        let f = parameters["factor"]
        let method: ContextExtension.Method
        switch self.method {
        case "none": method = n > lo ? .extrapolation : .none
        case "pi", "linear": method = .positionInterpolation(factor: try require(f, "factor"))
        case "gp": method = .groupedPositions(factor: Int(try require(f, "factor")))
        case "rp": method = .recurrentPositions
        case "ntk": method = .ntk(lambda: try require(parameters["lambda"], "lambda"))
        case "yarn": method = .yarn(factor: try require(f, "factor"))
        case "dynamic_ntk": method = .dynamicNTK(factor: try require(f, "factor"))
        // Llama-3 scaling is the model's own (config.json), not a method: see DecoderFamilyTests.
        case "llama3": method = n > lo ? .extrapolation : .none
        default: throw FixtureError("\(testDescription): unknown method \(self.method)")
        }
        if case .none = method { return .none }
        return ContextExtension(method, targetLength: max(n, lo), attentionScaling: false, remapShortInputs: true)
    }

    private func require(_ v: Double?, _ key: String) throws -> Double {
        guard let v else { throw FixtureError("\(testDescription): extension parameter \(key) missing") }
        return v
    }
}

/// Whole-model parity of every encoder family with transformers (tiny random models, every
/// norm weight and bias randomized), on both kernel implementations.
@Suite struct EncoderFamilyTests {
    /// The fixture model of `family`, loaded once per test.
    static func model(_ family: String) throws -> Model {
        try Model(directory: FamilyCase.folder(family).appendingPathComponent("model"))
    }

    /// The case's model and an encoder running the case's method on `kernels`.
    static func encoder(_ c: FamilyCase, _ kernels: KernelChoice) throws -> (Model, Encoder) {
        let model = try Self.model(c.family)
        let ext = try c.contextExtension(originalLength: model.trainedContext.tokens)
        return (model, try Encoder(model: model, options: EncoderOptions(contextExtension: ext), kernels: kernels.kernels))
    }

    @Test func everyFamilyHasFixtures() throws {
        for family in FamilyCase.families {
            let cases = try FamilyCase.load(family)
            #expect(cases.count >= 3, "\(family): \(cases.count) cases")
            let model = try Self.model(family)
            #expect(model.family.rawValue.hasPrefix(family.prefix(4)), "\(family) read as \(model.family)")
        }
    }

    @Test(arguments: FamilyCase.all, KernelChoice.allCases)
    func lastHiddenStateMatchesTransformers(c: FamilyCase, kernels: KernelChoice) throws {
        guard let file = c.hiddenFile, c.appliesToGlobalLayersOnly else { return }
        let (model, encoder) = try Self.encoder(c, kernels)
        try Self.expectHiddenState(c, file: file, model: model, encoder: encoder)
    }

    /// Ours within 1e-4 of the case's hidden state (max abs difference over max abs value).
    static func expectHiddenState(_ c: FamilyCase, file: String, model: Model, encoder: Encoder) throws {
        let ours = try encoder.lastHiddenState(ids: c.ids)
        let golden = try TestSupport.loadNpy(FamilyCase.folder(c.family).appendingPathComponent(file))
        #expect(golden.shape == [c.ids.count, model.architecture.hiddenSize])
        let scale = golden.values.map(abs).max() ?? 1
        let diff = try TestSupport.maxAbsDiff(golden.values, ours) / max(scale, 1e-6)
        #expect(diff <= 1e-4, "normalized max abs diff \(diff)")
    }

    /// Ours within 1e-5 of the case's sentence embedding, per component.
    static func expectEmbedding(_ expected: [Float], _ c: FamilyCase, encoder: Encoder) throws {
        let ours = try encoder.embed(tokenIDs: [c.ids])[0]
        #expect(ours.count == expected.count)
        let diff = try TestSupport.maxAbsDiff(expected, ours)
        #expect(diff <= 1e-5, "max abs diff \(diff)")
    }

    @Test(arguments: FamilyCase.all, KernelChoice.allCases)
    func sentenceEmbeddingMatchesSentenceTransformers(c: FamilyCase, kernels: KernelChoice) throws {
        guard let expected = c.embedding, c.appliesToGlobalLayersOnly else { return }
        try Self.expectEmbedding(expected, c, encoder: try Self.encoder(c, kernels).1)
    }

    @Test(arguments: FamilyCase.families)
    func textsTokenizeAsTheFixture(family: String) throws {
        let model = try Self.model(family)
        for c in try FamilyCase.load(family) {
            guard let text = c.text else { continue }
            let ids = model.tokenizer.encode(c.prompt + text, maxTokens: nil)
            #expect(ids == c.ids, "\(c.name): \(ids.count) ids, fixture \(c.ids.count)")
        }
    }
}
