import Foundation

// MARK: - Values

/// The type code of a GGUF metadata value (the `gguf_type` enumeration of ggml's `gguf.h`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// ggml's short name (`u8`, `i32`, `f32`, `str`, `arr`, ...), for messages.
    public var name: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .float32: return "f32"
        case .bool: return "bool"
        case .string: return "str"
        case .array: return "arr"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float64: return "f64"
        }
    }

    /// The fewest bytes one value of this type takes in a file: its size for a scalar, the
    /// 8-byte length of a string, the 4-byte type and 8-byte count of an array. A count of values
    /// is checked against the bytes left divided by this before anything is allocated.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    /// The value's type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// An integer of any width as `Int`; nil for other types and for a `UInt64` beyond `Int.max`.
    public var integerValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The string of a `.string` value.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The Boolean of a `.bool` value.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The elements of an `.array` value.
    public var arrayValue: GGUFArray? { if case .array(let a) = self { return a } else { return nil } }

    /// The type as a message names it: `u32`, `str`, `arr[str]`, `arr[arr[i32]]`.
    public var typeDescription: String {
        if case .array(let a) = self { return "arr[\(a.elementTypeDescription)]" }
        return type.name
    }
}

/// The elements of a GGUF array, all of one type (arrays may nest).
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case uint64([UInt64]), int64([Int64]), float32([Float]), float64([Double]), bool([Bool]), string([String])
    case array([GGUFArray])

    /// The number of elements.
    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .array(let a): return a.count
        }
    }

    /// The type of the elements.
    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The elements' type as a message names it (`str`, `arr[i32]`; `arr` for an empty nested array).
    public var elementTypeDescription: String {
        if case .array(let a) = self { return a.first.map { "arr[\($0.elementTypeDescription)]" } ?? "arr" }
        return elementType.name
    }
}

// MARK: - Tensor directory

/// One entry of a GGUF file's tensor directory.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name.
    public let name: String
    /// The dimensions as stored: ggml order, the first one varying fastest (at most 4; none for
    /// a scalar).
    public let dimensions: [Int]
    /// The ggml type id (`ggml_type`: 0 F32, 1 F16, 8 Q8_0, 12 Q4_K, 30 BF16, ...).
    public let type: UInt32
    /// Where the data starts, from ``GGUFFile/dataOffset`` (a multiple of the alignment).
    public let offset: Int
    /// The data's size in bytes; nil for a type whose layout this reader does not know.
    public let byteCount: Int?

    /// The number of elements (the product of the dimensions).
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// ggml's name of the type (`f32`, `q4_K`), nil when the reader does not know it.
    public var typeName: String? { GGMLTypeLayout.of(type)?.name }
}

/// Block size and bytes per block of the ggml tensor types whose layout is fixed and known.
struct GGMLTypeLayout {
    let name: String
    let blockSize: Int
    let bytesPerBlock: Int

    static func of(_ type: UInt32) -> GGMLTypeLayout? {
        switch type {
        case 0: return GGMLTypeLayout(name: "f32", blockSize: 1, bytesPerBlock: 4)
        case 1: return GGMLTypeLayout(name: "f16", blockSize: 1, bytesPerBlock: 2)
        case 2: return GGMLTypeLayout(name: "q4_0", blockSize: 32, bytesPerBlock: 18)
        case 3: return GGMLTypeLayout(name: "q4_1", blockSize: 32, bytesPerBlock: 20)
        case 6: return GGMLTypeLayout(name: "q5_0", blockSize: 32, bytesPerBlock: 22)
        case 7: return GGMLTypeLayout(name: "q5_1", blockSize: 32, bytesPerBlock: 24)
        case 8: return GGMLTypeLayout(name: "q8_0", blockSize: 32, bytesPerBlock: 34)
        case 9: return GGMLTypeLayout(name: "q8_1", blockSize: 32, bytesPerBlock: 36)
        case 10: return GGMLTypeLayout(name: "q2_K", blockSize: 256, bytesPerBlock: 84)
        case 11: return GGMLTypeLayout(name: "q3_K", blockSize: 256, bytesPerBlock: 110)
        case 12: return GGMLTypeLayout(name: "q4_K", blockSize: 256, bytesPerBlock: 144)
        case 13: return GGMLTypeLayout(name: "q5_K", blockSize: 256, bytesPerBlock: 176)
        case 14: return GGMLTypeLayout(name: "q6_K", blockSize: 256, bytesPerBlock: 210)
        case 15: return GGMLTypeLayout(name: "q8_K", blockSize: 256, bytesPerBlock: 292)
        case 24: return GGMLTypeLayout(name: "i8", blockSize: 1, bytesPerBlock: 1)
        case 25: return GGMLTypeLayout(name: "i16", blockSize: 1, bytesPerBlock: 2)
        case 26: return GGMLTypeLayout(name: "i32", blockSize: 1, bytesPerBlock: 4)
        case 27: return GGMLTypeLayout(name: "i64", blockSize: 1, bytesPerBlock: 8)
        case 28: return GGMLTypeLayout(name: "f64", blockSize: 1, bytesPerBlock: 8)
        case 30: return GGMLTypeLayout(name: "bf16", blockSize: 1, bytesPerBlock: 2)
        default: return nil
        }
    }
}

