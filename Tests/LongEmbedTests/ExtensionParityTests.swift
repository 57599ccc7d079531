import Foundation
import Testing
import LongEmbed

/// Every context-extension method against golden data computed by HF transformers and by the
/// official LongEmbed code (Tests/Fixtures/extension, e5rope, official).
@Suite struct ExtensionParityTests {
    static let miniLM = TestSupport.defaultModel

    // MARK: all-MiniLM-L6-v2 (absolute positions), HF BertModel with hand-supplied positions

    static let apeKeys: [(key: String, method: ContextExtension.Method, scaling: Bool)] = [
        ("gp", .groupedPositions(), false), ("rp", .recurrentPositions, false), ("pi", .positionInterpolation(), false),
        ("gp_s", .groupedPositions(), true), ("rp_s", .recurrentPositions, true), ("pi_s", .positionInterpolation(), true),
        ("pcw", .parallelContextWindows, false),
    ]

    @Test(arguments: 0..<7)
    func miniLMExtend2048MatchesHF(methodIndex: Int) throws {
        let docs = try #require(try Golden.json("extension/minilm_ape_extend2048.json") as? [[String: Any]])
        let (key, method, scaling) = Self.apeKeys[methodIndex]
        let ext = ContextExtension(method, targetLength: 2048, attentionScaling: scaling)
        let encoder = try Encoder(directory: Self.miniLM, options: EncoderOptions(contextExtension: ext))
        let texts = try docs.map { try #require($0["text"] as? String) }
        for (doc, text) in zip(docs, texts) {
            let nTokens = try #require(doc["n_tokens"] as? Int)
            #expect(encoder.tokenize(text).count == nTokens)
        }
        let vectors = try encoder.embed(texts, role: .document)
        for (doc, v) in zip(docs, vectors) {
            let diff = try TestSupport.maxAbsDiff(Golden.floats(doc[key]), v)
            let docID = try #require(doc["doc_id"])
            #expect(diff <= 1e-4, "\(key) \(docID): max abs diff \(diff)")
        }
    }

    // MARK: all-MiniLM-L6-v2 through the official LongEmbed pipeline

    @Test(arguments: ["truncate512_1024", "gp_1024_attnscale", "rp_1024_attnscale", "pi_1024_attnscale",
                      "gp_1024_noscale", "rp_1024_noscale", "pi_1024_noscale", "pcw_1024",
                      "truncate512_2048", "gp_2048_attnscale", "rp_2048_attnscale", "pi_2048_attnscale",
                      "gp_2048_noscale", "rp_2048_noscale", "pi_2048_noscale", "pcw_2048"])
    func miniLMOfficialPipeline(setting: String) throws {
        let apeRoot = try #require(try Golden.json("official/ape_minilm/embeddings.json") as? [String: Any])
        let settings = try #require(apeRoot["settings"] as? [String: [String: Any]])
        let inputs = try #require(try Golden.json("official/inputs/texts_and_ids.json") as? [String: Any])
        let items = try #require(inputs["items"] as? [String: [String: Any]])
        let s = try #require(settings[setting])
        let docKey = try #require(s["doc"] as? String)
        let item = try #require(items[docKey])
        let n = try #require(item["n_tokens"] as? Int)
        let scaling = setting.hasSuffix("attnscale")
        let method: ContextExtension.Method
        switch setting.split(separator: "_")[0] {
        case "truncate512": method = .none
        case "gp": method = .groupedPositions()
        case "rp": method = .recurrentPositions
        case "pi": method = .positionInterpolation()
        default: method = .parallelContextWindows
        }
        let ext = ContextExtension(method, targetLength: n, attentionScaling: scaling, official: .all)
        // The official pipeline truncates at encode_max_length (512 for truncation and PCW, n otherwise).
        let cap = try #require(s["encode_max_length"] as? NSNumber).intValue
        let encoder = try Encoder(directory: Self.miniLM,
                                  options: EncoderOptions(maxTokens: method == .none ? cap : nil, contextExtension: ext))
        let text = try #require(item["text"] as? String)
        let v = try #require(try encoder.embed([text], role: .document).first)
        let diff = try TestSupport.maxAbsDiff(Golden.floats(s["embedding"]), v)
        #expect(diff <= 1e-5, "\(setting): max abs diff \(diff)")
        if let positions = s["position_ids"] as? [[NSNumber]] {
            let ours = ext.positions(tokenCount: n, originalLength: 512)
            let official = try #require(positions.first, "\(setting): empty position_ids")
            #expect(ours == official.map { $0.doubleValue } || method == .positionInterpolation(),
                    "\(setting): position ids differ")
        }
    }

