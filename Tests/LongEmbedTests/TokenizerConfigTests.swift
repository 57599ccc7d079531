import Foundation
import Testing
@testable import LongEmbed

/// `tokenizer_config.json`'s `add_bos_token` / `add_eos_token` over a `tokenizer.json`, as
/// transformers 5 loads the pair (`TokenizersBackend`: an explicit flag rebuilds the
/// post-processor as `[bos] $A [eos]`, a missing flag counting as false).
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
        let unrelated = try Self.load(config: #"{"model_max_length": 4096, "eos_token": "</s>"}"#)
        #expect(unrelated.prefixIDs == [1] && unrelated.suffixIDs == [])
        let e5 = try Self.load(config: #"{"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}}"#)
        #expect(e5.prefixIDs == [1] && e5.suffixIDs == [2])
        let content = e5.encode("hello", addSpecialTokens: false)
        #expect(e5.encode("hello") == [1] + content + [2])
        #expect(e5.encode("a", pair: "b").ids == [1] + e5.encode("a", addSpecialTokens: false) + [2, 1]
            + e5.encode("b", addSpecialTokens: false) + [2])
        // Only the EOS flag: BOS counts as false (transformers' default), so <s> goes.
        let eosOnly = try Self.load(config: #"{"add_eos_token": true, "eos_token": "</s>"}"#)
        #expect(eosOnly.prefixIDs == [] && eosOnly.suffixIDs == [2])
        // A flag without its token adds nothing.
        let noToken = try Self.load(config: #"{"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>"}"#)
        #expect(noToken.prefixIDs == [1] && noToken.suffixIDs == [])
    }

    @Test(arguments: [
        (#"{"add_eos_token": true, "eos_token": "<|no such token|>"}"#, "does not have"),
        (#"{"add_eos_token": "yes", "eos_token": "</s>"}"#, "add_eos_token must be true or false"),
        (#"{"add_eos_token": true, "eos_token": 7}"#, "eos_token must be"),
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
