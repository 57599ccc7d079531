import ArgumentParser
import Foundation
import LongEmbed

/// `longembed models`: what a model folder is (family, sizes, positions, layer kinds, `Lo`,
/// pooling, modules, prefixes, parameters, applicable extension methods).
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe model folders: family, trained context Lo, pooling, prefixes, parameters and the extension methods that apply.")

    @Argument(help: "Hugging Face model folders (default: the model `make setup` fetched).")
    var folders: [String] = []

    @Option(name: .long, help: "A model folder (same as the argument).")
    var model: String?

    @Option(name: .long, help: "The model's trained context Lo in tokens (default: the per-family rule).")
    var contextLength: Int?

    func run() throws {
        var paths = folders + (model.map { [$0] } ?? [])
        if paths.isEmpty { paths = [".models/all-MiniLM-L6-v2"] }
        for (i, path) in paths.enumerated() {
            let m = try Model(directory: URL(fileURLWithPath: path), contextLength: contextLength)
            if i > 0 { print("") }
            let width = m.summary.map(\.0.count).max() ?? 0
            for (key, value) in m.summary {
                print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
            }
        }
    }
}
