import Foundation
import Testing
@testable import LongEmbed

/// The GGUF reader on files written here (valid ones round-trip; hostile or damaged ones give a
/// typed ``ModelError``, never a crash or a huge allocation) and `Tokenizer(gguf:)` on small
/// generated vocabularies and on llama.cpp's real ones against the Hugging Face reference corpus.
@Suite struct GGUFTests {
    // MARK: Writing GGUF files (none of the helpers traps)

    /// A little-endian GGUF byte writer.
    struct Writer {
        var bytes: [UInt8] = []

        mutating func int<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func string(_ s: String) { int(UInt64(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
        mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

        /// Magic, version, tensor count, metadata count.
        mutating func header(version: UInt32 = 3, tensors: UInt64, entries: UInt64) {
            raw(Array("GGUF".utf8))
            int(version)
            int(tensors)
            int(entries)
        }

        /// A metadata entry: key, type code, then `value` writes the payload.
        mutating func entry(_ key: String, _ type: UInt32, _ value: (inout Writer) -> Void) {
            string(key)
            int(type)
            value(&self)
        }

        mutating func stringEntry(_ key: String, _ value: String) { entry(key, 8) { $0.string(value) } }
        mutating func boolEntry(_ key: String, _ value: Bool) { entry(key, 7) { $0.int(UInt8(value ? 1 : 0)) } }
        mutating func u32Entry(_ key: String, _ value: UInt32) { entry(key, 4) { $0.int(value) } }

        mutating func stringArray(_ key: String, _ values: [String]) {
            entry(key, 9) { w in
                w.int(UInt32(8))
                w.int(UInt64(values.count))
                for v in values { w.string(v) }
            }
        }

        mutating func int32Array(_ key: String, _ values: [Int32]) {
            entry(key, 9) { w in
                w.int(UInt32(5))
                w.int(UInt64(values.count))
                for v in values { w.int(v) }
            }
        }

        mutating func float32Array(_ key: String, _ values: [Float]) {
            entry(key, 9) { w in
                w.int(UInt32(6))
                w.int(UInt64(values.count))
                for v in values { w.int(v.bitPattern) }
            }
        }

        /// A tensor directory entry.
        mutating func tensor(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
            string(name)
            int(UInt32(dims.count))
            for d in dims { int(d) }
            int(type)
            int(offset)
        }

        /// Zero bytes up to a multiple of `alignment`.
        mutating func pad(to alignment: Int) {
            while bytes.count % alignment != 0 { bytes.append(0) }
        }

        var data: Data { Data(bytes) }
    }

    static func parse(_ bytes: [UInt8]) throws(ModelError) -> GGUFFile {
        try GGUFFile(data: Data(bytes), path: "test.gguf")
    }

    /// The reason of the `corruptGGUF` error `bytes` gives; nil when they parse or fail otherwise.
    static func corruption(_ bytes: [UInt8]) -> String? {
        do { _ = try parse(bytes); return nil } catch {
            if case .corruptGGUF(_, let reason) = error { return reason }
            return nil
        }
    }

    /// Every metadata type, nested arrays, an alignment of 64 and two tensors whose data ends the
    /// file exactly.
    static func validFile() -> [UInt8] {
        var w = Writer()
        w.header(tensors: 2, entries: 18)
        w.entry("u8", 0) { $0.int(UInt8(200)) }
        w.entry("i8", 1) { $0.int(Int8(-100)) }
        w.entry("u16", 2) { $0.int(UInt16(65000)) }
        w.entry("i16", 3) { $0.int(Int16(-30000)) }
        w.entry("u32", 4) { $0.int(UInt32(4_000_000_000)) }
        w.entry("i32", 5) { $0.int(Int32(-2_000_000_000)) }
        w.entry("f32", 6) { $0.int(Float(1.5).bitPattern) }
        w.boolEntry("bool", true)
        w.stringEntry("str", "héllo ▁ 日本")
        w.entry("u64", 10) { $0.int(UInt64.max) }
        w.entry("i64", 11) { $0.int(Int64.min) }
        w.entry("f64", 12) { $0.int(Double(-2.25).bitPattern) }
        w.stringArray("strings", ["a", "", "é", "e\u{301}"])
        w.int32Array("ints", [1, -2, 3])
        w.entry("bools", 9) { w in w.int(UInt32(7)); w.int(UInt64(2)); w.raw([1, 0]) }
        w.entry("nested", 9) { w in
            w.int(UInt32(9)); w.int(UInt64(2))
            w.int(UInt32(5)); w.int(UInt64(2)); w.int(Int32(7)); w.int(Int32(8))
            w.int(UInt32(8)); w.int(UInt64(1)); w.string("x")
        }
        w.entry("empty", 9) { w in w.int(UInt32(12)); w.int(UInt64(0)) }
        w.u32Entry("general.alignment", 64)
        w.tensor("weight", dims: [4, 2], type: 0, offset: 0)
        w.tensor("quant", dims: [32], type: 8, offset: 64)
        w.pad(to: 64)
        w.raw([UInt8](repeating: 1, count: 64))   // f32 4x2 = 32 bytes, padded to 64
        w.raw([UInt8](repeating: 2, count: 34))   // one Q8_0 block
        return w.bytes
    }

    // MARK: Valid files

    @Test func everyValueTypeRoundTrips() throws {
        let file = try Self.parse(Self.validFile())
        #expect(file.version == 3)
        #expect(file.metadata.count == 18)
        #expect(file["u8"] == .uint8(200))
        #expect(file["i8"] == .int8(-100))
        #expect(file["u16"] == .uint16(65000))
        #expect(file["i16"] == .int16(-30000))
        #expect(file["u32"] == .uint32(4_000_000_000))
        #expect(file["i32"] == .int32(-2_000_000_000))
        #expect(file["f32"] == .float32(1.5))
        #expect(file["bool"] == .bool(true))
        #expect(file["str"] == .string("héllo ▁ 日本"))
        #expect(file["u64"] == .uint64(.max))
        #expect(file["u64"]?.integerValue == nil)
        #expect(file["i64"] == .int64(.min))
        #expect(file["f64"] == .float64(-2.25))
        #expect(file["bools"] == .array(.bool([true, false])))
        #expect(file["ints"] == .array(.int32([1, -2, 3])))
        #expect(file["nested"] == .array(.array([.int32([7, 8]), .string(["x"])])))
        #expect(file["empty"] == .array(.float64([])))
        #expect(file["missing"] == nil)
        // Byte-wise strings: the two spellings of é stay two.
        guard case .array(.string(let strings))? = file["strings"] else { Issue.record("strings"); return }
        #expect(strings.count == 4 && strings[2].utf8.count == 2 && strings[3].utf8.count == 3)
    }

    @Test func tensorDirectoryAndDataOffset() throws {
        let bytes = Self.validFile()
        let file = try Self.parse(bytes)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(file.fileSize == bytes.count)
        #expect(file.dataOffset + 64 + 34 == bytes.count)
        #expect(file.tensors.map(\.name) == ["weight", "quant"])
        #expect(file.tensor("weight")?.dimensions == [4, 2])
        #expect(file.tensor("weight")?.byteCount == 32)
        #expect(file.tensor("quant")?.typeName == "q8_0")
        #expect(file.tensor("quant")?.byteCount == 34)
        #expect(file.tensor("quant")?.offset == 64)
        #expect(bytes[file.dataOffset] == 1 && bytes[file.dataOffset + 64] == 2)
    }

    @Test func fileWithoutTensorsEndsAtItsMetadata() throws {
        var w = Writer()
        w.header(version: 2, tensors: 0, entries: 1)
        w.stringEntry("general.name", "x")
        let file = try Self.parse(w.bytes)
        #expect(file.version == 2 && file.tensors.isEmpty && file.dataOffset == w.bytes.count && file.alignment == 32)
    }

    // MARK: Hostile headers

    @Test func badMagicAndVersions() {
        var bytes = Self.validFile()
        bytes[0] = UInt8(ascii: "X")
        #expect(Self.corruption(bytes)?.contains("magic") == true)
        for (version, words) in [(UInt32(1), "version 1"), (4, "unknown GGUF version 4"), (0x0300_0000, "big-endian"), (0, "unknown")] {
            var v = Self.validFile()
            withUnsafeBytes(of: version.littleEndian) { for i in 0..<4 { v[4 + i] = $0[i] } }
            let reason = Self.corruption(v)
            #expect(reason?.contains(words) == true, "\(version): \(reason ?? "parsed")")
        }
        #expect(Self.corruption([]) != nil)
        #expect(Self.corruption(Array("GGUF".utf8)) != nil)
    }

    @Test func countsLargerThanTheFile() {
        for (tensors, entries, words) in [(UInt64.max, UInt64(0), "tensor count"), (1 << 40, 0, "tensor count"),
                                          (0, UInt64.max, "metadata entry count"), (0, 1_000_000, "metadata entry count")] {
            var w = Writer()
            w.header(tensors: tensors, entries: entries)
            w.stringEntry("a", "b")
            let reason = Self.corruption(w.bytes)
            #expect(reason?.contains(words) == true, "\(reason ?? "parsed")")
        }
    }

    @Test func stringLengthsOf2To63() {
        var key = Writer()
        key.header(tensors: 0, entries: 1)
        key.int(UInt64(1) << 63)
        key.raw(Array("abcdefghijklmnopqrstuvwxyz".utf8))
        #expect(Self.corruption(key.bytes)?.contains("length of the key") == true)
        var value = Writer()
        value.header(tensors: 0, entries: 1)
        value.entry("k", 8) { $0.int(UInt64(1) << 63); $0.raw([0x41]) }
        #expect(Self.corruption(value.bytes)?.contains("length of metadata \"k\"") == true)
        var element = Writer()
        element.header(tensors: 0, entries: 1)
        element.entry("k", 9) { w in w.int(UInt32(8)); w.int(UInt64(2)); w.string("ok"); w.int(UInt64.max) }
        #expect(Self.corruption(element.bytes)?.contains("metadata \"k\"[1]") == true)
    }

    @Test func hugeArrayCounts() {
        for type: UInt32 in [0, 5, 7, 8, 9, 10, 12] {
            for count in [UInt64.max, UInt64(1) << 62, 1 << 32, 100] {
                var w = Writer()
                w.header(tensors: 0, entries: 1)
                w.entry("tokenizer.ggml.tokens", 9) { w in w.int(type); w.int(count); w.raw([0, 0, 0, 0, 0, 0, 0, 0]) }
                let reason = Self.corruption(w.bytes)
                #expect(reason?.contains("element count") == true, "type \(type) count \(count): \(reason ?? "parsed")")
            }
        }
    }

    @Test func nestedArraysAreBounded() throws {
        func nested(_ depth: Int) -> [UInt8] {
            var w = Writer()
            w.header(tensors: 0, entries: 1)
            w.entry("deep", 9) { w in
                for _ in 1..<depth { w.int(UInt32(9)); w.int(UInt64(1)) }
                w.int(UInt32(0)); w.int(UInt64(1)); w.raw([42])
            }
            return w.bytes
        }
        let ok = try Self.parse(nested(GGUFFile.maxArrayDepth))
        var value = ok["deep"]?.arrayValue
        for _ in 1..<GGUFFile.maxArrayDepth {
            guard case .array(let inner)? = value, inner.count == 1 else { Issue.record("nesting lost"); return }
            value = inner[0]
        }
        #expect(value == .uint8([42]))
        #expect(Self.corruption(nested(GGUFFile.maxArrayDepth + 1))?.contains("deeper than") == true)
        #expect(Self.corruption(nested(10_000))?.contains("deeper than") == true)
    }

    @Test func unknownTypesAndBadValues() {
        for type: UInt32 in [13, 100, .max] {
            var w = Writer()
            w.header(tensors: 0, entries: 1)
            w.entry("k", type) { $0.int(UInt64(0)) }
            #expect(Self.corruption(w.bytes)?.contains("unknown value type \(type)") == true)
            var a = Writer()
            a.header(tensors: 0, entries: 1)
            a.entry("k", 9) { w in w.int(type); w.int(UInt64(0)) }
            #expect(Self.corruption(a.bytes)?.contains("unknown value type \(type)") == true)
        }
        var bool = Writer()
        bool.header(tensors: 0, entries: 1)
        bool.entry("b", 7) { $0.int(UInt8(2)) }
        #expect(Self.corruption(bool.bytes)?.contains("not 0 or 1") == true)
        var utf8 = Writer()
        utf8.header(tensors: 0, entries: 1)
        utf8.entry("s", 8) { w in w.int(UInt64(2)); w.raw([0xC3, 0x28]) }
        #expect(Self.corruption(utf8.bytes)?.contains("not valid UTF-8") == true)
        var twice = Writer()
        twice.header(tensors: 0, entries: 2)
        twice.stringEntry("k", "a")
        twice.stringEntry("k", "b")
        #expect(Self.corruption(twice.bytes)?.contains("appears twice") == true)
    }

    @Test func badAlignment() {
        for (type, value, words) in [(UInt32(4), UInt32(0), "power of two"), (4, 48, "power of two"), (5, 32, "not u32")] {
            var w = Writer()
            w.header(tensors: 0, entries: 1)
            w.entry("general.alignment", type) { $0.int(value) }
            #expect(Self.corruption(w.bytes)?.contains(words) == true)
        }
    }

    @Test func badTensorInfos() {
        func file(_ dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0, second: String? = nil, data: Int = 64) -> [UInt8] {
            var w = Writer()
            w.header(tensors: second == nil ? 1 : 2, entries: 0)
            w.tensor("t", dims: dims, type: type, offset: offset)
            if let second { w.tensor(second, dims: [1], type: 0, offset: 32) }
            w.pad(to: 32)
            w.raw([UInt8](repeating: 0, count: data))
            return w.bytes
        }
        #expect((try? Self.parse(file([4, 4]))) != nil)
        #expect(Self.corruption(file([1, 1, 1, 1, 1]))?.contains("5 dimensions") == true)
        #expect(Self.corruption(file([UInt64.max]))?.contains("product") == true)
        #expect(Self.corruption(file([1 << 32, 1 << 32]))?.contains("product") == true)
        #expect(Self.corruption(file([4], offset: 3))?.contains("multiple of the alignment") == true)
        #expect(Self.corruption(file([4], offset: .max))?.contains("multiple of the alignment") == true)
        #expect(Self.corruption(file([17]))?.contains("past the end") == true)
        #expect(Self.corruption(file([4], offset: 1 << 40))?.contains("past the end") == true)
        #expect(Self.corruption(file([1 << 30, 1 << 30]))?.contains("past the end") == true)
        #expect(Self.corruption(file([31], type: 8))?.contains("block size") == true)
        #expect(Self.corruption(file([1], second: "t"))?.contains("appears twice") == true)
        let unknownType = try? Self.parse(file([1 << 40], type: 99))
        #expect(unknownType != nil && unknownType?.tensors.first?.typeName == nil && unknownType?.tensors.first?.byteCount == nil)
        var huge = Writer()
        huge.header(tensors: 1, entries: 0)
        huge.tensor("t", dims: [1], type: 0, offset: 0)
        #expect(Self.corruption(huge.bytes)?.contains("past the end") == true)
    }

    /// Every proper prefix of a valid file is an error.
    @Test func truncatedAnywhere() {
        let bytes = Self.validFile()
        var parsed: [Int] = []
        for n in 0..<bytes.count where Self.corruption(Array(bytes[..<n])) == nil { parsed.append(n) }
        #expect(parsed.isEmpty, "prefixes that did not fail: \(parsed.prefix(10))")
    }

    /// Random single-byte and multi-byte damage: a value or a typed error, never a trap.
    @Test func randomDamageNeverTraps() {
        let bytes = Self.validFile()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var outcomes = (parsed: 0, failed: 0, other: 0)
        for _ in 0..<3000 {
            var damaged = bytes
            for _ in 0...(next() % 4) { damaged[next() % damaged.count] = UInt8(truncatingIfNeeded: next()) }
            do { _ = try Self.parse(damaged); outcomes.parsed += 1 } catch {
                if case .corruptGGUF = error { outcomes.failed += 1 } else { outcomes.other += 1 }
            }
        }
        #expect(outcomes.other == 0 && outcomes.failed > 0, "\(outcomes)")
    }

    @Test func missingFilesAndDirectories() throws {
        let dir = try SafeTensorsWriter.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("none.gguf")
        #expect(throws: ModelError.fileNotFound(path: missing.path)) { try GGUFFile(url: missing) }
        #expect(throws: ModelError.unreadable(path: dir.path, reason: "is a directory, not a file")) { try GGUFFile(url: dir) }
        #expect(throws: ModelError.fileNotFound(path: missing.path)) { try Tokenizer(gguf: missing) }
    }
}

// MARK: - Tokenizers from generated GGUF vocabularies

extension GGUFTests {
    /// A GGUF vocabulary file: `tokenizer.ggml.*` entries written by `entries`.
    static func vocabulary(entries count: UInt64, _ entries: (inout Writer) -> Void) throws -> Tokenizer {
        var w = Writer()
        w.header(tensors: 0, entries: count)
        entries(&w)
        return try Tokenizer(gguf: try Self.parse(w.bytes))
    }

    /// The error a vocabulary gives; nil when it loads.
    static func vocabularyError(entries count: UInt64, _ entries: (inout Writer) -> Void) -> ModelError? {
        do { _ = try vocabulary(entries: count, entries); return nil } catch { return error as? ModelError }
    }

    /// The 256 byte-level characters and a few merges.
    static let byteLevelTokens = ByteLevelAlphabet.scalars.map { String($0) } + ["he", "ll", "hell", "hello", "Ġw", "<|end|>"]
    static let byteLevelMerges = ["h e", "l l", "he ll", "hell o", "Ġ w"]

    @Test func byteLevelVocabulary() throws {
        let tok = try Self.vocabulary(entries: 5) { w in
            w.stringEntry("tokenizer.ggml.model", "gpt2")
            w.stringEntry("tokenizer.ggml.pre", "qwen2")
            w.stringArray("tokenizer.ggml.tokens", Self.byteLevelTokens)
            w.int32Array("tokenizer.ggml.token_type", [Int32](repeating: 1, count: 261) + [3])
            w.stringArray("tokenizer.ggml.merges", Self.byteLevelMerges)
        }
        let ids = tok.encode("hello world<|end|>")
        #expect(ids.map { tok.token(for: $0) ?? "?" } == ["hello", "Ġw", "o", "r", "l", "d", "<|end|>"])
        #expect(tok.decode(ids) == "hello world")
        #expect(tok.decode(ids, skipSpecialTokens: false) == "hello world<|end|>")
        #expect(tok.prefixIDs.isEmpty && tok.suffixIDs.isEmpty)
    }

    @Test func bosFromTheVocabularyFlags() throws {
        let tok = try Self.vocabulary(entries: 5) { w in
            w.stringEntry("tokenizer.ggml.model", "gpt2")
            w.stringEntry("tokenizer.ggml.pre", "llama-bpe")
            w.stringArray("tokenizer.ggml.tokens", Self.byteLevelTokens)
            w.stringArray("tokenizer.ggml.merges", Self.byteLevelMerges)
            w.u32Entry("tokenizer.ggml.bos_token_id", 261)
        }
        #expect(tok.prefixIDs == [261])   // llama-bpe adds BOS by default
        #expect(tok.encode("hello", pair: "hello").ids == [261, 259, 261, 259])
    }

    @Test func wordPieceSpellingsAreConvertedBack() throws {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "\u{2581}hello", "\u{2581}wor", "ld", "\u{2581}!", "[unused0]", "\u{2581}"]
        #expect(GGUFTokenizerConverter.wordPieceSpellings(tokens, [.control, .control, .control, .control] + [GGUFVocabulary.TokenType](repeating: .normal, count: 6))
                == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "wor", "##ld", "!", "[unused0]", "##\u{2581}"])
        let tok = try Self.vocabulary(entries: 6) { w in
            w.stringEntry("tokenizer.ggml.model", "bert")
            w.stringArray("tokenizer.ggml.tokens", tokens)
            w.int32Array("tokenizer.ggml.token_type", [3, 3, 3, 3, 1, 1, 1, 1, 1, 1])
            w.u32Entry("tokenizer.ggml.unknown_token_id", 1)
            w.u32Entry("tokenizer.ggml.bos_token_id", 2)
            w.u32Entry("tokenizer.ggml.seperator_token_id", 3)
        }
        #expect(tok.encode("Hello World! x") == [2, 4, 5, 6, 7, 1, 3])
        #expect(tok.decode([2, 4, 5, 6, 7, 3]) == "hello world!")
    }

