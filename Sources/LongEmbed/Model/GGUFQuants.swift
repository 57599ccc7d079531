import Foundation

// Dequantization of GGUF tensor data to fp32, bit for bit as ggml's reference C functions
// `dequantize_row_*` (ggml/src/ggml-quants.c) and `ggml_fp16_to_fp32_row` /
// `ggml_bf16_to_fp32_row` (ggml/src/ggml.c) compute it. Each formula below follows ggml's, with
// the same fp32 operations in the same order (for example Q6_K's `d * sc * q` is `(d * sc) * q`),
// so that the products round exactly as ggml's do. Swift does not contract `a * b + c` into a
// fused multiply-add, so every operation rounds on its own, as in ggml's reference code.

// MARK: - Types

/// The ggml tensor types whose data ``GGUFQuants`` dequantizes to fp32, with ggml's type codes
/// (`enum ggml_type` in ggml.h; gguf-py's `GGMLQuantizationType`).
///
/// Block sizes, bytes per block and names come from the same table the GGUF tensor directory
/// reader uses (``GGUFTensorInfo/byteCount``, ``GGUFTensorInfo/typeName``).
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8
    case q4_K = 12, q5_K = 13, q6_K = 14
    case bf16 = 30

    /// The layout in GGUF.swift's table, which holds every case (`GGUFQuantTests` checks it).
    private var layout: GGMLTypeLayout { GGMLTypeLayout.of(rawValue)! }

    /// ggml's name of the type (`ggml_type_name`: `f32`, `q8_0`, `q4_K`, `bf16`, ...).
    public var name: String { layout.name }

    /// The number of elements one block holds (ggml's `blck_size`: 1 for the float types, 32 for
    /// Q4_0 to Q8_0, 256 for the K-quants' super-blocks).
    public var blockSize: Int { layout.blockSize }

    /// The bytes of one block (ggml's `type_size`).
    public var bytesPerBlock: Int { layout.bytesPerBlock }

    /// The bytes that `elements` values of this type take.
    ///
    /// A negative count, a count that is not a multiple of ``blockSize``, or a size beyond
    /// `Int.max` is a ``ModelError/corruptGGUF(path:reason:)`` naming `path`.
    public func byteCount(elements: Int, path: String = "<memory>") throws(ModelError) -> Int {
        guard elements >= 0 else {
            throw .corruptGGUF(path: path, reason: "\(name) data of \(elements) elements: the count is negative")
        }
        guard elements % blockSize == 0 else {
            throw .corruptGGUF(path: path, reason: "\(name) data of \(elements) elements: not a multiple of the block size \(blockSize)")
        }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        guard !overflow else {
            throw .corruptGGUF(path: path, reason: "\(name) data of \(elements) elements takes more than \(Int.max) bytes")
        }
        return bytes
    }
}

extension GGUFTensorInfo {
    /// The tensor's type as a ``GGMLType``; nil for a type ``GGUFQuants`` does not dequantize.
    public var ggmlType: GGMLType? { GGMLType(rawValue: type) }
}

// MARK: - Dequantization

/// Conversion of GGUF tensor data (ggml blocks, little-endian) to fp32, bit-identical to ggml's
/// reference dequantization.
///
/// The input is never trusted: sizes are checked before any byte is read, reads are unaligned
/// loads, and no byte pattern traps. Non-finite scales propagate as IEEE arithmetic (and ggml)
/// propagate them.
///
/// ```swift
/// let values = try data.withUnsafeBytes { raw throws(ModelError) in
///     try GGUFQuants.dequantized(.q4_K, from: UnsafeRawBufferPointer(rebasing: raw[start...]), count: n)
/// }
/// ```
public enum GGUFQuants {
    /// Writes the `count` fp32 values of the `type` data at the start of `source` to
    /// `destination`.
    ///
    /// `source` must hold at least ``GGMLType/byteCount(elements:path:)`` bytes (bytes after them
    /// are not read); otherwise, and for a count that is negative or not a multiple of the block
    /// size, this throws ``ModelError/corruptGGUF(path:reason:)`` naming `path` before reading
    /// anything. `destination` must have room for `count` values and must not overlap `source`.
    /// A count of 0 writes nothing. Nothing is allocated.
    public static func dequantize(_ type: GGMLType, from source: UnsafeRawBufferPointer, count: Int,
                                  into destination: UnsafeMutablePointer<Float>,
                                  path: String = "<memory>") throws(ModelError) {
        try check(type, source, count, path)
        guard count > 0, let src = source.baseAddress else { return }
        convert(type, src, count, destination)
    }

