import Foundation

/// One JSON object of `tokenizer.json` with the file it came from and its place in the file
/// (`normalizer.normalizers[1]`), so that every error names both. Absent keys and JSON `null`
/// read as the documented default; a present value of the wrong type is an error, never coerced.
struct TokenizerSpec {
    /// The JSON object.
    let object: JSONObject
    /// The tokenizer file, for error messages.
    let file: String
    /// Where the object sits in the file, e.g. `pre_tokenizer.pretokenizers[0]`.
    let place: String

    init(_ object: JSONObject, file: String, place: String) {
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

    /// The value of `key`, nil when absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    /// The component's `type` field.
    func type() throws(ModelError) -> String {
        guard let t = object["type"]?.stringValue else { throw invalid("no \"type\" field") }
        return t
    }

    func string(_ key: String, default fallback: String? = nil) throws(ModelError) -> String {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw invalid("missing \"\(key)\"")
        }
        guard let s = v.stringValue else { throw invalid("\"\(key)\" is not a string") }
        return s
    }

    func optionalString(_ key: String) throws(ModelError) -> String? {
        guard value(key) != nil else { return nil }
        return try string(key)
    }

    func bool(_ key: String, default fallback: Bool) throws(ModelError) -> Bool {
        guard let v = value(key) else { return fallback }
        guard let b = v.boolValue else { throw invalid("\"\(key)\" is not a Boolean") }
        return b
    }

    func optionalBool(_ key: String) throws(ModelError) -> Bool? {
        guard value(key) != nil else { return nil }
        return try bool(key, default: false)
    }

    /// An integer in `range`, `fallback` when absent.
    func int(_ key: String, default fallback: Int? = nil, in range: ClosedRange<Int>) throws(ModelError) -> Int {
        guard let v = value(key) else {
            if let fallback { return fallback }
            throw invalid("missing \"\(key)\"")
        }
        guard let n = v.integerValue, range.contains(n) else {
            throw invalid("\"\(key)\" must be an integer in \(range.lowerBound)...\(range.upperBound), got \(v.brief)")
        }
        return n
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ModelError) -> Int? {
        guard value(key) != nil else { return nil }
        return try int(key, in: range)
    }

    func array(_ key: String) throws(ModelError) -> [JSONValue] {
        guard let v = value(key) else { throw invalid("missing \"\(key)\"") }
        guard let a = v.arrayValue else { throw invalid("\"\(key)\" is not a list") }
        return a
    }

    /// A nested object, nil when absent or null.
    func child(_ key: String) throws(ModelError) -> TokenizerSpec? {
        guard let v = value(key) else { return nil }
        guard let o = v.objectValue else { throw invalid("\"\(key)\" is not an object") }
        return TokenizerSpec(o, file: file, place: place.isEmpty ? key : "\(place).\(key)")
    }

    /// The objects of a list, each with its place.
    func children(_ key: String) throws(ModelError) -> [TokenizerSpec] {
        let list = try array(key)
        var out: [TokenizerSpec] = []
        out.reserveCapacity(list.count)
        let prefix = place.isEmpty ? key : "\(place).\(key)"
        for (i, v) in list.enumerated() {
            guard let o = v.objectValue else { throw invalid("\"\(key)\"[\(i)] is not an object") }
            out.append(TokenizerSpec(o, file: file, place: "\(prefix)[\(i)]"))
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
