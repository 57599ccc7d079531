import ArgumentParser
import Foundation
import LongEmbed

/// `longembed bench tokenizer`: single-threaded encoding rate of one long document.
struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Time encoding one long document on one thread: tokens/s, median over rounds.")

    @Option(name: .long, help: "A tokenizer.json file.")
    var tokenizer: String

    @Option(name: .long, help: "Text to cut the document from (default: the needle haystack of `make setup`).")
    var text: String = ".cache/haystack/kjv.txt"

    @Option(name: .long, help: "Document length in tokens (the text is cut to about this many).")
    var tokens: Int = 32768

    @Option(name: .long, help: "Tokenize this file whole instead of cutting --text to --tokens (for side-by-side runs).")
    var document: String?

    @Option(name: .long, help: "Timed rounds (median reported), after one warm-up round.")
    var rounds: Int = 5

    func validate() throws {
        guard (1...(1 << 22)).contains(tokens), (1...1000).contains(rounds) else {
            throw ValidationError("--tokens must be between 1 and \(1 << 22) and --rounds between 1 and 1000")
        }
    }

    func run() throws {
        let tok = try Tokenizer(url: URL(fileURLWithPath: tokenizer))
        let path = self.document ?? text
        guard let data = FileManager.default.contents(atPath: path), let source = String(validating: data, as: UTF8.self) else {
            throw CLIError("cannot read UTF-8 text from \(path)")
        }
        let document = self.document == nil ? try Self.document(source, tokens: tokens, tok) : source
        var count = 0
        _ = tok.encode(document, addSpecialTokens: false)   // warm-up (fills the word cache as a real run would)
        let seconds = BenchmarkTimer.median(repeats: rounds) { count = tok.encode(document, addSpecialTokens: false).count }
        let rate = Double(count) / seconds
        print("tokenizer \(tokenizer): \(count) tokens, \(document.utf8.count) bytes; median \(String(format: "%.4f", seconds)) s over \(rounds) rounds; \(String(format: "%.0f", rate)) tokens/s")
        print(#"{"engine": "longembed", "tokens": \#(count), "seconds": \#(seconds), "tokens_per_second": \#(rate)}"#)
    }

    /// The leading part of `source` (repeated when short) holding about `tokens` tokens.
    static func document(_ source: String, tokens: Int, _ tok: Tokenizer) throws -> String {
        guard !source.isEmpty else { throw CLIError("the text file is empty") }
        let sample = String(source.prefix(20_000))
        let perChar = Double(max(1, tok.encode(sample, addSpecialTokens: false).count)) / Double(max(1, sample.count))
        let chars = Int(Double(tokens) / perChar)
        var doc = source
        while doc.count < chars { doc += "\n" + source }
        return String(doc.prefix(chars))
    }
}
