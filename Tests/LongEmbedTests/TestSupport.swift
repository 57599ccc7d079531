import Foundation

/// Malformed fixture data or mismatched lengths in a comparison: a test failure, never a trap.
struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension FixtureError {
    init(_ message: String) { self.init(message: message) }
}

/// Paths and loaders shared by the tests.
enum TestSupport {
    /// The repository root (this file is Tests/LongEmbedTests/TestSupport.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Tests/Fixtures`: every reference output the tests read (see its README for provenance).
    static let golden: URL = repoRoot.appendingPathComponent("Tests/Fixtures", isDirectory: true)

    /// A temporary copy of a fixture model folder (sub-folders included), to edit.
    static func copyFixtureModel(_ folder: URL) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: folder, to: dir)
        return dir
    }

    /// The default model fetched by `make setup`.
    static let defaultModel: URL = repoRoot.appendingPathComponent(".models/all-MiniLM-L6-v2", isDirectory: true)

    /// Reads a little-endian float32 C-order `.npy` file: (shape, values).
    static func loadNpy(_ url: URL) throws -> (shape: [Int], values: [Float]) {
        let data = try Data(contentsOf: url)
        guard data.count > 10, data.prefix(6) == Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw FixtureError("not an npy file: \(url.path)")
        }
        let bytes = [UInt8](data)
        let major = bytes[6]
        let headerLen: Int
        let headerStart: Int
        if major == 1 {
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw FixtureError("npy header length cut short: \(url.path)") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard headerLen <= bytes.count - headerStart else {
            throw FixtureError("npy header length \(headerLen) runs past the end of \(url.path) (\(bytes.count) bytes)")
        }
        let bodyStart = headerStart + headerLen
        let header = String(decoding: bytes[headerStart..<bodyStart], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw FixtureError("unsupported npy header in \(url.path): \(header)")
        }
        let afterShape = header.components(separatedBy: "'shape': (")
        guard afterShape.count >= 2, let shapeText = afterShape[1].components(separatedBy: ")").first else {
            throw FixtureError("npy header without a shape in \(url.path): \(header)")
        }
        var shape: [Int] = []
        for part in shapeText.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let dim = Int(trimmed), dim >= 0 else {
                throw FixtureError("bad npy shape '\(shapeText)' in \(url.path)")
            }
            shape.append(dim)
        }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw FixtureError("npy shape \(shape) overflows in \(url.path)") }
            count = product
        }
        let bodyCount = bytes.count - bodyStart
        guard count <= Int.max / 4, bodyCount == count * 4 else {
            throw FixtureError("npy body size mismatch in \(url.path): shape \(shape) needs \(count) floats, body has \(bodyCount) bytes")
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let o = bodyStart + 4 * i
            let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            values[i] = Float(bitPattern: bits)
        }
        return (shape, values)
    }

    /// Normalized mean squared error: mse(a, b) / mse(a, 0), with `a` the reference.
    /// Throws when the lengths differ.
    static func nmse(_ reference: [Float], _ value: [Float]) throws -> Double {
        guard reference.count == value.count else {
            throw FixtureError("nmse: reference has \(reference.count) values, compared has \(value.count)")
        }
        var num = 0.0, den = 0.0
        for i in reference.indices {
            let d = Double(reference[i]) - Double(value[i])
            num += d * d
            den += Double(reference[i]) * Double(reference[i])
        }
        return den == 0 ? num : num / den
    }

    /// Largest absolute difference. Throws when the lengths differ.
    static func maxAbsDiff(_ a: [Float], _ b: [Float]) throws -> Float {
        guard a.count == b.count else {
            throw FixtureError("maxAbsDiff: first has \(a.count) values, second has \(b.count)")
        }
        var m: Float = 0
        for i in a.indices { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    /// Deterministic pseudo-random floats in [-scale, scale] (SplitMix64).
    static func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &+ 0x9E3779B97F4A7C15
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            z ^= z >> 31
            let u = Float(z >> 40) / Float(1 << 24)
            out[i] = (u * 2 - 1) * scale
        }
        return out
    }
}
