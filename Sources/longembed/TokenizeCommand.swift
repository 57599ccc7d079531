import ArgumentParser
import Foundation
import LongEmbed

/// `longembed tokenize`: JSON lines `{"id","text"}` in, `{"id","ids":[...]}` out, the ids being
/// exactly `tokenizers`' `encode(text).ids`.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize JSON lines {\"id\":..., \"text\":...} (or text lines) with a model's tokenizer.json.")

    @Option(name: .long, help: "Hugging Face model folder holding tokenizer.json (default: the model `make setup` fetched).")
    var model: String = ".models/all-MiniLM-L6-v2"

    @Option(name: .long, help: "A tokenizer.json file, or a llama.cpp .gguf file whose vocabulary to use (instead of --model).")
    var tokenizer: String?

    @Option(name: .long, help: "Input file (default: standard input).")
    var input: String?

    @Option(name: .long, help: "Output file (default: standard output). A regular file is replaced atomically; devices and FIFOs are written through.")
    var output: String?

    @Flag(name: .long, help: "Add the token strings (\"tokens\").")
    var tokens = false

    @Flag(name: .long, help: "Leave out the post-processor's special tokens.")
    var noSpecial = false

    @OptionGroup var threadOptions: ThreadOptions

    /// Records tokenized and written per block (bounded memory for long inputs).
    static let blockSize = 4096

    func run() throws {
        if input == nil && StandardInput.wasClosed {
            throw CLIError("standard input is closed: pipe the texts in or pass --input FILE")
        }
        let tok = try loadTokenizer()
        let records = try InputRecords.parse(try InputRecords.read(path: input))
        let file = try output.map { p throws(OutputFileError) in try OutputFile(path: p) }
        var start = 0
        while start < records.count {
            let block = Array(records[start..<min(start + Self.blockSize, records.count)])
            let ids = tok.encode(batch: block.map(\.text), addSpecialTokens: !noSpecial, threads: threadOptions.threads)
            var text = ""
            for (record, row) in zip(block, ids) { text += try line(record.idJSON, row, tok) }
            let data = Data(text.utf8)
            if let file { try file.write(data) } else { try FileHandle.standardOutput.write(contentsOf: data) }
            start += block.count
        }
        try file?.commit()
    }

    private func loadTokenizer() throws -> Tokenizer {
        if let tokenizer {
            guard FileManager.default.fileExists(atPath: tokenizer) else { throw CLIError("tokenizer file not found: \(tokenizer)") }
            let url = URL(fileURLWithPath: tokenizer)
            return url.pathExtension.lowercased() == "gguf" ? try Tokenizer(gguf: url) : try Tokenizer(url: url)
        }
        return try Tokenizer.load(directory: URL(fileURLWithPath: model))
    }

    private func line(_ id: String, _ ids: [Int32], _ tok: Tokenizer) throws -> String {
        var s = "{\"id\":\(id),\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]"
        if tokens {
            let strings = ids.map { tok.token(for: $0) ?? "" }
            s += ",\"tokens\":" + String(decoding: try JSONSerialization.data(withJSONObject: strings, options: [.withoutEscapingSlashes]), as: UTF8.self)
        }
        return s + "}\n"
    }
}