    @Test func sentencePieceVocabulary() throws {
        let bytes = (0..<256).map { String(format: "<0x%02X>", $0) }
        let tokens = ["<unk>", "<s>", "</s>"] + bytes + ["\u{2581}", "h", "i", "\u{2581}h", "\u{2581}hi"]
        let tok = try Self.vocabulary(entries: 5) { w in
            w.stringEntry("tokenizer.ggml.model", "llama")
            w.stringArray("tokenizer.ggml.tokens", tokens)
            w.float32Array("tokenizer.ggml.scores", [0, 0, 0] + [Float](repeating: 0, count: 256) + [-1, -2, -3, -4, -5])
            w.int32Array("tokenizer.ggml.token_type", [2, 3, 3] + [Int32](repeating: 6, count: 256) + [1, 1, 1, 1, 1])
            w.boolEntry("tokenizer.ggml.add_eos_token", true)
        }
        #expect(tok.encode("hi hi") == [1, 263, 263, 2])
        #expect(tok.encode("é", addSpecialTokens: false) == [259, 3 + 0xC3, 3 + 0xA9])
        #expect(tok.decode(tok.encode("hi é")) == "hi é")
    }

    /// Merges are derived from the scores in time linear in each piece's length: a piece of a
    /// million characters next to all of its short prefixes loads at once.
    @Test(.timeLimit(.minutes(1))) func longSentencePiecesStayLinear() throws {
        let long = String(repeating: "a", count: 1_000_000)
        let tokens = ["<unk>", "<s>", "</s>", long] + (1...64).map { String(repeating: "a", count: $0) }
        let tok = try Self.vocabulary(entries: 4) { w in
            w.stringEntry("tokenizer.ggml.model", "llama")
            w.stringArray("tokenizer.ggml.tokens", tokens)
            w.float32Array("tokenizer.ggml.scores", [0, 0, 0, -1] + (1...64).map { -Float($0) })
            w.int32Array("tokenizer.ggml.token_type", [2, 3, 3] + [Int32](repeating: 1, count: 65))
        }
        #expect(tok.encode("aaa", addSpecialTokens: false) == [0, 4 + 2])   // "▁" is unknown, then "aaa"
    }

