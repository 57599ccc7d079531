import Foundation

/// The fourth stage of the pipeline: the special tokens around one sequence or a pair.
protocol PostProcessor: Sendable {
    /// The ids with the special tokens and their token type ids.
    func process(_ a: [Int32], _ b: [Int32]?) -> (ids: [Int32], typeIDs: [Int32])
    /// The special tokens before and after a single sequence.
    var singleAffixes: (prefix: [Int32], suffix: [Int32]) { get }
}

/// Builds the `post_processor` section of `tokenizer.json`.
enum PostProcessorFactory {
    static func make(_ spec: TokenizerSpec) throws(ModelError) -> (any PostProcessor)? {
        switch try spec.type() {
        case "TemplateProcessing": return try TemplateProcessor(spec)
        case "BertProcessing": return try PairProcessor(spec, roberta: false)
        case "RobertaProcessing": return try PairProcessor(spec, roberta: true)
        case "ByteLevel": return nil   // only trims offsets; the ids are unchanged
        case "Sequence":
            var active: [any PostProcessor] = []
            for child in try spec.children("processors") {
                if let p = try make(child) { active.append(p) }
            }
            guard active.count <= 1 else { throw spec.unsupported("a post-processor Sequence with \(active.count) processors that add tokens") }
            return active.first
        case let other: throw spec.unsupported("post-processor \(other)")
        }
    }
}

/// TemplateProcessing: `single` and `pair` templates of special tokens and `$A` / `$B`.
struct TemplateProcessor: PostProcessor {
    enum Piece: Sendable {
        case special([Int32], typeID: Int32)
        case sequence(isB: Bool, typeID: Int32)
    }
    let single: [Piece]
    let pair: [Piece]

    init(single: [Piece], pair: [Piece]) {
        self.single = single
        self.pair = pair
    }

    init(_ spec: TokenizerSpec) throws(ModelError) {
        var specials: [String: [Int32]] = [:]
        if let table = try spec.child("special_tokens") {
            for (name, value) in table.object.members {
                guard let ids = value.objectValue?["ids"]?.arrayValue else {
                    throw table.invalid("special token \(name.debugDescription) has no \"ids\" list")
                }
                var list: [Int32] = []
                for v in ids {
                    guard let i = v.integerValue, i >= 0, i <= Int(Int32.max) else { throw table.invalid("special token \(name.debugDescription) has an invalid id \(v.brief)") }
                    list.append(Int32(i))
                }
                specials[name] = list
            }
        }
        self.init(single: try Self.template(spec, "single", specials), pair: try Self.template(spec, "pair", specials))
    }

    private static func template(_ spec: TokenizerSpec, _ key: String, _ specials: [String: [Int32]]) throws(ModelError) -> [Piece] {
        var out: [Piece] = []
        for item in try spec.children(key) {
            if let s = try item.child("SpecialToken") {
                let name = try s.string("id")
                guard let ids = specials[name] else { throw s.invalid("special token \(name.debugDescription) is not in special_tokens") }
                out.append(.special(ids, typeID: Int32(try s.int("type_id", default: 0, in: 0...1_000_000))))
            } else if let s = try item.child("Sequence") {
                let which = try s.string("id")
                guard which == "A" || which == "B" else { throw s.invalid("sequence id \(which.debugDescription) is neither A nor B") }
                out.append(.sequence(isB: which == "B", typeID: Int32(try s.int("type_id", default: 0, in: 0...1_000_000))))
            } else {
                throw item.invalid("a template piece is neither SpecialToken nor Sequence")
            }
        }
        return out
    }

    func process(_ a: [Int32], _ b: [Int32]?) -> (ids: [Int32], typeIDs: [Int32]) {
        var ids: [Int32] = [], types: [Int32] = []
        for piece in b == nil ? single : pair {
            switch piece {
            case .special(let s, let t):
                ids += s
                types += [Int32](repeating: t, count: s.count)
            case .sequence(let isB, let t):
                let seq = isB ? (b ?? []) : a
                ids += seq
                types += [Int32](repeating: t, count: seq.count)
            }
        }
        return (ids, types)
    }

    var singleAffixes: (prefix: [Int32], suffix: [Int32]) {
        var prefix: [Int32] = [], suffix: [Int32] = []
        var seen = false
        for piece in single {
            switch piece {
            case .special(let s, _): if seen { suffix += s } else { prefix += s }
            case .sequence: seen = true
            }
        }
        return (prefix, suffix)
    }
}

/// BertProcessing (`[CLS] A [SEP] B [SEP]`, B typed 1) and RobertaProcessing
/// (`<s> A </s> </s> B </s>`, all typed 0).
struct PairProcessor: PostProcessor {
    let cls: Int32, sep: Int32
    let roberta: Bool

    init(_ spec: TokenizerSpec, roberta: Bool) throws(ModelError) {
        cls = try Self.token(spec, "cls")
        sep = try Self.token(spec, "sep")
        self.roberta = roberta
    }

    /// A `["[CLS]", 101]` entry.
    private static func token(_ spec: TokenizerSpec, _ key: String) throws(ModelError) -> Int32 {
        let pair = try spec.array(key)
        guard pair.count == 2, pair[0].stringValue != nil, let id = pair[1].integerValue, id >= 0, id <= Int(Int32.max) else {
            throw spec.invalid("\"\(key)\" is not a [token, id] pair")
        }
        return Int32(id)
    }

    func process(_ a: [Int32], _ b: [Int32]?) -> (ids: [Int32], typeIDs: [Int32]) {
        var ids = [cls] + a + [sep]
        var types = [Int32](repeating: 0, count: ids.count)
        if let b {
            let tail = (roberta ? [sep] : []) + b + [sep]
            ids += tail
            types += [Int32](repeating: roberta ? 0 : 1, count: tail.count)
        }
        return (ids, types)
    }

    var singleAffixes: (prefix: [Int32], suffix: [Int32]) { ([cls], [sep]) }
}
