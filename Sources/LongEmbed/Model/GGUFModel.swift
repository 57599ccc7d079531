import Foundation

/// Where a model's tensors come from: a folder's safetensors (``WeightStore``) or a GGUF file
/// (``GGUFWeights``), each presenting the Hugging Face tensor names and PyTorch shapes.
protocol WeightSource: Sendable {
    /// Every tensor name, sorted.
    var names: [String] { get }
    func contains(_ name: String) -> Bool
    func shape(of name: String) -> [Int]?
    /// The first of `names` present, as fp32, checked to have exactly `shape` and finite values.
    func tensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> [Float]
    /// As ``tensor(anyOf:shape:)``, but a tensor the file stores in F16 or BF16 keeps its 16-bit
    /// values (the weights then stay in the file's dtype in memory).
    func loadedTensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> LoadedTensor
}

extension WeightStore: WeightSource {}

/// The tensors of a llama.cpp GGUF model file under the Hugging Face names of its family
/// (`blk.3.attn_q.weight` -> `layers.3.self_attn.q_proj.weight`), dequantized to fp32 when read
/// (``GGUFQuants``: every type it knows, bit-exact with ggml). ggml lists dimensions fastest
/// first, so a `[in, out]` entry is PyTorch's `[out, in]` with the same bytes.
final class GGUFWeights: WeightSource {
    let file: GGUFFile
    private let data: Data
    /// Hugging Face name -> index into `file.tensors`.
    private let byName: [String: Int]

    /// One architecture's renaming: llama.cpp's tensor names (llama.cpp `LLM_TENSOR_NAMES`, the
    /// `gguf` package's `TensorNameMap`) and the Hugging Face names its family's ``WeightMap`` reads.
    struct NameTable: Sendable {
        /// Whole-model tensors: GGUF name without `.weight`/`.bias` -> Hugging Face base name.
        let global: [(gguf: String, hf: String)]
        /// Layer `N`'s Hugging Face names start with this and `N.`.
        let layerPrefix: String
        /// Per-layer tensors: `blk.N.<gguf>` -> `<layerPrefix>N.<hf>`.
        let layer: [(gguf: String, hf: String)]
    }

