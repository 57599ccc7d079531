import Foundation

extension Model {
    /// Parameters loaded (the encoder and the sentence-transformers Dense modules).
    public var parameterCount: Int {
        let w = weights
        var n = w.word.count + (w.position?.count ?? 0) + (w.tokenType0?.count ?? 0)
        func norm(_ x: NormWeights?) -> Int { (x?.gamma.count ?? 0) + (x?.beta?.count ?? 0) }
        n += norm(w.embeddingNorm) + norm(w.finalNorm)
        for l in w.layers {
            n += l.qkv.count + (l.qkvBias?.count ?? 0) + (l.qNorm?.count ?? 0) + (l.kNorm?.count ?? 0)
            n += l.output.count + (l.outputBias?.count ?? 0) + l.ffnIn.count + (l.ffnInBias?.count ?? 0)
            n += l.ffnOut.count + (l.ffnOutBias?.count ?? 0)
            n += norm(l.attentionNorm) + norm(l.postAttentionNorm) + norm(l.ffnNorm) + norm(l.postFFNNorm)
        }
        for d in sentenceTransformers?.dense ?? [] { n += d.weight.count + (d.bias?.count ?? 0) }
        return n
    }

    /// Bytes the weights occupy in memory (16-bit matrices at 2 bytes a value, the rest at 4).
    public var weightBytes: Int {
        let w = weights
        let matrices = [w.word] + w.layers.flatMap { [$0.qkv, $0.output, $0.ffnIn, $0.ffnOut] }
        let matrixValues = matrices.reduce(0) { $0 + $1.count }
        return matrices.reduce(0) { $0 + $1.byteCount } + 4 * (parameterCount - matrixValues)
    }

    /// The formats the weight matrices are kept in, e.g. `bf16` or `fp32` (`bf16 + fp32` when mixed).
    public var weightFormats: String {
        let w = weights
        let formats = Set(([w.word] + w.layers.flatMap { [$0.qkv, $0.output, $0.ffnIn, $0.ffnOut] }).map { $0.halfFormat?.rawValue ?? "fp32" })
        return formats.sorted().joined(separator: " + ")
    }

    /// The context-extension methods that apply to this model (RoPE-only methods need RoPE;
    /// `tuned-pi` needs parameters and is API-only).
    public var applicableExtensions: [ExtensionKind] {
        ExtensionKind.parseable.filter { kind in
            guard let m = kind.method() else { return false }
            return !m.requiresRoPE || architecture.usesRoPE
        }
    }

    /// What the folder is, as `(field, value)` lines: family, sizes, positions, layer kinds,
    /// `Lo`, pooling, modules, prefixes, parameters and the extension methods that apply.
    public var summary: [(String, String)] {
        let a = architecture
        var lines: [(String, String)] = [
            ("folder", directory.path), ("family", "\(a.family.rawValue) (model_type \(a.modelType))"),
            ("layers", "\(a.layerCount) x hidden \(a.hiddenSize), \(a.heads) heads (\(a.kvHeads) kv) of dim \(a.headDim), FFN \(a.intermediateSize)"),
            ("block", "\(a.placement.rawValue)-norm \(Self.normName(a.norm)), \(a.feedForward.gated ? "gated " : "")\(a.feedForward.activation.rawValue) FFN"
                + (a.qkNorm ? ", q/k norm" : "") + (a.biases == .noBias ? ", no biases" : "")),
            ("positions", Self.positionsText(a)),
            ("attention", (a.causal ? "causal, " : "bidirectional, ") + Self.layerKindsText(a.layerKinds, causal: a.causal)),
            ("special tokens", specialTokensText),
            ("trained context Lo", trainedContext.description),
            ("pooling", pooling.rawValue + (sentenceTransformers?.normalize == true ? " + normalize" : "")
                + (sentenceTransformers == nil && declaredPooling != nil ? " (GGUF pooling_type)" : "")),
        ]
        if let dense = sentenceTransformers?.dense, !dense.isEmpty {
            lines.append(("dense modules", dense.map { "\($0.inFeatures)->\($0.outFeatures) \($0.activation.rawValue)" }.joined(separator: ", ")))
        }
        let p = defaultPrefixes
        lines.append(("prefixes", "query \(p.query.debugDescription), document \(p.document.debugDescription) (\(prefixSource))"))
        lines.append(("parameters", "\(parameterCount)"))
        lines.append(("weights in memory", "\(weightFormats), \(weightBytes) bytes"))
        lines.append(("extension methods", applicableExtensions.map(\.rawValue).joined(separator: ", ")))
        return lines
    }

    private static func normName(_ n: NormKind) -> String {
        switch n {
        case .layerNorm: return "LayerNorm"
        case .rmsNorm(let addOne): return addOne ? "RMSNorm (1 + w)" : "RMSNorm"
        }
    }

    private static func positionsText(_ a: ArchitectureDescription) -> String {
        switch a.positions {
        case .absolute(let rows, let offset):
            return "absolute table, \(rows) rows" + (offset > 0 ? " (positions start at row \(offset))" : "")
        case .rotary(let r):
            var s = "RoPE theta \(r.theta)"
            if a.hasSlidingLayers { s += ", local theta \(r.localTheta)" }
            if r.frequencyFactor != 1 { s += ", trained frequency factor \(r.frequencyFactor)" }
            if let f = r.frequencyDivisors, let lo = f.min(), let hi = f.max() {
                s += ", per-frequency divisors from rope_freqs (\(lo) to \(hi))"
            }
            if let l = r.llama3 {
                s += ", llama3 scaling x\(l.factor) (frequency factors \(l.lowFrequencyFactor)-\(l.highFrequencyFactor), original \(l.originalLength))"
            }
            return s + (r.interleaved ? ", interleaved pairs" : "")
        }
    }

    private static func layerKindsText(_ kinds: [LayerKind], causal: Bool) -> String {
        let global = kinds.indices.filter { kinds[$0] == .global }
        if global.count == kinds.count { return "global in all \(kinds.count) layers" }
        let windows = Set(kinds.compactMap { if case .sliding(let w) = $0 { w } else { nil } }).sorted()
        let band = (causal ? "i-j < " : "|i-j| < ") + windows.map(String.init).joined(separator: "/")
        if global.isEmpty { return "sliding \(band) in all \(kinds.count) layers" }
        return "global in layers \(global.map(String.init).joined(separator: ",")); sliding \(band) in the others"
    }

    /// The tokens the tokenizer puts around every text (a decoder's pooled last token is the
    /// appended EOS when there is one), as token strings.
    private var specialTokensText: String {
        let t = tokenizer
        func names(_ ids: [Int32]) -> String { ids.isEmpty ? "none" : ids.map { t.token(for: $0) ?? "#\($0)" }.joined(separator: " ") }
        return "before the text \(names(t.prefixIDs)), after it \(names(t.suffixIDs))"
    }
}
