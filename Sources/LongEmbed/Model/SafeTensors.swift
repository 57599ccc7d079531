import Foundation

/// Element type of a safetensors tensor.
public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i8 = "I8", u8 = "U8", i16 = "I16", i32 = "I32", i64 = "I64", bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// Name, dtype, shape and byte span (within the data section) of a tensor.
public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafeTensorsDType
    public var shape: [Int]
    public var byteRange: Range<Int>
}

/// A memory-mapped safetensors file with a fully validated header.
///
/// Format: an 8-byte little-endian header length `N`, `N` bytes of JSON mapping tensor names to
/// `{dtype, shape, data_offsets}`, then the data section. The header is read by a strict
/// streaming parser (`SafeTensorsHeaderParser`), not a general JSON library, so that:
///
/// - the header must fit in the file and be at most ``maxHeaderBytes`` (100 MiB, close to the
///   100,000,000-byte bound of the reference Rust implementation);
/// - shape dimensions and offsets must be JSON integer literals in `0...Int.max` (no fraction,
///   exponent or float form such as `4096.0`, no Boolean, string or null, no value that wraps);
/// - a tensor name, or a key inside a tensor entry or `__metadata__`, may appear only once;
/// - `__metadata__`, when present, is an object of string values;
/// - every tensor's span lies inside the data section, matches `product(shape) * dtype size`
///   and does not overlap another;
/// - memory stays proportional to the work: at most ``maxEntries`` tensors and metadata items,
///   ``maxRank`` dimensions per tensor and ``maxTotalDimensions`` in all; the header is read in
///   place from the mapping and a syntax-only first pass rejects an over-long header before
///   anything is built.
///
/// Peak RSS measured on x86-64 Linux (swiftc -O, Swift 6.3, the whole process): the worst
/// accepted header, 97 MiB declaring 1,000,000 empty tensors with 50-byte names, 430 MB in
/// 4.4 s; 1,000,000 short-named empty tensors (56 MiB), 280 MB; a 100 MiB header of 1.77 M empty
/// tensors is rejected at 80 MB in 1 s; 20 MiB (357,333 empty tensors) loads at 97 MB in 0.6 s,
/// where the former JSONSerialization reader took 1.35 GiB and 27 s (6.7 GiB reported at 100 MiB).
public final class SafeTensorsFile: Sendable {
    /// Largest accepted header.
    public static let maxHeaderBytes: UInt64 = 100 << 20
    /// Most tensors plus `__metadata__` items one header may declare (real checkpoints hold a
    /// few hundred to about 100,000 tensors per file).
    public static let maxEntries = 1_000_000
    /// Most dimensions of one tensor.
    public static let maxRank = 64
    /// Most shape dimensions summed over all tensors of a header.
    public static let maxTotalDimensions = 4_000_000

    /// The file.
    public let url: URL
    fileprivate let data: Data
    fileprivate let dataStart: Int
    private let infos: [String: TensorInfo]