    /// Llama, Qwen2 and Qwen3 files (`LlamaModel` names).
    static let decoderNames = NameTable(
        global: [("token_embd", "embed_tokens"), ("output_norm", "norm")], layerPrefix: "layers.",
        layer: [("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
                ("attn_output", "self_attn.o_proj"), ("attn_q_norm", "self_attn.q_norm"), ("attn_k_norm", "self_attn.k_norm"),
                ("attn_norm", "input_layernorm"), ("ffn_norm", "post_attention_layernorm"),
                ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj")])

    /// `bert` files (BERT, MiniLM, bge, e5 and other `BertModel` checkpoints): post-LayerNorm,
    /// split q/k/v, `ffn_up` is `intermediate.dense` and `layer_output_norm` the FFN's norm.
    static let bertNames = NameTable(
        global: [("token_embd", "embeddings.word_embeddings"), ("position_embd", "embeddings.position_embeddings"),
                 ("token_types", "embeddings.token_type_embeddings"), ("token_embd_norm", "embeddings.LayerNorm")],
        layerPrefix: "encoder.layer.",
        layer: [("attn_q", "attention.self.query"), ("attn_k", "attention.self.key"), ("attn_v", "attention.self.value"),
                ("attn_output", "attention.output.dense"), ("attn_output_norm", "attention.output.LayerNorm"),
                ("ffn_up", "intermediate.dense"), ("ffn_down", "output.dense"), ("layer_output_norm", "output.LayerNorm")])

    /// `nomic-bert` files (nomic-embed-text): fused `attn_qkv`; llama.cpp's `ffn_gate` (the
    /// activated half, `silu(gate(x)) * up(x)`) is contrastors' `fc12`, `ffn_up` its `fc11`.
    static let nomicBertNames = NameTable(
        global: [("token_embd", "embeddings.word_embeddings"), ("token_types", "embeddings.token_type_embeddings"),
                 ("token_embd_norm", "emb_ln")],
        layerPrefix: "encoder.layers.",
        layer: [("attn_qkv", "attn.Wqkv"), ("attn_output", "attn.out_proj"), ("attn_output_norm", "norm1"),
                ("ffn_gate", "mlp.fc12"), ("ffn_up", "mlp.fc11"), ("ffn_down", "mlp.fc2"), ("layer_output_norm", "norm2")])

    /// The renaming of a `general.architecture`, nil for one not supported here.
    static func names(architecture: String) -> NameTable? {
        switch architecture {
        case "llama", "qwen2", "qwen3": return decoderNames
        case "bert": return bertNames
        case "nomic-bert": return nomicBertNames
        default: return nil
        }
    }

    private init(file: GGUFFile, data: Data, byName: [String: Int]) {
        self.file = file
        self.data = data
        self.byName = byName
    }

    /// The tensors of `file` under the names of its architecture (`general.architecture`; the
    /// decoder names when it has none, so that `ArchitectureDescription.read(gguf:)` reports it).
    init(file: GGUFFile, data: Data) throws(ModelError) {
        self.file = file
        self.data = data
        let table = Self.names(architecture: file["general.architecture"]?.stringValue ?? "") ?? Self.decoderNames
        var map: [String: Int] = [:]
        for (i, t) in file.tensors.enumerated() {
            guard let hf = Self.huggingFaceName(t.name, table: table) else { continue }
            map[hf] = i
        }
        byName = map
    }

    /// The Hugging Face name of a GGUF tensor, nil for one the forward pass never reads
    /// (`output.weight`, the LM head; a reranker's `cls.*`).
    static func huggingFaceName(_ name: String, table: NameTable = decoderNames) -> String? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, let hf = table.global.first(where: { $0.gguf == parts[0] })?.hf {
            return "\(hf).\(parts[1])"
        }
        guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
              let hf = table.layer.first(where: { $0.gguf == parts[2] })?.hf else { return nil }
        return "\(table.layerPrefix)\(layer).\(hf).\(parts[3])"
    }

    var names: [String] { byName.keys.sorted() }

    /// The per-frequency RoPE factors of `rope_freqs.weight` (llama.cpp's Llama 3.1 scaling), nil
    /// when the file has none.
    func ropeFrequencyFactors() throws(ModelError) -> [Float]? {
        guard let i = file.tensors.firstIndex(where: { $0.name == "rope_freqs.weight" }) else { return nil }
        let info = file.tensors[i]
        guard info.dimensions.count == 1 else {
            throw .corruptGGUF(path: file.path, reason: "rope_freqs.weight must be one-dimensional, got \(info.dimensions)")
        }
        let key = "rope_freqs.weight (gguf)"
        let one = GGUFWeights(file: file, data: data, byName: [key: i])
        return try one.tensor(anyOf: [key], shape: [info.dimensions[0]])
    }
    func contains(_ name: String) -> Bool { byName[name] != nil }

    func shape(of name: String) -> [Int]? {
        byName[name].map { Array(file.tensors[$0].dimensions.reversed()) }
    }

    func tensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> [Float] {
        let (info, type, range) = try locate(names, shape: shape)
        let path = file.path, count = info.elementCount
        let result = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<[Float], ModelError> in
            let slice = UnsafeRawBufferPointer(rebasing: raw[range])
            do throws(ModelError) { return .success(try GGUFQuants.dequantized(type, from: slice, count: count, path: path)) } catch {
                return .failure(error)
            }
        }
        let out: [Float]
        switch result {
        case .success(let values): out = values
        case .failure(let error): throw error
        }
        MappedFile.releasePages(of: data, range: range)
        for v in out where !v.isFinite { throw .nonFiniteWeights(name: info.name) }
        return out
    }

    /// F16 and BF16 tensors as their 16-bit values (checked finite); every other type dequantized.
    func loadedTensor(anyOf names: [String], shape: [Int]) throws(ModelError) -> LoadedTensor {
        let (info, type, range) = try locate(names, shape: shape)
        let format: HalfFormat
        switch type {
        case .f16: format = .f16
        case .bf16: format = .bf16
        default: return .f32(try tensor(anyOf: names, shape: shape))
        }
        let bits = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [UInt16] in
            let base = raw.baseAddress! + range.lowerBound
            return (0..<info.elementCount).map { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        }
        MappedFile.releasePages(of: data, range: range)
        for b in bits where format.isNonFinite(b) { throw .nonFiniteWeights(name: info.name) }
        return .half(bits, format)
    }

    /// The tensor info, type and byte range of the first of `names`, checked to have `shape`,
    /// a known type and bytes inside the file.
    private func locate(_ names: [String], shape: [Int]) throws(ModelError) -> (GGUFTensorInfo, GGMLType, Range<Int>) {
        guard let name = names.first(where: contains), let i = byName[name] else { throw .tensorNotFound(name: names.first ?? "") }
        let info = file.tensors[i]
        let actual = Array(info.dimensions.reversed())
        guard actual == shape else { throw .tensorShapeMismatch(name: info.name, expected: shape, actual: actual) }
        guard let type = info.ggmlType else {
            throw .corruptGGUF(path: file.path, reason: "tensor \(info.name) has ggml type \(info.typeName ?? String(info.type)), which cannot be dequantized here")
        }
        let bytes = try type.byteCount(elements: info.elementCount, path: file.path)
        let start = file.dataOffset + info.offset
        guard start >= 0, bytes <= data.count - start else {
            throw .corruptGGUF(path: file.path, reason: "tensor \(info.name) runs past the end of the file")
        }
        return (info, type, start..<(start + bytes))
    }
}

extension ArchitectureDescription {
    /// The `model_type` each supported `general.architecture` stands for.
    static let ggufModelTypes: [String: String] = [
        "llama": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "bert": "bert", "nomic-bert": "nomic_bert",
    ]

