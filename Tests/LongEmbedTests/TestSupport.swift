import Foundation

/// Paths and loaders shared by the tests.
enum TestSupport {
    /// The repository root (this file is Tests/LongEmbedTests/TestSupport.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/golden` beside the repository.
    static let golden: URL = repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/golden", isDirectory: true)

    /// The default model fetched by `make setup`.
    static let defaultModel: URL = repoRoot.appendingPathComponent(".models/all-MiniLM-L6-v2", isDirectory: true)

    /// Reads a little-endian float32 C-order `.npy` file: (shape, values).
    static func loadNpy(_ url: URL) throws -> (shape: [Int], values: [Float]) {
        let data = try Data(contentsOf: url)
        guard data.count > 10, data.prefix(6) == Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw NSError(domain: "npy", code: 1, userInfo: [NSLocalizedDescriptionKey: "not an npy file: \(url.path)"])
        }
        let major = data[6]
        let headerLen: Int
        let headerStart: Int
        if major == 1 {
            headerLen = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        } else {
            headerLen = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: data[headerStart..<(headerStart + headerLen)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw NSError(domain: "npy", code: 2, userInfo: [NSLocalizedDescriptionKey: "unsupported npy header: \(header)"])
        }
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = data.subdata(in: (headerStart + headerLen)..<data.count)
        precondition(body.count == count * 4, "npy body size mismatch")
        let values = body.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self).prefix(count)) }
        return (shape, values)
    }

    /// Normalized mean squared error: mse(a, b) / mse(a, 0), with `a` the reference.
    static func nmse(_ reference: [Float], _ value: [Float]) -> Double {
        precondition(reference.count == value.count)
        var num = 0.0, den = 0.0
        for i in reference.indices {
            let d = Double(reference[i]) - Double(value[i])
            num += d * d
            den += Double(reference[i]) * Double(reference[i])
        }
        return den == 0 ? num : num / den
    }

    /// Largest absolute difference.
    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
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
