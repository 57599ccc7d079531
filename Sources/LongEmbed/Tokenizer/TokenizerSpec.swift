import Foundation

/// One JSON object of `tokenizer.json` with the file it came from and its place in the file
/// (`normalizer.normalizers[1]`), so that every error names both. Absent keys and JSON `null`
/// read as the documented default; a present value of the wrong type is an error, never coerced.
struct TokenizerSpec {
    /// The JSON object.
    let object: [String: Any]
    /// The tokenizer file, for error messages.
    let file: String
    /// Where the object sits in the file, e.g. `pre_tokenizer.pretokenizers[0]`.
    let place: String

    init(_ object: [String: Any], file: String, place: String) {
        self.object = object
        self.file = file
        self.place = place
    }

    /// An ``ModelError/invalidTokenizer(path:reason:)`` about this object.
    func invalid(_ reason: String) -> ModelError {
        .invalidTokenizer(path: file, reason: place.isEmpty ? reason : "\(place): \(reason)")
    }

    /// An ``ModelError/unsupportedTokenizerComponent(path:component:)`` about this object.
    func unsupported(_ what: String) -> ModelError {
        .unsupportedTokenizerComponent(path: file, component: place.isEmpty ? what : "\(what) (at \(place))")
    }

    private func present(_ key: String) -> Any? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        return v
    }

    /// The component's `type` field.
    func type() throws(ModelError) -> String {
        guard let t = object["type"] as? String else { throw invalid("no \"type\" field") }
        return t
    }

    func string(_ key: String, default fallback: String? = nil) throws(ModelError) -> String {
        guard let v = present(key) else {
            if let fallback { return fallback }
            throw invalid("missing \"\(key)\"")
        }
        guard let s = v as? String else { throw invalid("\"\(key)\" is not a string") }
        return s
    }

    func optionalString(_ key: String) throws(ModelError) -> String? {
        guard let v = present(key) else { return nil }
        guard let s = v as? String else { throw invalid("\"\(key)\" is not a string") }
        return s
    }

    func bool(_ key: String, default fallback: Bool) throws(ModelError) -> Bool {
        guard let v = present(key) else { return fallback }
        guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else { throw invalid("\"\(key)\" is not a Boolean") }
        return n.boolValue
    }

    func optionalBool(_ key: String) throws(ModelError) -> Bool? {
        guard present(key) != nil else { return nil }
        return try bool(key, default: false)
    }

    /// An integer in `range`, `fallback` when absent.
    func int(_ key: String, default fallback: Int? = nil, in range: ClosedRange<Int>) throws(ModelError) -> Int {
        guard let v = present(key) else {
            if let fallback { return fallback }
            throw invalid("missing \"\(key)\"")
        }
        guard let n = ModelJSON.integer(v), range.contains(n) else {
            throw invalid("\"\(key)\" must be an integer in \(range.lowerBound)...\(range.upperBound), got \(v)")
        }
        return n
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ModelError) -> Int? {
        guard present(key) != nil else { return nil }
        return try int(key, in: range)
    }

    func array(_ key: String) throws(ModelError) -> [Any] {
        guard let v = present(key) else { throw invalid("missing \"\(key)\"") }
        guard let a = v as? [Any] else { throw invalid("\"\(key)\" is not a list") }
        return a
    }

    /// A nested object, nil when absent or null.
    func child(_ key: String) throws(ModelError) -> TokenizerSpec? {
        guard let v = present(key) else { return nil }
        guard let o = v as? [String: Any] else { throw invalid("\"\(key)\" is not an object") }
        return TokenizerSpec(o, file: file, place: place.isEmpty ? key : "\(place).\(key)")
    }

    /// The objects of a list, each with its place.
    func children(_ key: String) throws(ModelError) -> [TokenizerSpec] {
        let list = try array(key)
        var out: [TokenizerSpec] = []
        for (i, v) in list.enumerated() {
            guard let o = v as? [String: Any] else { throw invalid("\"\(key)\"[\(i)] is not an object") }
            out.append(TokenizerSpec(o, file: file, place: (place.isEmpty ? key : "\(place).\(key)") + "[\(i)]"))
        }
        return out
    }

    /// A `{"String": s}` or `{"Regex": r}` pattern.
    func pattern(_ key: String = "pattern") throws(ModelError) -> TextPattern {
        guard let p = try child(key) else { throw invalid("missing \"\(key)\"") }
        if let s = try p.optionalString("String") { return .literal(s) }
        if let r = try p.optionalString("Regex") {
            do { return .regex(try PCRE2Regex(onigurumaPattern: r)) } catch {
                throw invalid("regex \(r.debugDescription) does not compile: \(error.message)")
            }
        }
        throw invalid("\"\(key)\" is neither {\"String\": ...} nor {\"Regex\": ...}")
    }
}

/// What a Split pre-tokenizer or a Replace normalizer looks for: a literal string or a regex.
enum TextPattern: Sendable {
    case literal(String)
    case regex(PCRE2Regex)

    /// The UTF-8 byte ranges of the non-overlapping matches in `text`, left to right (empty
    /// matches included, as the tokenizers library reports them).
    func matches(in text: String) -> [Range<Int>] {
        switch self {
        case .regex(let r): return r.matches(in: text)
        case .literal(let s): return Self.literalMatches(Array(s.utf8), in: text)
        }
    }

    private static func literalMatches(_ needle: [UInt8], in text: String) -> [Range<Int>] {
        guard !needle.isEmpty else { return [] }
        var out: [Range<Int>] = []
        var copy = text
        copy.withUTF8 { hay in
            var i = 0
            let n = needle.count
            while i + n <= hay.count {
                if hay[i] == needle[0] && (1..<n).allSatisfy({ hay[i + $0] == needle[$0] }) {
                    out.append(i..<(i + n))
                    i += n
                } else {
                    i += 1
                }
            }
        }
        return out
    }
}