    /// The GGUF architectures of the bidirectional encoder families.
    static let ggufEncoderArchitectures: Set<String> = ["bert", "nomic-bert"]

    /// The architecture of a GGUF model file, from its `general.architecture` and `<arch>.*`
    /// metadata, read by the family's own reader (the metadata become the config.json keys they
    /// stand for). `llama` files have their q/k rows permuted by llama.cpp's converter for its
    /// interleaved RoPE, so they rotate interleaved pairs (the same scores as un-permuting the
    /// weights and rotating halves, which transformers' GGUF loader does); `qwen2` files keep
    /// the NeoX (rotate-half) layout. `ropeFrequencyFactors` is the file's `rope_freqs.weight`
    /// (Llama 3.1 scaling as llama.cpp stores it: frequency `j` divided by factor `j`), nil when
    /// it has none. `bert` and `nomic-bert` files are the encoder families of the same names (a
    /// `bert` file with a `t5` vocabulary is XLM-RoBERTa);
    /// what their metadata do not say (the activation, biases, token types) comes from the
    /// tensors present (`tensorShapes`: Hugging Face name -> shape, from ``GGUFWeights``).
    static func read(gguf f: GGUFFile, vocabularySize: Int, ropeFrequencyFactors: [Float]? = nil,
                     tensorShapes: [String: [Int]] = [:]) throws(ModelError) -> ArchitectureDescription {
        guard let arch = f["general.architecture"]?.stringValue else {
            throw .corruptGGUF(path: f.path, reason: "no general.architecture")
        }
        guard let modelType = ggufModelTypes[arch] else {
            throw .unsupportedArchitecture("GGUF architecture \"\(arch)\" (in \(f.path); supported: \(ggufModelTypes.keys.sorted().joined(separator: ", ")))")
        }
        for key in ["rope.scaling.type", "rope.scaling.factor", "attention.sliding_window"] where f["\(arch).\(key)"] != nil {
            throw .unsupportedArchitecture("GGUF \(arch) with \(arch).\(key) (in \(f.path))")
        }
        let encoder = ggufEncoderArchitectures.contains(arch)
        if try ggufBool(f, "\(arch).attention.causal") == true, encoder {
            throw .unsupportedArchitecture("GGUF \(arch) with \(arch).attention.causal true (in \(f.path))")
        }
        var members: [(key: String, value: JSONValue)] = [("model_type", .string(modelType)), ("vocab_size", .integer(vocabularySize))]
        members += try ggufNumbers(f, arch: arch)
        if arch == "qwen2" { members.append(("use_sliding_window", .bool(false))) }
        if encoder { members += encoderMembers(f, arch: arch, tensorShapes: tensorShapes) }
        var d = try read(config: ConfigFile(JSONObject(members: members), path: f.path))
        if arch == "bert", f["tokenizer.ggml.model"]?.stringValue == "t5" {
            // llama.cpp writes XLM-RoBERTa (bge-m3, multilingual-e5) as `bert` with its
            // SentencePiece vocabulary and the position table's first padding_idx + 1 rows
            // dropped, so positions count from 0 as in BERT.
            d.family = .xlmRoberta
            d.modelType = "xlm-roberta"
        }
        if var r = d.rotary {
            r.interleaved = arch == "llama"
            if let factors = ropeFrequencyFactors {
                guard factors.count == d.headDim / 2, factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                    throw .corruptGGUF(path: f.path, reason: "rope_freqs.weight must hold \(d.headDim / 2) finite positive factors (head_dim / 2), got \(factors.count)")
                }
                r.frequencyDivisors = factors.map(Double.init)
            }
            d.positions = .rotary(r)
        }
        return d
    }