// MARK: - The file

/// The header, metadata and tensor directory of a GGUF file (ggml's model format, versions 2
/// and 3, little-endian), read strictly: a file that is not exactly what the format allows is a
/// ``ModelError/corruptGGUF(path:reason:)`` naming the problem and its byte offset.
///
/// The reader is safe on hostile input: every count and length is checked against the bytes
/// left in the file before anything is allocated (a count of values must fit in the bytes left
/// at the smallest encoding of one value), strings must be valid UTF-8, arrays nest at most
/// ``maxArrayDepth`` deep, and each step consumes bytes, so time and memory stay proportional to
/// the file. Metadata keys and tensor names must be unique (compared byte for byte).
///
/// Tensor data is not read: ``dataOffset`` (the end of the directory rounded up to
/// `general.alignment`, default 32; the end of the directory itself in a file without tensors,
/// as ggml computes it) and each ``GGUFTensorInfo/offset`` locate it. For the ggml types whose
/// layout is known, each tensor's bytes must lie inside the file.
///
/// ```swift
/// let file = try GGUFFile(url: URL(fileURLWithPath: "model.gguf"))
/// let tokens = file["tokenizer.ggml.tokens"]?.arrayValue
/// ```
public struct GGUFFile: Sendable {
    /// The first four bytes of every GGUF file.
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The versions read (version 1, with 32-bit counts, is long obsolete).
    public static let supportedVersions: ClosedRange<UInt32> = 2...3
    /// The alignment of the data section when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// The deepest nesting of arrays accepted (an array of arrays is depth 2).
    public static let maxArrayDepth = 8
    /// The most dimensions of a tensor (ggml's `GGML_MAX_DIMS`).
    public static let maxDimensions = 4

    /// The file, for messages.
    public let path: String
    /// The format version (2 or 3).
    public let version: UInt32
    /// The metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// The tensor directory in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data section's alignment (`general.alignment`, a power of two).
    public let alignment: Int
    /// The byte offset of the data section in the file.
    public let dataOffset: Int
    /// The file's size in bytes.
    public let fileSize: Int
    private let index: [TokenString: Int]

    /// Reads the file at `url` (memory-mapped; only the header, metadata and tensor directory
    /// are parsed). A missing file is ``ModelError/fileNotFound(path:)``, a directory or an
    /// unreadable file ``ModelError/unreadable(path:reason:)``.
    public init(url: URL) throws(ModelError) {
        try self.init(data: try MappedFile.read(url), path: url.path)
    }

    /// Parses the GGUF bytes `data`; errors name `path`.
    public init(data: Data, path: String) throws(ModelError) {
        let result = data.withUnsafeBytes { raw -> Result<GGUFParser.Parsed, GGUFParser.Failure> in
            var parser = GGUFParser(bytes: raw)
            do throws(GGUFParser.Failure) { return .success(try parser.parse()) } catch { return .failure(error) }
        }
        let parsed: GGUFParser.Parsed
        switch result {
        case .success(let p): parsed = p
        case .failure(let f): throw .corruptGGUF(path: path, reason: f.reason)
        }
        self.path = path
        version = parsed.version
        metadata = parsed.metadata
        tensors = parsed.tensors
        alignment = parsed.alignment
        dataOffset = parsed.dataOffset
        fileSize = data.count
        index = parsed.index
    }

