import Foundation

/// A WordPiece tokenizer read from a Hugging Face `tokenizer.json` (BERT family).
///
/// Implements BertNormalizer (clean text, CJK characters split, accent stripping, lowercasing as
/// configured), BertPreTokenizer (whitespace and punctuation splits), WordPiece with `##`
/// continuations, the `[CLS] ... [SEP]` template and added tokens matched literally in the raw
/// text. There is no built-in length cap (the file's truncation and padding sections are
/// ignored): truncation happens only when asked for.
public final class Tokenizer: Sendable {
    /// Vocabulary size: one more than the largest token id (``maxTokenID`` + 1).
    public var vocabSize: Int { idToToken.count }
    /// The largest token id of the vocabulary and added tokens. Every id the tokenizer emits is
    /// at most this; a model whose embedding table has fewer rows cannot run it (see
    /// ``validate(vocabSize:)``).
    public var maxTokenID: Int { idToToken.count - 1 }
    /// `[CLS]` (prepended by the template).
    public let clsID: Int32
    /// `[SEP]` (appended by the template).
    public let sepID: Int32
    /// `[UNK]`.
    public let unkID: Int32

    private let path: String
    private let vocab: [String: Int32]
    private let idToToken: [String]
    private let prefix: String
    private let maxCharsPerWord: Int
    private let normalizer: NormalizerOptions
    /// Added tokens matched in raw text, longest first.
    private let addedTokens: [AddedToken]
    private let specialIDs: Set<Int32>
    private let templatePrefix: [Int32]
    private let templateSuffix: [Int32]

    /// Slack over the number of entries that token ids may reach: ids must be below
    /// `2 * (vocabulary entries + added tokens) + idSlack`. Real vocabularies are dense (BERT:
    /// `0..<30522`, added tokens reuse those ids or extend the end), so this only rejects files
    /// whose id -> token table would be far larger than the file.
    public static let idSlack = 1024

    /// An added token matched literally in raw text.
    private struct AddedToken: Sendable {
        var scalars: [Unicode.Scalar]
        var id: Int32
        var special: Bool
    }

    /// BertNormalizer's switches.
    private struct NormalizerOptions: Sendable {
        var lowercase = false, stripAccents = false, cleanText = false, chineseChars = false
    }

