import Foundation

/// A piece of normalized text between added tokens, or a word a pre-tokenizer cut from one.
struct TextPiece {
    var text: String
    /// Whether the piece starts at offset 0 of the original input (Metaspace's
    /// `prepend_scheme: first` prepends only there).
    var atStart: Bool
}

/// The second stage of the pipeline: cuts a piece into words for the model.
protocol PreTokenizer: Sendable {
    func split(_ piece: TextPiece, into out: inout [TextPiece])
}

/// How a Split-style pre-tokenizer treats the matches (the delimiters).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    init(_ spec: TokenizerSpec, key: String = "behavior", default fallback: SplitBehavior? = nil) throws(ModelError) {
        let name = try spec.string(key, default: fallback?.rawValue)
        guard let b = SplitBehavior(rawValue: name) else { throw spec.unsupported("split behavior \(name)") }
        self = b
    }

    /// Cuts `text` at the byte ranges `matches` (sorted, non-overlapping) as the tokenizers
    /// library's `NormalizedString::split` does; empty pieces are dropped.
    func apply(_ text: String, matches: [Range<Int>], invert: Bool = false, atStart: Bool, into out: inout [TextPiece]) {
        let bytes = Array(text.utf8)
        var marked: [(range: Range<Int>, isMatch: Bool)] = []
        if bytes.isEmpty {
            marked = [(0..<0, false)]
        } else {
            var prev = 0
            for m in matches {
                if prev != m.lowerBound { marked.append((prev..<m.lowerBound, false)) }
                marked.append((m, true))
                prev = m.upperBound
            }
            if prev != bytes.count { marked.append((prev..<bytes.count, false)) }
        }
        if invert { marked = marked.map { ($0.range, !$0.isMatch) } }
        for (r, remove) in pieces(marked) where !remove && !r.isEmpty {
            out.append(TextPiece(text: String(decoding: bytes[r], as: UTF8.self), atStart: atStart && r.lowerBound == 0))
        }
    }

    /// The pieces and whether each is removed.
    private func pieces(_ marked: [(range: Range<Int>, isMatch: Bool)]) -> [(Range<Int>, Bool)] {
        switch self {
        case .removed: return marked.map { ($0.range, $0.isMatch) }
        case .isolated: return marked.map { ($0.range, false) }
        case .contiguous:
            var acc: [(Range<Int>, Bool)] = []
            var previous = false
            for (r, m) in marked {
                if m == previous, let last = acc.last { acc[acc.count - 1] = (last.0.lowerBound..<r.upperBound, false) }
                else { acc.append((r, false)) }
                previous = m
            }
            return acc
        case .mergedWithPrevious:
            var acc: [(Range<Int>, Bool)] = []
            var previous = false
            for (r, m) in marked {
                if m && !previous, let last = acc.last { acc[acc.count - 1] = (last.0.lowerBound..<r.upperBound, false) }
                else { acc.append((r, false)) }
                previous = m
            }
            return acc
        case .mergedWithNext:
            var acc: [(Range<Int>, Bool)] = []
            var previous = false
            for (r, m) in marked.reversed() {
                if m && !previous, let last = acc.last { acc[acc.count - 1] = (r.lowerBound..<last.0.upperBound, false) }
                else { acc.append((r, false)) }
                previous = m
            }
            return acc.reversed()
        }
    }
}