    @Test func missingOrMistypedTokenizerKeys() {
        func reason(_ e: ModelError?) -> String {
            switch e {
            case .invalidTokenizer(_, let r)?: return r
            case .unsupportedTokenizerComponent(_, let c)?: return "unsupported: " + c
            case let other: return String(describing: other)
            }
        }
        let cases: [(UInt64, (inout Writer) -> Void, String)] = [
            (1, { $0.stringEntry("general.name", "x") }, "no tokenizer.ggml.model"),
            (1, { $0.u32Entry("tokenizer.ggml.model", 1) }, "tokenizer.ggml.model is u32"),
            (1, { $0.stringEntry("tokenizer.ggml.model", "gpt2") }, "no tokenizer.ggml.tokens"),
            (2, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.int32Array("tokenizer.ggml.tokens", [1]) }, "not arr[str]"),
            (2, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", []) }, "holds 0 tokens"),
            (2, { $0.stringEntry("tokenizer.ggml.model", "rwkv"); $0.stringArray("tokenizer.ggml.tokens", ["a"]) }, "unsupported: GGUF tokenizer model \"rwkv\""),
            (3, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringEntry("tokenizer.ggml.pre", "nonesuch")
                  $0.stringArray("tokenizer.ggml.tokens", ["a"]) }, "unsupported: llama.cpp pre-tokenizer \"nonesuch\""),
            (2, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a"]) }, "no tokenizer.ggml.merges"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a", "aa"])
                  $0.stringArray("tokenizer.ggml.merges", ["aa"]) }, "has no space"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a"])
                  $0.stringArray("tokenizer.ggml.merges", ["a b"]) }, "not in the vocabulary"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "llama"); $0.stringArray("tokenizer.ggml.tokens", ["a", "b"])
                  $0.float32Array("tokenizer.ggml.scores", [0]) }, "1 entries for 2 tokens"),
            (2, { $0.stringEntry("tokenizer.ggml.model", "llama"); $0.stringArray("tokenizer.ggml.tokens", ["a", "b"]) }, "no tokenizer.ggml.scores"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "t5"); $0.stringArray("tokenizer.ggml.tokens", ["a", "b"])
                  $0.float32Array("tokenizer.ggml.scores", [0, .infinity]) }, "not finite"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "t5"); $0.stringArray("tokenizer.ggml.tokens", ["a", "a"])
                  $0.float32Array("tokenizer.ggml.scores", [0, 0]) }, "listed twice"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a", "a"])
                  $0.stringArray("tokenizer.ggml.merges", []) }, "listed twice"),
            (3, { $0.stringEntry("tokenizer.ggml.model", "bert"); $0.stringArray("tokenizer.ggml.tokens", ["[UNK]"])
                  $0.u32Entry("tokenizer.ggml.unknown_token_id", 0) }, "[CLS]"),
            (4, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a"])
                  $0.stringArray("tokenizer.ggml.merges", []); $0.stringEntry("tokenizer.ggml.add_bos_token", "yes") }, "not bool"),
            (4, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a"])
                  $0.stringArray("tokenizer.ggml.merges", []); $0.boolEntry("tokenizer.ggml.add_eos_token", true) }, "eos_token_id"),
            (4, { $0.stringEntry("tokenizer.ggml.model", "gpt2"); $0.stringArray("tokenizer.ggml.tokens", ["a"])
                  $0.stringArray("tokenizer.ggml.merges", []); $0.int32Array("tokenizer.ggml.token_type", []) }, "0 entries for 1 tokens"),
        ]
        for (count, entries, words) in cases {
            let got = reason(Self.vocabularyError(entries: count, entries))
            #expect(got.contains(words), "expected \(words.debugDescription), got \(got.debugDescription)")
        }
    }
}

