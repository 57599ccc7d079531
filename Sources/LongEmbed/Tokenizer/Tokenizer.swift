import Foundation

/// A tokenizer built from a Hugging Face `tokenizer.json`, as the `tokenizers` library defines
/// it: added tokens are matched first, then each remaining piece runs through the pipeline
/// normalizer -> pre-tokenizer -> model -> post-processor, and `decode` through the decoder.
///
/// Models: WordPiece, BPE (byte-level and SentencePiece-style with byte fallback) and Unigram.
/// Every normalizer, pre-tokenizer, post-processor and decoder the README lists is implemented;
/// a file naming anything else is an ``ModelError/unsupportedTokenizerComponent(path:component:)``
/// error, never an approximation. The file's truncation and padding sections are ignored:
/// truncation happens only when asked for.
///
/// ```swift
/// let tokenizer = try Tokenizer(url: URL(fileURLWithPath: "tokenizer.json"))
/// let ids = tokenizer.encode("Hello world")          // with the template's special tokens
/// let text = tokenizer.decode(ids)                    // special tokens skipped
/// ```
public final class Tokenizer: Sendable {
    /// One more than the largest token id of the vocabulary and added tokens.
    public var vocabSize: Int { idToToken.count }
    /// The largest token id of the vocabulary and added tokens. Every id the tokenizer emits is
    /// at most this; a model whose embedding table has fewer rows cannot run it (see
    /// ``validate(vocabSize:)``).
    public var maxTokenID: Int { idToToken.count - 1 }
    /// The special tokens the post-processor puts before a single sequence (`[CLS]`, `<s>`,
    /// `<|begin_of_text|>`; empty when none).
    public let prefixIDs: [Int32]
    /// The special tokens the post-processor puts after a single sequence (`[SEP]`, `</s>`).
    public let suffixIDs: [Int32]
    /// The first token before a single sequence (`[CLS]` for BERT), or -1 when none.
    public var clsID: Int32 { prefixIDs.first ?? -1 }
    /// The last token after a single sequence (`[SEP]` for BERT), or -1 when none.
    public var sepID: Int32 { suffixIDs.last ?? -1 }

    /// Slack over the number of entries that token ids may reach: ids must be below
    /// `2 * (vocabulary entries + added tokens) + idSlack`. Real vocabularies are dense, so this
    /// only rejects files whose id -> token table would be far larger than the file.
    public static let idSlack = 1024

    private let path: String
    private let normalizer: (any TextNormalizer)?
    private let preTokenizer: (any PreTokenizer)?
    private let model: any TokenModel
    private let postProcessor: (any PostProcessor)?
    private let decoder: (any TokenDecoder)?
    private let added: AddedTokens
    private let idToToken: [String]
    private let specialIDs: Set<Int32>