/// Builds the `pre_tokenizer` section of `tokenizer.json`.
enum PreTokenizerFactory {
    static func make(_ spec: TokenizerSpec) throws(ModelError) -> any PreTokenizer {
        switch try spec.type() {
        case "Sequence":
            var parts: [any PreTokenizer] = []
            for child in try spec.children("pretokenizers") { parts.append(try make(child)) }
            return SequencePreTokenizer(parts: parts)
        case "ByteLevel": return try ByteLevelPreTokenizer(spec)
        case "Split":
            return SplitPreTokenizer(pattern: try spec.pattern(), behavior: try SplitBehavior(spec),
                                     invert: try spec.bool("invert", default: false))
        case "Metaspace": return try MetaspacePreTokenizer(spec)
        case "Whitespace": return try WhitespacePreTokenizer()
        case "WhitespaceSplit": return CharacterSplitPreTokenizer(behavior: .removed, test: CharacterClass.isWhitespace)
        case "Punctuation":
            return CharacterSplitPreTokenizer(behavior: try SplitBehavior(spec, default: .isolated), test: CharacterClass.isPunctuation)
        case "Digits":
            let individual = try spec.bool("individual_digits", default: false)
            return CharacterSplitPreTokenizer(behavior: individual ? .isolated : .contiguous, test: CharacterClass.isNumeric)
        case "BertPreTokenizer": return BertPreTokenizer()
        case let other: throw spec.unsupported("pre-tokenizer \(other)")
        }
    }
}

struct SequencePreTokenizer: PreTokenizer {
    let parts: [any PreTokenizer]
    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        var current = [piece]
        for p in parts {
            var next: [TextPiece] = []
            for c in current { p.split(c, into: &next) }
            current = next
        }
        out.append(contentsOf: current)
    }
}

/// Splits on a literal or regex pattern with one of the five behaviours, optionally inverted.
struct SplitPreTokenizer: PreTokenizer {
    let pattern: TextPattern
    let behavior: SplitBehavior
    let invert: Bool
    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        behavior.apply(piece.text, matches: pattern.matches(in: piece.text), invert: invert, atStart: piece.atStart, into: &out)
    }
}

/// Splits where a character test holds (whitespace, punctuation, digits).
struct CharacterSplitPreTokenizer: PreTokenizer {
    let behavior: SplitBehavior
    let test: @Sendable (Unicode.Scalar) -> Bool
    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        var matches: [Range<Int>] = []
        var offset = 0
        for c in piece.text.unicodeScalars {
            let n = UTF8.width(c)
            if test(c) { matches.append(offset..<(offset + n)) }
            offset += n
        }
        behavior.apply(piece.text, matches: matches, atStart: piece.atStart, into: &out)
    }
}

/// Keeps runs of word characters and runs of other non-space characters (`\w+|[^\w\s]+`).
struct WhitespacePreTokenizer: PreTokenizer {
    let regex: PCRE2Regex
    init() throws(ModelError) {
        do { regex = try PCRE2Regex(onigurumaPattern: #"\w+|[^\w\s]+"#) } catch {
            throw .invalidTokenizer(path: "(built-in)", reason: error.message)
        }
    }
    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        SplitBehavior.removed.apply(piece.text, matches: regex.matches(in: piece.text), invert: true, atStart: piece.atStart, into: &out)
    }
}

/// BERT: split on whitespace (removed), then isolate each punctuation character.
struct BertPreTokenizer: PreTokenizer {
    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        var word = String.UnicodeScalarView()
        func flush() {
            if !word.isEmpty { out.append(TextPiece(text: String(word), atStart: false)); word = String.UnicodeScalarView() }
        }
        for c in piece.text.unicodeScalars {
            if CharacterClass.isWhitespace(c) { flush() }
            else if CharacterClass.isPunctuation(c) { flush(); out.append(TextPiece(text: String(c), atStart: false)) }
            else { word.append(c) }
        }
        flush()
    }
}

/// SentencePiece's word boundary marker: spaces become the replacement (U+2581 by default), one
/// is prepended as `prepend_scheme` says, and with `split` each marker starts a new word.
struct MetaspacePreTokenizer: PreTokenizer {
    enum Prepend: String, Sendable { case always, first, never }
    /// The marker, one Unicode scalar.
    let replacement: String
    let prepend: Prepend
    let splitWords: Bool
    private let spaces: ReplaceNormalizer

    init(_ spec: TokenizerSpec) throws(ModelError) {
        replacement = try Self.marker(spec)
        spaces = ReplaceNormalizer(pattern: .literal(" "), content: replacement)
        prepend = try Self.prependScheme(spec)
        splitWords = try spec.bool("split", default: true)
    }

