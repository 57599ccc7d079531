import Foundation

/// The last stage, for `decode`: token strings in, text pieces out (joined by the caller).
protocol TokenDecoder: Sendable {
    func decodeChain(_ tokens: [String]) -> [String]
}

/// Builds the `decoder` section of `tokenizer.json`.
enum DecoderFactory {
    static func make(_ spec: TokenizerSpec) throws(ModelError) -> any TokenDecoder {
        switch try spec.type() {
        case "Sequence":
            var parts: [any TokenDecoder] = []
            for child in try spec.children("decoders") { parts.append(try make(child)) }
            return SequenceDecoder(parts: parts)
        case "ByteLevel": return ByteLevelDecoder()
        case "Metaspace": return try MetaspaceDecoder(spec)
        case "ByteFallback": return ByteFallbackDecoder()
        case "Fuse": return FuseDecoder()
        case "Strip":
            let content = try spec.string("content")
            guard content.unicodeScalars.count == 1, let c = content.unicodeScalars.first else { throw spec.invalid("Strip content must be one character") }
            return StripDecoder(content: c, start: try spec.int("start", default: 0, in: 0...1_000_000),
                                stop: try spec.int("stop", default: 0, in: 0...1_000_000))
        case "Replace": return ReplaceDecoder(normalizer: ReplaceNormalizer(pattern: try spec.pattern(), content: try spec.string("content")))
        case "WordPiece":
            return WordPieceDecoder(prefix: try spec.string("prefix", default: "##"), cleanup: try spec.bool("cleanup", default: true))
        case "BPEDecoder": return BPESuffixDecoder(suffix: try spec.string("suffix", default: "</w>"))
        case let other: throw spec.unsupported("decoder \(other)")
        }
    }
}

struct SequenceDecoder: TokenDecoder {
    let parts: [any TokenDecoder]
    func decodeChain(_ tokens: [String]) -> [String] { parts.reduce(tokens) { $1.decodeChain($0) } }
}

/// Byte-level tokens back to bytes, then UTF-8 (invalid sequences become U+FFFD).
struct ByteLevelDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var bytes: [UInt8] = []
        for t in tokens { ByteLevelAlphabet.decodeToken(t, into: &bytes) }
        return [String(decoding: bytes, as: UTF8.self)]
    }
}

/// The word marker back to spaces; in the first token the marker is dropped unless the
/// pre-tokenizer never prepends one.
struct MetaspaceDecoder: TokenDecoder {
    let replacement: Unicode.Scalar
    let prepend: MetaspacePreTokenizer.Prepend

    init(_ spec: TokenizerSpec) throws(ModelError) {
        replacement = try MetaspacePreTokenizer.marker(spec).unicodeScalars.first ?? "\u{2581}"
        prepend = try MetaspacePreTokenizer.prependScheme(spec)
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, token in
            var out = String.UnicodeScalarView()
            for c in token.unicodeScalars {
                if c == replacement {
                    if !(i == 0 && prepend != .never) { out.append(" ") }
                } else {
                    out.append(c)
                }
            }
            return String(out)
        }
    }
}

/// Runs of `<0xXX>` tokens become their bytes' UTF-8 text, or one U+FFFD per byte when the
/// bytes are not valid UTF-8.
struct ByteFallbackDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] {
        var out: [String] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validating: pending, as: UTF8.self) { out.append(s) }
            else { out += [String](repeating: "\u{FFFD}", count: pending.count) }
            pending.removeAll()
        }
        for t in tokens {
            if let b = Self.byte(t) { pending.append(b) } else { flush(); out.append(t) }
        }
        flush()
        return out
    }

    static func byte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"), u[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }
}

/// Joins every token into one.
struct FuseDecoder: TokenDecoder {
    func decodeChain(_ tokens: [String]) -> [String] { [tokens.joined()] }
}

/// Removes up to `start` leading and `stop` trailing `content` characters from each token.
struct StripDecoder: TokenDecoder {
    let content: Unicode.Scalar
    let start: Int, stop: Int
    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.map { token in
            let chars = Array(token.unicodeScalars)
            var lo = 0
            while lo < min(start, chars.count) && chars[lo] == content { lo += 1 }
            var hi = chars.count
            var removed = 0
            while removed < stop && hi > lo && chars[hi - 1] == content { hi -= 1; removed += 1 }
            return String(String.UnicodeScalarView(chars[lo..<hi]))
        }
    }
}

/// A Replace normalizer applied to each token.
struct ReplaceDecoder: TokenDecoder {
    let normalizer: ReplaceNormalizer
    func decodeChain(_ tokens: [String]) -> [String] { tokens.map(normalizer.normalize) }
}

/// WordPiece: continuation tokens lose their prefix, other tokens after the first get a
/// leading space; `cleanup` removes spaces before punctuation and in English contractions.
struct WordPieceDecoder: TokenDecoder {
    let prefix: String
    let cleanup: Bool

    static let cleanupPairs = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                               (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]

    private static let cleanupRules = cleanupPairs.map { ReplaceNormalizer(pattern: .literal($0.0), content: $0.1) }

    /// The cleanup, matched on bytes (no canonical equivalence, like the library's `str::replace`).
    static func cleanUp(_ text: String) -> String { cleanupRules.reduce(text) { $1.normalize($0) } }

    func decodeChain(_ tokens: [String]) -> [String] {
        let p = Array(prefix.utf8)
        return tokens.enumerated().map { i, token in
            var t = token
            if i != 0 {
                // The prefix is matched on bytes, so "##" + a combining mark loses its prefix.
                t = t.utf8.starts(with: p) ? String(decoding: t.utf8.dropFirst(p.count), as: UTF8.self) : " " + t
            }
            return cleanup ? Self.cleanUp(t) : t
        }
    }
}

/// Classic BPE's end-of-word suffix back to spaces (none after the last token).
struct BPESuffixDecoder: TokenDecoder {
    let suffix: String
    func decodeChain(_ tokens: [String]) -> [String] {
        tokens.enumerated().map { i, t in
            ReplaceNormalizer(pattern: .literal(suffix), content: i == tokens.count - 1 ? "" : " ").normalize(t)
        }
    }
}
