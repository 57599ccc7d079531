import Foundation
import Testing
import LongEmbed

/// Extension methods on the encoder families where transformers cannot express them
/// (SelfExtend, PCW) and the sliding-window rule, plus `embed`, `eval` and `models` on every
/// family folder.
@Suite struct EncoderFamilyMethodTests {
    static let ropeFamilies = ["nomic-bert", "gte", "modernbert", "gemma3-bidirectional"]

    /// A 650-token case of `family` (past every fixture's Lo of 256).
    static func longIDs(_ family: String) throws -> [Int32] {
        let c = try #require(try FamilyCase.load(family).first { $0.name == "plain_650" })
        return c.ids
    }

    static func embedding(_ model: Model, _ ext: ContextExtension, _ ids: [Int32], kernels: any Kernels = NativeKernels()) throws -> [Float] {
        try Encoder(model: model, options: EncoderOptions(contextExtension: ext), kernels: kernels).embed(tokenIDs: [ids])[0]
    }

    static func ext(_ m: ContextExtension.Method, _ n: Int) -> ContextExtension {
        ContextExtension(m, targetLength: n, attentionScaling: false, remapShortInputs: true)
    }

    /// SelfExtend on every RoPE family (GQA on Gemma): the C kernels against the Swift oracle,
    /// hidden states and embeddings.
    @Test(arguments: ropeFamilies)
    func selfExtendMatchesTheSwiftOracle(family: String) throws {
        let model = try EncoderFamilyTests.model(family)
        let ids = try Self.longIDs(family)
        let se = Self.ext(.selfExtend(group: 3, window: 64), ids.count)
        let native = try Encoder(model: model, options: EncoderOptions(contextExtension: se), kernels: NativeKernels())
        let oracle = try Encoder(model: model, options: EncoderOptions(contextExtension: se), kernels: ReferenceKernels())
        let h1 = try native.lastHiddenState(ids: ids), h2 = try oracle.lastHiddenState(ids: ids)
        let scale = h2.map(abs).max() ?? 1
        #expect(try TestSupport.maxAbsDiff(h1, h2) / scale <= 1e-4)
        #expect(try TestSupport.maxAbsDiff(native.embed(tokenIDs: [ids])[0], oracle.embed(tokenIDs: [ids])[0]) <= 1e-5)
        // It changes the output (the grouped positions are in effect) ...
        let plain = try Self.embedding(model, Self.ext(.extrapolation, ids.count), ids)
        #expect(try TestSupport.maxAbsDiff(plain, native.embed(tokenIDs: [ids])[0]) > 1e-3)
        // ... and reduces to plain attention when the neighbour window covers the sequence.
        let wide = try Self.embedding(model, Self.ext(.selfExtend(group: 3, window: ids.count), ids.count), ids)
        #expect(try TestSupport.maxAbsDiff(plain, wide) <= 1e-6)
    }

    /// A model whose layers are all sliding-window layers is unchanged by every method: a local
    /// layer never sees a distance of its window or more.
    @Test(arguments: ["modernbert", "gemma3-bidirectional"])
    func slidingLayersAreUnchangedByEveryMethod(family: String) throws {
        let dir = try TestSupport.copyFixtureModel(FamilyCase.folder(family).appendingPathComponent("model"))
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let layers = try #require((config["num_hidden_layers"] as? Int))
        config["layer_types"] = [String](repeating: "sliding_attention", count: layers)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let model = try Model(directory: dir)
        #expect(!model.architecture.layerKinds.contains(.global))
        let ids = try Self.longIDs(family), n = ids.count
        let plain = try Self.embedding(model, Self.ext(.extrapolation, n), ids)
        let methods: [ContextExtension.Method] = [.ntk(lambda: 4), .yarn(factor: 3), .positionInterpolation(factor: 3),
                                                  .dynamicNTK(factor: 3), .selfExtend(group: 3, window: 16),
                                                  .groupedPositions(factor: 3), .recurrentPositions]
        for m in methods {
            var ext = Self.ext(m, n)
            ext.attentionScaling = true
            #expect(try Self.embedding(model, ext, ids) == plain, "\(m)")
        }
    }

