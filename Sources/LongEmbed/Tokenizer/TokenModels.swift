import Foundation
import Synchronization

/// The third stage of the pipeline: one pre-tokenized word in, token ids out.
protocol TokenModel: Sendable {
    /// The model's own vocabulary (added tokens are kept apart by ``AddedTokens``).
    var vocabulary: Vocabulary { get }
    func tokenize(_ word: String, into ids: inout [Int32])
}

/// Builds the `model` section of `tokenizer.json`.
enum TokenModelFactory {
    static func make(_ spec: TokenizerSpec) throws(ModelError) -> any TokenModel {
        // Older files leave out the model's type; the tokenizers library then tries each model.
        let declared = try spec.optionalString("type")
        let type: String
        if let declared { type = declared } else { type = try guessType(spec) }
        switch type {
        case "WordPiece": return try WordPieceModel(spec)
        case "BPE": return try BPEModel(spec)
        case "Unigram": return try UnigramModel(spec)
        case let other: throw spec.unsupported("model \(other)")
        }
    }

    private static func guessType(_ spec: TokenizerSpec) throws(ModelError) -> String {
        if spec.object["merges"] != nil { return "BPE" }
        if spec.value("vocab")?.arrayValue != nil { return "Unigram" }
        if spec.object["continuing_subword_prefix"] != nil || spec.object["max_input_chars_per_word"] != nil { return "WordPiece" }
        throw spec.invalid("the model has no \"type\" and is not recognizable")
    }
}

/// A token string compared and hashed by its UTF-8 bytes. Swift's `String` equality is
/// canonical equivalence, under which "é" and "e" + U+0301 are one key; in a vocabulary they are
/// two tokens with two ids.
struct TokenString: Hashable, Sendable {
    let value: String
    init(_ value: String) { self.value = value }

    static func == (a: TokenString, b: TokenString) -> Bool { a.value.utf8.elementsEqual(b.value.utf8) }

    func hash(into hasher: inout Hasher) {
        var v = value
        v.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A model's token <-> id maps (tokens compared byte for byte). Ids are validated at load:
/// JSON integers below `2 * entries + Tokenizer.idSlack`, no two tokens sharing one.
struct Vocabulary: Sendable {
    private let map: [TokenString: Int32]
    /// Token of each id; "" where no token has that id.
    let tokens: [String]

    /// Entries in the vocabulary.
    var count: Int { map.count }

    init(map: [TokenString: Int32], tokens: [String]) {
        self.map = map
        self.tokens = tokens
    }

    /// The id of `token`, nil when it is not in the vocabulary.
    func id(_ token: String) -> Int32? { map[TokenString(token)] }

    /// Every (token, id) pair, in no particular order.
    var entries: [(token: String, id: Int32)] { map.map { ($0.key.value, $0.value) } }

    /// A `{"token": id}` vocabulary (WordPiece, BPE).
    init(object spec: TokenizerSpec, key: String = "vocab") throws(ModelError) {
        guard let raw = spec.value(key)?.objectValue else { throw spec.invalid("\"\(key)\" is not an object of token ids") }
        guard raw.count > 0 else { throw spec.invalid("the vocabulary is empty") }
        let limit = min(2 * raw.count + Tokenizer.idSlack, Int(Int32.max))
        var map: [TokenString: Int32] = [:]
        map.reserveCapacity(raw.count)
        var table = [String?](repeating: nil, count: min(limit, raw.count + Tokenizer.idSlack))
        for (token, value) in raw.members {
            guard let id = value.integerValue, id >= 0, id < limit else {
                throw spec.invalid("vocabulary entry \(token.debugDescription) has id \(value.brief); ids must be integers in 0..<\(limit) (twice the \(raw.count) entries plus \(Tokenizer.idSlack))")
            }
            if id >= table.count { table += [String?](repeating: nil, count: id + 1 - table.count) }
            if let other = table[id] {
                throw spec.invalid("tokens \(other.debugDescription) and \(token.debugDescription) share id \(id)")
            }
            guard map.updateValue(Int32(id), forKey: TokenString(token)) == nil else {
                throw spec.invalid("token \(token.debugDescription) is listed twice")
            }
            table[id] = token
        }
        while let last = table.last, last == nil { table.removeLast() }
        self.init(map: map, tokens: table.map { $0 ?? "" })
    }
}

/// BERT's WordPiece: greedy longest match first, `##` before continuations; a word that cannot
/// be covered, or longer than `max_input_chars_per_word`, becomes one unknown token.
struct WordPieceModel: TokenModel {
    let vocabulary: Vocabulary
    let prefix: String
    let maxCharsPerWord: Int
    let unkID: Int32

    init(_ spec: TokenizerSpec) throws(ModelError) {
        vocabulary = try Vocabulary(object: spec)
        prefix = try spec.string("continuing_subword_prefix", default: "##")
        maxCharsPerWord = try spec.int("max_input_chars_per_word", default: 100, in: 1...Int(Int32.max))
        let unk = try spec.string("unk_token", default: "[UNK]")
        guard let id = vocabulary.id(unk) else { throw spec.invalid("unknown token \(unk.debugDescription) is not in the vocabulary") }
        unkID = id
    }

    func tokenize(_ word: String, into ids: inout [Int32]) {
        let scalars = Array(word.unicodeScalars)
        if scalars.count > maxCharsPerWord { ids.append(unkID); return }
        let mark = ids.count
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while end > start {
                var s = start > 0 ? prefix : ""
                s.unicodeScalars.append(contentsOf: scalars[start..<end])
                if let id = vocabulary.id(s) { found = id; break }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(mark...)
                ids.append(unkID)
                return
            }
            ids.append(id)
            start = end
        }
    }
}

/// A bounded word -> ids memo shared by the threads of a batch.
final class WordCache: Sendable {
    private let entries = Mutex<[TokenString: [Int32]]>([:])
    /// Entries kept before the cache is emptied (the tokenizers library keeps 10 000).
    static let capacity = 10_000
    /// Longer words are not remembered (a SentencePiece "word" can be a whole document).
    static let maxWordBytes = 256

    func get(_ word: String) -> [Int32]? {
        guard word.utf8.count <= Self.maxWordBytes else { return nil }
        return entries.withLock { $0[TokenString(word)] }
    }

    func put(_ word: String, _ ids: [Int32]) {
        guard word.utf8.count <= Self.maxWordBytes else { return }
        entries.withLock { cache in
            if cache.count >= Self.capacity { cache.removeAll(keepingCapacity: true) }
            cache[TokenString(word)] = ids
        }
    }
}
