import Foundation

/// One entry of `added_tokens`.
struct AddedToken: Sendable {
    var content: String
    var id: Int32
    var special: Bool
    /// Matches only when no word character touches it on either side.
    var singleWord: Bool
    /// The match takes the whitespace on its left / right.
    var lstrip: Bool, rstrip: Bool
    /// Matched in the normalized text (true) or in the raw text (false).
    var normalized: Bool
}

/// A segment of the input after added-token extraction.
enum InputSegment {
    case token(Int32)
    case text(TextPiece)
}

/// The added tokens of `tokenizer.json`, matched before the model as the tokenizers library
/// does: first the raw-text tokens (`normalized: false`) in the raw input, then, in each
/// remaining piece after normalization, the normalized tokens (their content normalized the
/// same way). Matching is leftmost-longest and non-overlapping.
struct AddedTokens: Sendable {
    let tokens: [AddedToken]
    private let raw: ByteTrie
    private let normalizedTrie: ByteTrie

    /// The entries, ids checked against `limit` (exclusive).
    static func parse(_ root: TokenizerSpec, limit: Int) throws(ModelError) -> [AddedToken] {
        guard root.value("added_tokens") != nil else { return [] }
        var out: [AddedToken] = []
        for entry in try root.children("added_tokens") {
            let content = try entry.string("content")
            guard !content.isEmpty else { throw entry.invalid("an added token with empty content") }
            guard let id = entry.value("id")?.integerValue, id >= 0, id < limit else {
                throw entry.invalid("added token \(content.debugDescription) has id \(entry.object["id"]?.brief ?? "none"); ids must be integers in 0..<\(limit)")
            }
            let special = try entry.bool("special", default: false)
            out.append(AddedToken(content: content, id: Int32(id), special: special,
                                  singleWord: try entry.bool("single_word", default: false),
                                  lstrip: try entry.bool("lstrip", default: false), rstrip: try entry.bool("rstrip", default: false),
                                  normalized: try entry.bool("normalized", default: !special)))
        }
        return out
    }

    init(_ tokens: [AddedToken], normalizer: (any TextNormalizer)?) {
        self.tokens = tokens
        var rawKeys: [([UInt8], Int32)] = [], normKeys: [([UInt8], Int32)] = []
        for (i, t) in tokens.enumerated() {
            if t.normalized {
                let n = normalizer?.normalize(t.content) ?? t.content
                if !n.isEmpty { normKeys.append((Array(n.utf8), Int32(i))) }
            } else {
                rawKeys.append((Array(t.content.utf8), Int32(i)))
            }
        }
        raw = ByteTrie(keys: rawKeys)
        normalizedTrie = ByteTrie(keys: normKeys)
    }

    /// Raw text -> segments: added tokens and normalized text pieces (empty pieces dropped).
    func segments(_ text: String, normalizer: (any TextNormalizer)?) -> [InputSegment] {
        var out: [InputSegment] = []
        for s in split(text, trie: raw, atStart: true) {
            guard case .text(let piece) = s else { out.append(s); continue }
            let normalized = normalizer?.normalize(piece.text) ?? piece.text
            for n in split(normalized, trie: normalizedTrie, atStart: piece.atStart) {
                if case .text(let p) = n, p.text.isEmpty { continue }
                out.append(n)
            }
        }
        return out
    }

    private func split(_ text: String, trie: ByteTrie, atStart: Bool) -> [InputSegment] {
        guard !trie.isEmpty, !text.isEmpty else { return [.text(TextPiece(text: text, atStart: atStart))] }
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            let b = UnsafeBufferPointer(buffer)
            var out: [InputSegment] = []
            var done = 0       // end of the last emitted segment
            var pos = 0
            while pos < b.count {
                var longest: (length: Int, index: Int32)?
                trie.forEachPrefix(of: b, from: pos) { length, index in longest = (length, index) }
                guard let m = longest else { pos += 1; continue }
                // A match single_word rejects is skipped whole, as the library's matcher moves on past it.
                guard let match = accept(tokens[Int(m.index)], b, start: pos, end: pos + m.length, done: done) else {
                    pos += m.length
                    continue
                }
                if done < match.start { out.append(.text(TextPiece(text: String(decoding: b[done..<match.start], as: UTF8.self), atStart: atStart && done == 0))) }
                out.append(.token(tokens[Int(m.index)].id))
                done = match.end
                pos = max(pos + m.length, match.end)
            }
            if done < b.count { out.append(.text(TextPiece(text: String(decoding: b[done...], as: UTF8.self), atStart: atStart && done == 0))) }
            return out
        }
    }

    /// The match's extent after `single_word`, `lstrip` and `rstrip`, or nil when `single_word`
    /// rejects it.
    private func accept(_ t: AddedToken, _ b: UnsafeBufferPointer<UInt8>, start: Int, end: Int, done: Int) -> (start: Int, end: Int)? {
        if t.singleWord {
            let before = start > 0 ? Self.lastScalar(b, before: start) : nil
            let after = end < b.count ? Self.firstScalar(b, at: end) : nil
            if before.map(Self.isWordCharacter) == true || after.map(Self.isWordCharacter) == true { return nil }
        }
        var s = start, e = end
        if t.lstrip {
            while s > done, let c = Self.lastScalar(b, before: s), CharacterClass.isWhitespace(c) { s -= UTF8.width(c) }
        }
        if t.rstrip {
            while e < b.count, let c = Self.firstScalar(b, at: e), CharacterClass.isWhitespace(c) { e += UTF8.width(c) }
        }
        return (s, e)
    }

    /// `\w`: letters, marks, digits and connector punctuation.
    static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return c == "_" || (48...57).contains(c.value) || (65...90).contains(c.value) || (97...122).contains(c.value) }
        let p = c.properties
        if p.isAlphabetic { return true }
        switch p.generalCategory {
        case .decimalNumber, .nonspacingMark, .spacingMark, .enclosingMark, .connectorPunctuation: return true
        default: return false
        }
    }

    private static func firstScalar(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Unicode.Scalar? {
        var it = b[i...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let s) = decoder.decode(&it) { return s }
        return nil
    }

    private static func lastScalar(_ b: UnsafeBufferPointer<UInt8>, before i: Int) -> Unicode.Scalar? {
        var s = i - 1
        while s > 0 && (b[s] & 0xC0) == 0x80 { s -= 1 }
        return s >= 0 ? firstScalar(b, at: s) : nil
    }
}