    /// PCW on XLM-R: every chunk keeps `<s>` and `</s>`, and the document vector is the mean of
    /// the chunks' normalized vectors, each computed as an ordinary input.
    @Test func parallelContextWindowsOnXLMRobertaKeepItsSpecialTokens() throws {
        let model = try EncoderFamilyTests.model("xlm-roberta")
        let c = try #require(try FamilyCase.load("xlm-roberta").first { $0.name == "pi_600" })
        let ids = c.ids, lo = model.trainedContext.tokens
        let ext = ContextExtension(.parallelContextWindows, targetLength: ids.count)
        let pcw = try Self.embedding(model, ext, ids)
        let (pre, suf) = (model.tokenizer.prefixIDs, model.tokenizer.suffixIDs)
        #expect(pre == [0] && suf == [2])
        let body = Array(ids[pre.count..<(ids.count - suf.count)])
        let size = lo - pre.count - suf.count
        var acc = [Double](repeating: 0, count: pcw.count)
        let starts = ext.chunkStarts(tokenCount: ids.count, originalLength: lo)
        #expect(starts.count == 5)
        for s in starts {
            let chunk = pre + body[s..<min(s + size, body.count)] + suf
            #expect(chunk.count == lo)
            let v = try Self.embedding(model, .none, chunk)
            for j in v.indices { acc[j] += Double(v[j]) }
        }
        let norm = acc.map { $0 * $0 }.reduce(0, +).squareRoot()
        let expected = acc.map { Float($0 / norm) }
        #expect(try TestSupport.maxAbsDiff(expected, pcw) <= 1e-6)
    }

    /// sentence-transformers modules are run as listed or refused by name: an unknown module, a
    /// Dense module whose sizes do not chain, a module out of order.
    @Test(arguments: [
        ("modules.json", #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "name": "2", "path": "2_LayerNorm", "type": "sentence_transformers.models.LayerNorm"}]"#, "LayerNorm"),
        ("modules.json", #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "4_Normalize", "type": "sentence_transformers.models.Normalize"}, {"idx": 2, "name": "2", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#, "out of order"),
        ("modules.json", #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "../outside", "type": "sentence_transformers.models.Dense"}]"#, "leaves the model folder"),
        ("3_Dense/config.json", #"{"in_features": 64, "out_features": 32, "bias": false, "activation_function": "torch.nn.modules.linear.Identity"}"#, "does not match"),
        ("2_Dense/config.json", #"{"in_features": 32, "out_features": 128, "bias": false, "activation_function": "torch.nn.modules.activation.Softmax"}"#, "Softmax"),
    ])
    func badSentenceTransformersModulesAreTypedErrors(file: String, contents: String, mentions: String) throws {
        let dir = try TestSupport.copyFixtureModel(FamilyCase.folder("gemma3-bidirectional").appendingPathComponent("model"))
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(contents.utf8).write(to: dir.appendingPathComponent(file))
        do {
            _ = try Model(directory: dir)
            Issue.record("accepted \(file) mentioning \(mentions)")
        } catch {
            #expect("\(error)".contains(mentions), "\(error)")
        }
    }

    @Test(arguments: FamilyCase.families + FamilyCase.decoderFamilies)
    func embedEvalAndModelsRunOnEveryFamily(family: String) throws {
        let folder = FamilyCase.folder(family).appendingPathComponent("model").path
        let embed = try CLI.run(["embed", "--model", folder, "--extension", "pcw", "--extend-to", "512"],
                                stdin: Data("{\"id\": 1, \"text\": \"a short text\"}\n".utf8))
        #expect(embed.0 == 0, "\(embed.2)")
        #expect(embed.1.contains("\"embedding\""), "\(embed.1)")
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let extensions = family == "xlm-roberta" ? "none,pi" : "none,ntk"
        let eval = try CLI.run(["eval", "--model", folder, "--tasks", "passkey", "--lengths", "256,512", "--max-docs", "3",
                                "--extension", extensions, "--cache", "none", "--output", dir.path])
        #expect(eval.0 == 0, "\(eval.2)")
        if FamilyCase.decoderFamilies.contains(family) {
            // The prompt and the EOS the decoder pools are part of the results.
            let url = dir.appendingPathComponent("ntk/model_setting.json")
            let setting = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let model = try EncoderFamilyTests.model(family)
            #expect(setting["query_prompt"] as? String == model.defaultPrefixes.query)
            #expect((setting["tokens_after_text"] as? [String])?.count == 1 && setting["pooling"] as? String == "lastToken")
            let se = try CLI.run(["eval", "--model", folder, "--tasks", "passkey", "--lengths", "256", "--max-docs", "2",
                                  "--extension", "self-extend", "--cache", "none", "--output", dir.path])
            #expect(se.0 == 0, "\(se.2)")
        }
        let models = try CLI.run(["models", folder])
        #expect(models.0 == 0, "\(models.2)")
        #expect(models.1.contains("family") && models.1.contains("extension methods"), "\(models.1)")
    }
}