    /// Reads `tokenizer.json` from `directory`, with the special tokens a Llama-style
    /// `tokenizer_config.json` asks for through `add_bos_token` / `add_eos_token` (see
    /// ``SpecialTokenRule``: E5-Mistral's appended `</s>`).
    public static func load(directory: URL) throws(ModelError) -> Tokenizer {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw .tokenizerMissing(path: directory.path) }
        return try Tokenizer(root: try readRoot(url), rule: try SpecialTokenRule.read(directory: directory))
    }

    /// Reads a `tokenizer.json` file (a leading UTF-8 byte-order mark is ignored).
    ///
    /// Every token id must be a JSON integer in `0..<2 * (entries + added tokens) + idSlack`,
    /// two different tokens may not share an id, and an added token already in the vocabulary
    /// must keep its vocabulary id.
    public convenience init(url: URL) throws(ModelError) {
        try self.init(root: try Self.readRoot(url))
    }

    /// A tokenizer from the JSON object of a `tokenizer.json` (or one built to the same layout,
    /// as from a GGUF vocabulary); errors name `root.file`.
    init(root: TokenizerSpec, rule: SpecialTokenRule? = nil) throws(ModelError) {
        path = root.file
        guard let modelSpec = try root.child("model") else { throw root.invalid("no \"model\" section") }
        model = try TokenModelFactory.make(modelSpec)
        normalizer = try root.child("normalizer").map(NormalizerFactory.make)
        preTokenizer = try root.child("pre_tokenizer").map(PreTokenizerFactory.make)
        decoder = try root.child("decoder").map(DecoderFactory.make)
        let vocab = model.vocabulary
        let entries = vocab.count + (root.value("added_tokens")?.arrayValue?.count ?? 0)
        let tokens = try AddedTokens.parse(root, limit: min(2 * entries + Self.idSlack, Int(Int32.max)))
        idToToken = try Self.mergedTable(vocab, tokens, root)
        added = AddedTokens(tokens, normalizer: normalizer)
        specialIDs = Set(tokens.filter(\.special).map(\.id))
        let post: (any PostProcessor)?
        if let rule {
            func id(_ name: String?) throws(ModelError) -> Int32? {
                guard let name else { return nil }
                let bytes = Array(name.utf8)
                if let t = tokens.first(where: { Array($0.content.utf8) == bytes }) { return t.id }
                if let v = vocab.id(name) { return v }
                throw root.invalid("tokenizer_config.json adds the token \(name.debugDescription), which tokenizer.json does not have")
            }
            post = TemplateProcessor(bos: try id(rule.bos), eos: try id(rule.eos))
        } else {
            post = try root.child("post_processor").flatMap(PostProcessorFactory.make)
        }
        postProcessor = post
        (prefixIDs, suffixIDs) = post?.singleAffixes ?? ([], [])
        for id in prefixIDs + suffixIDs where Int(id) >= idToToken.count || idToToken[Int(id)].isEmpty {
            throw root.invalid("the post-processor adds token id \(id), which no token has")
        }
    }

    private static func readRoot(_ url: URL) throws(ModelError) -> TokenizerSpec {
        guard let data = try ModelJSON.contentsIfPresent(url) else { throw .tokenizerMissing(path: url.path) }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(data) } catch {
            throw .invalidTokenizer(path: url.path, reason: "not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard let root = parsed.objectValue else { throw .invalidTokenizer(path: url.path, reason: "not a JSON object") }
        return TokenizerSpec(root, file: url.path, place: "")
    }

    /// The id -> token table of the model's vocabulary and the added tokens.
    private static func mergedTable(_ vocab: Vocabulary, _ tokens: [AddedToken], _ root: TokenizerSpec) throws(ModelError) -> [String] {
        var table = vocab.tokens
        for t in tokens {
            if let known = vocab.id(t.content), known != t.id {
                throw root.invalid("added token \(t.content.debugDescription) has id \(t.id), but the vocabulary gives it \(known)")
            }
            let i = Int(t.id)
            if i >= table.count { table += [String](repeating: "", count: i + 1 - table.count) }
            if !table[i].isEmpty && !table[i].utf8.elementsEqual(t.content.utf8) {
                throw root.invalid("tokens \(table[i].debugDescription) and \(t.content.debugDescription) share id \(t.id)")
            }
            table[i] = t.content
        }
        return table
    }

    /// Throws unless every token id is below `vocabSize` (the rows of the model's embedding
    /// table, `vocab_size` in config.json).
    public func validate(vocabSize: Int) throws(ModelError) {
        guard maxTokenID < vocabSize else {
            throw .invalidTokenizer(path: path, reason: "token \(idToToken[maxTokenID].debugDescription) has id \(maxTokenID), but the model's vocab_size is \(vocabSize)")
        }
    }

    // MARK: Encoding

    /// Token ids of `text` without any special token of the post-processor.
    private func contentIDs(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 2)
        var words: [TextPiece] = []
        for segment in added.segments(text, normalizer: normalizer) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let piece):
                words.removeAll(keepingCapacity: true)
                if let preTokenizer { preTokenizer.split(piece, into: &words) } else { words.append(piece) }
                for w in words where !w.text.isEmpty { model.tokenize(w.text, into: &ids) }
            }
        }
        return ids
    }

    /// Token ids of `text`, with the post-processor's special tokens when `addSpecialTokens`
    /// (`tokenizers`' `encode(text, add_special_tokens=...).ids`).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        let ids = contentIDs(text)
        return addSpecialTokens ? prefixIDs + ids + suffixIDs : ids
    }

    /// Token ids and token type ids of a pair of texts (`tokenizers`' `encode(a, b)`).
    public func encode(_ text: String, pair: String, addSpecialTokens: Bool = true) -> (ids: [Int32], typeIDs: [Int32]) {
        let a = contentIDs(text), b = contentIDs(pair)
        if addSpecialTokens, let postProcessor { return postProcessor.process(a, b) }
        return (a + b, [Int32](repeating: 0, count: a.count) + [Int32](repeating: 1, count: b.count))
    }

    /// Token ids of `text` with special tokens, cut to at most `maxTokens`: the first
    /// `maxTokens` minus the special tokens' count content tokens between the prefix and suffix
    /// tokens, as sentence-transformers truncates; `nil` keeps everything.
    public func encode(_ text: String, maxTokens: Int?) -> [Int32] {
        var content = contentIDs(text)
        if let m = maxTokens {
            let keep = max(0, m - prefixIDs.count - suffixIDs.count)
            if content.count > keep { content.removeSubrange(keep...) }
        }
        return prefixIDs + content + suffixIDs
    }

    /// Token strings of `text` (no special tokens added), for inspection.
    public func tokens(_ text: String) -> [String] {
        encode(text, addSpecialTokens: false).map { token(for: $0) ?? "" }
    }

    /// The token string of `id`, or nil when no token has that id.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < idToToken.count && !idToToken[Int(id)].isEmpty ? idToToken[Int(id)] : nil
    }

    // MARK: Decoding

    /// Text from ids as `tokenizers`' `decode` gives it: ids mapped to token strings (special
    /// added tokens left out when `skipSpecialTokens`, unknown ids ignored), then the decoder
    /// chain, joined; without a decoder the tokens are joined with spaces.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = true) -> String {
        let tokens = ids.compactMap { id -> String? in
            if skipSpecialTokens && specialIDs.contains(id) { return nil }
            return token(for: id)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// transformers' `clean_up_tokenization_spaces` on a whole decoded string (what
    /// `PreTrainedTokenizer.decode` adds on top of ``decode(_:skipSpecialTokens:)``).
    public static func cleanUpTokenizationSpaces(_ text: String) -> String { WordPieceDecoder.cleanUp(text) }
}