    /// Maps and validates `url`.
    public init(url: URL) throws(ModelError) {
        let path = url.path
        self.url = url
        let mapped = try MappedFile.read(url)
        let headerLength = try Self.headerLength(of: mapped, path: path)
        let dataLength = mapped.count - 8 - headerLength
        let parsed = mapped.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<[String: TensorInfo], JSONFailure> in
            let header = UnsafeRawBufferPointer(rebasing: raw[8..<(8 + headerLength)])
            var parser = SafeTensorsHeaderParser(bytes: header, dataLength: dataLength)
            do throws(JSONFailure) { return .success(try parser.parse()) } catch { return .failure(error) }
        }
        let infos: [String: TensorInfo]
        switch parsed {
        case .success(let value): infos = value
        case .failure(let failure): throw .corruptSafeTensors(path: path, reason: failure.reason)
        }
        let spans = infos.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(spans, spans.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw .corruptSafeTensors(path: path, reason: "tensors \(a.name) and \(b.name) overlap")
        }
        self.data = mapped
        self.dataStart = 8 + headerLength
        self.infos = infos
    }

    /// The file memory-mapped; a missing file or a directory is a typed error.
    /// The header length `N` from the first 8 bytes, checked against the file and the cap.
    private static func headerLength(of mapped: Data, path: String) throws(ModelError) -> Int {
        guard mapped.count >= 8 else {
            throw .corruptSafeTensors(path: path, reason: "file is \(mapped.count) bytes, shorter than the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(mapped[mapped.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= maxHeaderBytes, n <= UInt64(mapped.count - 8) else { throw .headerTooLarge(path: path, bytes: n) }
        return Int(n)
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { infos.keys.sorted() }

    /// The header entry of `name`.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// The tensor converted to fp32 (F32, F16, BF16; other dtypes are an error).
    public func floats(_ name: String) throws(ModelError) -> [Float] {
        guard let info = infos[name] else { throw .tensorNotFound(name: name) }
        let count = info.shape.reduce(1, *)
        guard count > 0 else {
            guard [.f32, .f16, .bf16].contains(info.dtype) else { throw .unsupportedDType(name: name, dtype: info.dtype.rawValue) }
            return []
        }
        let start = data.startIndex + dataStart + info.byteRange.lowerBound
        var out = [Float](repeating: 0, count: count)
        let dtype = info.dtype
        let supported: Bool = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Bool in
            let base = raw.baseAddress! + (start - data.startIndex)
            return out.withUnsafeMutableBufferPointer { dst -> Bool in
                switch dtype {
                case .f32:
                    memcpy(dst.baseAddress!, base, count * 4)
                case .f16:
                    for i in 0..<count {
                        let bits = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                        dst[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
                    }
                case .bf16:
                    for i in 0..<count {
                        let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                        dst[i] = Float(bitPattern: UInt32(bits) << 16)
                    }
                default:
                    return false
                }
                return true
            }
        }
        guard supported else { throw .unsupportedDType(name: name, dtype: dtype.rawValue) }
        MappedFile.releasePages(of: data, range: (dataStart + info.byteRange.lowerBound)..<(dataStart + info.byteRange.upperBound))
        return out
    }
}

extension SafeTensorsFile {
    /// The raw 16-bit values of an F16 or BF16 tensor, nil for any other dtype.
    func halfBits(_ name: String) throws(ModelError) -> ([UInt16], HalfFormat)? {
        guard let info = info(name) else { throw .tensorNotFound(name: name) }
        let format: HalfFormat
        switch info.dtype {
        case .f16: format = .f16
        case .bf16: format = .bf16
        default: return nil
        }
        let count = info.shape.reduce(1, *)
        var out = [UInt16](repeating: 0, count: count)
        guard count > 0 else { return (out, format) }
        let offset = dataStart + info.byteRange.lowerBound
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let base = raw.baseAddress! + offset
            for i in 0..<count {
                out[i] = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            }
        }
        MappedFile.releasePages(of: data, range: offset..<(offset + info.byteRange.count))
        return (out, format)
    }
}

/// The weights of a model folder: `model.safetensors`, or the shards of
/// `model.safetensors.index.json`.
///
/// A shard index is read strictly: its `weight_map` must be an object of tensor name -> shard
/// file name, each tensor listed once; shard names must be plain file names in the folder (no
/// `/`, no leading `.`, so no `..` and no absolute path) naming regular files; every tensor the
/// index lists must be in the shard it names; and no tensor may be in two shards.
public final class WeightStore: Sendable {
    private let files: [SafeTensorsFile]
    private let owner: [String: Int]
    /// The safetensors files, in the order they were opened: `model.safetensors`, or the
    /// shards of the index sorted by file name.
    public let fileURLs: [URL]

    /// Opens the weights of `directory`.
    public init(directory: URL) throws(ModelError) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw .fileNotFound(path: directory.path)
        }
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var weightMap: [(tensor: String, shard: String)] = []
        let shardNames: [String]
        if fm.fileExists(atPath: single.path) {
            shardNames = ["model.safetensors"]
        } else if let indexData = try ModelJSON.contentsIfPresent(index) {
            weightMap = try Self.readWeightMap(indexData, path: index.path)
            shardNames = Array(Set(weightMap.map(\.shard))).sorted()
            try Self.checkShardNames(shardNames, in: directory, indexPath: index.path)
        } else {
            throw .fileNotFound(path: single.path)
        }
        var files: [SafeTensorsFile] = []
        var owner: [String: Int] = [:]
        for (i, name) in shardNames.enumerated() {
            let f = try SafeTensorsFile(url: directory.appendingPathComponent(name))
            for t in f.tensorNames {
                if let other = owner.updateValue(i, forKey: t) {
                    throw .invalidConfig(path: index.path, reason: "tensor \(t) is in two shards, \(shardNames[other]) and \(name)")
                }
            }
            files.append(f)
        }
        let shardIndex = Dictionary(uniqueKeysWithValues: shardNames.enumerated().map { ($1, $0) })
        for (tensor, shard) in weightMap where owner[tensor] != shardIndex[shard] {
            throw .invalidConfig(path: index.path, reason: "weight_map puts tensor \(tensor) in \(shard), which does not hold it")
        }
        self.files = files
        self.owner = owner
        self.fileURLs = files.map(\.url)
    }

    /// The `weight_map` of an index file: (tensor, shard) pairs in file order, each tensor once.
    static func readWeightMap(_ data: Data, path: String) throws(ModelError) -> [(tensor: String, shard: String)] {
        let body = ModelJSON.strippingByteOrderMark(data)
        let result = body.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<[(tensor: String, shard: String)]?, JSONFailure> in
            var json = StrictJSONReader(bytes: raw)
            do throws(JSONFailure) { return .success(try Self.parseIndex(&json)) } catch { return .failure(error) }
        }
        let map: [(tensor: String, shard: String)]?
        switch result {
        case .success(let value): map = value
        case .failure(let failure): throw .invalidConfig(path: path, reason: failure.reason)
        }
        guard let map else {
            throw .invalidConfig(path: path, reason: "expected a JSON object with a \"weight_map\" of tensor name -> shard file")
        }
        guard !map.isEmpty else { throw .invalidConfig(path: path, reason: "weight_map is empty") }
        return map
    }

    /// The index's top-level object; nil when it has no `weight_map`.
    private static func parseIndex(_ json: inout StrictJSONReader) throws(JSONFailure) -> [(tensor: String, shard: String)]? {
        guard json.consume(UInt8(ascii: "{")) else { throw JSONFailure("the index is not a JSON object") }
        var map: [(tensor: String, shard: String)]?
        var keys: Set<String> = []
        var first = true
        while let key = try json.nextKey(&first) {
            guard keys.insert(key).inserted else { throw JSONFailure("key \(key) appears twice") }
            guard key == "weight_map" else { try json.skipValue(); continue }
            guard json.consume(UInt8(ascii: "{")) else { throw JSONFailure("weight_map is not an object") }
            var pairs: [(tensor: String, shard: String)] = []
            var tensors: Set<String> = []
            var firstPair = true
            while let tensor = try json.nextKey(&firstPair) {
                guard tensors.insert(tensor).inserted else { throw JSONFailure("tensor \(tensor) is listed twice in weight_map") }
                guard json.peek == UInt8(ascii: "\"") else { throw JSONFailure("weight_map entry \(tensor) is not a file name string") }
                pairs.append((tensor, try json.readString()))
            }
            map = pairs
        }
        try json.finish()
        return map
    }

    /// Shards must be regular files directly in `directory`.
    private static func checkShardNames(_ names: [String], in directory: URL, indexPath: String) throws(ModelError) {
        for s in names {
            guard !s.isEmpty, !s.contains("/"), !s.contains("\\"), !s.contains("\0"), !s.hasPrefix(".") else {
                throw .invalidConfig(path: indexPath, reason: "shard name \"\(s)\" is not a plain file name in the model folder")
            }
            var isDirectory: ObjCBool = false
            let path = directory.appendingPathComponent(s).path
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw .invalidConfig(path: indexPath, reason: "shard \(s) is a directory, not a safetensors file")
            }
        }
    }

    /// Every tensor name, sorted.
    public var names: [String] { owner.keys.sorted() }

    /// Whether a tensor named `name` exists.
    public func contains(_ name: String) -> Bool { owner[name] != nil }

    /// The shape of tensor `name`, nil when absent.
    public func shape(of name: String) -> [Int]? {
        guard let i = owner[name] else { return nil }
        return files[i].info(name)?.shape
    }

    /// The tensor `name` as fp32, checked to have exactly `shape` and finite values.
    public func tensor(_ name: String, shape: [Int]) throws(ModelError) -> [Float] {
        guard let i = owner[name], let info = files[i].info(name) else { throw .tensorNotFound(name: name) }
        guard info.shape == shape else { throw .tensorShapeMismatch(name: name, expected: shape, actual: info.shape) }
        let values = try files[i].floats(name)
        for v in values where !v.isFinite { throw .nonFiniteWeights(name: name) }
        return values
    }

    /// The first of `names` that exists, as ``tensor(_:shape:)``; `tensorNotFound` names the first.
    public func tensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> [Float] {
        for n in names where contains(n) { return try tensor(n, shape: shape) }
        throw .tensorNotFound(name: names.first ?? "")
    }

    /// The first of `names` that exists, checked as ``tensor(_:shape:)``: its 16-bit values
    /// unchanged when the file stores it as F16 or BF16, else fp32.
    func loadedTensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> LoadedTensor {
        guard let name = names.first(where: contains), let i = owner[name], let info = files[i].info(name) else {
            throw .tensorNotFound(name: names.first ?? "")
        }
        guard info.shape == shape else { throw .tensorShapeMismatch(name: name, expected: shape, actual: info.shape) }
        guard let (bits, format) = try files[i].halfBits(name) else { return .f32(try tensor(name, shape: shape)) }
        for b in bits where format.isNonFinite(b) { throw .nonFiniteWeights(name: name) }
        return .half(bits, format)
    }
}

