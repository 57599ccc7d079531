/// Whether a text is a query or a document: models with prefixes (E5, Nomic, BGE) embed the two
/// differently.
public enum TextRole: String, Sendable, Codable {
    case query
    case document
}

/// Anything that turns texts into fixed-size, L2-normalized vectors. The evaluation runner is
/// written against this protocol; ``Encoder`` is the real implementation.
public protocol TextEmbedder: Sendable {
    /// A stable identity of the model and every setting that changes the vectors (weights hash,
    /// extension method and parameters, prefixes). Used as part of embedding-cache keys; may
    /// throw when the weights cannot be read to hash them.
    var identity: String { get throws }
    /// Vector length.
    var dimension: Int { get }
    /// Embeds `texts`; returns one L2-normalized vector per text, in order.
    func embed(_ texts: [String], role: TextRole) throws -> [[Float]]
    /// Tokens the embedder runs for `text` (for throughput reports).
    func tokenCount(_ text: String) -> Int
}

extension TextEmbedder {
    /// A rough count (4 UTF-8 bytes per token) for embedders without a tokenizer.
    public func tokenCount(_ text: String) -> Int { max(1, text.utf8.count / 4) }
}
