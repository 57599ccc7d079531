import Foundation

extension Tokenizer {
    /// Reads the vocabulary of a GGUF file (a llama.cpp model or `ggml-vocab-*.gguf`).
    ///
    /// The `tokenizer.ggml.*` metadata is converted into the JSON object of the equivalent
    /// Hugging Face `tokenizer.json`, following what llama.cpp's `src/llama-vocab.cpp` does for
    /// each vocabulary type, and that object builds the usual pipeline, so every component is the
    /// one `tokenizer.json` files use:
    ///
    /// | `tokenizer.ggml.model` | layout |
    /// |---|---|
    /// | `gpt2` (byte-level BPE) | per `tokenizer.ggml.pre` (llama-bpe/llama3, qwen2, qwen35, gpt-2, ...): the pre-tokenizer's regexes as `Split`s, then `ByteLevel`; BPE with the GGUF's merges in order |
    /// | `gemma4`, or `pre` = `gemma4` | spaces -> `▁`, no pre-tokenizer, BPE on raw UTF-8 with `<0xXX>` byte fallback |
    /// | `llama` (SentencePiece BPE) | `Prepend("▁")` (with `add_space_prefix`, default on) + spaces -> `▁`, BPE with byte fallback and merges derived from the scores |
    /// | `bert` (WordPiece) | `BertNormalizer`, `BertPreTokenizer`, WordPiece with llama.cpp's `▁word` / `piece` spellings turned back into `word` / `##piece` |
    /// | `t5` (SentencePiece Unigram) | `Precompiled` charsmap, `Replace(" {2,}", " ")` with `remove_extra_whitespaces`, `Metaspace`, Unigram |
    ///
    /// Control and unknown tokens become special added tokens, user-defined tokens non-special
    /// added tokens, all matched in the raw text. The post-processor adds BOS/EOS as
    /// `add_bos_token`/`add_eos_token` (and llama.cpp's defaults per type) say; BERT vocabularies
    /// get `[CLS] $A [SEP]`. A model or pre-tokenizer name this converter does not know is an
    /// ``ModelError/unsupportedTokenizerComponent(path:component:)``; missing or mistyped keys are
    /// ``ModelError/invalidTokenizer(path:reason:)``; a damaged file is
    /// ``ModelError/corruptGGUF(path:reason:)``.
    public convenience init(gguf url: URL) throws(ModelError) {
        try self.init(gguf: try GGUFFile(url: url))
    }

    /// The tokenizer of an already-read GGUF file (see the `URL` initializer for the layouts).
    public convenience init(gguf file: GGUFFile) throws(ModelError) {
        let json = try GGUFTokenizerConverter(try GGUFVocabulary(file)).tokenizerJSON()
        try self.init(root: TokenizerSpec(json, file: file.path, place: ""))
    }
}

// MARK: - The vocabulary metadata

/// The `tokenizer.ggml.*` metadata of a GGUF file, read and type-checked.
struct GGUFVocabulary {
    /// llama.cpp's `llama_token_type` (SentencePiece's numbering).
    enum TokenType: Int32 {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    let file: GGUFFile
    /// `tokenizer.ggml.model`: llama, gpt2, gemma4, bert, t5, ...
    let model: String
    /// `tokenizer.ggml.pre`, nil when absent.
    let pre: String?
    /// The tokens; an empty one becomes `[EMPTY_<id>]`, as llama.cpp renames it.
    let tokens: [String]
    /// Each token's type (normal when the file has none).
    let types: [TokenType]
    /// Each token's score, nil when the file has none.
    let scores: [Float]?

    init(_ file: GGUFFile) throws(ModelError) {
        self.file = file
        guard let model = try Self.string(file, "tokenizer.ggml.model") else {
            throw .invalidTokenizer(path: file.path, reason: "no tokenizer.ggml.model: the GGUF file holds no vocabulary")
        }
        self.model = model
        pre = try Self.string(file, "tokenizer.ggml.pre")
        guard let value = file["tokenizer.ggml.tokens"] else { throw .invalidTokenizer(path: file.path, reason: "no tokenizer.ggml.tokens") }
        guard case .array(.string(let list)) = value else {
            throw .invalidTokenizer(path: file.path, reason: "tokenizer.ggml.tokens is \(value.typeDescription), not arr[str]")
        }
        guard !list.isEmpty, list.count < Int(Int32.max) else {
            throw .invalidTokenizer(path: file.path, reason: "tokenizer.ggml.tokens holds \(list.count) tokens")
        }
        tokens = list.enumerated().map { $1.isEmpty ? "[EMPTY_\($0)]" : $1 }
        types = try Self.types(file, count: list.count)
        scores = try Self.scores(file, count: list.count)
    }

