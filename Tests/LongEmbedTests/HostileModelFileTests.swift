import Foundation
import Testing
@testable import LongEmbed

/// Hostile or damaged model files: each gives a typed error (or loads the same as the clean
/// file), never a crash, a silent misread or an unbounded allocation. Every file is generated in
/// a temporary folder; the tiny E5-RoPE model of `Tests/Fixtures/e5rope/model` is copied first.
@Suite struct HostileModelFileTests {
    // MARK: Helpers (none of them traps)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let tinyModel = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/e5rope/model", isDirectory: true)

    static func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("longembed-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A temporary folder with config.json, model.safetensors and tokenizer.json of the tiny model.
    static func copyOfTinyModel() throws -> URL {
        let dir = try tempDir()
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(at: tinyModel.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    /// A safetensors file: the header text, then `body` zero bytes.
    static func safetensors(header: String, body: Int) -> Data {
        let h = Array(header.utf8)
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: h)
        out.append(Data(count: body))
        return out
    }

    static func text(_ url: URL) throws -> String {
        String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    static func write(_ text: String, to url: URL, byteOrderMark: Bool = false) throws {
        var data = Data(byteOrderMark ? [0xEF, 0xBB, 0xBF] : [])
        data.append(Data(text.utf8))
        try data.write(to: url)
    }

    /// `text` with `old` replaced (which must occur exactly once).
    static func replacing(_ old: String, with new: String, in text: String) throws -> String {
        let parts = text.components(separatedBy: old)
        guard parts.count == 2 else { throw Failure(description: "\(old) occurs \(parts.count - 1) times") }
        return parts.joined(separator: new)
    }

    /// The error `body` throws, or a recorded issue when it returns.
    static func error<T>(_ what: String, _ body: () throws -> T) -> (any Error)? {
        do {
            _ = try body()
            Issue.record("accepted: \(what)")
            return nil
        } catch {
            return error
        }
    }

    static func corruptReason(_ error: (any Error)?) -> String? {
        if case .corruptSafeTensors(_, let reason)? = error as? ModelError { return reason }
        return nil
    }

    static func invalidConfigReason(_ error: (any Error)?) -> String? {
        if case .invalidConfig(_, let reason)? = error as? ModelError { return reason }
        return nil
    }

    static func peakRSSBytes() -> Int {
        var usage = rusage()
        #if os(Linux)
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024          // kilobytes
        #else
        getrusage(RUSAGE_SELF, &usage)
        return usage.ru_maxrss                 // bytes on Darwin
        #endif
    }
}

// MARK: - safetensors headers

extension HostileModelFileTests {
    /// A 16-byte F32 tensor at bytes 4096..<4112 of a 4112-byte data section.
    static func offsetHeader(begin: String) -> String {
        #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[\#(begin),4112]}}"#
    }

    @Test func exactIntegerOffsetsLoad() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Self.safetensors(header: Self.offsetHeader(begin: "4096"), body: 4112).write(to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(file.info("a")?.byteRange == 4096..<4112)
        // Escaped names, unknown fields, nested values and a string->string __metadata__ are fine.
        let header = #"{"__metadata__":{"format":"pt"},"b\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1.5,null,true]}}}"#
        try Self.safetensors(header: header, body: 4).write(to: url)
        #expect(try SafeTensorsFile(url: url).tensorNames == ["bé"])
    }

    /// 2^64 + 4096 used to load as 4096 (NSNumber truncation); 4096.5 and 4096.0 as 4096.
    @Test(arguments: ["18446744073709555712", "4096.5", "4096.0", "4.096e3", "true", "false", "null", #""4096""#,
                      "-4096", "9223372036854775808", "04096", "[4096]", "{}"])
    func nonIntegerOffsetsAreRejected(literal: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Self.safetensors(header: Self.offsetHeader(begin: literal), body: 4112).write(to: url)
        let reason = Self.corruptReason(Self.error(literal) { try SafeTensorsFile(url: url) })
        // A leading zero is a JSON syntax error, reported by the first pass without the field.
        #expect(reason?.contains(literal == "04096" ? "invalid JSON" : "data_offsets") == true, "\(reason ?? "no corruptSafeTensors error")")
    }

    @Test(arguments: ["18446744073709551620", "4.0", "4.5", "4e0", "true", #""4""#, "-4", "null"])
    func nonIntegerShapesAreRejected(literal: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let header = #"{"a":{"dtype":"F32","shape":[\#(literal)],"data_offsets":[0,16]}}"#
        try Self.safetensors(header: header, body: 16).write(to: url)
        let reason = Self.corruptReason(Self.error(literal) { try SafeTensorsFile(url: url) })
        #expect(reason?.contains("shape") == true, "\(reason ?? "no corruptSafeTensors error")")
    }

    /// JSONSerialization kept the last of two equal keys.
    @Test(arguments: [
        #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}"#,
        #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"\u0061":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}"#,
        #"{"a":{"dtype":"F32","dtype":"F16","shape":[4],"data_offsets":[0,16]}}"#,
        #"{"a":{"dtype":"F32","shape":[8],"shape":[4],"data_offsets":[0,16]}}"#,
        #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"x":1,"x":2}}"#,
        #"{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
        #"{"__metadata__":{},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"__metadata__":{}}"#,
    ])
    func duplicateKeysAreRejected(header: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        try Self.safetensors(header: header, body: 32).write(to: url)
        let reason = Self.corruptReason(Self.error(header) { try SafeTensorsFile(url: url) })
        #expect(reason?.contains("twice") == true, "\(reason ?? "no corruptSafeTensors error")")
    }

    @Test(arguments: [#"{"format":1}"#, #"{"format":null}"#, #"{"nested":{"a":"b"}}"#, "[]", "null", #""pt""#])
    func metadataMustMapStringsToStrings(metadata: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let header = #"{"__metadata__":\#(metadata),"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        try Self.safetensors(header: header, body: 16).write(to: url)
        let reason = Self.corruptReason(Self.error(metadata) { try SafeTensorsFile(url: url) })
        #expect(reason?.contains("__metadata__") == true, "\(reason ?? "no corruptSafeTensors error")")
    }

    /// A 20 MiB header of empty tensors took 1.35 GiB and 27 s with JSONSerialization.
    @Test func largeHeaderParsesInBoundedMemory() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        var header = "{"
        var count = 0
        while header.utf8.count < 20 << 20 {
            if count > 0 { header += "," }
            header += #""t\#(count)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"#
            count += 1
        }
        header += "}"
        try Self.safetensors(header: header, body: 0).write(to: url)
        header = ""
        let before = Self.peakRSSBytes()
        let start = Date()
        let file = try SafeTensorsFile(url: url)
        let seconds = Date().timeIntervalSince(start)
        let grew = Self.peakRSSBytes() - before
        #expect(file.tensorNames.count == count)
        #expect(try file.floats("t0").isEmpty)
        #expect(grew < 768 << 20, "peak RSS grew by \(grew >> 20) MiB parsing a 20 MiB header")
        #expect(seconds < 60, "took \(seconds) s")
    }

    /// Past ``SafeTensorsFile/maxEntries`` a header is rejected (here with metadata items,
    /// the cheapest entries to write).
    @Test func tooManyEntriesAreRejected() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let items = (0...SafeTensorsFile.maxEntries).map { #""\#($0)":"""# }.joined(separator: ",")
        let header = #"{"__metadata__":{\#(items)},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        try Self.safetensors(header: header, body: 16).write(to: url)
        let reason = Self.corruptReason(Self.error("too many entries") { try SafeTensorsFile(url: url) })
        #expect(reason?.contains("more than \(SafeTensorsFile.maxEntries)") == true, "\(reason ?? "no corruptSafeTensors error")")
    }

    @Test func tooManyDimensionsAreRejected() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let ones = Array(repeating: "1", count: SafeTensorsFile.maxRank + 1).joined(separator: ",")
        try Self.safetensors(header: #"{"a":{"dtype":"F32","shape":[\#(ones)],"data_offsets":[0,4]}}"#, body: 4).write(to: url)
        let reason = Self.corruptReason(Self.error("rank 65") { try SafeTensorsFile(url: url) })
        #expect(reason?.contains("more than \(SafeTensorsFile.maxRank)") == true, "\(reason ?? "no corruptSafeTensors error")")
    }
}

// MARK: - Sharded weights

extension HostileModelFileTests {
    static func writeShard(_ dir: URL, _ name: String, tensors: [String]) throws {
        let entries = tensors.enumerated().map { i, t in #""\#(t)":{"dtype":"F32","shape":[1],"data_offsets":[\#(4 * i),\#(4 * i + 4)]}"# }
        try safetensors(header: "{" + entries.joined(separator: ",") + "}", body: 4 * tensors.count)
            .write(to: dir.appendingPathComponent(name))
    }

    static func writeIndex(_ dir: URL, _ map: String, byteOrderMark: Bool = false) throws {
        try write(#"{"metadata": {"total_size": 12}, "weight_map": {\#(map)}}"#,
                  to: dir.appendingPathComponent("model.safetensors.index.json"), byteOrderMark: byteOrderMark)
    }

    @Test func shardedIndexListsFilesInOrderAndAcceptsAByteOrderMark() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShard(dir, "b.safetensors", tensors: ["y", "z"])
        try Self.writeShard(dir, "a.safetensors", tensors: ["x"])
        try Self.writeIndex(dir, #""y": "b.safetensors", "x": "a.safetensors", "z": "b.safetensors""#, byteOrderMark: true)
        let store = try WeightStore(directory: dir)
        #expect(store.names == ["x", "y", "z"])
        #expect(store.fileURLs.map(\.lastPathComponent) == ["a.safetensors", "b.safetensors"])
        let single = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: single) }
        #expect(try WeightStore(directory: single).fileURLs.map(\.lastPathComponent) == ["model.safetensors"])
    }

    /// The index promised `y` in a.safetensors, which does not hold it: loaded without complaint.
    @Test func tensorMissingFromItsShardIsAnError() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShard(dir, "a.safetensors", tensors: ["x"])
        try Self.writeShard(dir, "b.safetensors", tensors: ["y"])
        try Self.writeIndex(dir, #""x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors""#)
        let reason = Self.invalidConfigReason(Self.error("missing tensor") { try WeightStore(directory: dir) })
        #expect(reason?.contains("does not hold it") == true, "\(reason ?? "no invalidConfig error")")
    }

    /// Two shards holding `x`: the last opened won silently.
    @Test func tensorInTwoShardsIsAnError() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShard(dir, "a.safetensors", tensors: ["x"])
        try Self.writeShard(dir, "b.safetensors", tensors: ["x", "y"])
        try Self.writeIndex(dir, #""x": "a.safetensors", "y": "b.safetensors""#)
        let reason = Self.invalidConfigReason(Self.error("tensor in two shards") { try WeightStore(directory: dir) })
        #expect(reason?.contains("two shards") == true, "\(reason ?? "no invalidConfig error")")
    }

    @Test(arguments: ["../outside.safetensors", "/tmp/absolute.safetensors", "sub/x.safetensors", ".hidden.safetensors",
                      "..", "", "folder.safetensors"])
    func shardPathsStayInTheFolder(shard: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShard(dir, "a.safetensors", tensors: ["x"])
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.safetensors"), withIntermediateDirectories: true)
        try Self.writeIndex(dir, #""x": "a.safetensors", "y": "\#(shard)""#)
        let reason = Self.invalidConfigReason(Self.error(shard) { try WeightStore(directory: dir) })
        #expect(reason?.contains("shard") == true, "\(reason ?? "no invalidConfig error")")
    }

    @Test(arguments: [#""x": "a.safetensors", "x": "a.safetensors""#, #""x": 1"#, #""x": null"#])
    func malformedWeightMapsAreErrors(map: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeShard(dir, "a.safetensors", tensors: ["x"])
        try Self.writeIndex(dir, map)
        #expect(Self.invalidConfigReason(Self.error(map) { try WeightStore(directory: dir) }) != nil)
    }
}

// MARK: - tokenizer.json

extension HostileModelFileTests {
    static let maskEntry = #"{"id":103,"special":true,"content":"[MASK]""#

    static func tokenizerReason(_ error: (any Error)?) -> String? {
        if case .invalidTokenizer(_, let reason)? = error as? ModelError { return reason }
        return nil
    }

    /// Ids -1 and 2^40 crashed (Int32 conversion), 10^9 allocated a 16 GB reverse table.
    @Test(arguments: ["-1", "1099511627776", "1000000000", "70000", "103.5", "103.0", "true", #""103""#, "null"])
    func addedTokenIDsAreValidated(id: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try Self.text(Self.tinyModel.appendingPathComponent("tokenizer.json"))
        let changed = try Self.replacing(Self.maskEntry, with: #"{"id":\#(id),"special":true,"content":"[MASK2]""#, in: original)
        let url = dir.appendingPathComponent("tokenizer.json")
        try Self.write(changed, to: url)
        #expect(Self.tokenizerReason(Self.error(id) { try Tokenizer(url: url) }) != nil)
    }

    @Test(arguments: [
        (#""vocab":{"[PAD]":0,"#, #""vocab":{"zzz-new":-3,"[PAD]":0,"#),
        (#""vocab":{"[PAD]":0,"#, #""vocab":{"zzz-new":1000000000,"[PAD]":0,"#),
        (#""vocab":{"[PAD]":0,"#, #""vocab":{"zzz-new":5.5,"[PAD]":0,"#),
        (#""vocab":{"[PAD]":0,"#, #""vocab":{"zzz-new":true,"[PAD]":0,"#),
        // Two tokens with one id.
        (#""vocab":{"[PAD]":0,"#, #""vocab":{"zzz-new":5,"[PAD]":0,"#),
        // An added token taking another token's id, or a vocabulary token with a second id.
        (HostileModelFileTests.maskEntry, #"{"id":5,"special":true,"content":"<new>""#),
        (HostileModelFileTests.maskEntry, #"{"id":30000,"special":true,"content":"[MASK]""#),
    ])
    func vocabularyIDsAreDenseAndUnique(old: String, new: String) throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try Self.text(Self.tinyModel.appendingPathComponent("tokenizer.json"))
        let url = dir.appendingPathComponent("tokenizer.json")
        try Self.write(try Self.replacing(old, with: new, in: original), to: url)
        #expect(Self.tokenizerReason(Self.error(new) { try Tokenizer(url: url) }) != nil)
    }

    @Test func maxTokenIDIsCheckedAgainstTheModel() throws {
        let tokenizer = try Tokenizer.load(directory: Self.tinyModel)
        #expect(tokenizer.maxTokenID == 30521)
        try tokenizer.validate(vocabSize: 30522)
        let reason = Self.tokenizerReason(Self.error("vocab_size 30000") { try tokenizer.validate(vocabSize: 30000) })
        #expect(reason?.contains("30000") == true && reason?.contains("30521") == true, "\(reason ?? "no error")")
        // An added token past the end extends the table contiguously.
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try Self.text(Self.tinyModel.appendingPathComponent("tokenizer.json"))
        let url = dir.appendingPathComponent("tokenizer.json")
        try Self.write(try Self.replacing(Self.maskEntry, with: #"{"id":30522,"special":true,"content":"<new>"},"# + Self.maskEntry, in: original), to: url)
        let extended = try Tokenizer(url: url)
        #expect(extended.maxTokenID == 30522 && extended.token(for: 30522) == "<new>")
        #expect(extended.encode("a <new> b", addSpecialTokens: false).contains(30522))
        #expect(throws: ModelError.self) { try extended.validate(vocabSize: 30522) }
    }

    @Test func byteOrderMarkIsIgnoredInTokenizerAndConfig() throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["tokenizer.json", "config.json"] {
            let url = dir.appendingPathComponent(name)
            try Self.write(try Self.text(url), to: url, byteOrderMark: true)
        }
        let plain = try Tokenizer.load(directory: Self.tinyModel)
        let marked = try Tokenizer.load(directory: dir)
        let text = "The passkey is 41906. Remember it!"
        #expect(marked.encode(text) == plain.encode(text))
        #expect(try ArchitectureDescription.load(directory: dir) == ArchitectureDescription.load(directory: Self.tinyModel))
    }

    @Test func tokenizerThatIsADirectoryIsUnreadable() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tokenizer.json")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let error = Self.error("directory") { try Tokenizer(url: url) } as? ModelError
        guard case .unreadable(let path, _)? = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
    }
}

// MARK: - sentence-transformers configs

extension HostileModelFileTests {
    static let modules = #"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#
    static let clsPooling = #"{"word_embedding_dimension":64,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":false}"#

    /// A tiny model with a CLS-pooling sentence-transformers config.
    static func sentenceTransformersModel(maxSeqLength: String = "256", byteOrderMark: Bool = false) throws -> URL {
        let dir = try copyOfTinyModel()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        try write(modules, to: dir.appendingPathComponent("modules.json"), byteOrderMark: byteOrderMark)
        try write(clsPooling, to: dir.appendingPathComponent("1_Pooling/config.json"), byteOrderMark: byteOrderMark)
        try write(#"{"max_seq_length": \#(maxSeqLength), "do_lower_case": false}"#,
                  to: dir.appendingPathComponent("sentence_bert_config.json"), byteOrderMark: byteOrderMark)
        return dir
    }

    @Test func sentenceTransformersConfigLoadsWithOrWithoutByteOrderMark() throws {
        for bom in [false, true] {
            let dir = try Self.sentenceTransformersModel(byteOrderMark: bom)
            defer { try? FileManager.default.removeItem(at: dir) }
            let config = try SentenceTransformersConfig.load(directory: dir)
            #expect(config == SentenceTransformersConfig(pooling: .cls, normalize: true, maxSeqLength: 256), "byte-order mark: \(bom)")
        }
        let dir = try Self.sentenceTransformersModel(maxSeqLength: "null")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try SentenceTransformersConfig.load(directory: dir)?.maxSeqLength == nil)
    }

    /// A directory at any of the three paths used to fall back silently (modules.json: mean
    /// pooling for a CLS model; sentence_bert_config.json: no truncation length).
    @Test(arguments: ["modules.json", "1_Pooling/config.json", "sentence_bert_config.json"])
    func presentButUnreadableFilesAreErrors(file: String) throws {
        let dir = try Self.sentenceTransformersModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(file)
        try FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let error = Self.error(file) { try SentenceTransformersConfig.load(directory: dir) } as? ModelError
        guard case .unreadable(let path, _)? = error else {
            Issue.record("expected unreadable for \(file), got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(throws: EncoderError.model(error ?? .fileNotFound(path: ""))) { try Encoder(directory: dir) }
    }

    @Test(.disabled(if: getuid() == 0, "root reads a file whatever its mode"))
    func permissionDeniedIsAnError() throws {
        let dir = try Self.sentenceTransformersModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("modules.json")
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: url.path)
        let error = Self.error("mode 000") { try SentenceTransformersConfig.load(directory: dir) } as? ModelError
        guard case .unreadable(let path, _)? = error else {
            Issue.record("expected unreadable, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
    }

    @Test func missingFilesStillMeanDefaults() throws {
        let dir = try Self.sentenceTransformersModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("sentence_bert_config.json"))
        #expect(try SentenceTransformersConfig.load(directory: dir)?.maxSeqLength == nil)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("modules.json"))
        #expect(try SentenceTransformersConfig.load(directory: dir) == nil)
    }

    @Test(arguments: ["0", "1", "2", "-5", "256.5", "256.0", #""256""#, "true", "18446744073709551616", "1e3", "[256]"])
    func maxSeqLengthMustBeAUsableInteger(value: String) throws {
        let dir = try Self.sentenceTransformersModel(maxSeqLength: value)
        defer { try? FileManager.default.removeItem(at: dir) }
        let reason = Self.invalidConfigReason(Self.error(value) { try SentenceTransformersConfig.load(directory: dir) })
        #expect(reason?.contains("max_seq_length") == true, "\(reason ?? "no invalidConfig error")")
    }

    @Test(arguments: ["../1_Pooling", "/tmp/1_Pooling", "a/../../b"])
    func poolingPathStaysInTheFolder(path: String) throws {
        let dir = try Self.sentenceTransformersModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.write(try Self.replacing(#""path":"1_Pooling""#, with: #""path":"\#(path)""#, in: Self.modules),
                       to: dir.appendingPathComponent("modules.json"))
        let reason = Self.invalidConfigReason(Self.error(path) { try SentenceTransformersConfig.load(directory: dir) })
        #expect(reason?.contains("leaves the model folder") == true, "\(reason ?? "no invalidConfig error")")
    }
}

// MARK: - num_hidden_layers against the weights

extension HostileModelFileTests {
    static func setLayers(_ n: Int, in dir: URL) throws {
        let url = dir.appendingPathComponent("config.json")
        guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw Failure(description: "config.json is not an object")
        }
        config["num_hidden_layers"] = n
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// One layer configured, two in the weights: the second was silently dropped.
    /// Three configured: a tensorNotFound for layer 2 rather than a count.
    @Test(arguments: [1, 3])
    func layerCountMustMatchTheWeights(configured: Int) throws {
        let dir = try Self.copyOfTinyModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.setLayers(configured, in: dir)
        let error = Self.error("num_hidden_layers \(configured)") { try Encoder(directory: dir) }
        #expect(error as? EncoderError == .model(.layerCountMismatch(configured: configured, inWeights: 2)))
        #expect("\(error.map { "\($0)" } ?? "")".contains("sets \(configured) layers"))
        try Self.setLayers(2, in: dir)
        #expect(try Encoder(directory: dir).architecture.layerCount == 2)
    }
}
