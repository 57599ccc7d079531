import Crypto
import Foundation

/// Embeddings on disk, keyed by SHA-256 of (embedder identity, role, text).
///
/// Each entry is one file written atomically (temporary file + rename): a run interrupted at
/// any point, even by `kill -9`, leaves only whole entries. An entry holds a magic number, its
/// own key, the dimension, the vector and a checksum (the first 8 bytes of the SHA-256 of what
/// precedes it); an entry that is truncated, corrupt, or stored under another key (files
/// swapped or copied on disk) is ignored and recomputed.
public final class EmbeddingCache: Sendable {
    /// The cache folder.
    public let directory: URL
    private static let magic: [UInt8] = Array("LEC2".utf8)
    private static let keyBytes = 64

    public init(directory: URL) {
        self.directory = directory
    }

    /// The cache key of a text for an embedder identity and role.
    public static func key(identity: String, role: TextRole, text: String) -> String {
        ContentDigest.hex(Array(identity.utf8) + [0] + Array(role.rawValue.utf8) + [0] + Array(text.utf8))
    }

    private func url(_ key: String) -> URL {
        directory.appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key + ".emb")
    }

    /// The cached vector, or nil when absent, truncated, corrupt or recorded under another key.
    public func get(_ key: String, dimension: Int) -> [Float]? {
        let header = Self.magic.count + Self.keyBytes + 4
        guard dimension > 0, let data = FileManager.default.contents(atPath: url(key).path),
              data.count == header + 4 * dimension + 8 else { return nil }
        let bytes = [UInt8](data)
        guard Array(bytes[0..<4]) == Self.magic,
              Array(bytes[4..<(4 + Self.keyBytes)]) == Array(key.utf8),
              Int(Self.u32(bytes, 4 + Self.keyBytes)) == dimension,
              Array(bytes[(header + 4 * dimension)...]) == Self.checksum(bytes[0..<(header + 4 * dimension)]) else { return nil }
        return (0..<dimension).map { Float(bitPattern: Self.u32(bytes, header + 4 * $0)) }
    }

    /// Stores a finite vector atomically under `key` (a 64-character hex key from ``key(identity:role:text:)``).
    public func put(_ key: String, _ vector: [Float]) throws(EvaluationError) {
        guard key.utf8.count == Self.keyBytes else { throw .embedding("cache key must be 64 hex characters") }
        guard vector.allSatisfy(\.isFinite) else { throw .embedding("refusing to cache a vector that is not finite") }
        var bytes = Self.magic + Array(key.utf8)
        bytes.reserveCapacity(bytes.count + 12 + 4 * vector.count)
        func append(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        append(UInt32(vector.count))
        for x in vector { append(x.bitPattern) }
        bytes += Self.checksum(bytes[...])
        try AtomicFile.write(Data(bytes), to: url(key))
    }

    private static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: bytes).prefix(8))
    }
}
