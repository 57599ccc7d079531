import Foundation

/// SentencePiece's precompiled normalization rules (`precompiled_charsmap`, base64 in the file):
/// a little-endian `UInt32` trie size in bytes, a Darts double-array trie of that size over the
/// UTF-8 bytes of the strings to replace, then the NUL-terminated replacement strings the trie's
/// values point into (Kudo & Richardson 2018, SentencePiece; the layout of its
/// `normalizer.cc`).
///
/// Applied as the tokenizers library applies it: per extended grapheme cluster, a cluster
/// shorter than 6 bytes is replaced whole when the trie has an entry for a prefix of it (the
/// shortest); otherwise each character is replaced by its entry or kept.
struct PrecompiledNormalizer: TextNormalizer {
    private let units: [UInt32]
    private let replacements: [UInt8]

    init(_ spec: TokenizerSpec) throws(ModelError) {
        let encoded = try spec.string("precompiled_charsmap", default: "")
        guard let data = Data(base64Encoded: encoded) else { throw spec.invalid("precompiled_charsmap is not valid base64") }
        try self.init(bytes: [UInt8](data), spec: spec)
    }

    init(bytes: [UInt8], spec: TokenizerSpec) throws(ModelError) {
        if bytes.isEmpty { units = []; replacements = []; return }
        guard bytes.count >= 4 else { throw spec.invalid("precompiled_charsmap is shorter than its 4-byte header") }
        let trieBytes = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard trieBytes % 4 == 0, trieBytes <= bytes.count - 4 else {
            throw spec.invalid("precompiled_charsmap declares a \(trieBytes)-byte trie in \(bytes.count - 4) bytes")
        }
        var u = [UInt32](repeating: 0, count: trieBytes / 4)
        for i in 0..<u.count {
            let o = 4 + 4 * i
            u[i] = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        units = u
        replacements = Array(bytes[(4 + trieBytes)...])
    }

    func normalize(_ text: String) -> String {
        guard !units.isEmpty else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 8)
        let utf8 = text.utf8
        var i = utf8.startIndex
        while i < utf8.endIndex {
            let b = utf8[i]
            let next = utf8.index(after: i)
            // Fast path: an ASCII character followed by ASCII (or the end) is a grapheme of its own,
            // except CR before LF.
            if b < 0x80 && (next == utf8.endIndex || (utf8[next] < 0x80 && !(b == 0x0D && utf8[next] == 0x0A))) {
                if let r = replacement(CollectionOfOne(b)) { out.append(contentsOf: r) } else { out.append(b) }
                i = next
                continue
            }
            let grapheme = text[i]
            appendGrapheme(grapheme, to: &out)
            i = utf8.index(i, offsetBy: grapheme.utf8.count)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func appendGrapheme(_ grapheme: Character, to out: inout [UInt8]) {
        let bytes = Array(grapheme.utf8)
        if bytes.count < 6, let r = replacement(bytes) {
            out.append(contentsOf: r)
            return
        }
        for scalar in grapheme.unicodeScalars {
            var buffer: [UInt8] = []
            buffer.append(contentsOf: String(scalar).utf8)
            if let r = replacement(buffer) { out.append(contentsOf: r) } else { out.append(contentsOf: buffer) }
        }
    }

    /// The replacement of the shortest prefix of `key` the trie holds, nil when none. Every
    /// index is checked, so a corrupt trie ends the search instead of reading out of bounds.
    private func replacement<C: Collection<UInt8>>(_ key: C) -> ArraySlice<UInt8>? {
        guard let value = firstPrefixValue(key), value >= 0, value < replacements.count else { return nil }
        var end = value
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return replacements[value..<end]
    }

    private func firstPrefixValue<C: Collection<UInt8>>(_ key: C) -> Int? {
        var pos = 0
        guard pos < units.count else { return nil }
        pos ^= Self.offset(units[pos])
        for c in key {
            if c == 0 { return nil }
            pos ^= Int(c)
            guard pos >= 0 && pos < units.count else { return nil }
            let unit = units[pos]
            guard Self.label(unit) == UInt32(c) else { return nil }
            pos ^= Self.offset(unit)
            if Self.hasLeaf(unit) {
                guard pos >= 0 && pos < units.count else { return nil }
                return Int(units[pos] & 0x7FFF_FFFF)
            }
        }
        return nil
    }

    // Darts' unit layout.
    private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    private static func label(_ u: UInt32) -> UInt32 { u & (0x8000_0000 | 0xFF) }
    private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
}