    var path: String { file.path }

    func invalid(_ reason: String) -> ModelError { .invalidTokenizer(path: path, reason: reason) }

    private static func string(_ file: GGUFFile, _ key: String) throws(ModelError) -> String? {
        guard let v = file[key] else { return nil }
        guard let s = v.stringValue else { throw .invalidTokenizer(path: file.path, reason: "\(key) is \(v.typeDescription), not str") }
        return s
    }

    private static func types(_ file: GGUFFile, count: Int) throws(ModelError) -> [TokenType] {
        let key = "tokenizer.ggml.token_type"
        guard let v = file[key] else { return [TokenType](repeating: .normal, count: count) }
        guard case .array(.int32(let raw)) = v else { throw .invalidTokenizer(path: file.path, reason: "\(key) is \(v.typeDescription), not arr[i32]") }
        guard raw.count >= count else { throw .invalidTokenizer(path: file.path, reason: "\(key) has \(raw.count) entries for \(count) tokens") }
        return raw.prefix(count).map { TokenType(rawValue: $0) ?? .undefined }
    }

    private static func scores(_ file: GGUFFile, count: Int) throws(ModelError) -> [Float]? {
        let key = "tokenizer.ggml.scores"
        guard let v = file[key] else { return nil }
        let values: [Float]
        switch v {
        case .array(.float32(let a)): values = a
        case .array(.int32(let a)): values = a.map { Float($0) }
        default: throw .invalidTokenizer(path: file.path, reason: "\(key) is \(v.typeDescription), not arr[f32] or arr[i32]")
        }
        guard values.count >= count else { throw .invalidTokenizer(path: file.path, reason: "\(key) has \(values.count) entries for \(count) tokens") }
        return Array(values.prefix(count))
    }

    /// A Boolean key, nil when absent.
    func bool(_ key: String) throws(ModelError) -> Bool? {
        guard let v = file[key] else { return nil }
        guard let b = v.boolValue else { throw invalid("\(key) is \(v.typeDescription), not bool") }
        return b
    }

    /// A token id key as llama.cpp reads it: the key's value when it names a token, else
    /// `fallback` when that does (llama.cpp warns and keeps its default), else nil.
    func tokenID(_ key: String, default fallback: Int?) throws(ModelError) -> Int? {
        let valid = { (i: Int) in i >= 0 && i < tokens.count }
        let usable = fallback.flatMap { valid($0) ? $0 : nil }
        guard let v = file["tokenizer.ggml.\(key)"] else { return usable }
        guard let id = v.integerValue else { throw invalid("tokenizer.ggml.\(key) is \(v.typeDescription), not an integer") }
        return valid(id) ? id : usable
    }

    /// `tokenizer.ggml.merges` split as llama.cpp splits them: at the first space after the
    /// first byte.
    func merges() throws(ModelError) -> [JSONValue] {
        let key = "tokenizer.ggml.merges"
        guard let v = file[key] else { throw invalid("no \(key): a BPE vocabulary needs its merges") }
        guard case .array(.string(let list)) = v else { throw invalid("\(key) is \(v.typeDescription), not arr[str]") }
        var out: [JSONValue] = []
        out.reserveCapacity(list.count)
        for (i, m) in list.enumerated() {
            let u = m.utf8
            guard let space = u.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
                throw invalid("\(key)[\(i)] \(m.debugDescription) has no space after its first byte")
            }
            let left = String(decoding: u[u.startIndex..<space], as: UTF8.self)
            let right = String(decoding: u[u.index(after: space)...], as: UTF8.self)
            out.append(.array([.string(left), .string(right)]))
        }
        return out
    }

    /// `tokenizer.ggml.precompiled_charsmap` (an `u8` or `i8` array), nil when absent.
    func charsmap() throws(ModelError) -> [UInt8]? {
        let key = "tokenizer.ggml.precompiled_charsmap"
        guard let v = file[key] else { return nil }
        switch v {
        case .array(.uint8(let a)): return a
        case .array(.int8(let a)): return a.map { UInt8(bitPattern: $0) }
        default: throw invalid("\(key) is \(v.typeDescription), not arr[u8]")
        }
    }

