import Foundation

/// A JSON value read without Foundation's `JSONSerialization`, which loses data on Linux: it
/// builds `[String: Any]`, whose keys compare by canonical equivalence (a vocabulary holding both
/// "é" and "e" + U+0301 silently loses one), and it drops a U+FEFF at the start of a string
/// value. Here object keys are kept byte for byte and in order, strings exactly, and integer
/// literals apart from other numbers. Used for `tokenizer.json` and for JSON-lines inputs.
indirect enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// An integer literal (no fraction or exponent) that fits in `Int`.
    case integer(Int)
    /// Any other number (a fraction, an exponent, or an integer too large for `Int`).
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    var isNull: Bool { if case .null = self { return true } else { return false } }
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The value of an integer literal; nil for anything else (even `4.0`).
    var integerValue: Int? { if case .integer(let i) = self { return i } else { return nil } }
    /// Any finite number, integer or not.
    var numberValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let d): return d.isFinite ? d : nil
        default: return nil
        }
    }

    /// Compact JSON text of the value (strings escaped as JSON requires, nothing else).
    var serialized: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return Self.quoted(s)
        case .array(let a): return "[" + a.map(\.serialized).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.members.map { Self.quoted($0.key) + ":" + $0.value.serialized }.joined(separator: ",") + "}"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    /// A short description for error messages.
    var brief: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .integer(let i): return String(i)
        case .number(let d): return String(d)
        case .string(let s): return s.count > 40 ? String(s.prefix(40)).debugDescription + "..." : s.debugDescription
        case .array(let a): return "a list of \(a.count)"
        case .object(let o): return "an object of \(o.count) keys"
        }
    }
}

/// String literals as JSON strings (for JSON built in code, such as a GGUF vocabulary's
/// tokenizer.json layout).
extension JSONValue: ExpressibleByStringLiteral {
    init(stringLiteral value: String) { self = .string(value) }
}

/// A JSON object: its members in file order, keys compared by their UTF-8 bytes.
struct JSONObject: Sendable {
    let members: [(key: String, value: JSONValue)]
    var count: Int { members.count }

    /// The value of the first member named `key` (byte-wise), nil when absent.
    subscript(key: String) -> JSONValue? {
        let k = Array(key.utf8)
        return members.first { $0.key.utf8.elementsEqual(k) }?.value
    }
}

/// A strict JSON parser over UTF-8 bytes (RFC 8259): invalid UTF-8, lone surrogate escapes,
/// control characters in strings, trailing data and nesting deeper than ``maxDepth`` are errors.
struct JSONParser {
    struct Failure: Error {
        let message: String
        let offset: Int
    }

    /// Deepest nesting of arrays and objects accepted.
    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var pos = 0
    private var depth = 0

    /// Parses `data` (a leading UTF-8 byte-order mark is skipped).
    static func parse(_ data: Data) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure> = data.withUnsafeBytes { raw in
            var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
            if p.bytes.starts(with: ModelJSON.byteOrderMark) { p.pos = 3 }
            return Result { () throws(Failure) -> JSONValue in
                let v = try p.value()
                p.skipSpace()
                guard p.pos == p.bytes.count else { throw p.fail("unexpected data after the JSON value") }
                return v
            }
        }
        return try result.get()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func fail(_ message: String) -> Failure { Failure(message: message, offset: pos) }

