import Foundation

/// Embeddings on disk, keyed by SHA-256 of (embedder identity, role, text).
///
/// Each entry is one file written atomically (temporary file + rename): a run interrupted at
/// any point, even by `kill -9`, leaves only whole entries. An entry holds a magic number, the
/// dimension, the vector and an FNV-1a checksum; a truncated or corrupt entry is ignored and
/// recomputed.
public final class EmbeddingCache: Sendable {
    /// The cache folder.
    public let directory: URL
    private static let magic: UInt32 = 0x4C45_4331 // "LEC1"

    public init(directory: URL) {
        self.directory = directory
    }

    /// The cache key of a text for an embedder and role.
    public static func key(identity: String, role: TextRole, text: String) -> String {
        SHA256.hex(Array(identity.utf8) + [0] + Array(role.rawValue.utf8) + [0] + Array(text.utf8))
    }

    private func url(_ key: String) -> URL {
        directory.appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key + ".emb")
    }

    /// The cached vector, or nil when absent, truncated or corrupt.
    public func get(_ key: String, dimension: Int) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: url(key).path), data.count == 8 + 4 * dimension + 8 else { return nil }
        let bytes = [UInt8](data)
        func u32(_ o: Int) -> UInt32 { UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24 }
        guard u32(0) == Self.magic, Int(u32(4)) == dimension else { return nil }
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(bytes[8 + 4 * dimension + i]) << (8 * UInt64(i)) }
        guard stored == Self.checksum(bytes[0..<(8 + 4 * dimension)]) else { return nil }
        return (0..<dimension).map { Float(bitPattern: u32(8 + 4 * $0)) }
    }

    /// Stores a vector atomically.
    public func put(_ key: String, _ vector: [Float]) throws(EvaluationError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + 4 * vector.count)
        func append(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        append(Self.magic)
        append(UInt32(vector.count))
        for x in vector { append(x.bitPattern) }
        let sum = Self.checksum(bytes[...])
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i)))) }
        try AtomicFile.write(Data(bytes), to: url(key))
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