    /// `general.name` and `general.architecture`, lowercased, for llama.cpp's per-model rules.
    var modelName: String { (file["general.name"]?.stringValue ?? "").lowercased() }
    var architecture: String { file["general.architecture"]?.stringValue ?? "" }
}

// MARK: - The conversion

/// Builds the `tokenizer.json` object of a GGUF vocabulary.
struct GGUFTokenizerConverter {
    let v: GGUFVocabulary

    init(_ vocabulary: GGUFVocabulary) { v = vocabulary }

    func tokenizerJSON() throws(ModelError) -> JSONObject {
        switch v.model {
        case "gpt2":
            let pre = v.pre ?? "default"
            if Self.rawBPEPreTokenizers.contains(pre) { return try rawBPE() }
            return try byteLevelBPE(pre: pre)
        case "gemma4": return try rawBPE()
        case "llama": return try sentencePieceBPE()
        case "bert": return try wordPiece()
        case "t5": return try unigram()
        case let other:
            throw .unsupportedTokenizerComponent(path: v.path, component: "GGUF tokenizer model \(other.debugDescription) (tokenizer.ggml.model)")
        }
    }

    /// Pre-tokenizer names that llama.cpp runs as BPE on raw UTF-8 with spaces escaped to `▁`.
    static let rawBPEPreTokenizers: Set<String> = ["gemma4", "granite-embed-multi-311m"]

    // MARK: Byte-level BPE (tokenizer.ggml.model = gpt2)

    private func byteLevelBPE(pre: String) throws(ModelError) -> JSONObject {
        guard let preset = GGUFPreTokenizer.named(pre) else {
            throw .unsupportedTokenizerComponent(path: v.path, component: "llama.cpp pre-tokenizer \(pre.debugDescription) (tokenizer.ggml.pre)")
        }
        var steps: [JSONValue] = preset.regexes.map { r in
            J.object(["type": "Split", "pattern": J.object(["Regex": .string(r)]), "behavior": "Isolated", "invert": .bool(false)])
        }
        steps.append(J.object(["type": "ByteLevel", "add_prefix_space": .bool(false), "trim_offsets": .bool(true),
                               "use_regex": .bool(preset.byteLevelRegex)]))
        let model = J.object(["type": "BPE", "vocab": vocabObject(v.tokens), "merges": .array(try v.merges()),
                              "ignore_merges": .bool(preset.ignoreMerges), "byte_fallback": .bool(false), "fuse_unk": .bool(false)])
        let post = try llamaTemplate(addBOS: preset.addBOS, bos: preset.hasBOS ? 11 : nil, eos: 11)
            ?? J.object(["type": "ByteLevel", "add_prefix_space": .bool(false), "trim_offsets": .bool(false), "use_regex": .bool(false)])
        return J.root([
            "added_tokens": addedTokens(v.tokens),
            "normalizer": .null,
            "pre_tokenizer": steps.count == 1 ? steps[0] : J.object(["type": "Sequence", "pretokenizers": .array(steps)]),
            "post_processor": post,
            "decoder": J.object(["type": "ByteLevel", "add_prefix_space": .bool(true), "trim_offsets": .bool(true), "use_regex": .bool(true)]),
            "model": model,
        ])
    }

    // MARK: BPE on raw UTF-8 (gemma4)

    /// Gemma 4's layout (llama.cpp's `LLAMA_VOCAB_PRE_TYPE_GEMMA4`; Hugging Face's file has the
    /// same): spaces -> `▁`, no pre-tokenizer, BPE with `<0xXX>` byte fallback; llama.cpp always
    /// adds BOS for it.
    private func rawBPE() throws(ModelError) -> JSONObject {
        let unk = try v.tokenID("unknown_token_id", default: nil)
        var model: [(String, JSONValue)] = [("type", "BPE"), ("vocab", vocabObject(v.tokens)), ("merges", .array(try v.merges())),
                                            ("byte_fallback", .bool(true)), ("fuse_unk", .bool(true)), ("ignore_merges", .bool(false))]
        if let unk { model.append(("unk_token", .string(v.tokens[unk]))) }
        let bos = try v.tokenID("bos_token_id", default: nil)
        let eos = try v.tokenID("eos_token_id", default: nil)
        let post = try llamaTemplate(addBOS: true, bos: bos, eos: eos)
        return J.root([
            "added_tokens": addedTokens(v.tokens),
            "normalizer": J.object(["type": "Replace", "pattern": J.object(["String": " "]), "content": "\u{2581}"]),
            "pre_tokenizer": .null,
            "post_processor": post ?? .null,
            "decoder": J.object(["type": "Sequence", "decoders": .array([
                J.object(["type": "Replace", "pattern": J.object(["String": "\u{2581}"]), "content": " "]),
                J.object(["type": "ByteFallback"]), J.object(["type": "Fuse"])])]),
            "model": J.object(model),
        ])
    }