    /// The `count` fp32 values of the `type` data at the start of `source`, in a new array; the
    /// checks and errors of ``dequantize(_:from:count:into:path:)``, made before allocating.
    public static func dequantized(_ type: GGMLType, from source: UnsafeRawBufferPointer, count: Int,
                                   path: String = "<memory>") throws(ModelError) -> [Float] {
        try check(type, source, count, path)
        guard count > 0, let src = source.baseAddress else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let out = buffer.baseAddress { convert(type, src, count, out) }
            initialized = buffer.baseAddress == nil ? 0 : count
        }
    }

    /// Throws unless `count` is a valid element count of `type` and `source` holds its bytes.
    private static func check(_ type: GGMLType, _ source: UnsafeRawBufferPointer, _ count: Int,
                              _ path: String) throws(ModelError) {
        let needed = try type.byteCount(elements: count, path: path)
        guard source.count >= needed else {
            throw .corruptGGUF(path: path, reason: "\(type.name) data of \(count) elements needs \(needed) bytes, but only \(source.count) are there")
        }
    }

    /// The conversion itself, sizes already checked.
    private static func convert(_ type: GGMLType, _ src: UnsafeRawPointer, _ count: Int,
                                _ destination: UnsafeMutablePointer<Float>) {
        let blocks = count / type.blockSize
        switch type {
        case .f32: copyF32(src, count, destination)
        case .f16: widenF16(src, count, destination)
        case .bf16: widenBF16(src, count, destination)
        case .q8_0: q8_0(src, blocks, destination)
        case .q4_0: q4_0(src, blocks, destination)
        case .q4_1: q4_1(src, blocks, destination)
        case .q5_0: q5_0(src, blocks, destination)
        case .q5_1: q5_1(src, blocks, destination)
        case .q4_K: q4_K(src, blocks, destination)
        case .q5_K: q5_K(src, blocks, destination)
        case .q6_K: q6_K(src, blocks, destination)
        }
    }

    // MARK: Scalars

    /// The fp32 value of the IEEE binary16 `bits`, exactly as ggml converts it: every finite
    /// value (subnormals included) and the infinities exactly; a NaN keeps its sign and payload
    /// and comes back quiet (ggml's conversions, F16C `vcvtph2ps` and the generic
    /// `ggml_compute_fp16_to_fp32`, both quiet a signalling NaN: `0x7C01` -> `0x7FC02000`).
    @inline(__always)
    public static func float(fromHalfBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F {
            let quiet: UInt32 = mantissa == 0 ? 0 : 0x0040_0000
            return Float(bitPattern: sign | 0x7F80_0000 | quiet | mantissa << 13)
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24, exact in fp32 (at least 2^-24, a normal fp32).
            return Float(bitPattern: sign | (Float(mantissa) * 0x1p-24).bitPattern)
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// The fp32 value of the bfloat16 `bits`: the bits shifted into the upper half, as ggml's
    /// `ggml_bf16_to_fp32` does (NaNs, signalling ones included, keep every bit).
    @inline(__always)
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The little-endian f16 at `offset` of `p`, as fp32.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        float(fromHalfBits: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    // MARK: Float types

    static func copyF32(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            y[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    }

    static func widenF16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count { y[i] = half(src, 2 * i) }
    }

    static func widenBF16(_ src: UnsafeRawPointer, _ count: Int, _ y: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            y[i] = float(fromBFloat16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }
}

// MARK: - 32-element blocks

extension GGUFQuants {
    /// Q8_0, 34 bytes: f16 `d`, 32 int8 `qs`; `y = qs * d` (ggml `dequantize_row_q8_0`).
    static func q8_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 34 * i
            let y = dst + 32 * i
            let d = half(b, 0)
            for j in 0..<32 { y[j] = Float(Int8(bitPattern: byte(b, 2 + j))) * d }
        }
    }

    /// Q4_0, 18 bytes: f16 `d`, 16 bytes of nibbles, low nibbles first; `y = (q - 8) * d`
    /// (ggml `dequantize_row_q4_0`).
    static func q4_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 18 * i
            let y = dst + 32 * i
            let d = half(b, 0)
            for j in 0..<16 {
                let q = byte(b, 2 + j)
                y[j] = Float(Int32(q & 0x0F) - 8) * d
                y[j + 16] = Float(Int32(q >> 4) - 8) * d
            }
        }
    }

    /// Q4_1, 20 bytes: f16 `d`, f16 `m`, 16 bytes of nibbles; `y = q * d + m`
    /// (ggml `dequantize_row_q4_1`).
    static func q4_1(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 20 * i
            let y = dst + 32 * i
            let d = half(b, 0), m = half(b, 2)
            for j in 0..<16 {
                let q = byte(b, 4 + j)
                y[j] = Float(q & 0x0F) * d + m
                y[j + 16] = Float(q >> 4) * d + m
            }
        }
    }

    /// Q5_0, 22 bytes: f16 `d`, u32 `qh` (bit `j` is the fifth bit of element `j`), 16 bytes of
    /// nibbles; `y = (q - 16) * d` (ggml `dequantize_row_q5_0`).
    static func q5_0(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 22 * i
            let y = dst + 32 * i
            let d = half(b, 0)
            let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for j in 0..<16 {
                let q = UInt32(byte(b, 6 + j))
                let high0 = (qh >> UInt32(j)) << 4 & 0x10, high1 = qh >> UInt32(j + 12) & 0x10
                y[j] = Float(Int32(bitPattern: (q & 0x0F) | high0) - 16) * d
                y[j + 16] = Float(Int32(bitPattern: (q >> 4) | high1) - 16) * d
            }
        }
    }

    /// Q5_1, 24 bytes: f16 `d`, f16 `m`, u32 `qh`, 16 bytes of nibbles; `y = q * d + m`
    /// (ggml `dequantize_row_q5_1`).
    static func q5_1(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 24 * i
            let y = dst + 32 * i
            let d = half(b, 0), m = half(b, 2)
            let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            for j in 0..<16 {
                let q = UInt32(byte(b, 8 + j))
                let high0 = (qh >> UInt32(j)) << 4 & 0x10, high1 = qh >> UInt32(j + 12) & 0x10
                y[j] = Float((q & 0x0F) | high0) * d + m
                y[j + 16] = Float((q >> 4) | high1) * d + m
            }
        }
    }
}

