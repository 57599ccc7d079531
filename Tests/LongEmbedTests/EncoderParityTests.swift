import Foundation
import Testing
import LongEmbed

/// Which kernel implementation a parity test runs on.
enum KernelChoice: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case reference, native
    var kernels: any Kernels { self == .reference ? ReferenceKernels() : NativeKernels() }
    var testDescription: String { rawValue }
}

/// Golden JSON helpers.
enum Golden {
    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupport.golden.appendingPathComponent(path)))
    }
    static func floats(_ any: Any?) throws -> [Float] {
        guard let numbers = any as? [NSNumber] else {
            throw FixtureError("expected an array of numbers, got \(any.map { "\(type(of: $0))" } ?? "nothing")")
        }
        return numbers.map { $0.floatValue }
    }
    static func ids(_ any: Any?) throws -> [Int32] {
        guard let numbers = any as? [NSNumber] else {
            throw FixtureError("expected an array of token ids, got \(any.map { "\(type(of: $0))" } ?? "nothing")")
        }
        return numbers.map { $0.int32Value }
    }
    static var e5ropeModel: URL { TestSupport.golden.appendingPathComponent("e5rope/model") }
}

/// Whole-model parity of the encoder with sentence-transformers (all-MiniLM-L6-v2) and with the
/// official E5-RoPE implementation, on both kernel implementations.
@Suite struct EncoderParityTests {
    static let model = TestSupport.defaultModel

    @Test(arguments: KernelChoice.allCases)
    func miniLMLayerOutputsMatchTransformers(kernels: KernelChoice) throws {
        let sentences = try #require(try Golden.json("minilm/short_sentences.json") as? [[String: Any]])
        let ids = try Golden.ids(try #require(sentences.first)["ids"])
        let encoder = try Encoder(directory: Self.model, kernels: kernels.kernels)
        let states = try encoder.hiddenStates(ids: ids)
        let golden = try TestSupport.loadNpy(TestSupport.golden.appendingPathComponent("minilm/short_s0_all_hidden_states.npy"))
        #expect(golden.shape == [7, ids.count, 384])
        #expect(states.count == 7)
        let per = ids.count * 384
        try #require(golden.values.count == 7 * per && states.count == 7,
                     "golden has \(golden.values.count) values (want \(7 * per)), encoder gave \(states.count) layers")
        for layer in 0..<7 {
            let ref = Array(golden.values[(layer * per)..<((layer + 1) * per)])
            let diff = try TestSupport.maxAbsDiff(ref, states[layer])
            #expect(diff <= 1e-4, "layer \(layer): max abs diff \(diff)")
        }
    }

    @Test(arguments: KernelChoice.allCases)
    func miniLMBatchEmbeddingsMatchSentenceTransformers(kernels: KernelChoice) throws {
        let sentences = try #require(try Golden.json("minilm/short_sentences.json") as? [[String: Any]])
        let encoder = try Encoder(directory: Self.model, kernels: kernels.kernels)
        let texts = try sentences.map { try #require($0["text"] as? String) }
        for ((s, text), ids) in zip(zip(sentences, texts), texts.map { encoder.tokenize($0) }) {
            #expect(try ids == Golden.ids(s["ids"]), "token ids differ for \(text)")
        }
        let vectors = try encoder.embed(texts, role: .document)
        for ((s, text), v) in zip(zip(sentences, texts), vectors) {
            let diff = try TestSupport.maxAbsDiff(Golden.floats(s["st_embedding"]), v)
            #expect(diff <= 1e-5, "embedding of '\(text)': max abs diff \(diff)")
        }
    }

    @Test(arguments: KernelChoice.allCases)
    func miniLMPassage500FullAndTruncated(kernels: KernelChoice) throws {
        let p = try #require(try Golden.json("minilm/passage500.json") as? [String: Any])
        let text = try #require(p["text"] as? String)
        let ids = try Golden.ids(p["ids"])
        let full = try Encoder(directory: Self.model, options: EncoderOptions(maxTokens: 512), kernels: kernels.kernels)
        #expect(full.tokenize(text) == ids)
        let hidden = try full.lastHiddenState(ids: ids)
        let golden = try TestSupport.loadNpy(TestSupport.golden.appendingPathComponent("minilm/passage500_last_hidden_state.npy"))
        let hdiff = try TestSupport.maxAbsDiff(golden.values, hidden)
        #expect(hdiff <= 1e-4, "last hidden state: max abs diff \(hdiff)")
        let e = try #require(try full.embed([text], role: .document).first)
        let d1 = try TestSupport.maxAbsDiff(Golden.floats(p["st_embedding_full500"]), e)
        #expect(d1 <= 1e-5, "full 500: \(d1)")
        // Default options: sentence-transformers' max_seq_length 256 from the model folder.
        let dflt = try Encoder(directory: Self.model, kernels: kernels.kernels)
        #expect(dflt.tokenLimit == 256)
        let t = try #require(try dflt.embed([text], role: .document).first)
        let d2 = try TestSupport.maxAbsDiff(Golden.floats(p["st_embedding_default_trunc256"]), t)
        #expect(d2 <= 1e-5, "truncated 256: \(d2)")
    }

    @Test(arguments: KernelChoice.allCases, ["plain_37", "plain_300"])
    func e5RoPEPlainMatchesOfficialCode(kernels: KernelChoice, name: String) throws {
        let cases = try #require(try Golden.json("e5rope/cases.json") as? [[String: Any]])
        let c = try #require(cases.first { $0["name"] as? String == name })
        let ids = try Golden.ids(c["ids"])
        let encoder = try Encoder(directory: Golden.e5ropeModel, kernels: kernels.kernels)
        #expect(encoder.architecture.family == .e5rope)
        let hidden = try encoder.lastHiddenState(ids: ids)
        let golden = try TestSupport.loadNpy(TestSupport.golden.appendingPathComponent("e5rope/\(name)_last_hidden_state.npy"))
        let hdiff = try TestSupport.maxAbsDiff(golden.values, hidden)
        #expect(hdiff <= 1e-3, "\(name) hidden: \(hdiff)")
        let e = try #require(try encoder.embed(tokenIDs: [ids]).first)
        let ediff = try TestSupport.maxAbsDiff(Golden.floats(c["embedding"]), e)
        #expect(ediff <= 1e-4, "\(name) embedding: \(ediff)")
    }

    @Test func emptyInputIsATypedError() throws {
        let encoder = try Encoder(directory: Golden.e5ropeModel)
        #expect(throws: EncoderError.emptyInput) { try encoder.embed(tokenIDs: [[]]) }
        #expect(try encoder.embed([], role: .query).isEmpty)
        #expect(throws: EncoderError.self) { try encoder.embed(tokenIDs: [[101, 999_999, 102]]) }
    }

    @Test func extensionThatDoesNotApplyIsATypedError() throws {
        let options = EncoderOptions(contextExtension: ContextExtension(.ntk(), targetLength: 2048))
        #expect(throws: EncoderError.self) { try Encoder(directory: Self.model, options: options) }
        do {
            _ = try Encoder(directory: Self.model, options: options)
        } catch {
            #expect("\(error)".contains("ntk"))
        }
    }
}