// MARK: - llama.cpp's GGUF vocabularies against the reference corpus

extension GGUFTests {
    static let ggufFolder = TestSupport.repoRoot.appendingPathComponent(".cache/tokenizers/gguf", isDirectory: true)

    /// GGUF vocabulary -> the fixture set (HF tokenizers' ids on the 281-text corpus) of the same
    /// upstream tokenizer.
    static let corpusCases: [String: String] = [
        "gpt-2": "gpt2", "llama-spm": "llama2", "llama-bpe": "llama3", "bert-bge": "minilm", "nomic-bert-moe": "xlm-roberta",
    ]
    /// The BOS llama.cpp adds where the fixture's tokenizer.json adds none: the llama3 fixture
    /// file has a ByteLevel post-processor, Meta's own file and llama.cpp add
    /// `<|begin_of_text|>` (single `<bos> $A`, pair `<bos> $A <bos>:1 $B:1`).
    static let addedBOS: [String: Int32] = ["llama-bpe": 128_000]
    static let corpusVocabularies = ["gpt-2", "llama-spm", "llama-bpe", "bert-bge", "nomic-bert-moe"]

    static func real(_ name: String) throws -> Tokenizer {
        let url = ggufFolder.appendingPathComponent("ggml-vocab-\(name).gguf")
        guard FileManager.default.fileExists(atPath: url.path) else { throw FixtureError("\(url.lastPathComponent) is missing: run `make setup`") }
        return try Tokenizer(gguf: url)
    }