    /// The value of the metadata key `key` (compared byte for byte), nil when absent.
    public subscript(key: String) -> GGUFValue? {
        index[TokenString(key)].map { metadata[$0].value }
    }

    /// The tensor named `name`, nil when absent.
    public func tensor(_ name: String) -> GGUFTensorInfo? {
        tensors.first { $0.name.utf8.elementsEqual(name.utf8) }
    }
}

// MARK: - Parsing

/// The byte-level GGUF parser behind ``GGUFFile``.
struct GGUFParser {
    struct Failure: Error {
        let reason: String
    }

    struct Parsed {
        var version: UInt32 = 0
        var metadata: [(key: String, value: GGUFValue)] = []
        var index: [TokenString: Int] = [:]
        var tensors: [GGUFTensorInfo] = []
        var alignment = GGUFFile.defaultAlignment
        var dataOffset = 0
    }

    /// The fewest bytes of one metadata entry (an empty key, a type, a one-byte value) and of one
    /// tensor directory entry (an empty name, no dimensions, a type, an offset).
    static let minimumEntryBytes = 8 + 4 + 1
    static let minimumTensorInfoBytes = 8 + 4 + 4 + 8

    private let bytes: UnsafeRawBufferPointer
    private var pos = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private var remaining: Int { bytes.count - pos }

    private func fail(_ reason: String) -> Failure { Failure(reason: reason) }

    mutating func parse() throws(Failure) -> Parsed {
        var out = Parsed()
        out.version = try header()
        let tensorCount = try count("the tensor count", elementBytes: Self.minimumTensorInfoBytes)
        let entryCount = try count("the metadata entry count", elementBytes: Self.minimumEntryBytes)
        out.metadata.reserveCapacity(entryCount)
        for i in 0..<entryCount {
            let (key, value) = try entry(i)
            guard out.index.updateValue(out.metadata.count, forKey: TokenString(key)) == nil else {
                throw fail("metadata key \(key.debugDescription) appears twice")
            }
            out.metadata.append((key, value))
        }
        out.alignment = try Self.alignment(out)
        out.tensors.reserveCapacity(tensorCount)
        var names = Set<TokenString>()
        for i in 0..<tensorCount {
            let info = try tensorInfo(i, alignment: out.alignment)
            guard names.insert(TokenString(info.name)).inserted else { throw fail("tensor name \(info.name.debugDescription) appears twice") }
            out.tensors.append(info)
        }
        out.dataOffset = try dataSection(out.tensors, alignment: out.alignment)
        return out
    }

    /// The magic and the version.
    private mutating func header() throws(Failure) -> UInt32 {
        guard bytes.count >= 8 else { throw fail("the file is \(bytes.count) bytes, shorter than the 8-byte magic and version") }
        guard bytes.prefix(4).elementsEqual(GGUFFile.magic) else {
            let shown = bytes.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw fail("not a GGUF file: the magic is \(shown), not 47 47 55 46 (\"GGUF\")")
        }
        pos = 4
        let version = try scalar(UInt32.self, "the version")
        if GGUFFile.supportedVersions.contains(version) { return version }
        if GGUFFile.supportedVersions.contains(version.byteSwapped) {
            throw fail("a big-endian GGUF file (version \(version.byteSwapped)); only little-endian files are read")
        }
        if version == 1 { throw fail("GGUF version 1 (32-bit counts) is not supported; versions 2 and 3 are") }
        throw fail("unknown GGUF version \(version); versions 2 and 3 are supported")
    }

    /// `general.alignment`: a `u32` power of two, 32 when absent.
    private static func alignment(_ parsed: Parsed) throws(Failure) -> Int {
        guard let i = parsed.index[TokenString("general.alignment")] else { return GGUFFile.defaultAlignment }
        guard case .uint32(let a) = parsed.metadata[i].value else {
            throw Failure(reason: "general.alignment is \(parsed.metadata[i].value.typeDescription), not u32")
        }
        guard a > 0, a & (a - 1) == 0 else { throw Failure(reason: "general.alignment \(a) is not a power of two") }
        return Int(a)
    }

    // MARK: Primitives

