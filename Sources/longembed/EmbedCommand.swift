import ArgumentParser
import Foundation
import LongEmbed

/// `longembed embed`: JSON lines or plain text lines in, embeddings out.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts: JSON lines {\"id\":..., \"text\":...} or plain text lines, from stdin or --input.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var extensionOptions: ExtensionOptions

    @Option(name: .long, help: "Input file (default: standard input).")
    var input: String?

    @Option(name: .long, help: "Output file (default: standard output). Written atomically.")
    var output: String?

    @Option(name: .long, help: "Output format: jsonl or npy (npy needs --output).")
    var format: String = "jsonl"

    @Option(name: .long, help: "Embed as query or document (chooses the prefix).")
    var role: String = "document"

    @Option(name: .long, help: "Texts per forward batch.")
    var batchSize: Int = 32

    func run() throws {
        guard format == "jsonl" || format == "npy" else { throw ValidationError("--format must be jsonl or npy") }
        if format == "npy" && output == nil { throw ValidationError("--format npy needs --output FILE") }
        guard let role = TextRole(rawValue: role) else { throw ValidationError("--role must be query or document") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        let extensions = try extensionOptions.extensions()
        guard extensions.count == 1 else { throw ValidationError("embed takes one --extension method") }
        try modelOptions.applyThreads()

        let data: Data
        if let input {
            guard FileManager.default.fileExists(atPath: input) else { throw CLIError("input file not found: \(input)") }
            data = try Data(contentsOf: URL(fileURLWithPath: input))
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let records = try InputRecords.parse(data)
        guard !records.isEmpty else { throw CLIError("no input: expected JSON lines {\"id\":..., \"text\":...} or text lines") }

        let options = EncoderOptions(pooling: try modelOptions.poolingMode(), maxTokens: modelOptions.maxTokens,
                                     prefixes: try modelOptions.prefixes(), contextExtension: extensions[0].value)
        let encoder = try Encoder(directory: URL(fileURLWithPath: modelOptions.model), options: options)

        var sink = try OutputSink(path: output, format: format, dimension: encoder.dimension)
        let progress = ProgressLine(label: "embed", total: records.count)
        var start = 0, tokens = 0
        while start < records.count {
            let end = min(start + batchSize, records.count)
            let batch = records[start..<end]
            let vectors = try encoder.embed(batch.map(\.text), role: role)
            for (record, vector) in zip(batch, vectors) {
                try sink.write(id: record.idJSON, vector: vector)
                tokens += encoder.tokenCount(record.text)
            }
            progress.update(done: end, tokens: tokens)
            start = end
        }
        progress.finish()
        try sink.finish()
    }
}

/// An error of the command line tool, shown as "Error: <message>" with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// One input line: its id (as JSON text) and text.
struct InputRecord {
    var idJSON: String
    var text: String
}

enum InputRecords {
    /// Parses JSON lines (`{"id": ..., "text": ...}`) or plain text lines. Invalid UTF-8 and
    /// malformed JSON are errors naming the line; blank lines are skipped.
    static func parse(_ data: Data) throws -> [InputRecord] {
        var records: [InputRecord] = []
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawLine
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            guard let line = String(validating: bytes, as: UTF8.self) else {
                throw CLIError("line \(lineNumber): invalid UTF-8")
            }
            if line.allSatisfy(\.isWhitespace) { continue }
            if line.first == "{" {
                guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                    throw CLIError("line \(lineNumber): malformed JSON")
                }
                guard let text = object["text"] as? String else {
                    throw CLIError("line \(lineNumber): JSON line has no string field \"text\"")
                }
                let idJSON: String
                if let id = object["id"] {
                    let encoded = try JSONSerialization.data(withJSONObject: [id], options: [.fragmentsAllowed])
                    idJSON = String(decoding: encoded.dropFirst().dropLast(), as: UTF8.self)
                } else {
                    idJSON = String(records.count)
                }
                records.append(InputRecord(idJSON: idJSON, text: text))
            } else {
                records.append(InputRecord(idJSON: String(records.count), text: line))
            }
        }
        return records
    }
}

/// Writes embeddings as JSON lines (streamed) or one .npy matrix; file outputs go to a temporary
/// file renamed into place at the end, so an interrupted run never leaves a partial file.
struct OutputSink {
    private let path: String?
    private let format: String
    private let dimension: Int
    private let handle: FileHandle
    private let tempPath: String?
    private var rows = 0
    private var npyValues: [Float] = []

    init(path: String?, format: String, dimension: Int) throws {
        self.path = path
        self.format = format
        self.dimension = dimension
        if let path {
            let temp = path + ".partial-\(getpid())"
            guard FileManager.default.createFile(atPath: temp, contents: nil) else {
                throw CLIError("cannot create output file \(path)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temp))
            tempPath = temp
        } else {
            handle = FileHandle.standardOutput
            tempPath = nil
        }
    }

    mutating func write(id: String, vector: [Float]) throws {
        rows += 1
        if format == "npy" {
            npyValues.append(contentsOf: vector)
            return
        }
        var line = "{\"id\":\(id),\"embedding\":["
        line.reserveCapacity(12 * vector.count)
        for (i, x) in vector.enumerated() {
            if i > 0 { line += "," }
            line += "\(x)"
        }
        line += "]}\n"
        try handle.write(contentsOf: Data(line.utf8))
    }

    mutating func finish() throws {
        if format == "npy" {
            try handle.write(contentsOf: NpyWriter.float32Matrix(rows: rows, cols: dimension, values: npyValues))
        }
        if let tempPath, let path {
            try handle.synchronize()
            try handle.close()
            if rename(tempPath, path) != 0 { throw CLIError("cannot move output into place at \(path)") }
        }
    }
}

enum NpyWriter {
    /// A version 1.0 .npy file holding a little-endian float32 C-order matrix.
    static func float32Matrix(rows: Int, cols: Int, values: [Float]) -> Data {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var data = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let len = UInt16(header.utf8.count)
        data.append(UInt8(len & 0xff)); data.append(UInt8(len >> 8))
        data.append(contentsOf: header.utf8)
        values.withUnsafeBufferPointer { data.append(UnsafeBufferPointer(start: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: UInt8.self), count: $0.count * 4)) }
        return data
    }
}