// MARK: - Strict JSON reading

/// Why a JSON text was rejected.
struct JSONFailure: Error, Sendable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// A strict, allocation-free JSON scanner over UTF-8 bytes (RFC 8259): the caller walks objects
/// and arrays and reads each value with the type it expects, so nothing is built that the
/// caller does not keep. Used for safetensors headers and shard indexes.
struct StrictJSONReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0
    /// Deepest nesting skipped in values the caller does not read.
    static let maxDepth = 128

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while let c = peek, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 }
    }

    /// Consumes `c` (after whitespace) when it is next.
    mutating func consume(_ c: UInt8) -> Bool {
        skipWhitespace()
        guard peek == c else { return false }
        position += 1
        return true
    }

    mutating func expect(_ c: UInt8, _ what: @autoclosure () -> String) throws(JSONFailure) {
        guard consume(c) else { throw JSONFailure("expected \(what()) at byte \(position)") }
    }

    /// Only whitespace may follow the top-level value.
    mutating func finish() throws(JSONFailure) {
        skipWhitespace()
        guard position == bytes.count else { throw JSONFailure("unexpected data after the JSON value at byte \(position)") }
    }

    /// The next key of an object whose `{` was consumed, positioned at its value; nil at `}`.
    mutating func nextKey(_ first: inout Bool) throws(JSONFailure) -> String? {
        if consume(UInt8(ascii: "}")) {
            return nil
        }
        if !first { try expect(UInt8(ascii: ","), "',' or '}'") }
        first = false
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw JSONFailure("expected an object key at byte \(position)") }
        let key = try readString()
        try expect(UInt8(ascii: ":"), "':'")
        skipWhitespace()
        return key
    }

    /// Whether another element of an array whose `[` was consumed follows (positioned at it).
    mutating func nextElement(_ first: inout Bool) throws(JSONFailure) -> Bool {
        if consume(UInt8(ascii: "]")) { return false }
        if !first { try expect(UInt8(ascii: ","), "',' or ']'") }
        first = false
        skipWhitespace()
        return true
    }

    /// A string value (escapes decoded, UTF-8 validated).
    mutating func readString() throws(JSONFailure) -> String {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw JSONFailure("expected a string at byte \(position)") }
        position += 1
        let start = position
        while let c = peek, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") {
            guard c >= 0x20 else { throw JSONFailure("control character in a string at byte \(position)") }
            position += 1
        }
        guard let c = peek else { throw JSONFailure("unterminated string at byte \(start - 1)") }
        var utf8 = Array(bytes[start..<position])
        if c == UInt8(ascii: "\\") { try readEscapedTail(into: &utf8) } else { position += 1 }
        guard let s = String(validating: utf8, as: UTF8.self) else {
            throw JSONFailure("string at byte \(start - 1) is not valid UTF-8")
        }
        return s
    }

    /// The rest of a string from its first backslash, through the closing quote.
    private mutating func readEscapedTail(into utf8: inout [UInt8]) throws(JSONFailure) {
        while let c = peek {
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                return
            case UInt8(ascii: "\\"):
                try readEscape(into: &utf8)
            case 0..<0x20:
                throw JSONFailure("control character in a string at byte \(position - 1)")
            default:
                utf8.append(c)
            }
        }
        throw JSONFailure("unterminated string")
    }

    private mutating func readEscape(into utf8: inout [UInt8]) throws(JSONFailure) {
        guard let e = peek else { throw JSONFailure("unterminated string") }
        position += 1
        if let byte = Self.simpleEscapes[e] { utf8.append(byte); return }
        guard e == UInt8(ascii: "u") else { throw JSONFailure("invalid escape at byte \(position - 2)") }
        var scalar = try readHex4()
        if (0xD800..<0xDC00).contains(scalar) {
            guard consumeLiteral("\\u") else { throw JSONFailure("unpaired surrogate at byte \(position)") }
            let low = try readHex4()
            guard (0xDC00..<0xE000).contains(low) else { throw JSONFailure("unpaired surrogate at byte \(position)") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let u = Unicode.Scalar(scalar) else { throw JSONFailure("unpaired surrogate at byte \(position)") }
        utf8.append(contentsOf: String(u).utf8)
    }

    /// `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`.
    private static let simpleEscapes: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]

    private mutating func readHex4() throws(JSONFailure) -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONFailure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[position]) else { throw JSONFailure("invalid \\u escape at byte \(position)") }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    private mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard position + n <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { lit in (0..<n).allSatisfy { bytes[position + $0] == lit[$0] } }
        if matches { position += n }
        return matches
    }

    /// A JSON integer literal in `0...Int.max`; anything else (a fraction, exponent, sign, a
    /// value that does not fit, or another type) throws, naming `what`.
    mutating func readNonNegativeInteger(_ what: () -> String) throws(JSONFailure) -> Int {
        skipWhitespace()
        let start = position
        var value = 0
        var overflow = false
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            overflow = overflow || o1 || o2
            value = a
            position += 1
        }
        let digits = position - start
        let isFractional = peek.map { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? false
        guard digits > 0, !isFractional, !overflow, digits == 1 || bytes[start] != UInt8(ascii: "0") else {
            throw JSONFailure("\(what()) must be a non-negative integer no larger than \(Int.max), found \(token(at: start))")
        }
        return value
    }

    /// Up to 32 bytes of the value starting at `start`, for messages.
    private func token(at start: Int) -> String {
        var end = start
        while end < bytes.count, end - start < 32, ![0x2C, 0x5D, 0x7D, 0x20, 0x0A].contains(bytes[end]) { end += 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Skips one value of any type, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws(JSONFailure) {
        guard depth < Self.maxDepth else { throw JSONFailure("values nested deeper than \(Self.maxDepth) levels") }
        skipWhitespace()
        guard let c = peek else { throw JSONFailure("expected a value at the end of the header") }
        switch c {
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "{"):
            position += 1
            var first = true
            while try nextKey(&first) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            position += 1
            var first = true
            while try nextElement(&first) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            guard consumeLiteral("true") || consumeLiteral("false") || consumeLiteral("null") else {
                throw JSONFailure("invalid JSON literal at byte \(position)")
            }
        default:
            try skipNumber()
        }
    }

    /// A number of RFC 8259's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func skipNumber() throws(JSONFailure) {
        let start = position
        func digits() -> Int {
            let s = position
            while let d = peek, d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") { position += 1 }
            return position - s
        }
        _ = consume(UInt8(ascii: "-"))
        let lead = position
        let intDigits = digits()
        var ok = intDigits > 0 && (intDigits == 1 || bytes[lead] != UInt8(ascii: "0"))
        if ok, peek == UInt8(ascii: ".") { position += 1; ok = digits() > 0 }
        if ok, peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            ok = digits() > 0
        }
        guard ok else { throw JSONFailure("invalid JSON value at byte \(start)") }
    }
}

