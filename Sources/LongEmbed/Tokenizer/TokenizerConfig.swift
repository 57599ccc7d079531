import Foundation

/// What a folder's `tokenizer_config.json` changes in the `tokenizer.json` it sits beside,
/// as transformers 5 loads the pair (`TokenizersBackend.__init__` and `update_post_processor`):
/// when the config sets `add_bos_token` or `add_eos_token` explicitly (or `tokenizer.json` has
/// no post-processor), the post-processor becomes `[bos] $A [eos]`, each token present only when
/// its flag is true (a missing flag is false) and the config names the token. This is how
/// E5-Mistral's Llama tokenizer appends `</s>`: its `tokenizer.json` only prepends `<s>`.
struct SpecialTokenRule: Equatable, Sendable {
    var bos: String?
    var eos: String?

    /// The rule of `directory/tokenizer_config.json`; nil when the file is absent or leaves the
    /// post-processor alone. `hasPostProcessor`: whether `tokenizer.json` has one.
    static func read(directory: URL, hasPostProcessor: Bool) throws(ModelError) -> SpecialTokenRule? {
        let url = directory.appendingPathComponent("tokenizer_config.json")
        guard let data = try ModelJSON.contentsIfPresent(url) else {
            return hasPostProcessor ? nil : SpecialTokenRule(bos: nil, eos: nil)
        }
        let root: JSONValue
        do { root = try JSONParser.parse(data) } catch {
            throw .invalidTokenizer(path: url.path, reason: "malformed JSON: \(error.message) at byte \(error.offset)")
        }
        guard let object = root.objectValue else { throw .invalidTokenizer(path: url.path, reason: "not a JSON object") }
        func flag(_ key: String) throws(ModelError) -> Bool? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let b = v.boolValue else { throw .invalidTokenizer(path: url.path, reason: "\(key) must be true or false, got \(v.brief)") }
            return b
        }
        let addBOS = try flag("add_bos_token"), addEOS = try flag("add_eos_token")
        guard addBOS != nil || addEOS != nil || !hasPostProcessor else { return nil }
        func token(_ key: String) throws(ModelError) -> String? {
            guard let v = object[key], !v.isNull else { return nil }
            // A string, or an AddedToken dictionary with its "content".
            if let s = v.stringValue ?? v.objectValue?["content"]?.stringValue { return s }
            throw .invalidTokenizer(path: url.path, reason: "\(key) must be a string or a token object, got \(v.brief)")
        }
        return SpecialTokenRule(bos: addBOS == true ? try token("bos_token") : nil,
                                eos: addEOS == true ? try token("eos_token") : nil)
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