    // MARK: SentencePiece BPE (tokenizer.ggml.model = llama)

    /// Llama/Mistral/Phi-3 SentencePiece BPE as transformers' `LlamaConverter` lays it out:
    /// `Prepend("▁")` (llama.cpp's `add_space_prefix`, on by default) and spaces -> `▁`, BPE with
    /// byte fallback whose merges rank every split of every piece by the piece's score, as
    /// llama.cpp's SPM tokenizer merges the best-scoring pair.
    private func sentencePieceBPE() throws(ModelError) -> JSONObject {
        let prefix = try v.bool("tokenizer.ggml.add_space_prefix") ?? true
        let marker = "\u{2581}"
        let replace = J.object(["type": "Replace", "pattern": J.object(["String": " "]), "content": .string(marker)])
        let normalizer = prefix ? J.object(["type": "Sequence", "normalizers": .array([J.object(["type": "Prepend", "prepend": .string(marker)]), replace])]) : replace
        var decoders: [JSONValue] = [J.object(["type": "Replace", "pattern": J.object(["String": .string(marker)]), "content": " "]),
                                     J.object(["type": "ByteFallback"]), J.object(["type": "Fuse"])]
        if prefix { decoders.append(J.object(["type": "Strip", "content": " ", "start": .integer(1), "stop": .integer(0)])) }
        var model: [(String, JSONValue)] = [("type", "BPE"), ("vocab", vocabObject(v.tokens)), ("merges", .array(try sentencePieceMerges())),
                                            ("byte_fallback", .bool(true)), ("fuse_unk", .bool(true)), ("ignore_merges", .bool(false))]
        if let unk = try v.tokenID("unknown_token_id", default: 0) { model.append(("unk_token", .string(v.tokens[unk]))) }
        let post = try llamaTemplate(addBOS: true, bos: 1, eos: 2)
        return J.root([
            "added_tokens": addedTokens(v.tokens),
            "normalizer": normalizer,
            "pre_tokenizer": .null,
            "post_processor": post ?? .null,
            "decoder": J.object(["type": "Sequence", "decoders": .array(decoders)]),
            "model": J.object(model),
        ])
    }

    /// The merges of a SentencePiece BPE vocabulary (transformers' `SentencePieceExtractor`
    /// with scores): every split of every piece into two pieces of the vocabulary, a piece's
    /// splits ordered by (left id, right id), then all ordered by the piece's score, highest
    /// first, ties in piece order. The splits of a piece come from two byte tries, one over the
    /// tokens (left parts) and one over the reversed tokens (right parts), so each piece costs
    /// time linear in its length, whatever the file holds.
    private func sentencePieceMerges() throws(ModelError) -> [JSONValue] {
        guard let scores = v.scores else { throw v.invalid("no tokenizer.ggml.scores: a SentencePiece vocabulary needs its scores") }
        if let i = scores.firstIndex(where: { $0.isNaN }) { throw v.invalid("tokenizer.ggml.scores[\(i)] is NaN") }
        let utf8 = v.tokens.map { Array($0.utf8) }
        let lefts = ByteTrie(keys: utf8.enumerated().map { ($1, Int32($0)) })
        let rights = ByteTrie(keys: utf8.enumerated().map { (Array($1.reversed()), Int32($0)) })
        var found: [(piece: Int32, left: Int32, right: Int32)] = []
        var rightAt: [Int32] = []
        for (i, bytes) in utf8.enumerated() where bytes.count > 1 {
            let n = bytes.count
            rightAt = [Int32](repeating: -1, count: n)
            Array(bytes.reversed()).withUnsafeBufferPointer { r in
                rights.forEachPrefix(of: r, from: 0) { length, id in if length < n { rightAt[n - length] = id } }
            }
            var local: [(piece: Int32, left: Int32, right: Int32)] = []
            bytes.withUnsafeBufferPointer { b in
                lefts.forEachPrefix(of: b, from: 0) { length, id in
                    if length < n, rightAt[length] >= 0 { local.append((Int32(i), id, rightAt[length])) }
                }
            }
            found += local.sorted { ($0.left, $0.right) < ($1.left, $1.right) }
        }
        found.sort { x, y in
            let sx = scores[Int(x.piece)], sy = scores[Int(y.piece)]
            if sx != sy { return sx > sy }
            return (x.piece, x.left, x.right) < (y.piece, y.left, y.right)
        }
        return found.map { .array([.string(v.tokens[Int($0.left)]), .string(v.tokens[Int($0.right)])]) }
    }

