import Foundation
import Testing
import LongEmbed

/// Writes small safetensors files for tests.
enum SafeTensorsWriter {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
    }

    static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> Entry {
        Entry(name: name, dtype: "F32", shape: shape, bytes: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
    }

    /// The file bytes; `header` overrides the JSON header when given.
    static func data(_ entries: [Entry], header: String? = nil) -> Data {
        var json = "{"
        var offset = 0
        var body: [UInt8] = []
        for (i, e) in entries.enumerated() {
            if i > 0 { json += "," }
            json += "\"\(e.name)\":{\"dtype\":\"\(e.dtype)\",\"shape\":\(e.shape),\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}"
            offset += e.bytes.count
            body += e.bytes
        }
        json += "}"
        let h = Array((header ?? json).utf8)
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: h)
        out.append(contentsOf: body)
        return out
    }

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("longembed-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

@Suite struct TokenizerTests {
    static let tokenizerDir = TestSupport.golden.appendingPathComponent("e5rope/model")

    @Test func allGoldenCasesMatchHuggingFaceTokenizers() throws {
        let tokenizer = try Tokenizer.load(directory: Self.tokenizerDir)
        let cases = try #require(try Golden.json("minilm/tokenizer_cases.json") as? [[String: Any]])
        #expect(cases.count == 36)
        for c in cases {
            let text = try #require(c["text"] as? String)
            let ids = tokenizer.encode(text)
            #expect(try ids == Golden.ids(c["ids"]), "ids differ for \(text.debugDescription)")
            let tokens = ["[CLS]"] + tokenizer.tokens(text) + ["[SEP]"]
            let goldenTokens = try #require(c["tokens"] as? [String])
            #expect(tokens == goldenTokens, "tokens differ for \(text.debugDescription)")
        }
    }

    @Test func longDocumentsTokenizeWithoutACap() throws {
        let tokenizer = try Tokenizer.load(directory: Self.tokenizerDir)
        let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
        let text = String(repeating: filler, count: 1400)
        let ids = tokenizer.encode(text)
        #expect(ids.count == 1400 * 24 + 2)
        #expect(ids.first == tokenizer.clsID && ids.last == tokenizer.sepID)
        let cut = tokenizer.encode(text, maxTokens: 512)
        #expect(cut.count == 512 && cut.last == tokenizer.sepID && Array(cut.prefix(511)) == Array(ids.prefix(511)))
    }

    @Test func decodeInvertsEncodingOfPlainText() throws {
        let tokenizer = try Tokenizer.load(directory: Self.tokenizerDir)
        let text = "malayah graves's pass key is 41906. remember it, please!"
        let ids = tokenizer.encode(text)
        // tokenizers' decoder keeps "graves ' s"; transformers' whole-string cleanup joins it.
        #expect(tokenizer.decode(ids) == "malayah graves ' s pass key is 41906. remember it, please!")
        #expect(Tokenizer.cleanUpTokenizationSpaces(tokenizer.decode(ids)) == text)
        // Values from tokenizers 0.23.3: the first piece keeps its "##"; per-piece cleanup.
        #expect(tokenizer.decode([2620, 7592, 1010]) == "##8 hello,")
        #expect(tokenizer.decode([101, 2123, 1005, 1056, 102]) == "don ' t")
        // "##" followed by a combining mark is still a continuation piece.
        #expect(tokenizer.decode(tokenizer.encode("हिन्दी पाठ")) == "हिनदी")
    }

    @Test func unsupportedOrMalformedTokenizersAreTypedErrors() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: ModelError.tokenizerMissing(path: dir.path)) { try Tokenizer.load(directory: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        try Data("{not json".utf8).write(to: url)
        #expect(throws: ModelError.self) { try Tokenizer.load(directory: dir) }
        // A BPE model without merges is malformed; a model type that is not implemented is named.
        try Data(#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#.utf8).write(to: url)
        #expect(throws: ModelError.invalidTokenizer(path: url.path, reason: "model: missing \"merges\"")) { try Tokenizer.load(directory: dir) }
        try Data(#"{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}"#.utf8).write(to: url)
        #expect(throws: ModelError.unsupportedTokenizerComponent(path: url.path, component: "model WordLevel (at model)")) {
            try Tokenizer.load(directory: dir)
        }
    }
}

@Suite struct SafeTensorsTests {
    @Test func readsF32F16AndBF16() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [1, -2.5, 0.15625, 65504]
        let f16 = values.flatMap { withUnsafeBytes(of: Float16($0).bitPattern.littleEndian, Array.init) }
        let bf16 = values.flatMap { withUnsafeBytes(of: UInt16($0.bitPattern >> 16).littleEndian, Array.init) }
        let url = dir.appendingPathComponent("model.safetensors")
        try SafeTensorsWriter.data([
            SafeTensorsWriter.f32("a", [2, 2], values),
            .init(name: "b", dtype: "F16", shape: [4], bytes: f16),
            .init(name: "c", dtype: "BF16", shape: [4], bytes: bf16),
            .init(name: "d", dtype: "I8", shape: [2], bytes: [1, 2]),
        ]).write(to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(file.tensorNames == ["a", "b", "c", "d"])
        #expect(try file.floats("a") == values)
        #expect(try file.floats("b") == values)
        #expect(try file.floats("c") == values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
        #expect(throws: ModelError.unsupportedDType(name: "d", dtype: "I8")) { try file.floats("d") }
        let store = try WeightStore(directory: dir)
        #expect(try store.tensor("a", shape: [2, 2]) == values)
        #expect(throws: ModelError.tensorShapeMismatch(name: "a", expected: [4], actual: [2, 2])) { try store.tensor("a", shape: [4]) }
        #expect(throws: ModelError.tensorNotFound(name: "zz")) { try store.tensor("zz", shape: [1]) }
    }

    @Test func readsShardedModels() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensorsWriter.data([SafeTensorsWriter.f32("x", [2], [1, 2])]).write(to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try SafeTensorsWriter.data([SafeTensorsWriter.f32("y", [1], [3])]).write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index = #"{"metadata": {}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let store = try WeightStore(directory: dir)
        #expect(store.names == ["x", "y"])
        #expect(try store.tensor("y", shape: [1]) == [3])
        // A shard the index names but that is missing.
        let bad = #"{"weight_map": {"x": "model-00001-of-00002.safetensors", "z": "missing.safetensors"}}"#
        try Data(bad.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        #expect(throws: ModelError.fileNotFound(path: dir.appendingPathComponent("missing.safetensors").path)) { try WeightStore(directory: dir) }
    }

    /// Each corruption gives a typed error, never a crash.
    @Test(arguments: ["empty", "four bytes", "header cut", "data cut", "huge header", "not json", "json list",
                      "span outside", "overlap", "span size", "bad dtype", "negative shape", "missing offsets"])
    func corruptFilesAreTypedErrors(kind: String) throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let good = SafeTensorsWriter.data([SafeTensorsWriter.f32("a", [4], [1, 2, 3, 4]), SafeTensorsWriter.f32("b", [2], [5, 6])])
        func header(_ h: String, body: Int = 24) -> Data {
            var d = SafeTensorsWriter.data([], header: h)
            d.append(Data(count: body))
            return d
        }
        let data: Data
        switch kind {
        case "empty": data = Data()
        case "four bytes": data = good.prefix(4)
        case "header cut": data = good.prefix(20)
        case "data cut": data = good.prefix(good.count - 3)
        case "huge header":
            var d = Data()
            withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { d.append(contentsOf: $0) }
            d.append(Data(count: 64))
            data = d
        case "not json": data = header("{\"a\": [unclosed")
        case "json list": data = header("[1, 2, 3]")
        case "span outside": data = header(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,400]}}"#)
        case "overlap": data = header(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#)
        case "span size": data = header(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#)
        case "bad dtype": data = header(#"{"a":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}}"#)
        case "negative shape": data = header(#"{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#)
        default: data = header(#"{"a":{"dtype":"F32","shape":[4]}}"#)
        }
        try data.write(to: url)
        #expect(throws: ModelError.self) { try SafeTensorsFile(url: url) }
    }

    @Test func nanWeightsAreRejected() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SafeTensorsWriter.data([SafeTensorsWriter.f32("w", [2], [1, .nan])]).write(to: dir.appendingPathComponent("model.safetensors"))
        #expect(throws: ModelError.nonFiniteWeights(name: "w")) { try WeightStore(directory: dir).tensor("w", shape: [2]) }
    }
}

/// Bad model folders given to the encoder: a typed error with a clear message.
@Suite struct ModelBadInputTests {
    static func copyOfTinyModel() throws -> URL {
        let dir = try SafeTensorsWriter.tempDir()
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(at: Golden.e5ropeModel.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    @Test func missingFolderOrFiles() throws {
        #expect(throws: EncoderError.self) { try Encoder(directory: URL(fileURLWithPath: "/nonexistent/model")) }
        for missing in ["config.json", "model.safetensors", "tokenizer.json"] {
            let dir = try Self.copyOfTinyModel()
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.removeItem(at: dir.appendingPathComponent(missing))
            do {
                _ = try Encoder(directory: dir)
                Issue.record("loaded without \(missing)")
            } catch {
                let message = "\(error)"
                #expect(message.contains(missing) || (missing == "tokenizer.json" && message.contains("tokenizer")), "\(message)")
            }
        }
    }

    @Test(arguments: [
        (#"{"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 30522}"#, "MambaForCausalLM"),
        (#"{"model_type": "bert", "position_embedding_type": "relative_key", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 30522}"#, "relative_key"),
        (#"{"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 5, "intermediate_size": 128, "vocab_size": 30522}"#, "multiple"),
        (#"{"model_type": "bert", "hidden_size": 64"#, "malformed"),
        (#"{"model_type": "bert", "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 30522}"#, "hidden_size"),
        (#"{"model_type": "bert", "hidden_act": "relu", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 30522}"#, "relu"),
    ])
    func badConfigs(config: String, mentions: String) throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
        do {
            _ = try Encoder(directory: dir)
            Issue.record("accepted config mentioning \(mentions)")
        } catch {
            #expect("\(error)".contains(mentions), "\(error)")
        }
    }

    @Test func wrongShapeAndTruncatedWeights() throws {
        // A config that disagrees with the weights' shapes.
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as? [String: Any])
        config["intermediate_size"] = 96
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        #expect(throws: EncoderError.model(.tensorShapeMismatch(name: "encoder.layer.0.intermediate.dense.weight", expected: [96, 64], actual: [128, 64]))) {
            try Encoder(directory: dir)
        }
        let dir2 = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir2) }
        let weights = dir2.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: weights)
        try data.prefix(data.count / 2).write(to: weights)
        #expect(throws: EncoderError.self) { try Encoder(directory: dir2) }
    }
}
