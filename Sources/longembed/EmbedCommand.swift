import ArgumentParser
import Foundation
import LongEmbed

/// Output formats of `embed`.
enum EmbeddingFormat: String, ExpressibleByArgument, CaseIterable {
    case jsonl, npy
}

/// `longembed embed`: JSON lines or plain text lines in, embeddings out.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Embed texts: JSON lines {\"id\":..., \"text\":...} or plain text lines, from stdin or --input.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var extensionOptions: ExtensionOptions

    @Option(name: .long, help: "Input file (default: standard input).")
    var input: String?

    @Option(name: .long, help: "Output file (default: standard output). A regular file is replaced atomically; devices and FIFOs are written through.")
    var output: String?

    @Option(name: .long, help: "Output format (npy needs --output).")
    var format: EmbeddingFormat = .jsonl

    @Option(name: .long, help: "Embed as query or document (chooses the prefix).")
    var role: TextRole = .document

    @Option(name: .long, help: "Texts per forward batch.")
    var batchSize: Int = 32

    func validate() throws {
        if format == .npy && output == nil { throw ValidationError("--format npy needs --output FILE") }
        guard (1...CLIBounds.maxBatch).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and \(CLIBounds.maxBatch), got \(batchSize)")
        }
        guard extensionOptions.extensions.values.count == 1 else { throw ValidationError("embed takes one --extension method") }
    }

    func run() throws {
        if input == nil && StandardInput.wasClosed {
            throw CLIError("standard input is closed: pipe the texts in or pass --input FILE")
        }
        let extensions = try extensionOptions.contextExtensions()
        try modelOptions.applyThreads()
        let records = try InputRecords.parse(try InputRecords.read(path: input))
        guard !records.isEmpty else { throw CLIError("no input: expected JSON lines {\"id\":..., \"text\":...} or text lines") }

        let model = try modelOptions.loadModel()
        let options = EncoderOptions(pooling: modelOptions.pooling, maxTokens: modelOptions.maxTokens,
                                     prefixes: modelOptions.prefixes(for: model), contextExtension: extensions[0].value,
                                     dimensions: modelOptions.dimensions)
        let encoder = try Encoder(model: model, options: options)
        let sink = try OutputSink(path: output, format: format, dimension: encoder.dimension)
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
    /// The bytes of `path`, or of standard input when nil.
    static func read(path: String?) throws -> Data {
        do {
            if let path {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CLIError("input file not found: \(path)") }
                guard !isDir.boolValue else { throw CLIError("input \(path) is a directory") }
                return try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readToEnd() ?? Data()
            }
            return try FileHandle.standardInput.readToEnd() ?? Data()
        } catch let e as CLIError {
            throw e
        } catch {
            throw CLIError("cannot read \(path ?? "standard input"): \(error.localizedDescription)")
        }
    }

    /// Parses JSON lines (`{"id": ..., "text": ...}`) or plain text lines. Invalid UTF-8 and
    /// malformed JSON are errors naming the line; blank lines are skipped.
    static func parse(_ data: Data) throws -> [InputRecord] {
        var records: [InputRecord] = []
        var lineNumber = 0
        for rawLine in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var bytes = rawLine
            if lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }   // UTF-8 BOM
            if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
            guard let line = String(validating: bytes, as: UTF8.self) else {
                throw CLIError("line \(lineNumber): invalid UTF-8")
            }
            if line.allSatisfy(\.isWhitespace) { continue }
            if line.first == "{" {
                let parsed: TextLine
                do { parsed = try TextLine.parse(bytes) } catch { throw CLIError("line \(lineNumber): \(error.description)") }
                records.append(InputRecord(idJSON: parsed.idJSON ?? String(records.count), text: parsed.text))
            } else {
                records.append(InputRecord(idJSON: String(records.count), text: line))
            }
        }
        return records
    }
}

/// Writes embeddings as JSON lines (streamed) or one .npy matrix, to standard output or an
/// ``OutputFile`` (a regular file is replaced only when everything is written).
final class OutputSink {
    private let format: EmbeddingFormat
    private let dimension: Int
    private let file: OutputFile?
    private var rows = 0
    private var npyValues: [Float] = []

    init(path: String?, format: EmbeddingFormat, dimension: Int) throws {
        self.format = format
        self.dimension = dimension
        file = try path.map { p throws(OutputFileError) in try OutputFile(path: p) }
    }

    func write(id: String, vector: [Float]) throws {
        rows += 1
        if format == .npy {
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
        try emit(Data(line.utf8))
    }

    private func emit(_ data: Data) throws {
        if let file { try file.write(data) } else { try FileHandle.standardOutput.write(contentsOf: data) }
    }

    func finish() throws {
        if format == .npy { try emit(NpyWriter.float32Matrix(rows: rows, cols: dimension, values: npyValues)) }
        try file?.commit()
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
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }
}
