import Foundation
import Testing
@testable import LongEmbed

/// Model files written for a test: a copy of a fixture model with some files replaced.
enum ModelFolder {
    /// A copy of the tiny E5-RoPE model in a new temporary folder.
    static func copyOfTinyRoPE() throws -> URL {
        let dir = try SafeTensorsWriter.tempDir()
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(at: Golden.e5ropeModel.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    /// Sets `key` of `dir/config.json` to `value`.
    static func setConfig(_ dir: URL, _ key: String, _ value: Any) throws {
        let url = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        config[key] = value
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// Writes sentence-transformers files: mean pooling, and `max_seq_length` when given.
    static func addSentenceTransformers(_ dir: URL, maxSeqLength: Int?) throws {
        try Data(#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#.utf8)
            .write(to: dir.appendingPathComponent("modules.json"))
        let pooling = dir.appendingPathComponent("1_Pooling")
        try FileManager.default.createDirectory(at: pooling, withIntermediateDirectories: true)
        try Data(#"{"word_embedding_dimension":64,"pooling_mode_mean_tokens":true}"#.utf8)
            .write(to: pooling.appendingPathComponent("config.json"))
        if let maxSeqLength {
            try Data(#"{"max_seq_length":\#(maxSeqLength),"do_lower_case":false}"#.utf8)
                .write(to: dir.appendingPathComponent("sentence_bert_config.json"))
        }
    }

    /// Overwrites every element of F32 tensor `name` in `dir/model.safetensors` with `value`.
    static func fillTensor(_ dir: URL, _ name: String, with value: Float) throws {
        let url = dir.appendingPathComponent("model.safetensors")
        var data = try Data(contentsOf: url)
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        let entry = try #require(header[name] as? [String: Any])
        let offsets = try #require(entry["data_offsets"] as? [NSNumber]).map(\.intValue)
        try #require(offsets.count == 2)
        for at in stride(from: 8 + n + offsets[0], to: 8 + n + offsets[1], by: 4) {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.replaceSubrange(at..<(at + 4), with: $0) }
        }
        try data.write(to: url)
    }
}

/// The Positions layer: short inputs keep their positions, presets, the trained context, and
/// one model shared by encoders.
@Suite struct PositionsTests {
    static let shortText = String(repeating: "the quick brown fox jumps over the lazy dog ", count: 11)

    /// Every method, on an input of about 100 tokens (at most Lo), gives exactly the vector
    /// without extension: on the absolute-position model (MiniLM) and the RoPE model.
    @Test func shortInputIsIdenticalUnderEveryMethod() throws {
        let apeMethods: [ContextExtension.Method] = [.parallelContextWindows, .groupedPositions(), .recurrentPositions,
                                                     .positionInterpolation()]
        let ropeMethods = apeMethods + [.extrapolation, .ntk(), .selfExtend(), .yarn(), .dynamicNTK()]
        for (url, methods) in [(TestSupport.defaultModel, apeMethods), (Golden.e5ropeModel, ropeMethods)] {
            let model = try Model(directory: url)
            let plain = try Encoder(model: model).embed([Self.shortText], role: .document)[0]
            let n = try Encoder(model: model).tokenize(Self.shortText).count
            #expect((90...130).contains(n), "\(n) tokens")
            for method in methods {
                for target in [4096, 32768] {
                    let options = EncoderOptions(contextExtension: ContextExtension(method, targetLength: target))
                    let v = try Encoder(model: model, options: options).embed([Self.shortText], role: .document)[0]
                    #expect(v == plain, "\(method.name) at \(target) changes a \(n)-token input")
                }
            }
            // The paper-literal option remaps it (PI compresses positions by s = 8).
            let literal = ContextExtension(.positionInterpolation(), targetLength: 4096, remapShortInputs: true)
            let remapped = try Encoder(model: model, options: EncoderOptions(contextExtension: literal))
                .embed([Self.shortText], role: .document)[0]
            #expect(remapped != plain)
        }
    }

    @Test func presetsFollowThePapersRulesPastFactorEight() {
        #expect([2, 4, 8, 16, 32].map { ExtensionPresets.ntkLambda(factor: $0) } == [3, 5, 10, 20, 40])
        #expect(ExtensionPresets.ntkLambda(factor: 1) == 1)
        #expect(ExtensionPresets.selfExtend(factor: 16, originalLength: 512) == (17, 32))
        #expect(ExtensionPresets.selfExtend(factor: 64, originalLength: 512) == (65, 8))
        #expect(ExtensionPresets.selfExtend(factor: 8, originalLength: 4096) == (9, 512))
        #expect(ExtensionPresets.selfExtend(factor: 3, originalLength: 512) == (4, 170))
    }

    @Test func trainedContextFollowsTheFamilyRule() throws {
        // BERT: the position table (the paper's Lo = 512), not sentence-transformers' 256.
        let miniLM = try Model(directory: TestSupport.defaultModel)
        #expect(miniLM.trainedContext.tokens == 512)
        #expect(miniLM.defaultMaxTokens == 256)
        // RoPE: sentence-transformers' max_seq_length where present, else the config.
        let dir = try ModelFolder.copyOfTinyRoPE()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Model(directory: dir).trainedContext.tokens == 512)
        try ModelFolder.addSentenceTransformers(dir, maxSeqLength: 256)
        let rope = try Model(directory: dir)
        #expect(rope.trainedContext.tokens == 256)
        // The planner uses it: s = ceil(1024 / 256) = 4, so NTK's lambda is 5.
        let ntk = try Encoder(model: rope, options: EncoderOptions(contextExtension: ContextExtension(.ntk(), targetLength: 1024)))
        #expect(ntk.geometry.originalLength == 256)
        // --context-length overrides; past an absolute table it is an error.
        #expect(try Model(directory: dir, contextLength: 128).trainedContext.tokens == 128)
        #expect(throws: EncoderError.self) { try Model(directory: TestSupport.defaultModel, contextLength: 1024) }
        #expect(throws: EncoderError.self) { try Model(directory: dir, contextLength: 1) }
    }

    @Test func encodersShareOneModel() throws {
        let model = try Model(directory: Golden.e5ropeModel)
        let a = try Encoder(model: model)
        let b = try Encoder(model: model, options: EncoderOptions(contextExtension: ContextExtension(.positionInterpolation(), targetLength: 2048)))
        #expect(a.model === b.model)
        #expect(a.model.weights.word.storageIdentity == b.model.weights.word.storageIdentity)
    }

    /// A context of 1 or 2 positions cannot hold a PCW chunk: a typed error, not an endless loop.
    @Test(arguments: [1, 2])
    func tinyContextWithPCWIsAnError(positions: Int) throws {
        let dir = try ModelFolder.copyOfTinyRoPE()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.setConfig(dir, "max_position_embeddings", positions)
        let ext = ContextExtension(.parallelContextWindows, targetLength: 64)
        #expect(throws: EncoderError.self) {
            _ = try Encoder(directory: dir, options: EncoderOptions(contextExtension: ext)).embed(["a b c d e f"], role: .document)
        }
        #expect(ContextExtension.chunkStarts(contentTokens: 10, chunkSize: 0) == Array(0..<10))
    }

    @Test func maxTokensPastTheContextWithoutExtensionIsRefused() throws {
        let model = try Model(directory: TestSupport.defaultModel)
        #expect(throws: EncoderError.self) { try Encoder(model: model, options: EncoderOptions(maxTokens: 4096)) }
        let rope = try Model(directory: Golden.e5ropeModel)
        let encoder = try Encoder(model: rope)
        // A longer input given as ids is refused too, naming what to do.
        do {
            _ = try encoder.embed(tokenIDs: [[Int32](repeating: 1000, count: 600)])
            Issue.record("a 600-token input ran without extension on a 512-token model")
        } catch {
            #expect("\(error)".contains("extension"))
        }
    }

    /// The cache identity changes with every option that changes a vector and with the weights.
    @Test func identityCoversEveryOptionAndTheWeights() throws {
        let dir = try ModelFolder.copyOfTinyRoPE()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try Model(directory: dir)
        func identity(_ options: EncoderOptions) throws -> String { try Encoder(model: model, options: options).identity }
        var variants: [EncoderOptions] = [EncoderOptions(), EncoderOptions(pooling: .cls), EncoderOptions(normalize: false),
                                          EncoderOptions(maxTokens: 100), EncoderOptions(prefixes: .e5)]
        let base = ContextExtension(.parallelContextWindows, targetLength: 2048)
        variants.append(EncoderOptions(contextExtension: base))
        for v in OfficialVariant.allCases {
            var ext = base
            ext.official[v] = true
            variants.append(EncoderOptions(contextExtension: ext))
        }
        variants.append(EncoderOptions(contextExtension: ContextExtension(.parallelContextWindows, targetLength: 2048, remapShortInputs: true)))
        variants.append(EncoderOptions(contextExtension: ContextExtension(.parallelContextWindows, targetLength: 2048, attentionScaling: false)))
        let identities = try variants.map(identity)
        #expect(Set(identities).count == identities.count)
        // Another context length, and other weights.
        #expect(try Encoder(model: Model(directory: dir, contextLength: 256)).identity != identities[0])
        try ModelFolder.fillTensor(dir, "embeddings.LayerNorm.bias", with: 0.5)
        #expect(try Encoder(model: Model(directory: dir)).identity != identities[0])
    }

    /// A model that overflows gives an error, not NaN vectors.
    @Test func nonFiniteOutputIsAnError() throws {
        let dir = try ModelFolder.copyOfTinyRoPE()
        defer { try? FileManager.default.removeItem(at: dir) }
        try ModelFolder.fillTensor(dir, "embeddings.LayerNorm.weight", with: 3e38)
        #expect(throws: EncoderError.nonFiniteOutput(input: 0)) {
            _ = try Encoder(directory: dir).embed(["hello world"], role: .document)
        }
    }
}
