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
/// `{dtype, shape, data_offsets}`, then the data section. The header must fit in the file and
/// be at most 100 MiB; every tensor's span must lie inside the data section, match
/// `product(shape) * dtype size`, and not overlap another.
public final class SafeTensorsFile: Sendable {
    /// Largest accepted header.
    public static let maxHeaderBytes: UInt64 = 100 << 20

    /// The file.
    public let url: URL
    private let data: Data
    private let dataStart: Int
    private let infos: [String: TensorInfo]

    /// Maps and validates `url`.
    public init(url: URL) throws(ModelError) {
        let path = url.path
        self.url = url
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        let mapped: Data
        do { mapped = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        guard mapped.count >= 8 else {
            throw .corruptSafeTensors(path: path, reason: "file is \(mapped.count) bytes, shorter than the 8-byte header length")
        }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(mapped[mapped.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= Self.maxHeaderBytes, n <= UInt64(mapped.count - 8) else { throw .headerTooLarge(path: path, bytes: n) }
        let headerBytes = mapped.subdata(in: (mapped.startIndex + 8)..<(mapped.startIndex + 8 + Int(n)))
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes) else {
            throw .corruptSafeTensors(path: path, reason: "header is not valid JSON")
        }
        guard let header = object as? [String: Any] else {
            throw .corruptSafeTensors(path: path, reason: "header is not a JSON object")
        }
        let dataLength = mapped.count - 8 - Int(n)
        var infos: [String: TensorInfo] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any],
                  let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw .corruptSafeTensors(path: path, reason: "tensor \(name): missing or malformed dtype, shape or data_offsets")
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw .corruptSafeTensors(path: path, reason: "tensor \(name): shape and offsets must be non-negative integers")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw .corruptSafeTensors(path: path, reason: "tensor \(name): unknown dtype \(dtypeName)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw .corruptSafeTensors(path: path, reason: "tensor \(name): bytes \(begin)..<\(end) lie outside the \(dataLength)-byte data section")
            }
            var count = 1
            for d in shape {
                let (m, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw .corruptSafeTensors(path: path, reason: "tensor \(name): shape overflows") }
                count = m
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, bytes == end - begin else {
                throw .corruptSafeTensors(path: path, reason: "tensor \(name): span of \(end - begin) bytes does not match shape \(shape) x \(dtype.size) bytes")
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        let spans = infos.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(spans, spans.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw .corruptSafeTensors(path: path, reason: "tensors \(a.name) and \(b.name) overlap")
        }
        self.data = mapped
        self.dataStart = 8 + Int(n)
        self.infos = infos
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { infos.keys.sorted() }

    /// The header entry of `name`.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// The header bytes' length plus the file size: a cheap identity for caches.
    var headerLength: Int { dataStart }

    /// The tensor converted to fp32 (F32, F16, BF16; other dtypes are an error).
    public func floats(_ name: String) throws(ModelError) -> [Float] {
        guard let info = infos[name] else { throw .tensorNotFound(name: name) }
        let count = info.shape.reduce(1, *)
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
        return out
    }
}

/// The weights of a model folder: `model.safetensors`, or the shards of
/// `model.safetensors.index.json`.
public final class WeightStore: Sendable {
    private let files: [SafeTensorsFile]
    private let owner: [String: Int]
    /// A cheap fingerprint of the weights (file names, sizes and header lengths) for cache keys.
    public let fingerprint: String

    /// Opens the weights of `directory`.
    public init(directory: URL) throws(ModelError) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw .fileNotFound(path: directory.path)
        }
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        var shardNames: [String]
        if fm.fileExists(atPath: single.path) {
            shardNames = ["model.safetensors"]
        } else if fm.fileExists(atPath: index.path) {
            guard let data = fm.contents(atPath: index.path),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = object["weight_map"] as? [String: String] else {
                throw .invalidConfig(path: index.path, reason: "expected a JSON object with a \"weight_map\" of tensor name -> shard file")
            }
            shardNames = Array(Set(map.values)).sorted()
            guard !shardNames.isEmpty else { throw .invalidConfig(path: index.path, reason: "weight_map is empty") }
            for s in shardNames where s.contains("/") || s.hasPrefix(".") {
                throw .invalidConfig(path: index.path, reason: "shard name \(s) is not a plain file name")
            }
        } else {
            throw .fileNotFound(path: single.path)
        }
        var files: [SafeTensorsFile] = []
        var owner: [String: Int] = [:]
        var print = ""
        for (i, name) in shardNames.enumerated() {
            let f = try SafeTensorsFile(url: directory.appendingPathComponent(name))
            for t in f.tensorNames { owner[t] = i }
            let size = (try? fm.attributesOfItem(atPath: f.url.path)[.size] as? Int) ?? 0
            print += "\(name):\(size):\(f.headerLength);"
            files.append(f)
        }
        self.files = files
        self.owner = owner
        self.fingerprint = Fingerprint.hex(print)
    }

    /// Every tensor name, sorted.
    public var names: [String] { owner.keys.sorted() }

    /// Whether a tensor named `name` exists.
    public func contains(_ name: String) -> Bool { owner[name] != nil }

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
}

/// A 64-bit FNV-1a digest in hex (identities for caches, not security).
enum Fingerprint {
    static func hex(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}