    /// Ids with and without special tokens, decodes and pair encodings equal the reference.
    @Test(arguments: corpusVocabularies)
    func realVocabularyMatchesTheReferenceCorpus(gguf: String) throws {
        guard let fixture = Self.corpusCases[gguf] else { throw FixtureError("no case \(gguf)") }
        let tok = try Self.real(gguf)
        let texts = try TokenizerFixtureTests.corpus()
        let root = TokenizerFixtureTests.root.appendingPathComponent(fixture)
        var failures: [String] = []
        for o in try TokenizerFixtureTests.readLines(root.appendingPathComponent("expected.jsonl")) {
            guard let id = o["id"]?.stringValue, let text = texts[id] else { throw FixtureError("\(fixture): unknown text id") }
            let reference = try TokenizerFixtureTests.ids(o["ids"])
            let withBOS = Self.addedBOS[gguf].map { [$0] + reference } ?? reference
            if tok.encode(text) != withBOS { failures.append("\(id): ids") }
            if tok.encode(text, addSpecialTokens: false) != (try TokenizerFixtureTests.ids(o["ids_plain"])) { failures.append("\(id): ids_plain") }
            if tok.decode(reference) != o["decoded"]?.stringValue { failures.append("\(id): decoded") }
            if tok.decode(reference, skipSpecialTokens: false) != o["decoded_all"]?.stringValue { failures.append("\(id): decoded_all") }
        }
        for o in try TokenizerFixtureTests.readLines(root.appendingPathComponent("pairs.jsonl")) {
            guard let a = o["a_id"]?.stringValue.flatMap({ texts[$0] }), let b = o["b_id"]?.stringValue.flatMap({ texts[$0] }) else {
                throw FixtureError("\(fixture)/pairs.jsonl: unknown text id")
            }
            let got = tok.encode(a, pair: b)
            var ids = try TokenizerFixtureTests.ids(o["ids"]), types = try TokenizerFixtureTests.ids(o["type_ids"])
            if let bos = Self.addedBOS[gguf] {
                let first = types.prefix { $0 == 0 }.count
                ids = [bos] + ids[..<first] + [bos] + ids[first...]
                types = [0] + types[..<first] + [1] + types[first...]
            }
            if got.ids != ids || got.typeIDs != types {
                failures.append("pair \(o["a_id"]?.brief ?? "") + \(o["b_id"]?.brief ?? "")")
            }
        }
        #expect(failures.isEmpty, "\(gguf) vs \(fixture): \(failures.count) differences, first: \(failures.prefix(8))")
    }