    // MARK: WordPiece (tokenizer.ggml.model = bert)

    /// BERT: `BertNormalizer` (lowercase and accent stripping as llama.cpp's
    /// `tokenizer.ggml.normalizer.*` keys say, both on by default), `BertPreTokenizer`,
    /// WordPiece; `[CLS] $A [SEP]` with llama.cpp's BOS (default 101) and SEP (default 102).
    private func wordPiece() throws(ModelError) -> JSONObject {
        let tokens = Self.wordPieceSpellings(v.tokens, v.types)
        let lowercase = try v.bool("tokenizer.ggml.normalizer.lowercase") ?? true
        let stripAccents = try v.bool("tokenizer.ggml.normalizer.strip_accents") ?? lowercase
        guard let unk = try v.tokenID("unknown_token_id", default: 100) else { throw v.invalid("a WordPiece vocabulary needs an unknown token") }
        guard let cls = try v.tokenID("bos_token_id", default: 101), let sep = try v.tokenID("seperator_token_id", default: 102) else {
            throw v.invalid("a BERT vocabulary needs a [CLS] (bos_token_id) and a [SEP] (seperator_token_id) token")
        }
        let post = template(single: [.special(cls, 0), .sequence("A", 0), .special(sep, 0)],
                            pair: [.special(cls, 0), .sequence("A", 0), .special(sep, 0), .sequence("B", 1), .special(sep, 1)], tokens: tokens)
        return J.root([
            "added_tokens": addedTokens(tokens),
            "normalizer": J.object(["type": "BertNormalizer", "clean_text": .bool(true), "handle_chinese_chars": .bool(true),
                                    "strip_accents": .bool(stripAccents), "lowercase": .bool(lowercase)]),
            "pre_tokenizer": J.object(["type": "BertPreTokenizer"]),
            "post_processor": post,
            "decoder": J.object(["type": "WordPiece", "prefix": "##", "cleanup": .bool(true)]),
            "model": J.object(["type": "WordPiece", "unk_token": .string(tokens[unk]), "continuing_subword_prefix": "##",
                               "max_input_chars_per_word": .integer(100), "vocab": vocabObject(tokens)]),
        ])
    }

    /// llama.cpp's converter writes a BERT word-initial piece `word` as `▁word`, a continuation
    /// `##piece` as `piece`, and `[...]` tokens unchanged; this undoes it (a lone `▁` was `##▁`).
    static func wordPieceSpellings(_ tokens: [String], _ types: [GGUFVocabulary.TokenType]) -> [String] {
        let marker = "\u{2581}".utf8
        return zip(tokens, types).map { t, type in
            switch type {
            case .control, .unknown, .userDefined, .unused: return t
            default: break
            }
            if t.utf8.starts(with: marker) && t.utf8.count > marker.count { return String(decoding: t.utf8.dropFirst(marker.count), as: UTF8.self) }
            if t.utf8.count >= 2 && t.utf8.first == UInt8(ascii: "[") && t.utf8.last == UInt8(ascii: "]") { return t }
            return "##" + t
        }
    }

    // MARK: Unigram (tokenizer.ggml.model = t5)

