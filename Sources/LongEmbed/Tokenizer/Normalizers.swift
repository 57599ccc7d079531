import Foundation

/// The first stage of the tokenizers pipeline: text in, normalized text out.
protocol TextNormalizer: Sendable {
    func normalize(_ text: String) -> String
}

/// Builds the `normalizer` section of `tokenizer.json`.
enum NormalizerFactory {
    static func make(_ spec: TokenizerSpec) throws(ModelError) -> any TextNormalizer {
        switch try spec.type() {
        case "Sequence":
            var parts: [any TextNormalizer] = []
            for child in try spec.children("normalizers") { parts.append(try make(child)) }
            return SequenceNormalizer(parts: parts)
        case "NFC": return UnicodeNormalizer(form: .nfc)
        case "NFD": return UnicodeNormalizer(form: .nfd)
        case "NFKC": return UnicodeNormalizer(form: .nfkc)
        case "NFKD": return UnicodeNormalizer(form: .nfkd)
        case "Lowercase": return LowercaseNormalizer()
        case "StripAccents": return StripAccentsNormalizer()
        case "Strip":
            return StripNormalizer(left: try spec.bool("strip_left", default: true), right: try spec.bool("strip_right", default: true))
        case "Replace":
            return ReplaceNormalizer(pattern: try spec.pattern(), content: try spec.string("content"))
        case "Prepend": return PrependNormalizer(prefix: try spec.string("prepend"))
        case "BertNormalizer": return try BertNormalizer(spec)
        case "Precompiled": return try PrecompiledNormalizer(spec)
        case let other: throw spec.unsupported("normalizer \(other)")
        }
    }
}

struct SequenceNormalizer: TextNormalizer {
    let parts: [any TextNormalizer]
    func normalize(_ text: String) -> String { parts.reduce(text) { $1.normalize($0) } }
}

/// NFC, NFD, NFKC or NFKD (Foundation's Unicode normalization).
struct UnicodeNormalizer: TextNormalizer {
    enum Form: Sendable { case nfc, nfd, nfkc, nfkd }
    let form: Form
    func normalize(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }   // ASCII is invariant under all four
        switch form {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        // Foundation's one-step NFKC leaves compatibility decompositions uncomposed ("ｶﾞ" gives
        // U+30AB U+3099, not U+30AC); NFKC is NFC of NFKD by definition.
        case .nfkc: return text.decomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        }
    }
}

/// Unicode lowercase mapping, one scalar at a time (no context, like Rust's `char::to_lowercase`).
struct LowercaseNormalizer: TextNormalizer {
    func normalize(_ text: String) -> String { Self.lowercase(text) }

    static func lowercase(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            if c.value < 0x80 {
                out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(UInt8(c.value + 32)) : c)
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }
}

/// Removes combining marks (general category M) after the text was decomposed.
struct StripAccentsNormalizer: TextNormalizer {
    func normalize(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { !Self.isMark($0) }))
    }

    static func isMark(_ c: Unicode.Scalar) -> Bool {
        guard c.value >= 0x300 else { return false }
        switch c.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }
}

/// Strips Unicode whitespace from the left and/or right end.
struct StripNormalizer: TextNormalizer {
    let left: Bool, right: Bool
    func normalize(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars[...]
        if left { while let f = scalars.first, f.properties.isWhitespace { scalars.removeFirst() } }
        if right { while let l = scalars.last, l.properties.isWhitespace { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }
}

/// Replaces every match of a literal or regex pattern with `content`.
struct ReplaceNormalizer: TextNormalizer {
    let pattern: TextPattern
    let content: String
    func normalize(_ text: String) -> String {
        let ranges = pattern.matches(in: text).filter { !$0.isEmpty }
        guard !ranges.isEmpty else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var last = 0
        for r in ranges {
            out.append(contentsOf: bytes[last..<r.lowerBound])
            out.append(contentsOf: content.utf8)
            last = r.upperBound
        }
        out.append(contentsOf: bytes[last...])
        return String(decoding: out, as: UTF8.self)
    }
}

/// Prepends a string to any non-empty text.
struct PrependNormalizer: TextNormalizer {
    let prefix: String
    func normalize(_ text: String) -> String { text.isEmpty ? text : prefix + text }
}

/// BERT's normalizer: clean text (drop NUL, U+FFFD and other control characters, whitespace to
/// a space), spaces around CJK ideographs, accent stripping (NFD, drop non-spacing marks) and
/// lowercasing, as configured.
struct BertNormalizer: TextNormalizer {
    let cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool

    init(_ spec: TokenizerSpec) throws(ModelError) {
        cleanText = try spec.bool("clean_text", default: true)
        chineseChars = try spec.bool("handle_chinese_chars", default: true)
        lowercase = try spec.bool("lowercase", default: true)
        stripAccents = try spec.optionalBool("strip_accents") ?? lowercase
    }

    func normalize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            let v = c.value
            if cleanText {
                if v == 0 || v == 0xFFFD || CharacterClass.isBertControl(c) { continue }
                if CharacterClass.isWhitespace(c) { out.append(" "); continue }
            }
            if chineseChars && CharacterClass.isChinese(v) {
                out.append(" "); out.append(c); out.append(" ")
                continue
            }
            out.append(c)
        }
        var s = String(out)
        if stripAccents && !s.utf8.allSatisfy({ $0 < 0x80 }) {
            s = String(String.UnicodeScalarView(s.decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }))
        }
        return lowercase ? LowercaseNormalizer.lowercase(s) : s
    }
}

/// Character classes as the tokenizers library defines them.
enum CharacterClass {
    /// Rust's `char::is_whitespace` (the White_Space property).
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x80 ? (c.value == 0x20 || (0x09...0x0D).contains(c.value)) : c.properties.isWhitespace
    }

    /// BERT's control characters: general category C (Cc, Cf, Cn, Co, Cs) except tab, LF, CR
    /// and the noncharacters (U+FDD0..FDEF, U+xFFFE, U+xFFFF), which the tokenizers library
    /// keeps (they become [UNK]).
    static func isBertControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x20..<0x7F: return false
        case _ where c.properties.isNoncharacterCodePoint: return false
        default:
            switch c.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    /// ASCII punctuation or general category P.
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

    /// Rust's `char::is_numeric`: general categories Nd, Nl and No.
    static func isNumeric(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (48...57).contains(c.value) }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT pads with spaces.
    static func isChinese(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
