import Foundation
import Testing
@testable import LongEmbed

/// GGUF tensor dequantization (`GGUFQuants`) against `gguf.quants.dequantize` of gguf 0.19.0
/// (`Tests/Fixtures/gguf_quants/`, written by `scripts/fixtures/gguf_quants.py`), bit for bit, and
/// on hostile sizes: every bad size is a typed error, never a trap or a read past the buffer.
@Suite struct GGUFQuantTests {
    static let folder = TestSupport.golden.appendingPathComponent("gguf_quants", isDirectory: true)

    /// One type's entry of `manifest.json`.
    struct Case {
        let name: String, ggmlType: UInt32, blockSize: Int, typeSize: Int, blocks: Int, elements: Int
        let blocksFile: String, f32File: String
    }

    static func manifest() throws -> [Case] {
        let data = try Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let types = root["types"] as? [[String: Any]] else { throw FixtureError("manifest.json has no types list") }
        return try types.map { t in
            guard let name = t["type"] as? String, let code = t["ggml_type"] as? Int, let bs = t["block_size"] as? Int,
                  let ts = t["type_size"] as? Int, let blocks = t["blocks"] as? Int, let n = t["elements"] as? Int,
                  let bf = t["blocks_file"] as? String, let ff = t["f32_file"] as? String, code >= 0 else {
                throw FixtureError("malformed manifest entry \(t)")
            }
            return Case(name: name, ggmlType: UInt32(code), blockSize: bs, typeSize: ts, blocks: blocks, elements: n,
                        blocksFile: bf, f32File: ff)
        }
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: folder.appendingPathComponent(file)))
    }

    /// Little-endian float32 bit patterns.
    static func bits(_ file: String) throws -> [UInt32] {
        let b = try bytes(file)
        guard b.count % 4 == 0 else { throw FixtureError("\(file): \(b.count) bytes, not whole float32s") }
        return (0..<(b.count / 4)).map { i in
            UInt32(b[4 * i]) | UInt32(b[4 * i + 1]) << 8 | UInt32(b[4 * i + 2]) << 16 | UInt32(b[4 * i + 3]) << 24
        }
    }

    /// The first index where `ours` differs from `reference` (NaNs by bits on x86-64, whose
    /// default NaN the fixture was made with; elsewhere any NaN matches a NaN), nil when none.
    static func firstMismatch(_ ours: [Float], _ reference: [UInt32]) -> Int? {
        guard ours.count == reference.count else { return min(ours.count, reference.count) }
        for i in ours.indices where ours[i].bitPattern != reference[i] {
            #if arch(x86_64)
            return i
            #else
            if !(ours[i].isNaN && Float(bitPattern: reference[i]).isNaN) { return i }
            #endif
        }
        return nil
    }

    static func dequantizeArray(_ type: GGMLType, _ raw: [UInt8], count: Int) throws -> [Float] {
        try raw.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws -> [Float] in
            try GGUFQuants.dequantized(type, from: buffer, count: count, path: "test.gguf")
        }
    }

    /// `dequantize(into:)` reading from an odd address (the bytes copied one past an aligned
    /// start), so that every multi-byte load is unaligned.
    static func dequantizeUnaligned(_ type: GGMLType, _ raw: [UInt8], count: Int) throws -> [Float] {
        let shifted = [0xA5] + raw
        var out = [Float](repeating: .nan, count: count)
        try shifted.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws in
            try out.withUnsafeMutableBufferPointer { (y: inout UnsafeMutableBufferPointer<Float>) throws in
                guard let base = y.baseAddress else { return }
                try GGUFQuants.dequantize(type, from: UnsafeRawBufferPointer(rebasing: buffer[1...]), count: count, into: base)
            }
        }
        return out
    }

    // MARK: Reference values

    @Test func manifestCoversEveryTypeWithGGMLsLayout() throws {
        let cases = try Self.manifest()
        #expect(cases.map(\.name).sorted() == GGMLType.allCases.map(\.name).sorted())
        for c in cases {
            let type = try #require(GGMLType(rawValue: c.ggmlType), "\(c.name): code \(c.ggmlType)")
            #expect(type.name == c.name && type.blockSize == c.blockSize && type.bytesPerBlock == c.typeSize,
                    "\(c.name): ours \(type.blockSize)/\(type.bytesPerBlock), gguf-py \(c.blockSize)/\(c.typeSize)")
            #expect(c.elements == c.blocks * c.blockSize && c.blocks >= 8, "\(c.name)")
        }
        // ggml's codes and sizes, independently of the table both the reader and GGMLType use.
        let ggml: [(GGMLType, UInt32, String, Int, Int)] = [
            (.f32, 0, "f32", 1, 4), (.f16, 1, "f16", 1, 2), (.q4_0, 2, "q4_0", 32, 18), (.q4_1, 3, "q4_1", 32, 20),
            (.q5_0, 6, "q5_0", 32, 22), (.q5_1, 7, "q5_1", 32, 24), (.q8_0, 8, "q8_0", 32, 34),
            (.q4_K, 12, "q4_K", 256, 144), (.q5_K, 13, "q5_K", 256, 176), (.q6_K, 14, "q6_K", 256, 210),
            (.bf16, 30, "bf16", 1, 2),
        ]
        #expect(ggml.count == GGMLType.allCases.count)
        for (type, code, name, block, bytes) in ggml {
            #expect(type.rawValue == code && type.name == name && type.blockSize == block && type.bytesPerBlock == bytes)
        }
    }

    @Test(arguments: GGMLType.allCases)
    func matchesGGUFPyBitForBit(_ type: GGMLType) throws {
        let c = try #require(try Self.manifest().first { $0.name == type.name }, "no fixture for \(type.name)")
        let raw = try Self.bytes(c.blocksFile)
        let reference = try Self.bits(c.f32File)
        try #require(raw.count == c.blocks * c.typeSize && reference.count == c.elements, "\(type.name): file sizes")
        let ours = try Self.dequantizeArray(type, raw, count: c.elements)
        if let i = Self.firstMismatch(ours, reference) {
            let got = i < ours.count ? String(ours[i].bitPattern, radix: 16) : "none"
            let want = i < reference.count ? String(reference[i], radix: 16) : "none"
            Issue.record("\(type.name) element \(i) (block \(i / c.blockSize)): ours 0x\(got), gguf-py 0x\(want)")
        }
        // The same through the pointer API from an unaligned address.
        let unaligned = try Self.dequantizeUnaligned(type, raw, count: c.elements)
        #expect(unaligned.map(\.bitPattern) == ours.map(\.bitPattern), "\(type.name): unaligned source")
        // Block by block gives the same values (no state carried between blocks), and bytes past
        // the data are not read.
        let blocks = Array(raw[(raw.count - c.typeSize)...]) + [0xFF, 0xFF]
        let last = try Self.dequantizeArray(type, blocks, count: c.blockSize)
        #expect(last.map(\.bitPattern) == Array(ours.suffix(c.blockSize)).map(\.bitPattern), "\(type.name): last block alone")
    }

    // MARK: f16 and bf16 conversions

    @Test func halfConversionIsExactAndQuietsNaNsAsGGML() {
        var mismatches = 0
        for h in 0...UInt16.max {
            let ours = GGUFQuants.float(fromHalfBits: h)
            let exponent = h >> 10 & 0x1F, mantissa = UInt32(h & 0x3FF)
            let sign: Float = h & 0x8000 != 0 ? -1 : 1
            let expected: UInt32
            switch exponent {
            case 0x1F where mantissa != 0:   // NaN: sign, payload, quiet bit set
                expected = UInt32(h & 0x8000) << 16 | 0x7FC0_0000 | mantissa << 13
            case 0x1F: expected = (sign * .infinity).bitPattern
            case 0: expected = (sign * Float(mantissa) * 0x1p-24).bitPattern   // exact: small integer times 2^-24
            default: expected = (sign * Float(1024 + mantissa) * Float(sign: .plus, exponent: Int(exponent) - 25, significand: 1)).bitPattern
            }
            if ours.bitPattern != expected { mismatches += 1 }
            #if !(os(macOS) && arch(x86_64))
            if !ours.isNaN, ours.bitPattern != Float(Float16(bitPattern: h)).bitPattern { mismatches += 1 }
            #endif
        }
        #expect(mismatches == 0)
        #expect(GGUFQuants.float(fromHalfBits: 0x7C01).bitPattern == 0x7FC0_2000)   // numpy would keep 0x7F802000
        #expect(GGUFQuants.float(fromHalfBits: 0x8000).bitPattern == 0x8000_0000)
        #expect(GGUFQuants.float(fromHalfBits: 0x0001) == 0x1p-24 && GGUFQuants.float(fromHalfBits: 0x7BFF) == 65504)
        #expect(GGUFQuants.float(fromBFloat16Bits: 0x7F81).bitPattern == 0x7F81_0000)   // signalling NaN kept
        #expect(GGUFQuants.float(fromBFloat16Bits: 0xBF80) == -1)
    }

    // MARK: Hostile sizes

    /// The reason of the `corruptGGUF` error `body` throws; nil when it succeeds or fails otherwise.
    static func corruption(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch {
            if case .corruptGGUF(let path, let reason)? = error as? ModelError, path == "test.gguf" { return reason }
            return nil
        }
    }

    @Test(arguments: GGMLType.allCases)
    func hostileSizesAreTypedErrors(_ type: GGMLType) {
        let n = 2 * type.blockSize, bytes = 2 * type.bytesPerBlock
        let full = [UInt8](repeating: 0x3C, count: bytes)
        // Exactly enough works; one byte short fails before reading (pointer and array APIs).
        #expect((try? Self.dequantizeArray(type, full, count: n))?.count == n)
        let short = Array(full.dropLast())
        let reason = Self.corruption { _ = try Self.dequantizeArray(type, short, count: n) }
        #expect(reason?.contains("needs \(bytes) bytes, but only \(bytes - 1)") == true, "\(type.name): \(reason ?? "no error")")
        #expect(Self.corruption {
            var y = [Float](repeating: 0, count: n)
            try short.withUnsafeBytes { (b: UnsafeRawBufferPointer) throws in
                try y.withUnsafeMutableBufferPointer { (p: inout UnsafeMutableBufferPointer<Float>) throws in
                    try GGUFQuants.dequantize(type, from: b, count: n, into: p.baseAddress!, path: "test.gguf")
                }
            }
        } != nil)
        // A count that is not a multiple of the block size, negative, or whose bytes overflow.
        if type.blockSize > 1 {
            let r = Self.corruption { _ = try Self.dequantizeArray(type, full, count: n - 1) }
            #expect(r?.contains("not a multiple of the block size \(type.blockSize)") == true, "\(type.name): \(r ?? "no error")")
            #expect(Self.corruption { _ = try type.byteCount(elements: type.blockSize + 1, path: "test.gguf") } != nil)
        }
        #expect(Self.corruption { _ = try Self.dequantizeArray(type, full, count: -type.blockSize) }?.contains("negative") == true)
        let huge = Int.max / type.blockSize * type.blockSize
        let overflow = Self.corruption { _ = try type.byteCount(elements: huge, path: "test.gguf") }
        if type.bytesPerBlock > type.blockSize {   // more bytes than elements: the size overflows
            #expect(overflow?.contains("more than") == true, "\(type.name): \(overflow ?? "no error")")
        } else {
            #expect(overflow == nil, "\(type.name): \(overflow ?? "")")
        }
        // A hostile count with a small buffer fails before anything is allocated.
        #expect(Self.corruption { _ = try Self.dequantizeArray(type, full, count: huge) } != nil)
        #expect(Self.corruption { _ = try Self.dequantizeArray(type, full, count: 1 << 40) } != nil)
        // Count 0: nothing read or written, even from an empty buffer without a base address.
        #expect((try? type.byteCount(elements: 0)) == 0)
        #expect((try? GGUFQuants.dequantized(type, from: UnsafeRawBufferPointer(start: nil, count: 0), count: 0))?.isEmpty == true)
        var untouched: Float = 7
        #expect((try? GGUFQuants.dequantize(type, from: UnsafeRawBufferPointer(start: nil, count: 0), count: 0, into: &untouched)) != nil)
        #expect(untouched == 7)
    }

    @Test func randomBytesNeverTrap() throws {
        // Every byte pattern is valid block data: random bytes of every type give values (NaN
        // and inf included) without trapping; the two APIs agree.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let raw = (0..<(210 * 16)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for type in GGMLType.allCases {
            let n = raw.count / type.bytesPerBlock * type.blockSize
            let a = try Self.dequantizeArray(type, raw, count: n)
            let b = try Self.dequantizeUnaligned(type, Array(raw.prefix(try type.byteCount(elements: n))), count: n)
            #expect(a.count == n && a.map(\.bitPattern) == b.map(\.bitPattern), "\(type.name)")
        }
    }

    @Test func tensorInfoNamesItsType() throws {
        let info = GGUFTensorInfo(name: "w", dimensions: [256, 2], type: 12, offset: 0, byteCount: 288)
        #expect(info.ggmlType == .q4_K && info.typeName == GGMLType.q4_K.name)
        #expect(try GGMLType.q4_K.byteCount(elements: info.elementCount) == info.byteCount)
        #expect(GGUFTensorInfo(name: "w", dimensions: [256], type: 10, offset: 0, byteCount: 84).ggmlType == nil)   // q2_K: not dequantized
    }
}