    /// SentencePiece Unigram as transformers' XLM-R/T5 converters lay it out: `Precompiled`
    /// charsmap and `Replace(" {2,}", " ")` (`remove_extra_whitespaces`), `Metaspace` prepending
    /// `▁` with `add_space_prefix`, Unigram with llama.cpp's unknown token (default 2).
    private func unigram() throws(ModelError) -> JSONObject {
        var normalizers: [JSONValue] = []
        if let map = try v.charsmap(), !map.isEmpty {
            normalizers.append(J.object(["type": "Precompiled", "precompiled_charsmap": .string(Data(map).base64EncodedString())]))
        }
        if try v.bool("tokenizer.ggml.remove_extra_whitespaces") ?? false {
            normalizers.append(J.object(["type": "Replace", "pattern": J.object(["Regex": " {2,}"]), "content": " "]))
        }
        let scheme: JSONValue = (try v.bool("tokenizer.ggml.add_space_prefix") ?? false) ? "always" : "never"
        let metaspace: [(String, JSONValue)] = [("replacement", "\u{2581}"), ("prepend_scheme", scheme), ("split", .bool(true))]
        var model: [(String, JSONValue)] = [("type", "Unigram"), ("vocab", .array(try unigramVocab())), ("byte_fallback", .bool(false))]
        if let unk = try v.tokenID("unknown_token_id", default: 2) { model.append(("unk_id", .integer(unk))) }
        return J.root([
            "added_tokens": addedTokens(v.tokens),
            "normalizer": normalizers.isEmpty ? .null : J.object(["type": "Sequence", "normalizers": .array(normalizers)]),
            "pre_tokenizer": J.object([("type", "Metaspace")] + metaspace),
            "post_processor": try unigramTemplate() ?? .null,
            "decoder": J.object([("type", "Metaspace")] + metaspace),
            "model": J.object(model),
        ])
    }

    /// `[piece, score]` pairs. Normal pieces keep their score, user-defined ones score 0 (as in
    /// llama.cpp's lattice); every other piece is raised to at least the lowest normal score, so
    /// that the unknown-token score (lowest score - 10) is the one llama.cpp uses. Scores go
    /// through their shortest decimal text and serde_json's parsing, as a tokenizer.json written
    /// from them would be read.
    private func unigramVocab() throws(ModelError) -> [JSONValue] {
        guard let scores = v.scores else { throw v.invalid("no tokenizer.ggml.scores: a Unigram vocabulary needs its scores") }
        if let i = scores.firstIndex(where: { !$0.isFinite }) { throw v.invalid("tokenizer.ggml.scores[\(i)] is \(scores[i]), not finite") }
        var seen = Set<TokenString>()
        for t in v.tokens where !seen.insert(TokenString(t)).inserted { throw v.invalid("token \(t.debugDescription) is listed twice") }
        let normal = zip(scores, v.types).filter { $0.1 == .normal }.map(\.0)
        let floor = normal.min() ?? 0
        return zip(v.tokens, zip(scores, v.types)).map { token, entry in
            let (score, type) = entry
            let s: Float
            switch type {
            case .normal: s = score
            case .userDefined: s = 0
            default: s = max(score, floor)
            }
            return .array([.string(token), .number(Self.asReadFromJSON(s))])
        }
    }

    /// `value` written as its shortest decimal text and read back as serde_json reads it.
    static func asReadFromJSON(_ value: Float) -> Double {
        var text = "\(Double(value))"
        return text.withUTF8 { JSONParser.serdeDouble($0) }
    }

    /// XLM-R's `<s> $A </s>` (pair `<s> $A </s> </s> $B </s>`) when llama.cpp adds both BOS and
    /// EOS, else T5's `$A </s>` (pair `$A </s> $B </s>`) with BOS as configured; llama.cpp's
    /// defaults for this type: no BOS, EOS 1.
    private func unigramTemplate() throws(ModelError) -> JSONValue? {
        let addBOS = try v.bool("tokenizer.ggml.add_bos_token") ?? false
        let addEOS = try v.bool("tokenizer.ggml.add_eos_token") ?? true
        let bos: Int? = try addBOS ? required("bos_token_id", default: nil) : nil
        let eos: Int? = try addEOS ? required("eos_token_id", default: 1) : nil
        var single: [TemplatePiece] = [], pair: [TemplatePiece] = []
        if let bos, let eos {
            single = [.special(bos, 0), .sequence("A", 0), .special(eos, 0)]
            pair = single + [.special(eos, 0), .sequence("B", 0), .special(eos, 0)]
        } else {
            single = (bos.map { [.special($0, 0)] } ?? []) + [.sequence("A", 0)] + (eos.map { [.special($0, 0)] } ?? [])
            pair = single + [.sequence("B", 0)] + (eos.map { [.special($0, 0)] } ?? [])
        }
        return bos == nil && eos == nil ? nil : template(single: single, pair: pair, tokens: v.tokens)
    }