    /// The numeric `<arch>.*` metadata as the config.json keys they stand for.
    private static func ggufNumbers(_ f: GGUFFile, arch: String) throws(ModelError) -> [(key: String, value: JSONValue)] {
        let keys: [(gguf: String, config: String)] = [
            ("embedding_length", "hidden_size"), ("block_count", "num_hidden_layers"),
            ("attention.head_count", "num_attention_heads"), ("attention.head_count_kv", "num_key_value_heads"),
            ("feed_forward_length", "intermediate_size"), ("context_length", "max_position_embeddings"),
            ("attention.key_length", "head_dim"), ("rope.freq_base", arch == "nomic-bert" ? "rotary_emb_base" : "rope_theta"),
            ("attention.layer_norm_rms_epsilon", "rms_norm_eps"), ("attention.layer_norm_epsilon", "layer_norm_eps"),
        ]
        var members: [(key: String, value: JSONValue)] = []
        for (g, c) in keys {
            guard let v = f["\(arch).\(g)"] else { continue }
            if let i = v.integerValue { members.append((c, .integer(i))) } else if case .float32(let x) = v { members.append((c, .number(Double(x)))) } else if case .float64(let x) = v { members.append((c, .number(x))) } else {
                throw .corruptGGUF(path: f.path, reason: "\(arch).\(g) must be a number, got \(v.typeDescription)")
            }
        }
        return members
    }

    /// What a `bert` / `nomic-bert` file's metadata leave out. The activation is the trained
    /// model's (BERT: GELU with erf, as transformers runs it; llama.cpp's graph uses ggml's tanh
    /// approximation; NomicBERT: SwiGLU); token types and biases follow the tensors present;
    /// NomicBERT's `context_length` is its trained length (llama.cpp's converter writes 2048
    /// for nomic-embed-text, not the 8192 its config claims), kept as `max_trained_positions`.
    private static func encoderMembers(_ f: GGUFFile, arch: String, tensorShapes: [String: [Int]]) -> [(key: String, value: JSONValue)] {
        let tokenTypes = GGUFWeights.names(architecture: arch)?.global.first { $0.gguf == "token_types" }.flatMap { tensorShapes["\($0.hf).weight"]?.first } ?? 0
        var members: [(key: String, value: JSONValue)] = [("type_vocab_size", .integer(tokenTypes))]
        if arch == "bert" {
            members.append(("hidden_act", .string("gelu")))
            return members
        }
        func has(_ name: String) -> Bool { tensorShapes["encoder.layers.0.\(name).bias"] != nil }
        members += [("activation_function", .string("swiglu")), ("qkv_proj_bias", .bool(has("attn.Wqkv"))),
                    ("mlp_fc1_bias", .bool(has("mlp.fc11"))), ("mlp_fc2_bias", .bool(has("mlp.fc2"))),
                    ("rotary_emb_interleaved", .bool(false))]
        if let n = f["\(arch).context_length"]?.integerValue { members.append(("max_trained_positions", .integer(n))) }
        return members
    }

    /// A boolean metadata value, nil when absent.
    private static func ggufBool(_ f: GGUFFile, _ key: String) throws(ModelError) -> Bool? {
        guard let v = f[key] else { return nil }
        guard case .bool(let b) = v else { throw .corruptGGUF(path: f.path, reason: "\(key) must be a bool, got \(v.typeDescription)") }
        return b
    }
}
