import Foundation
import Testing
@testable import LongEmbed

/// A Llama-style `tokenizer_config.json`'s `add_bos_token` / `add_eos_token` over a
/// `tokenizer.json`, as transformers 4.x's `LlamaTokenizerFast` applied them (E5-Mistral's `</s>`).
@Suite struct TokenizerConfigTests {
    /// Llama-2's tokenizer.json (its template: `<s> $A`; `<s>` = 1, `</s>` = 2) with `config`
    /// as tokenizer_config.json (nil: none).
    static func load(config: String?) throws -> Tokenizer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokcfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: TestSupport.golden.appendingPathComponent("tokenizers/llama2/tokenizer.json"),
                                         to: dir.appendingPathComponent("tokenizer.json"))
        if let config { try Data(config.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json")) }
        return try Tokenizer.load(directory: dir)
    }

    @Test func e5MistralStyleConfigAppendsTheEOS() throws {
        let plain = try Self.load(config: nil)
        #expect(plain.prefixIDs == [1] && plain.suffixIDs == [])
        // Other classes keep tokenizer.json's template, whatever the flags say.
        let generic = try Self.load(config: #"{"tokenizer_class": "PreTrainedTokenizerFast", "add_eos_token": true, "eos_token": "</s>"}"#)
        #expect(generic.prefixIDs == [1] && generic.suffixIDs == [])
        let e5 = try Self.load(config: #"{"tokenizer_class": "LlamaTokenizer", "add_bos_token": true, "add_eos_token": true, "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}}"#)
        #expect(e5.prefixIDs == [1] && e5.suffixIDs == [2])
        let content = e5.encode("hello", addSpecialTokens: false)
        #expect(e5.encode("hello") == [1] + content + [2])
        #expect(e5.encode("a", pair: "b").ids == [1] + e5.encode("a", addSpecialTokens: false) + [2, 1]
            + e5.encode("b", addSpecialTokens: false) + [2])
        // The defaults of LlamaTokenizerFast: add_bos_token true, add_eos_token false.
        let defaults = try Self.load(config: #"{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "eos_token": "</s>"}"#)
        #expect(defaults.prefixIDs == [1] && defaults.suffixIDs == [])
        let eosOnly = try Self.load(config: #"{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": false, "add_eos_token": true, "eos_token": "</s>"}"#)
        #expect(eosOnly.prefixIDs == [] && eosOnly.suffixIDs == [2])
        // A flag without its token adds nothing.
        let noToken = try Self.load(config: #"{"tokenizer_class": "GemmaTokenizerFast", "add_eos_token": true, "bos_token": "<s>"}"#)
        #expect(noToken.prefixIDs == [1] && noToken.suffixIDs == [])
    }

    @Test(arguments: [
        (#"{"tokenizer_class": "LlamaTokenizer", "add_eos_token": true, "eos_token": "<|no such token|>"}"#, "does not have"),
        (#"{"tokenizer_class": "LlamaTokenizer", "add_eos_token": "yes", "eos_token": "</s>"}"#, "add_eos_token must be true or false"),
        (#"{"tokenizer_class": "LlamaTokenizer", "add_eos_token": true, "eos_token": 7}"#, "eos_token must be"),
        (#"{"add_eos_token": true,"#, "malformed JSON"),
        (#"[1, 2]"#, "not a JSON object"),
    ])
    func badTokenizerConfigsAreTypedErrors(config: String, mentions: String) throws {
        do {
            _ = try Self.load(config: config)
            Issue.record("accepted a tokenizer_config.json mentioning \(mentions)")
        } catch let error as ModelError {
            #expect("\(error)".contains(mentions), "\(error)")
        }
    }
}