    @Test func gemma4Metadata() throws {
        let url = Self.ggufFolder.appendingPathComponent("ggml-vocab-gemma-4.gguf")
        guard FileManager.default.fileExists(atPath: url.path) else { throw FixtureError("ggml-vocab-gemma-4.gguf is missing: run `make setup`") }
        let file = try GGUFFile(url: url)
        #expect(file["tokenizer.ggml.tokens"]?.arrayValue?.count == 262_144)
        #expect(file["tokenizer.ggml.merges"]?.arrayValue?.count == 514_906)
        #expect(file["tokenizer.ggml.model"] == .string("gemma4"))
        #expect(file.tensors.isEmpty && file.dataOffset == file.fileSize)
        let tok = try Tokenizer(gguf: file)
        #expect(tok.prefixIDs == [2])   // llama.cpp always adds <bos> for Gemma 4
        #expect(tok.decode(tok.encode("Hello  world\n\n🙂")) == "Hello  world\n\n🙂")
    }
}

/// GGUF F16 and BF16 tensors keep their 16-bit values (``WeightStorage/file``); NaN is refused.
@Suite struct GGUFHalfTensorTests {
    static func file(f16: [UInt16], bf16: [UInt16]) throws -> GGUFWeights {
        var w = GGUFTests.Writer()
        w.header(tensors: 2, entries: 1)
        w.u32Entry("general.alignment", 32)
        w.tensor("token_embd.weight", dims: [4, 2], type: 1, offset: 0)
        w.tensor("blk.0.attn_q.weight", dims: [2, 2], type: 30, offset: 32)
        w.pad(to: 32)
        for b in f16 { w.int(b) }
        w.pad(to: 32)
        for b in bf16 { w.int(b) }
        let file = try GGUFTests.parse(w.bytes)
        return try GGUFWeights(file: file, data: Data(w.bytes))
    }