    // MARK: Shared pieces

    /// The id of `key` (or llama.cpp's default), which must exist.
    private func required(_ key: String, default fallback: Int?) throws(ModelError) -> Int {
        guard let id = try v.tokenID(key, default: fallback) else { throw v.invalid("the vocabulary adds a token that tokenizer.ggml.\(key) does not name") }
        return id
    }

    /// transformers' Llama template: `[BOS] $A [EOS]`, pair `[BOS] $A [EOS] [BOS]:1 $B:1 [EOS]:1`,
    /// each special token present as `add_bos_token` / `add_eos_token` say (else `addBOS` and
    /// no EOS); nil when neither is added.
    private func llamaTemplate(addBOS defaultBOS: Bool, bos: Int?, eos: Int?) throws(ModelError) -> JSONValue? {
        let addBOS = try v.bool("tokenizer.ggml.add_bos_token") ?? defaultBOS
        let addEOS = try v.bool("tokenizer.ggml.add_eos_token") ?? false
        let b: Int? = try addBOS ? required("bos_token_id", default: bos) : nil
        let e: Int? = try addEOS ? required("eos_token_id", default: eos) : nil
        guard b != nil || e != nil else { return nil }
        func sequence(_ name: String, _ type: Int) -> [TemplatePiece] {
            (b.map { [.special($0, type)] } ?? []) + [.sequence(name, type)] + (e.map { [.special($0, type)] } ?? [])
        }
        return template(single: sequence("A", 0), pair: sequence("A", 0) + sequence("B", 1), tokens: v.tokens)
    }

    enum TemplatePiece {
        case special(Int, Int)
        case sequence(String, Int)
    }

    /// A TemplateProcessing post-processor.
    private func template(single: [TemplatePiece], pair: [TemplatePiece], tokens: [String]) -> JSONValue {
        var specials: [(String, JSONValue)] = []
        var named = Set<Int>()
        func encode(_ pieces: [TemplatePiece]) -> JSONValue {
            .array(pieces.map { piece in
                switch piece {
                case .special(let id, let type):
                    if named.insert(id).inserted {
                        specials.append((tokens[id], J.object(["id": .string(tokens[id]), "ids": .array([.integer(id)]), "tokens": .array([.string(tokens[id])])])))
                    }
                    return J.object(["SpecialToken": J.object(["id": .string(tokens[id]), "type_id": .integer(type)])])
                case .sequence(let name, let type):
                    return J.object(["Sequence": J.object(["id": .string(name), "type_id": .integer(type)])])
                }
            })
        }
        let s = encode(single), p = encode(pair)
        return J.object(["type": "TemplateProcessing", "single": s, "pair": p, "special_tokens": J.object(specials)])
    }

    /// `{"token": id, ...}` in id order.
    private func vocabObject(_ tokens: [String]) -> JSONValue {
        .object(JSONObject(members: tokens.enumerated().map { (key: $1, value: .integer($0)) }))
    }

    /// Control and unknown tokens as special added tokens, user-defined ones as non-special
    /// added tokens (special when llama.cpp takes their text for an end-of-generation token),
    /// all matched in the raw text, with the lstrip/rstrip llama.cpp sets by model name.
    private func addedTokens(_ tokens: [String]) -> JSONValue {
        let strips = GGUFTokenAttributes(v)
        var out: [JSONValue] = []
        for (i, type) in v.types.enumerated() {
            let special: Bool
            switch type {
            case .control, .unknown: special = true
            case .userDefined: special = GGUFTokenAttributes.endOfGeneration.contains(v.tokens[i])
            default: continue
            }
            out.append(J.object(["id": .integer(i), "content": .string(tokens[i]), "single_word": .bool(false),
                                 "lstrip": .bool(strips.lstrip.contains(i)), "rstrip": .bool(strips.rstrip.contains(i)),
                                 "normalized": .bool(false), "special": .bool(special)]))
        }
        return .array(out)
    }
}