// MARK: - The safetensors header

/// Reads a safetensors header into ``TensorInfo`` values, checking every rule listed on
/// ``SafeTensorsFile`` as it goes.
struct SafeTensorsHeaderParser {
    private var json: StrictJSONReader
    private let dataLength: Int
    private var infos: [String: TensorInfo] = [:]
    private var entries = 0
    private var dimensions = 0

    init(bytes: UnsafeRawBufferPointer, dataLength: Int) {
        self.json = StrictJSONReader(bytes: bytes)
        self.dataLength = dataLength
    }

    /// Every tensor of the header by name.
    mutating func parse() throws(JSONFailure) -> [String: TensorInfo] {
        guard json.consume(UInt8(ascii: "{")) else { throw JSONFailure("header is not a JSON object") }
        infos.reserveCapacity(try countTopLevelKeys())
        var first = true
        var sawMetadata = false
        while let name = try json.nextKey(&first) {
            if name == "__metadata__" {
                guard !sawMetadata else { throw JSONFailure("__metadata__ appears twice") }
                sawMetadata = true
                try parseMetadata()
            } else {
                try countEntry()
                guard infos[name] == nil else { throw JSONFailure("tensor \(name) is declared twice") }
                infos[name] = try parseTensor(name)
            }
        }
        try json.finish()
        return infos
    }