    @Test func sixteenBitTensorsKeepTheirBits() throws {
        let f16: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x8000, 0x7BFF, 0x3555, 0x0400, 0x03FF]
        let bf16: [UInt16] = [0x3F80, 0xBF80, 0x0001, 0x4049]
        let g = try Self.file(f16: f16, bf16: bf16)
        guard case .half(let a, .f16) = try g.loadedTensor(anyOf: ["embed_tokens.weight"], shape: [2, 4]) else {
            Issue.record("F16 tensor not kept in 16 bits"); return
        }
        #expect(a == f16)
        guard case .half(let b, .bf16) = try g.loadedTensor(anyOf: ["layers.0.self_attn.q_proj.weight"], shape: [2, 2]) else {
            Issue.record("BF16 tensor not kept in 16 bits"); return
        }
        #expect(b == bf16)
        #expect(try g.tensor(anyOf: ["embed_tokens.weight"], shape: [2, 4]) == f16.map(HalfFormat.f16.widen))
    }

    @Test func nonFinite16BitTensorIsRefused() throws {
        let g = try Self.file(f16: [0x3C00, 0x7E00, 0, 0, 0, 0, 0, 0], bf16: [0, 0, 0, 0])
        #expect(throws: ModelError.nonFiniteWeights(name: "token_embd.weight")) {
            _ = try g.loadedTensor(anyOf: ["embed_tokens.weight"], shape: [2, 4])
        }
    }
}
