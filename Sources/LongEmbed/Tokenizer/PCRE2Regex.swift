import CPCRE2

/// A compiled regular expression (PCRE2 with Unicode properties and its JIT), the engine of the
/// tokenizer's Split, ByteLevel and Replace components.
///
/// The tokenizers library compiles these patterns with Oniguruma. The two engines agree on
/// the patterns real tokenizers use (`\p{L}`, `\p{N}`, `(?i:...)`, `(?!\S)`, possessive and
/// bounded quantifiers) with one exception that is rewritten here: Oniguruma's `\s` also
/// matches U+0085 (NEXT LINE), PCRE2's Unicode `\s` does not, so `\s` becomes `[\s\x{85}]`
/// (inside a class, `\s\x{85}`) and `\S` becomes `[^\s\x{85}]`.
///
/// Measured on this project's 2-core host (2026-12-04): the Llama-3 splitting pattern ran at
/// about 0.9 MB/s with Swift `Regex`, far below the tokenizer's budget; PCRE2's JIT runs it at
/// well over 100 MB/s.
final class PCRE2Regex: @unchecked Sendable {
    // Safety: `code` is immutable after init and PCRE2 documents compiled patterns (JIT
    // included) as shareable between threads; every match allocates its own match data.
    private let code: OpaquePointer
    /// The pattern as written in the tokenizer file.
    let pattern: String

    /// A compile error with PCRE2's message and the offset in the pattern.
    struct CompileError: Error {
        let message: String
    }

    /// Compiles `pattern` (Oniguruma syntax as the tokenizers library writes it).
    init(onigurumaPattern pattern: String) throws(CompileError) {
        self.pattern = pattern
        let translated = Self.translate(pattern)
        var errorCode: Int32 = 0
        var errorOffset = 0
        let options = UInt32(PCRE2_UTF) | UInt32(PCRE2_UCP)
        let compiled = translated.withCString { p in
            pcre2_compile_8(UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), translated.utf8.count,
                            options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            var buffer = [UInt8](repeating: 0, count: 256)
            _ = pcre2_get_error_message_8(errorCode, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            throw CompileError(message: "\(text) at offset \(errorOffset)")
        }
        code = compiled
        // Without the JIT (a platform that lacks it) matching is slower but the same.
        _ = pcre2_jit_compile_8(code, UInt32(PCRE2_JIT_COMPLETE))
    }

    deinit { pcre2_code_free_8(code) }

    /// A valid address for matching the empty string (an empty buffer may have none).
    nonisolated(unsafe) private static let emptySubject: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// Oniguruma's `\s` and `\S` in PCRE2 terms (see the type's documentation).
    static func translate(_ pattern: String) -> String {
        var out = ""
        var inClass = false
        var chars = pattern.makeIterator()
        while let c = chars.next() {
            if c == "\\" {
                guard let e = chars.next() else { out.append(c); break }
                switch (e, inClass) {
                case ("s", false): out += "[\\s\\x{85}]"
                case ("s", true): out += "\\s\\x{85}"
                case ("S", false): out += "[^\\s\\x{85}]"
                default: out.append(c); out.append(e)
                }
                continue
            }
            if c == "[" && !inClass { inClass = true } else if c == "]" && inClass { inClass = false }
            out.append(c)
        }
        return out
    }

    /// The UTF-8 byte ranges of the successive non-overlapping matches in `text`. After an empty
    /// match the search resumes one character later, as Oniguruma's iteration does.
    func matches(in text: String) -> [Range<Int>] {
        var copy = text
        return copy.withUTF8 { buffer -> [Range<Int>] in
            let base = buffer.baseAddress ?? Self.emptySubject
            guard let data = pcre2_match_data_create_from_pattern_8(code, nil) else { return [] }
            defer { pcre2_match_data_free_8(data) }
            var out: [Range<Int>] = []
            var start = 0
            let length = buffer.count
            while start <= length {
                let rc = pcre2_match_8(code, base, length, start, UInt32(PCRE2_NO_UTF_CHECK), data, nil)
                guard rc > 0, let ovector = pcre2_get_ovector_pointer_8(data) else { break }
                let s = Int(ovector[0]), e = Int(ovector[1])
                out.append(s..<e)
                if e > s {
                    start = e
                } else {
                    // Empty match: step over one UTF-8 character.
                    var next = e + 1
                    while next < length && (buffer[next] & 0xC0) == 0x80 { next += 1 }
                    start = next
                }
            }
            return out
        }
    }
}