    /// The number of top-level keys, from a syntax-only pass that keeps nothing (so that a
    /// header over ``SafeTensorsFile/maxEntries`` is rejected before anything is built, and the
    /// table is allocated once at its final size).
    private func countTopLevelKeys() throws(JSONFailure) -> Int {
        var scan = json
        var count = 0
        var first = true
        while try scan.nextKey(&first) != nil {
            count += 1
            guard count <= SafeTensorsFile.maxEntries else {
                throw JSONFailure("more than \(SafeTensorsFile.maxEntries) tensors and metadata items")
            }
            try scan.skipValue()
        }
        return count
    }

    private mutating func countEntry() throws(JSONFailure) {
        entries += 1
        guard entries <= SafeTensorsFile.maxEntries else {
            throw JSONFailure("more than \(SafeTensorsFile.maxEntries) tensors and metadata items")
        }
    }

    /// `__metadata__`: an object of string values, each key once (validated, not kept).
    private mutating func parseMetadata() throws(JSONFailure) {
        guard json.consume(UInt8(ascii: "{")) else { throw JSONFailure("__metadata__ must be an object of strings") }
        var keys: Set<String> = []
        var first = true
        while let key = try json.nextKey(&first) {
            try countEntry()
            guard keys.insert(key).inserted else { throw JSONFailure("__metadata__ key \(key) appears twice") }
            guard json.peek == UInt8(ascii: "\"") else { throw JSONFailure("__metadata__ value of \(key) is not a string") }
            _ = try json.readString()
        }
    }