    /// `replacement`: one Unicode scalar (the library's `char`), U+2581 by default.
    static func marker(_ spec: TokenizerSpec) throws(ModelError) -> String {
        let r = try spec.string("replacement", default: "\u{2581}")
        guard r.unicodeScalars.count == 1 else { throw spec.invalid("replacement must be one character") }
        return r
    }

    /// `prepend_scheme`, or the older `add_prefix_space` (true: always).
    static func prependScheme(_ spec: TokenizerSpec) throws(ModelError) -> Prepend {
        if let s = try spec.optionalString("prepend_scheme") {
            guard let p = Prepend(rawValue: s) else { throw spec.unsupported("Metaspace prepend_scheme \(s)") }
            return p
        }
        return try spec.bool("add_prefix_space", default: true) ? .always : .never
    }

    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        let rep = replacement
        var text = spaces.normalize(piece.text)
        let prependHere = prepend == .always || (prepend == .first && piece.atStart)
        if prependHere && !text.isEmpty && !text.utf8.starts(with: rep.utf8) { text = rep + text }
        guard splitWords else {
            if !text.isEmpty { out.append(TextPiece(text: text, atStart: piece.atStart)) }
            return
        }
        SplitBehavior.mergedWithNext.apply(text, matches: TextPattern.literal(rep).matches(in: text), atStart: piece.atStart, into: &out)
    }
}

/// GPT-2's byte-level pre-tokenizer: optional prefix space, optional split with GPT-2's regex,
/// then every UTF-8 byte mapped to one printable character (``ByteLevelAlphabet``).
struct ByteLevelPreTokenizer: PreTokenizer {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    let addPrefixSpace: Bool
    let regex: PCRE2Regex?

    init(_ spec: TokenizerSpec) throws(ModelError) {
        addPrefixSpace = try spec.bool("add_prefix_space", default: true)
        if try spec.bool("use_regex", default: true) {
            do { regex = try PCRE2Regex(onigurumaPattern: Self.gpt2Pattern) } catch { throw spec.invalid(error.message) }
        } else {
            regex = nil
        }
    }

    func split(_ piece: TextPiece, into out: inout [TextPiece]) {
        var text = piece.text
        if addPrefixSpace && !text.isEmpty && text.utf8.first != UInt8(ascii: " ") { text = " " + text }
        var words: [TextPiece] = []
        if let regex {
            SplitBehavior.isolated.apply(text, matches: regex.matches(in: text), atStart: piece.atStart, into: &words)
        } else if !text.isEmpty {
            words = [TextPiece(text: text, atStart: piece.atStart)]
        }
        for w in words { out.append(TextPiece(text: ByteLevelAlphabet.encode(w.text), atStart: w.atStart)) }
    }
}

/// GPT-2's reversible map from the 256 byte values to printable Unicode characters.
enum ByteLevelAlphabet {
    /// The character of each byte value.
    static let scalars: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = printable.map { UInt32($0) }
        var n: UInt32 = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            chars.append(256 + n)
            n += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(printable, chars) { table[b] = Unicode.Scalar(c)! }
        return table
    }()

    /// The byte value of each character, keyed by scalar value.
    static let bytes: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, s) in scalars.enumerated() { map[s.value] = UInt8(b) }
        return map
    }()

    static func encode(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for b in text.utf8 { out.append(scalars[Int(b)]) }
        return String(out)
    }

    /// The bytes of one byte-level token; a token with a character outside the alphabet keeps
    /// its own UTF-8 (the tokenizers library's ByteLevel decoder does the same).
    static func decodeToken(_ token: String, into out: inout [UInt8]) {
        let start = out.count
        for c in token.unicodeScalars {
            guard let b = bytes[c.value] else {
                out.removeSubrange(start...)
                out.append(contentsOf: token.utf8)
                return
            }
            out.append(b)
        }
    }
}