// MARK: - K-quants (256-element super-blocks)

extension GGUFQuants {
    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes at `q`
    /// (ggml `get_scale_min_k4`): sub-blocks 0-3 in the low six bits of bytes 0-3 (scales) and
    /// 4-7 (mins); sub-blocks 4-7 in the nibbles of bytes 8-11, with their top two bits in the
    /// high bits of bytes 0-7.
    @inline(__always)
    static func scaleMin(_ j: Int, _ q: UnsafeRawPointer) -> (scale: Float, min: Float) {
        if j < 4 {
            return (Float(byte(q, j) & 63), Float(byte(q, j + 4) & 63))
        }
        let scale = (byte(q, j + 4) & 0x0F) | (byte(q, j - 4) >> 6) << 4
        let min = (byte(q, j + 4) >> 4) | (byte(q, j) >> 6) << 4
        return (Float(scale), Float(min))
    }

    /// Q4_K, 144 bytes: f16 `d`, f16 `dmin`, 12 bytes of packed 6-bit scales and mins, 128 bytes of
    /// nibbles (each 32 bytes: low nibbles for one sub-block of 32, high nibbles for the next);
    /// `y = (d * sc) * q - (dmin * m)` (ggml `dequantize_row_q4_K`).
    static func q4_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 144 * i
            let d = half(b, 0), dmin = half(b, 2)
            for pair in 0..<4 {
                let (sc1, m1) = scaleMin(2 * pair, b + 4), (sc2, m2) = scaleMin(2 * pair + 1, b + 4)
                let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
                let qs = b + 16 + 32 * pair
                let y = dst + 256 * i + 64 * pair
                for l in 0..<32 {
                    let q = byte(qs, l)
                    y[l] = d1 * Float(q & 0x0F) - min1
                    y[l + 32] = d2 * Float(q >> 4) - min2
                }
            }
        }
    }

    /// Q5_K, 176 bytes: f16 `d`, f16 `dmin`, 12 bytes of packed scales and mins, 32 bytes `qh`
    /// (bit `2p` resp. `2p + 1` of byte `l` is the fifth bit of element `l` of sub-block `2p`
    /// resp. `2p + 1`), 128 bytes of nibbles as in Q4_K; `y = (d * sc) * q - (dmin * m)`
    /// (ggml `dequantize_row_q5_K`).
    static func q5_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 176 * i
            let d = half(b, 0), dmin = half(b, 2)
            for pair in 0..<4 {
                let (sc1, m1) = scaleMin(2 * pair, b + 4), (sc2, m2) = scaleMin(2 * pair + 1, b + 4)
                let d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2
                let u1 = UInt8(1) << (2 * pair), u2 = UInt8(2) << (2 * pair)
                let qh = b + 16, qs = b + 48 + 32 * pair
                let y = dst + 256 * i + 64 * pair
                for l in 0..<32 {
                    let q = byte(qs, l), h = byte(qh, l)
                    y[l] = d1 * Float((q & 0x0F) + (h & u1 != 0 ? 16 : 0)) - min1
                    y[l + 32] = d2 * Float((q >> 4) + (h & u2 != 0 ? 16 : 0)) - min2
                }
            }
        }
    }

    /// Q6_K, 210 bytes: 128 bytes `ql` (low nibbles), 64 bytes `qh` (two high bits each), 16 int8
    /// scales (one per 16 elements), f16 `d` last; per half of 128 elements, element `l` (0..<32)
    /// of each quarter takes nibble and bit pair as ggml's `dequantize_row_q6_K`, and
    /// `y = (d * sc) * (q - 32)`.
    static func q6_K(_ src: UnsafeRawPointer, _ blocks: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<blocks {
            let b = src + 210 * i
            let d = half(b, 208)
            for n in 0..<2 {
                let ql = b + 64 * n, qh = b + 128 + 32 * n, sc = b + 192 + 8 * n
                let y = dst + 256 * i + 128 * n
                for l in 0..<32 {
                    let s = l / 16
                    let low0 = byte(ql, l), low32 = byte(ql, l + 32), high = byte(qh, l)
                    let q1 = Int32((low0 & 0x0F) | (high & 3) << 4) - 32
                    let q2 = Int32((low32 & 0x0F) | (high >> 2 & 3) << 4) - 32
                    let q3 = Int32((low0 >> 4) | (high >> 4 & 3) << 4) - 32
                    let q4 = Int32((low32 >> 4) | (high >> 6 & 3) << 4) - 32
                    y[l] = d * Float(Int8(bitPattern: byte(sc, s))) * Float(q1)
                    y[l + 32] = d * Float(Int8(bitPattern: byte(sc, s + 2))) * Float(q2)
                    y[l + 64] = d * Float(Int8(bitPattern: byte(sc, s + 4))) * Float(q3)
                    y[l + 96] = d * Float(Int8(bitPattern: byte(sc, s + 6))) * Float(q4)
                }
            }
        }
    }
}