    // MARK: tiny E5-RoPE through the official code

    static let e5Cases: [(name: String, ext: ContextExtension)] = [
        ("plain_1024", ContextExtension(.extrapolation, targetLength: 1024)),
        ("plain_2000", ContextExtension(.extrapolation, targetLength: 2000)),
        ("noscale_1024", ContextExtension(.extrapolation, targetLength: 1024, attentionScaling: false)),
        ("noscale_2000", ContextExtension(.extrapolation, targetLength: 2000, attentionScaling: false)),
        ("ntk30000_1024", ContextExtension(.ntk(lambda: 3), targetLength: 1024)),
        ("ntk50000_2000", ContextExtension(.ntk(lambda: 5), targetLength: 2000)),
        ("ntk100000_2000", ContextExtension(.ntk(lambda: 10), targetLength: 2000)),
        ("se_g3_w256_1024", ContextExtension(.selfExtend(group: 3, window: 256), targetLength: 1024, official: .all)),
        ("se_g9_w64_2000", ContextExtension(.selfExtend(group: 9, window: 64), targetLength: 2000, official: .all)),
        ("se_g5_w128_300", ContextExtension(.selfExtend(group: 5, window: 128), targetLength: 512, official: .all)),
    ]

    @Test(arguments: 0..<10)
    func e5RoPEMatchesOfficialCode(caseIndex: Int) throws {
        let (name, ext) = Self.e5Cases[caseIndex]
        let cases = try #require(try Golden.json("e5rope/cases.json") as? [[String: Any]])
        let c = try #require(cases.first { $0["name"] as? String == name })
        let ids = try Golden.ids(c["ids"])
        let encoder = try Encoder(directory: Golden.e5ropeModel, options: EncoderOptions(contextExtension: ext))
        let hidden = try encoder.lastHiddenState(ids: ids)
        let golden = try TestSupport.loadNpy(TestSupport.golden.appendingPathComponent("e5rope/\(name)_last_hidden_state.npy"))
        let hdiff = try TestSupport.maxAbsDiff(golden.values, hidden)
        #expect(hdiff <= 1e-3, "\(name) hidden: \(hdiff)")
        let e = try #require(try encoder.embed(tokenIDs: [ids]).first)
        let ediff = try TestSupport.maxAbsDiff(Golden.floats(c["embedding"]), e)
        #expect(ediff <= 1e-4, "\(name) embedding: \(ediff)")
    }