    /// Throws unless `n` more bytes are left.
    private func need(_ n: Int, _ what: @autoclosure () -> String) throws(Failure) {
        guard n <= remaining else {
            throw fail("\(what()) needs \(n) bytes at offset \(pos), but the file ends \(remaining) bytes later")
        }
    }

    private mutating func scalar<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(Failure) -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: pos, as: T.self))
        pos += MemoryLayout<T>.size
        return v
    }

    /// A `u64` count of things at least `elementBytes` each, checked against the bytes left.
    private mutating func count(_ what: @autoclosure () -> String, elementBytes: Int) throws(Failure) -> Int {
        let n = try scalar(UInt64.self, what())
        let fits = UInt64(remaining / max(1, elementBytes))
        guard n <= fits else {
            throw fail("\(what()) is \(n), but the \(remaining) bytes left after offset \(pos) hold at most \(fits)")
        }
        return Int(n)
    }

    /// A string: a `u64` byte length, then that many bytes of valid UTF-8.
    private mutating func string(_ what: @autoclosure () -> String) throws(Failure) -> String {
        let n = try count("the length of \(what())", elementBytes: 1)
        guard n > 0, let base = bytes.baseAddress else { return "" }
        let start = pos
        pos += n
        let buffer = UnsafeBufferPointer(start: (base + start).assumingMemoryBound(to: UInt8.self), count: n)
        guard let s = String(validating: buffer, as: UTF8.self) else { throw fail("\(what()) at offset \(start) is not valid UTF-8") }
        return s
    }

    /// `n` little-endian integers, `n` already checked against the bytes left.
    private mutating func integers<T: FixedWidthInteger>(_: T.Type, _ n: Int) -> [T] {
        let size = MemoryLayout<T>.size
        let start = pos
        pos += n * size
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            for i in 0..<n { buffer[i] = T(littleEndian: bytes.loadUnaligned(fromByteOffset: start + i * size, as: T.self)) }
            initialized = n
        }
    }

    // MARK: Metadata

    /// Metadata entry `i`: key, type, value.
    private mutating func entry(_ i: Int) throws(Failure) -> (String, GGUFValue) {
        let key = try string("the key of metadata entry \(i)")
        let name = "metadata \(key.debugDescription)"
        let type = try valueType(name)
        return (key, try value(type, depth: 0, name))
    }

    private mutating func valueType(_ what: @autoclosure () -> String) throws(Failure) -> GGUFValueType {
        let at = pos
        let raw = try scalar(UInt32.self, "the type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else { throw fail("\(what()) has unknown value type \(raw) (at offset \(at))") }
        return type
    }

    private mutating func value(_ type: GGUFValueType, depth: Int, _ what: @autoclosure () -> String) throws(Failure) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try scalar(UInt8.self, what()))
        case .int8: return .int8(try scalar(Int8.self, what()))
        case .uint16: return .uint16(try scalar(UInt16.self, what()))
        case .int16: return .int16(try scalar(Int16.self, what()))
        case .uint32: return .uint32(try scalar(UInt32.self, what()))
        case .int32: return .int32(try scalar(Int32.self, what()))
        case .uint64: return .uint64(try scalar(UInt64.self, what()))
        case .int64: return .int64(try scalar(Int64.self, what()))
        case .float32: return .float32(Float(bitPattern: try scalar(UInt32.self, what())))
        case .float64: return .float64(Double(bitPattern: try scalar(UInt64.self, what())))
        case .bool: return .bool(try bool(what()))
        case .string: return .string(try string(what()))
        case .array: return .array(try array(depth: depth + 1, what()))
        }
    }

    private mutating func bool(_ what: @autoclosure () -> String) throws(Failure) -> Bool {
        let b = try scalar(UInt8.self, what())
        guard b <= 1 else { throw fail("\(what()) is a bool stored as \(b), not 0 or 1 (at offset \(pos - 1))") }
        return b == 1
    }

    /// An array: element type, `u64` count, elements.
    private mutating func array(depth: Int, _ what: @autoclosure () -> String) throws(Failure) -> GGUFArray {
        guard depth <= GGUFFile.maxArrayDepth else { throw fail("\(what()) nests arrays deeper than \(GGUFFile.maxArrayDepth)") }
        let type = try valueType("the elements of \(what())")
        let n = try count("the element count of \(what())", elementBytes: type.minimumEncodedSize)
        switch type {
        case .uint8: return .uint8(integers(UInt8.self, n))
        case .int8: return .int8(integers(Int8.self, n))
        case .uint16: return .uint16(integers(UInt16.self, n))
        case .int16: return .int16(integers(Int16.self, n))
        case .uint32: return .uint32(integers(UInt32.self, n))
        case .int32: return .int32(integers(Int32.self, n))
        case .uint64: return .uint64(integers(UInt64.self, n))
        case .int64: return .int64(integers(Int64.self, n))
        case .float32: return .float32(integers(UInt32.self, n).map(Float.init(bitPattern:)))
        case .float64: return .float64(integers(UInt64.self, n).map(Double.init(bitPattern:)))
        case .bool:
            var out: [Bool] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try bool("\(what())[\(i)]")) }
            return .bool(out)
        case .string:
            var out: [String] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try string("\(what())[\(i)]")) }
            return .string(out)
        case .array:
            var out: [GGUFArray] = []
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try array(depth: depth + 1, "\(what())[\(i)]")) }
            return .array(out)
        }
    }

    // MARK: Tensors

    /// Tensor directory entry `i`: name, dimensions, ggml type, offset.
    private mutating func tensorInfo(_ i: Int, alignment: Int) throws(Failure) -> GGUFTensorInfo {
        let name = try string("the name of tensor \(i)")
        let what = "tensor \(name.debugDescription)"
        let rank = try scalar(UInt32.self, "the dimension count of \(what)")
        guard rank <= UInt32(GGUFFile.maxDimensions) else {
            throw fail("\(what) has \(rank) dimensions; at most \(GGUFFile.maxDimensions) are allowed")
        }
        var dims: [Int] = []
        var elements = 1
        for d in 0..<Int(rank) {
            let raw = try scalar(UInt64.self, "dimension \(d) of \(what)")
            guard let n = Int(exactly: raw), case let (p, overflow) = elements.multipliedReportingOverflow(by: n), !overflow else {
                throw fail("\(what) has dimensions whose product exceeds \(Int.max) (dimension \(d) is \(raw))")
            }
            dims.append(n)
            elements = p
        }
        let type = try scalar(UInt32.self, "the type of \(what)")
        let rawOffset = try scalar(UInt64.self, "the offset of \(what)")
        guard let offset = Int(exactly: rawOffset), offset % alignment == 0 else {
            throw fail("\(what) has offset \(rawOffset), not a multiple of the alignment \(alignment)")
        }
        let bytes = try Self.byteCount(what, dims: dims, elements: elements, type: type)
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset, byteCount: bytes)
    }

    /// The data size of a tensor of a known type (nil for an unknown type).
    private static func byteCount(_ what: String, dims: [Int], elements: Int, type: UInt32) throws(Failure) -> Int? {
        guard let layout = GGMLTypeLayout.of(type) else { return nil }
        guard (dims.first ?? 1) % layout.blockSize == 0 else {
            throw Failure(reason: "\(what) of type \(layout.name) has rows of \(dims.first ?? 0) elements, not a multiple of its block size \(layout.blockSize)")
        }
        let (bytes, overflow) = (elements / layout.blockSize).multipliedReportingOverflow(by: layout.bytesPerBlock)
        guard !overflow else { throw Failure(reason: "\(what) has more bytes than \(Int.max)") }
        return bytes
    }

    /// The data section's offset; every tensor of a known type must end inside the file.
    private func dataSection(_ tensors: [GGUFTensorInfo], alignment: Int) throws(Failure) -> Int {
        guard !tensors.isEmpty else { return pos }
        let start = (pos + alignment - 1) / alignment * alignment
        guard start <= bytes.count else {
            throw fail("the data section would start at offset \(start) (the directory's end \(pos) aligned to \(alignment)), past the end of the \(bytes.count)-byte file")
        }
        let available = bytes.count - start
        for t in tensors {
            guard let n = t.byteCount else { continue }
            guard t.offset <= available, n <= available - t.offset else {
                throw fail("tensor \(t.name.debugDescription) (\(n) bytes at data offset \(t.offset)) runs past the end of the file (\(available) bytes of data)")
            }
        }
        return start
    }
}