    private mutating func parseTensor(_ name: String) throws(JSONFailure) -> TensorInfo {
        guard json.consume(UInt8(ascii: "{")) else { throw JSONFailure("tensor \(name): entry is not an object") }
        var dtype: SafeTensorsDType?, shape: [Int]?, offsets: [Int]?
        var otherKeys: Set<String> = []
        var first = true
        while let key = try json.nextKey(&first) {
            switch key {
            case "dtype" where dtype == nil:
                guard json.peek == UInt8(ascii: "\"") else { throw JSONFailure("tensor \(name): dtype is not a string") }
                let text = try json.readString()
                guard let d = SafeTensorsDType(rawValue: text) else { throw JSONFailure("tensor \(name): unknown dtype \(text)") }
                dtype = d
            case "shape" where shape == nil:
                shape = try readIntegers(tensor: name, field: "shape", maxCount: SafeTensorsFile.maxRank)
            case "data_offsets" where offsets == nil:
                offsets = try readIntegers(tensor: name, field: "data_offsets", maxCount: 2)
            case "dtype", "shape", "data_offsets":
                throw JSONFailure("tensor \(name): \(key) appears twice")
            default:
                guard otherKeys.insert(key).inserted else { throw JSONFailure("tensor \(name): \(key) appears twice") }
                try json.skipValue()
            }
        }
        guard let dtype, let shape, let offsets, offsets.count == 2 else {
            throw JSONFailure("tensor \(name): missing or malformed dtype, shape or data_offsets")
        }
        return try Self.checked(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1], dataLength: dataLength)
    }

    /// A JSON array of at most `maxCount` non-negative integers.
    private mutating func readIntegers(tensor: String, field: String, maxCount: Int) throws(JSONFailure) -> [Int] {
        guard json.consume(UInt8(ascii: "[")) else { throw JSONFailure("tensor \(tensor): \(field) is not an array") }
        var values: [Int] = []
        var first = true
        while try json.nextElement(&first) {
            guard values.count < maxCount else { throw JSONFailure("tensor \(tensor): \(field) has more than \(maxCount) entries") }
            values.append(try json.readNonNegativeInteger { "tensor \(tensor): \(field)" })
        }
        if field == "shape" {
            dimensions += values.count
            guard dimensions <= SafeTensorsFile.maxTotalDimensions else {
                throw JSONFailure("more than \(SafeTensorsFile.maxTotalDimensions) shape dimensions in all")
            }
        }
        return values
    }

    /// The tensor's info once its span is inside the data section and matches its shape.
    private static func checked(name: String, dtype: SafeTensorsDType, shape: [Int], begin: Int, end: Int,
                                dataLength: Int) throws(JSONFailure) -> TensorInfo {
        guard begin <= end, end <= dataLength else {
            throw JSONFailure("tensor \(name): bytes \(begin)..<\(end) lie outside the \(dataLength)-byte data section")
        }
        var count = 1
        for d in shape {
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw JSONFailure("tensor \(name): shape overflows") }
            count = m
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes == end - begin else {
            throw JSONFailure("tensor \(name): span of \(end - begin) bytes does not match shape \(shape) x \(dtype.size) bytes")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }
}
