/// Text prepended to queries and documents before tokenization.
///
/// Many retrieval models were trained with such prefixes; embedding without them loses accuracy.
public struct Prefixes: Sendable, Equatable, Hashable, Codable {
    public var query: String
    public var document: String

    public init(query: String = "", document: String = "") {
        self.query = query
        self.document = document
    }

    /// No prefixes (all-MiniLM, GTE, Contriever).
    public static let none = Prefixes()
    /// E5 family: "query: " / "passage: ".
    public static let e5 = Prefixes(query: "query: ", document: "passage: ")
    /// Nomic Embed: "search_query: " / "search_document: ".
    public static let nomic = Prefixes(query: "search_query: ", document: "search_document: ")
    /// BGE (English v1.5): an instruction before queries only.
    public static let bge = Prefixes(query: "Represent this sentence for searching relevant passages: ", document: "")

    /// Decoder embedders (E5-Mistral and those trained like it): `Instruct: {task}\nQuery: `
    /// before queries, nothing before documents. The task is LongEmbed's: its official
    /// evaluation gives every one of the six tasks the same description, "Given a web search
    /// query, retrieve relevant passages that answer the query".
    public static let instruct = instruction(task: "Given a web search query, retrieve relevant passages that answer the query")

    /// `Instruct: {task}\nQuery: ` before queries (E5-Mistral's template), nothing before documents.
    public static func instruction(task: String) -> Prefixes {
        Prefixes(query: "Instruct: \(task)\nQuery: ", document: "")
    }

    /// The preset named `name` ("none", "e5", "nomic", "bge", "instruct"), or nil.
    public static func preset(named name: String) -> Prefixes? {
        switch name.lowercased() {
        case "none": return Prefixes.none
        case "e5": return .e5
        case "nomic": return .nomic
        case "bge": return .bge
        case "instruct": return .instruct
        default: return nil
        }
    }

    /// The prefix for `role`.
    public func prefix(for role: TextRole) -> String { role == .query ? query : document }
}