    /// Reads `tokenizer.json` from `directory`.
    public static func load(directory: URL) throws(ModelError) -> Tokenizer {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw .tokenizerMissing(path: directory.path) }
        return try Tokenizer(url: url)
    }

    /// Reads a `tokenizer.json` file (a leading UTF-8 byte-order mark is ignored).
    ///
    /// Every token id must be a JSON integer in `0..<2 * (entries + added tokens) + idSlack`,
    /// and two different tokens may not share an id; an added token already in the vocabulary
    /// must keep its vocabulary id.
    public init(url: URL) throws(ModelError) {
        let path = url.path
        let root = try Self.readRoot(url)
        let model = try Self.wordPieceModel(root, path: path)
        let added = try Self.parseAddedTokens(root, path: path)
        let (vocab, idToToken) = try Self.parseVocabulary(model, added: added, path: path)
        self.path = path
        self.vocab = vocab
        self.idToToken = idToToken
        self.addedTokens = added.sorted { $0.scalars.count > $1.scalars.count }
        self.specialIDs = Set(added.filter(\.special).map(\.id))
        self.prefix = try Self.string(model["continuing_subword_prefix"], default: "##", key: "continuing_subword_prefix", path: path)
        self.maxCharsPerWord = try Self.maxInputCharsPerWord(model, path: path)
        let unkName = try Self.string(model["unk_token"], default: "[UNK]", key: "unk_token", path: path)
        guard let unk = vocab[unkName] else { throw .invalidTokenizer(path: path, reason: "unknown token \(unkName) not in vocabulary") }
        self.unkID = unk
        self.normalizer = try Self.parseNormalizer(root, path: path)
        try Self.checkPreTokenizer(root, path: path)
        let (before, after) = try Self.parseTemplate(root, vocab: vocab, path: path)
        self.templatePrefix = before
        self.templateSuffix = after
        self.clsID = before.first ?? vocab["[CLS]"] ?? unk
        self.sepID = after.last ?? vocab["[SEP]"] ?? unk
    }

    /// Throws unless every token id is below `vocabSize` (the rows of the model's embedding
    /// table, `vocab_size` in config.json).
    public func validate(vocabSize: Int) throws(ModelError) {
        guard maxTokenID < vocabSize else {
            throw .invalidTokenizer(path: path, reason: "token \(idToToken[maxTokenID].debugDescription) has id \(maxTokenID), but the model's vocab_size is \(vocabSize)")
        }
    }

    // MARK: Reading tokenizer.json

    private static func readRoot(_ url: URL) throws(ModelError) -> [String: Any] {
        let path = url.path
        guard let data = try ModelJSON.contentsIfPresent(url) else { throw .tokenizerMissing(path: path) }
        guard let root = ModelJSON.parse(data) as? [String: Any] else {
            throw .invalidTokenizer(path: path, reason: "not a JSON object")
        }
        return root
    }

    private static func wordPieceModel(_ root: [String: Any], path: String) throws(ModelError) -> [String: Any] {
        guard let model = root["model"] as? [String: Any] else {
            throw .invalidTokenizer(path: path, reason: "no \"model\" section")
        }
        let type = model["type"] as? String ?? "(none)"
        guard type == "WordPiece" else {
            throw .invalidTokenizer(path: path, reason: "tokenizer model \(type) is not supported (only WordPiece)")
        }
        return model
    }

    /// `added_tokens`, in file order (contents and ids not yet checked against the vocabulary).
    private static func parseAddedTokens(_ root: [String: Any], path: String) throws(ModelError) -> [AddedToken] {
        guard let list = root["added_tokens"], !(list is NSNull) else { return [] }
        guard let entries = list as? [Any] else { throw .invalidTokenizer(path: path, reason: "added_tokens is not a list") }
        var added: [AddedToken] = []
        for entry in entries {
            guard let entry = entry as? [String: Any], let content = entry["content"] as? String, !content.isEmpty,
                  let idValue = entry["id"] else {
                throw .invalidTokenizer(path: path, reason: "malformed added_tokens entry")
            }
            guard let id = ModelJSON.integer(idValue), id >= 0, id <= Int(Int32.max) else {
                throw .invalidTokenizer(path: path, reason: "added token \(content.debugDescription) has an invalid id \(idValue)")
            }
            let special = (entry["special"] as? Bool) ?? false
            added.append(AddedToken(scalars: Array(content.unicodeScalars), id: Int32(id), special: special))
        }
        return added
    }

    /// The token -> id map (vocabulary plus added tokens) and the dense id -> token table.
    private static func parseVocabulary(_ model: [String: Any], added: [AddedToken],
                                        path: String) throws(ModelError) -> ([String: Int32], [String]) {
        guard let vocabAny = model["vocab"] as? [String: Any], !vocabAny.isEmpty else {
            throw .invalidTokenizer(path: path, reason: "WordPiece model has no vocabulary")
        }
        let limit = min(2 * (vocabAny.count + added.count) + idSlack, Int(Int32.max))
        func invalid(_ what: String, _ value: Any) -> ModelError {
            .invalidTokenizer(path: path, reason: "\(what) has id \(value); ids must be integers in 0..<\(limit) (twice the \(vocabAny.count + added.count) entries plus \(idSlack))")
        }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(vocabAny.count + added.count)
        var table: [Int: String] = [:]
        table.reserveCapacity(vocabAny.count + added.count)
        for (token, value) in vocabAny {
            guard let id = ModelJSON.integer(value), id >= 0, id < limit else { throw invalid("vocabulary entry \(token.debugDescription)", value) }
            if let other = table.updateValue(token, forKey: id) {
                throw .invalidTokenizer(path: path, reason: "tokens \(other.debugDescription) and \(token.debugDescription) share id \(id)")
            }
            vocab[token] = Int32(id)
        }
        for t in added {
            let content = String(String.UnicodeScalarView(t.scalars))
            guard Int(t.id) < limit else { throw invalid("added token \(content.debugDescription)", t.id) }
            if let known = vocab[content], known != t.id {
                throw .invalidTokenizer(path: path, reason: "added token \(content.debugDescription) has id \(t.id), but the vocabulary gives it \(known)")
            }
            if let other = table[Int(t.id)], other != content {
                throw .invalidTokenizer(path: path, reason: "tokens \(other.debugDescription) and \(content.debugDescription) share id \(t.id)")
            }
            vocab[content] = t.id
            table[Int(t.id)] = content
        }
        var reverse = [String](repeating: "", count: (table.keys.max() ?? -1) + 1)
        for (i, t) in table { reverse[i] = t }
        return (vocab, reverse)
    }

    /// A string setting of the file, `fallback` when absent or null.
    private static func string(_ value: Any?, default fallback: String, key: String, path: String) throws(ModelError) -> String {
        guard let value, !(value is NSNull) else { return fallback }
        guard let s = value as? String else { throw .invalidTokenizer(path: path, reason: "\(key) is not a string") }
        return s
    }

    private static func maxInputCharsPerWord(_ model: [String: Any], path: String) throws(ModelError) -> Int {
        guard let value = model["max_input_chars_per_word"], !(value is NSNull) else { return 100 }
        guard let n = ModelJSON.integer(value), n >= 1 else {
            throw .invalidTokenizer(path: path, reason: "max_input_chars_per_word must be a positive integer, got \(value)")
        }
        return n
    }

    private static func parseNormalizer(_ root: [String: Any], path: String) throws(ModelError) -> NormalizerOptions {
        guard let n = root["normalizer"] as? [String: Any] else { return NormalizerOptions() }
        if let t = n["type"] as? String, t != "BertNormalizer" {
            throw .invalidTokenizer(path: path, reason: "normalizer \(t) is not supported (only BertNormalizer)")
        }
        var options = NormalizerOptions()
        options.lowercase = (n["lowercase"] as? Bool) ?? false
        options.stripAccents = (n["strip_accents"] as? Bool) ?? options.lowercase
        options.cleanText = (n["clean_text"] as? Bool) ?? false
        options.chineseChars = (n["handle_chinese_chars"] as? Bool) ?? false
        return options
    }

    private static func checkPreTokenizer(_ root: [String: Any], path: String) throws(ModelError) {
        if let pre = root["pre_tokenizer"] as? [String: Any], let t = pre["type"] as? String,
           t != "BertPreTokenizer" && t != "Whitespace" {
            throw .invalidTokenizer(path: path, reason: "pre-tokenizer \(t) is not supported (only BertPreTokenizer)")
        }
    }

    /// The special tokens before and after the single sequence of the post-processor.
    private static func parseTemplate(_ root: [String: Any], vocab: [String: Int32],
                                      path: String) throws(ModelError) -> ([Int32], [Int32]) {
        func id(_ name: String) throws(ModelError) -> Int32 {
            guard let i = vocab[name] else { throw .invalidTokenizer(path: path, reason: "special token \(name) not in vocabulary") }
            return i
        }
        var before: [Int32] = [], after: [Int32] = []
        guard let post = root["post_processor"] as? [String: Any] else { return (before, after) }
        if let single = post["single"] as? [[String: Any]] {
            var seenSequence = false
            for piece in single {
                if piece["Sequence"] != nil { seenSequence = true; continue }
                guard let special = piece["SpecialToken"] as? [String: Any], let name = special["id"] as? String else { continue }
                let i = try id(name)
                if seenSequence { after.append(i) } else { before.append(i) }
            }
        } else if let cls = post["cls"] as? [Any], let sep = post["sep"] as? [Any],
                  let c = cls.first as? String, let s = sep.first as? String {
            before = [try id(c)]
            after = [try id(s)]
        }
        return (before, after)
    }

    // MARK: Encoding

    /// Token ids of `text`, with the template's special tokens when `addSpecialTokens`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens { ids.append(contentsOf: templatePrefix) }
        forEachToken(text) { ids.append($0) }
        if addSpecialTokens { ids.append(contentsOf: templateSuffix) }
        return ids
    }

    /// Token ids of `text` with special tokens, cut to at most `maxTokens` (the first
    /// `maxTokens - 2` content tokens between [CLS] and [SEP], as sentence-transformers truncates);
    /// `nil` keeps everything.
    public func encode(_ text: String, maxTokens: Int?) -> [Int32] {
        var ids = encode(text, addSpecialTokens: true)
        if let m = maxTokens, ids.count > m {
            let special = templatePrefix.count + templateSuffix.count
            let keep = max(0, m - special)
            ids = templatePrefix + ids[templatePrefix.count..<(templatePrefix.count + keep)] + templateSuffix
        }
        return ids
    }

    /// Token strings of `text` (no special tokens added), for inspection.
    public func tokens(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false).map { idToToken[Int($0)] }
    }

    /// The token string of `id`, or nil outside the vocabulary.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < idToToken.count ? idToToken[Int(id)] : nil
    }

    /// The cleanup of the WordPiece decoder, applied to one piece of text.
    private static let cleanupPairs = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                                       (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]

    private static func cleanUp(_ text: String) -> String {
        var out = text
        for (a, b) in cleanupPairs { out = out.replacingOccurrences(of: a, with: b) }
        return out
    }

    /// Text from ids as the tokenizers library's WordPiece decoder gives it: pieces after the
    /// first lose their `##` prefix and join the previous piece, others get a leading space
    /// (the first piece is kept as it is, `##` included), and the decoder's cleanup runs on each
    /// piece. The prefix is matched on bytes, so a piece like `##` + a combining mark decodes right.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        let prefixBytes = Array(prefix.utf8)
        var out = ""
        var first = true
        for id in ids {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            guard let t = token(for: id) else { continue }
            var piece: String
            if !first && t.utf8.starts(with: prefixBytes) {
                piece = String(decoding: t.utf8.dropFirst(prefixBytes.count), as: UTF8.self)
            } else {
                piece = first ? t : " " + t
            }
            piece = Self.cleanUp(piece)
            out += piece
            first = false
        }
        return out
    }

    /// transformers' `clean_up_tokenization_spaces` on a whole decoded string (what
    /// `PreTrainedTokenizer.decode` adds on top of ``decode(_:skipSpecialTokens:)``).
    public static func cleanUpTokenizationSpaces(_ text: String) -> String { cleanUp(text) }

    /// Calls `emit` with each token id of `text` (no template), splitting out added tokens first.
    private func forEachToken(_ text: String, _ emit: (Int32) -> Void) {
        let scalars = Array(text.unicodeScalars)
        var segmentStart = 0
        var i = 0
        while i < scalars.count {
            if let match = addedToken(at: i, in: scalars) {
                tokenizeSegment(scalars[segmentStart..<i], emit)
                emit(match.id)
                i += match.length
                segmentStart = i
            } else {
                i += 1
            }
        }
        tokenizeSegment(scalars[segmentStart..<scalars.count], emit)
    }

    private func addedToken(at i: Int, in s: [Unicode.Scalar]) -> (id: Int32, length: Int)? {
        let first = s[i]
        for t in addedTokens where t.scalars[0] == first && i + t.scalars.count <= s.count {
            var ok = true
            for k in 1..<t.scalars.count where s[i + k] != t.scalars[k] { ok = false; break }
            if ok { return (t.id, t.scalars.count) }
        }
        return nil
    }

    /// Normalizes, pre-tokenizes and word-pieces a segment without added tokens.
    private func tokenizeSegment(_ segment: ArraySlice<Unicode.Scalar>, _ emit: (Int32) -> Void) {
        guard !segment.isEmpty else { return }
        var word: [Unicode.Scalar] = []
        word.reserveCapacity(32)
        func flush() {
            if !word.isEmpty { wordPiece(word, emit); word.removeAll(keepingCapacity: true) }
        }
        for raw in segment {
            // BertNormalizer: clean text, CJK padding, accents, lowercase — one scalar at a time.
            let v = raw.value
            if normalizer.cleanText {
                if v == 0 || v == 0xFFFD || Self.isControl(raw) { continue }
                if Self.isWhitespace(raw) { flush(); continue }
            } else if Self.isWhitespace(raw) { flush(); continue }
            if normalizer.chineseChars && Self.isChinese(v) { flush(); wordPiece([raw], emit); continue }
            if v < 0x80 {
                let c = normalizer.lowercase && v >= 65 && v <= 90 ? Unicode.Scalar(v + 32)! : raw
                if Self.isPunctuation(c) { flush(); wordPiece([c], emit) } else { word.append(c) }
                continue
            }
            for c in normalizeNonASCII(raw) {
                if Self.isWhitespace(c) || c.properties.isWhitespace { flush() }
                else if Self.isPunctuation(c) { flush(); wordPiece([c], emit) }
                else { word.append(c) }
            }
        }
        flush()
    }

    /// Accent stripping (NFD, drop non-spacing marks) and lowercasing of one non-ASCII scalar.
    private func normalizeNonASCII(_ c: Unicode.Scalar) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = [c]
        if normalizer.stripAccents {
            scalars = String(String.UnicodeScalarView([c])).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if normalizer.lowercase {
            scalars = scalars.flatMap { Array($0.properties.lowercaseMapping.unicodeScalars) }
        }
        return scalars
    }

    /// Greedy longest-match-first WordPiece; a word that cannot be covered, or longer than
    /// `max_input_chars_per_word`, becomes one [UNK].
    private func wordPiece(_ word: [Unicode.Scalar], _ emit: (Int32) -> Void) {
        if word.count > maxCharsPerWord { emit(unkID); return }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while end > start {
                var s = start > 0 ? prefix : ""
                s.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocab[s] { found = id; break }
                end -= 1
            }
            guard let id = found else { emit(unkID); return }
            pieces.append(id)
            start = end
        }
        for p in pieces { emit(p) }
    }

    // MARK: Character classes (as the tokenizers library defines them for BERT)

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        case 0..<0x80: return false
        default: return c.properties.generalCategory == .spaceSeparator
        }
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: return false
        default:
            switch c.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse: return true
            default: return false
            }
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        if v < 0x80 { return false }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