    private mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        skipSpace()
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return .object(try object())
        case UInt8(ascii: "["): return .array(try array())
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count, (0..<n).allSatisfy({ bytes[pos + $0] == word.utf8Start[$0] }) else { throw fail("invalid literal") }
        pos += n
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        pos += 1
    }

    private mutating func object() throws(Failure) -> JSONObject {
        try enter()
        var members: [(key: String, value: JSONValue)] = []
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; depth -= 1; return JSONObject(members: members) }
        while true {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try string()
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            members.append((key, try value()))
            skipSpace()
            guard pos < bytes.count else { throw fail("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            guard bytes[pos] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            pos += 1
            depth -= 1
            return JSONObject(members: members)
        }
    }

    private mutating func array() throws(Failure) -> [JSONValue] {
        try enter()
        var items: [JSONValue] = []
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; depth -= 1; return items }
        while true {
            items.append(try value())
            skipSpace()
            guard pos < bytes.count else { throw fail("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            guard bytes[pos] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            pos += 1
            depth -= 1
            return items
        }
    }

    private mutating func string() throws(Failure) -> String {
        pos += 1   // opening quote
        let start = pos
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\"), bytes[pos] >= 0x20 { pos += 1 }
        guard pos < bytes.count else { throw fail("unterminated string") }
        if bytes[pos] == UInt8(ascii: "\"") {
            guard let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
            pos += 1
            return s
        }
        var out = Array(bytes[start..<pos])
        try escapedTail(into: &out)
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
        return s
    }

    /// The rest of a string that holds escapes, from `pos` to the closing quote.
    private mutating func escapedTail(into out: inout [UInt8]) throws(Failure) {
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; return }
            guard b >= 0x20 else { throw fail("control character in a string") }
            guard b == UInt8(ascii: "\\") else { out.append(b); pos += 1; continue }
            guard pos + 1 < bytes.count else { break }
            let e = bytes[pos + 1]
            pos += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"): out.append(contentsOf: String(try unicodeEscape()).utf8)
            default: throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for i in 0..<4 {
            let c = bytes[pos + i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
        }
        pos += 4
        return v
    }

    private mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
        let first = try hex4()
        if (0xD800...0xDBFF).contains(first) {
            guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else { throw fail("lone surrogate escape") }
            pos += 2
            let second = try hex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw fail("lone surrogate escape") }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        }
        guard let s = Unicode.Scalar(first) else { throw fail("lone surrogate escape") }
        return s
    }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = pos
        var integral = true
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let digitsStart = pos
        while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
        guard pos > digitsStart else { throw fail("invalid value") }
        guard !(bytes[digitsStart] == 0x30 && pos - digitsStart > 1) else { throw fail("leading zero in a number") }
        if pos < bytes.count && bytes[pos] == UInt8(ascii: ".") {
            integral = false
            pos += 1
            let f = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            guard pos > f else { throw fail("invalid number") }
        }
        if pos < bytes.count && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            integral = false
            pos += 1
            if pos < bytes.count && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            let e = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            guard pos > e else { throw fail("invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        if integral, let i = Int(text) { return .integer(i) }
        return .number(Self.serdeDouble(UnsafeBufferPointer(rebasing: bytes[start..<pos])))
    }

    /// Powers of ten 1e0...1e308, correctly rounded.
    private static let powersOfTen: [Double] = (0...308).map { Double("1e\($0)") ?? .infinity }

    /// A number as the tokenizers library reads it: serde_json's default parsing, which is not
    /// correctly rounded. The significand's first 19-20 digits are read into a `UInt64` (later
    /// digits dropped), converted to `Double`, then multiplied or divided once by a power of ten.
    /// A fifth of T5's Unigram scores land one unit in the last place away from the nearest
    /// double, which decides Viterbi ties ("-" x 7 is "---", "---", "-"), so matching the
    /// library's ids means matching its parser. `text` is a valid JSON number.
    static func serdeDouble(_ text: UnsafeBufferPointer<UInt8>) -> Double {
        var i = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative { i = 1 }
        var significand: UInt64 = 0
        var exponent = 0
        var overflowed = false
        func push(_ d: UInt8, fraction: Bool) {
            if overflowed {
                if !fraction { exponent += 1 }
                return
            }
            let (m, o1) = significand.multipliedReportingOverflow(by: 10)
            let (v, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 {
                overflowed = true
                if !fraction { exponent += 1 }
                return
            }
            significand = v
            if fraction { exponent -= 1 }
        }
        while i < text.count, (0x30...0x39).contains(text[i]) { push(text[i] - 0x30, fraction: false); i += 1 }
        if i < text.count, text[i] == UInt8(ascii: ".") {
            i += 1
            while i < text.count, (0x30...0x39).contains(text[i]) { push(text[i] - 0x30, fraction: true); i += 1 }
        }
        if i < text.count, text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E") {
            i += 1
            var sign = 1
            if i < text.count, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { sign = text[i] == UInt8(ascii: "-") ? -1 : 1; i += 1 }
            var e = 0
            while i < text.count, (0x30...0x39).contains(text[i]) { e = min(e * 10 + Int(text[i] - 0x30), 1 << 40); i += 1 }
            exponent += sign * e
        }
        var f = Double(significand)
        while true {
            let a = exponent.magnitude
            if a <= 308 {
                f = exponent >= 0 ? f * powersOfTen[Int(a)] : f / powersOfTen[Int(a)]
                break
            }
            if f == 0 { break }
            if exponent >= 0 { f = .infinity; break }
            f /= 1e308
            exponent += 308
        }
        return negative ? -f : f
    }
}

/// One line of a JSON-lines text input, `{"id": ..., "text": "..."}`, read exactly (see
/// ``JSONValue`` for what Foundation's parser would lose).
public struct TextLine: Sendable {
    /// The `id` field as compact JSON text (`"a"`, `7`), nil when the line has none.
    public let idJSON: String?
    /// The `text` field.
    public let text: String

    /// A line that is not a JSON object with a string `text` field.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses one line (UTF-8 bytes, no line break).
    public static func parse(_ line: some Collection<UInt8>) throws(Failure) -> TextLine {
        let value: JSONValue
        do { value = try JSONParser.parse(Data(line)) } catch { throw Failure(description: "malformed JSON (\(error.message))") }
        guard let object = value.objectValue else { throw Failure(description: "a JSON line that is not an object") }
        guard let text = object["text"]?.stringValue else { throw Failure(description: "JSON line has no string field \"text\"") }
        return TextLine(idJSON: object["id"].map(\.serialized), text: text)
    }
}
