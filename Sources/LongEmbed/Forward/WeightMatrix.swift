import CKernels

/// A fixed-size, 64-byte aligned buffer of 16-bit floats: weights kept in their file's dtype
/// (half the memory of fp32), widened exactly to fp32 where they are used.
final class HalfBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt16>
    let count: Int
    let format: HalfFormat
    private let floats: Int

    /// Copies `bits`, values in `format`.
    init(_ bits: [UInt16], format: HalfFormat) throws(EncoderError) {
        floats = (bits.count + 1) / 2
        guard let raw = ck_alloc_f32(max(floats, 1)) else { throw .outOfMemory(floats: floats) }
        pointer = UnsafeMutableRawPointer(raw).bindMemory(to: UInt16.self, capacity: 2 * max(floats, 1))
        count = bits.count
        self.format = format
        bits.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: bits.count) }
        }
    }

    deinit {
        UnsafeMutableRawPointer(pointer).withMemoryRebound(to: Float.self, capacity: max(floats, 1)) {
            ck_free_f32($0, max(floats, 1))
        }
    }

    var constPointer: UnsafePointer<UInt16> { UnsafePointer(pointer) }
}

/// A weight matrix `[rows, cols]` as it lives in memory: fp32, or the file's bf16 or fp16.
enum WeightMatrix: Sendable {
    case f32(FloatBuffer)
    case half(HalfBuffer)

    /// Number of values.
    var count: Int {
        switch self {
        case .f32(let b): return b.count
        case .half(let b): return b.count
        }
    }

    /// The buffer holding the values (two matrices with the same identity share memory).
    var storageIdentity: ObjectIdentifier {
        switch self {
        case .f32(let b): return ObjectIdentifier(b)
        case .half(let b): return ObjectIdentifier(b)
        }
    }

    /// Bytes the values occupy.
    var byteCount: Int {
        switch self {
        case .f32(let b): return 4 * b.count
        case .half(let b): return 2 * b.count
        }
    }

    /// The storage format: nil for fp32.
    var halfFormat: HalfFormat? {
        if case .half(let b) = self { return b.format }
        return nil
    }

    /// Row `r` of a `[_, cols]` matrix widened into `dst[0..<cols]`.
    func copyRow(_ r: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32(let b):
            dst.update(from: b.constPointer + r * cols, count: cols)
        case .half(let b):
            let src = b.constPointer + r * cols, format = b.format
            for j in 0..<cols { dst[j] = format.widen(src[j]) }
        }
    }

    /// All values widened to fp32 (tests and tools; the forward pass never widens a whole matrix).
    func toArray() -> [Float] {
        switch self {
        case .f32(let b): return b.toArray()
        case .half(let b): return (0..<b.count).map { b.format.widen(b.constPointer[$0]) }
        }
    }
}

/// A tensor's values as read from a file: fp32, or raw 16-bit floats to be kept as they are.
enum LoadedTensor: Sendable {
    case f32([Float])
    case half([UInt16], HalfFormat)

    var count: Int {
        switch self {
        case .f32(let v): return v.count
        case .half(let v, _): return v.count
        }
    }

    var floats: [Float] {
        switch self {
        case .f32(let v): return v
        case .half(let v, let f): return v.map(f.widen)
        }
    }

    /// The tensors one after the other: 16-bit when all share one 16-bit format, else fp32.
    static func concatenated(_ parts: [LoadedTensor]) -> LoadedTensor {
        var bits: [UInt16] = []
        var format: HalfFormat?
        for p in parts {
            guard case .half(let v, let f) = p, format == nil || format == f else {
                return .f32(parts.flatMap(\.floats))
            }
            format = f
            bits += v
        }
        guard let format else { return .f32([]) }
        return .half(bits, format)
    }
}