// MARK: - llama.cpp's per-model rules

/// The token attributes llama.cpp sets from the model's name, architecture or pre-tokenizer
/// (the GGUF file has no per-token lstrip/rstrip), and the texts it takes for end-of-generation
/// tokens.
struct GGUFTokenAttributes {
    var lstrip = Set<Int>()
    var rstrip = Set<Int>()

    /// Texts llama.cpp marks as end-of-generation (and control) tokens.
    static let endOfGeneration: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<\u{FF5C}end\u{2581}of\u{2581}sentence\u{FF5C}>", "[e~[",
    ]

    init(_ v: GGUFVocabulary) {
        func id(_ text: String) -> Int? { v.tokens.firstIndex { $0.utf8.elementsEqual(text.utf8) } }
        let pre = v.pre ?? ""
        let name = v.modelName
        if ["nomic-bert-moe", "jina-bert-v3"].contains(where: v.architecture.contains)
            || ["jina-v2-de", "jina-v2-es", "jina-v2-code"].contains(where: pre.contains) {
            if let m = id("<mask>") { lstrip.insert(m) }
        } else if name.contains("phi-3") || name.contains("phi3") {
            for (i, t) in v.types.enumerated() where [.control, .userDefined, .unknown].contains(t) { rstrip.insert(i) }
            if let s = id("</s>") { rstrip.insert(s) }
            for text in ["<unk>", "<s>", "<|endoftext|>"] { if let i = id(text) { rstrip.remove(i) } }
        } else if name.contains("modern-bert") {
            if let m = id("[MASK]") { lstrip.insert(m) }
        }
    }
}

/// llama.cpp's BPE pre-tokenizers (`tokenizer.ggml.pre`) as Hugging Face layouts: each regex a
/// `Split` (isolated) in turn, then `ByteLevel` (with GPT-2's regex when `byteLevelRegex`).
/// Where llama.cpp rewrites a `tokenizer.json` regex for its own engine, the original is used.
struct GGUFPreTokenizer {
    let regexes: [String]
    var byteLevelRegex = false
    var ignoreMerges = false
    var addBOS = false
    /// False where llama.cpp has no BOS token by default (ChatGLM).
    var hasBOS = true

    static let llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen35 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
    static let seedCoder = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let tekken = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt4o = #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The preset of a `tokenizer.ggml.pre` name (llama.cpp's grouping), nil when unknown.
    static func named(_ name: String) -> GGUFPreTokenizer? {
        switch name {
        case "default":
            return GGUFPreTokenizer(regexes: [#"[\p{P}\$\+<=>\^~\|]+"#, gpt2, #"\p{N}+"#, "[0-9][0-9][0-9]"])
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return GGUFPreTokenizer(regexes: [llama3], ignoreMerges: true, addBOS: true)
        case "dbrx", "smaug-bpe": return GGUFPreTokenizer(regexes: [llama3])
        case "chatglm-bpe": return GGUFPreTokenizer(regexes: [llama3], hasBOS: false)
        case "glm4", "glm5": return GGUFPreTokenizer(regexes: [llama3], ignoreMerges: true, hasBOS: false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2":
            return GGUFPreTokenizer(regexes: [qwen2])
        case "qwen35": return GGUFPreTokenizer(regexes: [qwen35])
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
             "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4":
            return GGUFPreTokenizer(regexes: [], byteLevelRegex: true)
        case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2":
            return GGUFPreTokenizer(regexes: [#"\p{N}"#], byteLevelRegex: true)
        case "seed-coder": return GGUFPreTokenizer(regexes: [seedCoder])
        case "tekken": return GGUFPreTokenizer(regexes: [tekken], ignoreMerges: true, addBOS: true)
        case "gpt-4o", "llama4", "kanana2", "talkie": return GGUFPreTokenizer(regexes: [gpt4o])
        default: return nil
        }
    }
}

/// Small builders for the JSON values of a tokenizer.json.
enum J {
    static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(JSONObject(members: members.map { (key: $0.0, value: $0.1) }))
    }

    static func object(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(JSONObject(members: members.map { (key: $0.key, value: $0.value) }))
    }

    static func root(_ members: KeyValuePairs<String, JSONValue>) -> JSONObject {
        JSONObject(members: members.map { (key: $0.key, value: $0.value) })
    }
}
