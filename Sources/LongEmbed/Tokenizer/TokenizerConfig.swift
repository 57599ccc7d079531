import Foundation

/// What a folder's `tokenizer_config.json` changes in the `tokenizer.json` it sits beside:
/// for the Llama-style tokenizer classes (`LlamaTokenizer`, `CodeLlamaTokenizer`,
/// `GemmaTokenizer`, fast or not) the post-processor is rebuilt as `[bos] $A [eos]` from
/// `add_bos_token` (default true) and `add_eos_token` (default false), as transformers 4.x's
/// `LlamaTokenizerFast.update_post_processor` did when it loaded the folder. This is how
/// E5-Mistral appends the `</s>` it pools (its `tokenizer.json` only prepends `<s>`), and what the
/// official LongEmbed code feeds it. transformers 5.23 drops both flags when a `tokenizer.json`
/// exists and feeds no `</s>` (mteb pull request #5237 restores it for e5-mistral); the model's
/// own convention is kept here. Other tokenizer classes keep `tokenizer.json`'s template.
struct SpecialTokenRule: Equatable, Sendable {
    var bos: String?
    var eos: String?

    /// The tokenizer classes whose fast tokenizers rebuilt their template from the flags.
    static let rebuildingClasses: Set<String> = ["LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer",
                                                 "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast"]

    /// The rule of `directory/tokenizer_config.json`; nil when the file is absent or its class
    /// keeps the `tokenizer.json` template.
    static func read(directory: URL) throws(ModelError) -> SpecialTokenRule? {
        let url = directory.appendingPathComponent("tokenizer_config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else { return nil }
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch {
            throw .invalidTokenizer(path: url.path, reason: "malformed JSON: \(error.message) at byte \(error.offset)")
        }
        guard let object = root.objectValue else { throw .invalidTokenizer(path: url.path, reason: "not a JSON object") }
        guard let name = object["tokenizer_class"]?.stringValue, rebuildingClasses.contains(name) else { return nil }
        func flag(_ key: String, default value: Bool) throws(ModelError) -> Bool {
            guard let v = object[key], !v.isNull else { return value }
            guard let b = v.boolValue else { throw .invalidTokenizer(path: url.path, reason: "\(key) must be true or false, got \(v.brief)") }
            return b
        }
        func token(_ key: String) throws(ModelError) -> String? {
            guard let v = object[key], !v.isNull else { return nil }
            // A string, or an AddedToken dictionary with its "content".
            if let s = v.stringValue ?? v.objectValue?["content"]?.stringValue { return s }
            throw .invalidTokenizer(path: url.path, reason: "\(key) must be a string or a token object, got \(v.brief)")
        }
        let addBOS = try flag("add_bos_token", default: true), addEOS = try flag("add_eos_token", default: false)
        return SpecialTokenRule(bos: addBOS ? try token("bos_token") : nil, eos: addEOS ? try token("eos_token") : nil)
    }
}

extension TemplateProcessor {
    /// The `[bos] $A [eos]` / `[bos] $A [eos] [bos] $B [eos]` template of a ``SpecialTokenRule``
    /// (B typed 1), with the tokens' ids.
    init(bos: Int32?, eos: Int32?) {
        func sequence(_ isB: Bool) -> [Piece] {
            let t: Int32 = isB ? 1 : 0
            return (bos.map { [Piece.special([$0], typeID: t)] } ?? []) + [.sequence(isB: isB, typeID: t)]
                + (eos.map { [Piece.special([$0], typeID: t)] } ?? [])
        }
        self.init(single: sequence(false), pair: sequence(false) + sequence(true))
    }
}