    /// The second, larger official set: hidden states within 1e-4, embeddings within 1e-5.
    @Test(arguments: ["plain_512", "plain_1024_attnscale", "plain_2000_noscale", "pi_linear_s4_2000_attnscale",
                      "pi_linear_s4_2000_noscale", "ntk_theta50000_2000_noscale", "selfextend_g3_w256_512",
                      "selfextend_g3_w256_1024", "selfextend_g9_w64_2000", "selfextend_g5_w128_300"])
    func e5RoPEOfficialSecondSet(setting: String) throws {
        let root = try #require(try Golden.json("official/e5rope_tiny/embeddings.json") as? [String: Any])
        let settings = try #require(root["settings"] as? [String: [String: Any]])
        let s = try #require(settings[setting])
        let inputs = try #require(try Golden.json("official/inputs/texts_and_ids.json") as? [String: Any])
        let items = try #require(inputs["items"] as? [String: [String: Any]])
        let inputIDsKey = try #require(s["input_ids_key"] as? String)
        let ids = try Golden.ids(try #require(items[inputIDsKey])["input_ids"])
        let n = ids.count
        let scaling = !setting.hasSuffix("noscale")
        let ext: ContextExtension
        if setting.hasPrefix("pi_linear_s4") {
            ext = ContextExtension(.positionInterpolation(factor: 4), targetLength: n, attentionScaling: scaling)
        } else if setting.hasPrefix("ntk") {
            let theta = try #require(s["rope_theta"] as? NSNumber).doubleValue
            ext = ContextExtension(.ntk(lambda: theta / 10_000), targetLength: n, attentionScaling: scaling)
        } else if setting.hasPrefix("selfextend") {
            let group = try #require(s["g"] as? NSNumber).intValue
            let window = try #require(s["w"] as? NSNumber).intValue
            ext = ContextExtension(.selfExtend(group: group, window: window),
                                   targetLength: max(n, 512), official: .all)
        } else {
            ext = ContextExtension(.extrapolation, targetLength: max(n, 512), attentionScaling: scaling)
        }
        let model = TestSupport.golden.appendingPathComponent("official/e5rope_tiny/model")
        let encoder = try Encoder(directory: model, options: EncoderOptions(contextExtension: ext))
        let hidden = try encoder.lastHiddenState(ids: ids)
        let hiddenFile = try #require(s["hidden_file"] as? String)
        let golden = try TestSupport.loadNpy(TestSupport.golden.appendingPathComponent("official/e5rope_tiny/\(hiddenFile)"))
        let hdiff = try TestSupport.maxAbsDiff(golden.values, hidden)
        #expect(hdiff <= 1e-4, "\(setting) hidden: \(hdiff)")
        let e = try #require(try encoder.embed(tokenIDs: [ids]).first)
        let ediff = try TestSupport.maxAbsDiff(Golden.floats(s["embedding"]), e)
        #expect(ediff <= 1e-5, "\(setting) embedding: \(ediff)")
    }

    /// Long inputs through the whole encoder: native kernels against the Swift oracle at 1536
    /// tokens (SelfExtend's grouped rotations included), and an 8192-token document on the
    /// native path with SelfExtend, PI, NTK and YaRN.
    @Test func longInputsNativeMatchesReferenceAndRunsPast8k() throws {
        let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
        let text = String(repeating: filler, count: 400)
        let se = ContextExtension(.selfExtend(group: 5, window: 128), targetLength: 1536)
        let native = try Encoder(directory: Golden.e5ropeModel, options: EncoderOptions(contextExtension: se), kernels: NativeKernels())
        let reference = try Encoder(directory: Golden.e5ropeModel, options: EncoderOptions(contextExtension: se), kernels: ReferenceKernels())
        let ids = native.tokenize(text)
        #expect(ids.count == 1536)
        let a = try native.lastHiddenState(ids: ids), b = try reference.lastHiddenState(ids: ids)
        #expect(try TestSupport.nmse(b, a) <= 1e-8)
        let long = String(repeating: filler, count: 350)
        for method in [ContextExtension.Method.selfExtend(), .positionInterpolation(), .ntk(), .yarn(), .dynamicNTK()] {
            let encoder = try Encoder(directory: Golden.e5ropeModel,
                                      options: EncoderOptions(contextExtension: ContextExtension(method, targetLength: 8192)))
            #expect(encoder.tokenize(long).count == 8192)
            let v = try #require(try encoder.embed([long], role: .document).first)
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(v.allSatisfy { $0.isFinite } && abs(norm - 1) < 1e-5, "\(method.name)")
        }
    }

    // MARK: exact position ids

    @Test func positionIDsOfEachMethod() {
        // The paper's formulas on short inputs too (by default those keep their positions).
        func pos(_ m: ContextExtension.Method, _ n: Int, lt: Int = 2048, lo: Int = 512) -> [Double] {
            ContextExtension(m, targetLength: lt, remapShortInputs: true).positions(tokenCount: n, originalLength: lo)
        }
        #expect(pos(.groupedPositions(), 10, lt: 2048) == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
        #expect(pos(.groupedPositions(factor: 3), 7) == [0, 0, 0, 1, 1, 1, 2])
        #expect(pos(.recurrentPositions, 7, lo: 3) == [0, 1, 2, 0, 1, 2, 0])
        #expect(pos(.positionInterpolation(), 5, lt: 1024) == [0, 0.5, 1, 1.5, 2])
        #expect(pos(.ntk(), 4) == [0, 1, 2, 3])
        #expect(pos(.tunedPositionInterpolation(originalLength: 512, factor: 4), 4) == [0, 4, 8, 12])
        #expect(pos(.tunedPositionInterpolation(originalLength: 4, factor: 4), 6) == [0, 1, 2, 3, 4, 5])
        // Official GP: divisor from the length padded to a multiple of 8.
        var official = ContextExtension(.groupedPositions(), targetLength: 4096)
        official.official.groupDivisorFromPaddedLength = true
        #expect(official.positions(tokenCount: 1030, originalLength: 512)[1029] == Double(1029 / 3))
        #expect(ContextExtension(.groupedPositions(), targetLength: 4096).positions(tokenCount: 1030, originalLength: 512)[1029] == Double(1029 / 8))
    }

    @Test func pcwChunkBoundaries() {
        let ext = ContextExtension(.parallelContextWindows, targetLength: 4096)
        // 1024 tokens with [CLS]/[SEP]: 1022 content tokens -> chunks at 0, 510 and the last 510.
        #expect(ext.chunkStarts(tokenCount: 1024, originalLength: 512) == [0, 510, 512])
        #expect(ext.chunkStarts(tokenCount: 2048, originalLength: 512) == [0, 510, 1020, 1530, 1536])
        #expect(ext.chunkStarts(tokenCount: 512, originalLength: 512) == [0])
        #expect(ext.chunkStarts(tokenCount: 1022, originalLength: 512) == [0, 510])
    }

    @Test func presetsFollowTable6() {
        #expect(ExtensionPresets.factor(targetLength: 4096, originalLength: 512) == 8)
        #expect(ExtensionPresets.factor(targetLength: 1000, originalLength: 512) == 2)
        #expect(ExtensionPresets.ntkLambda(factor: 2) == 3)
        #expect(ExtensionPresets.ntkLambda(factor: 4) == 5)
        #expect(ExtensionPresets.ntkLambda(factor: 8) == 10)
        #expect(ExtensionPresets.selfExtend(factor: 2, originalLength: 512) == (3, 256))
        #expect(ExtensionPresets.selfExtend(factor: 4, originalLength: 512) == (5, 128))
        #expect(ExtensionPresets.selfExtend(factor: 8, originalLength: 512) == (9, 64))
        #expect(ExtensionPresets.selfExtend(factor: 2, originalLength: 4096) == (3, 2048))
        #expect(ExtensionPresets.selfExtend(factor: 4, originalLength: 4096) == (5, 1024))
        #expect(ExtensionPresets.selfExtend(factor: 8, originalLength: 4096) == (9, 512))
    }

    @Test func attentionScalingFactor() {
        let ext = ContextExtension(.positionInterpolation(), targetLength: 2048)
        #expect(abs(ext.attentionFactor(tokenCount: 2048, originalLength: 512) - 1.2222222) < 1e-6)
        #expect(ext.attentionFactor(tokenCount: 300, originalLength: 512) == 1)
        var off = ext
        off.attentionScaling = false
        #expect(off.attentionFactor(tokenCount: 2048, originalLength: 512) == 1)
    }

    @Test func yarnAndDynamicNTKFrequencies() {
        let base = RoPEScaling.inverseFrequencies(headDim: 64, base: 10_000)
        let dyn = RoPEScaling.dynamicNTK(headDim: 64, base: 10_000, factor: 4, originalLength: 512, sequenceLength: 2048)
        // base' = 10000 * (4*2048/512 - 3)^(64/62) = 10000 * 13^(32/31)
        let expected = RoPEScaling.inverseFrequencies(headDim: 64, base: 10_000 * pow(13, 64.0 / 62.0))
        #expect(dyn == expected)
        #expect(RoPEScaling.dynamicNTK(headDim: 64, base: 10_000, factor: 4, originalLength: 512, sequenceLength: 500) == base)
        let y = RoPEScaling.yarn(headDim: 64, base: 10_000, factor: 4, originalLength: 512)
        #expect(abs(y.attentionFactor - (0.1 * log(4.0) + 1)) < 1e-12)
        // Highest frequencies are extrapolated (unchanged), lowest interpolated (divided by s).
        #expect(y.inverseFrequencies[0] == base[0])
        #expect(abs(y.inverseFrequencies[31] - base[31] / 4) <= base[31] * 1e-6)
        for j in 1..<32 { #expect(y.inverseFrequencies[j] <= base[j] * (1 + 1e-6)) }
    }
}
