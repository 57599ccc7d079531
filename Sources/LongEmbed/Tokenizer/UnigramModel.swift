import Foundation

/// The Unigram language-model tokenizer (Kudo 2018, arXiv:1804.10959) as the tokenizers library
/// runs it: the Viterbi path of highest total log-probability over the lattice of vocabulary
/// pieces; a character no piece starts with is an unknown node scored `min score - 10`;
/// consecutive unknown (and literal unknown-token) nodes are fused; a piece that is not in the
/// vocabulary becomes its `<0xXX>` byte tokens with `byte_fallback`, else the unknown token.
struct UnigramModel: TokenModel {
    let vocabulary: Vocabulary
    private let scores: [Double]
    private let unkID: Int32?
    private let unkScore: Double
    private let byteFallback: Bool
    private let byteIDs: [Int32]
    private let trie: ByteTrie
    private let cache = WordCache()
    /// The tokenizers library's penalty for an unknown character, below the lowest piece score.
    static let unknownPenalty = 10.0

    init(_ spec: TokenizerSpec) throws(ModelError) {
        let list = try spec.array("vocab")
        guard !list.isEmpty else { throw spec.invalid("the Unigram vocabulary is empty") }
        guard list.count < Int(Int32.max) else { throw spec.invalid("the Unigram vocabulary is too large") }
        var ids: [TokenString: Int32] = [:]
        ids.reserveCapacity(list.count)
        var tokens: [String] = []
        var scores: [Double] = []
        tokens.reserveCapacity(list.count)
        scores.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue, let score = pair[1].numberValue else {
                throw spec.invalid("vocab[\(i)] is not a [piece, finite score] pair")
            }
            ids[TokenString(piece)] = Int32(i)   // a repeated piece: the later id wins, as in the tokenizers library
            tokens.append(piece)
            scores.append(score)
        }
        let vocabulary = Vocabulary(map: ids, tokens: tokens)
        self.vocabulary = vocabulary
        self.scores = scores
        unkID = try spec.optionalInt("unk_id", in: 0...(list.count - 1)).map { Int32($0) }
        unkScore = (scores.min() ?? 0) - Self.unknownPenalty
        byteFallback = try spec.bool("byte_fallback", default: false)
        byteIDs = (0..<256).map { b in vocabulary.id(String(format: "<0x%02X>", b)) ?? -1 }
        trie = ByteTrie(keys: vocabulary.entries.map { (Array($0.token.utf8), $0.id) })
    }

    func tokenize(_ word: String, into ids: inout [Int32]) {
        guard !word.isEmpty else { return }
        if let hit = cache.get(word) { ids.append(contentsOf: hit); return }
        var result: [Int32] = []
        var copy = word
        copy.withUTF8 { bytes in
            for piece in viterbi(bytes) { append(piece, bytes, to: &result) }
        }
        cache.put(word, result)
        ids.append(contentsOf: result)
    }

    private struct Node {
        var score = -Double.infinity
        var start = -1
        var id: Int32 = -1
    }

    /// The best segmentation as (byte range, id) pieces, unknown runs fused.
    private func viterbi(_ bytes: UnsafeBufferPointer<UInt8>) -> [(range: Range<Int>, id: Int32)] {
        let n = bytes.count
        var best = [Node](repeating: Node(), count: n + 1)
        best[0].score = 0
        var start = 0
        while start < n {
            let here = best[start].score
            let charLength = Self.utf8Length(bytes[start])
            var single = false
            trie.forEachPrefix(of: bytes, from: start) { length, id in
                let end = start + length
                let candidate = here + scores[Int(id)]
                if best[end].start < 0 || candidate > best[end].score { best[end] = Node(score: candidate, start: start, id: id) }
                if length == charLength { single = true }
            }
            if !single, let unk = unkID {
                let end = min(n, start + charLength)
                let candidate = here + unkScore
                if best[end].start < 0 || candidate > best[end].score { best[end] = Node(score: candidate, start: start, id: unk) }
            }
            start += charLength
        }
        var pieces: [(range: Range<Int>, id: Int32)] = []
        var end = n
        var unknownEnd = -1
        while end > 0 {
            let node = best[end]
            guard node.start >= 0 else { return [(0..<n, unkID ?? -1)] }   // no path (no unknown token)
            if let unk = unkID, node.id == unk {
                if unknownEnd < 0 { unknownEnd = end }
            } else {
                if unknownEnd >= 0 { pieces.append((end..<unknownEnd, unkID ?? -1)); unknownEnd = -1 }
                pieces.append((node.start..<end, node.id))
            }
            end = node.start
        }
        if unknownEnd >= 0 { pieces.append((0..<unknownEnd, unkID ?? -1)) }
        return pieces.reversed()
    }

    /// A piece's ids: a known piece is itself; an unknown run is looked up as a string, then
    /// falls back to bytes or to the unknown token.
    private func append(_ piece: (range: Range<Int>, id: Int32), _ bytes: UnsafeBufferPointer<UInt8>, to out: inout [Int32]) {
        if piece.id >= 0 && piece.id != unkID { out.append(piece.id); return }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[piece.range]), as: UTF8.self)
        if let id = vocabulary.id(text) { out.append(id); return }
        if byteFallback {
            let fallback = bytes[piece.range].map { byteIDs[Int($0)] }
            if fallback.allSatisfy({ $0 >= 0 }) { out.append(contentsOf: fallback); return }
        }
        if let unk = unkID { out.append(unk) }
    }

    private static func utf8Length(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }
}

/// A byte trie over the vocabulary for common-prefix search: each node's children are stored
/// contiguously in label order (binary search), the root's in a 256-entry table.
struct ByteTrie: Sendable {
    private var childStart: [Int32] = []
    private var childCount: [Int32] = []
    private var labels: [UInt8] = []
    private var values: [Int32] = []
    private var root = [Int32](repeating: -1, count: 256)

    /// Builds the trie breadth first from the keys sorted by bytes, so that the children of a node
    /// get consecutive indices.
    init(keys unsorted: [([UInt8], Int32)]) {
        let keys = unsorted.filter { !$0.0.isEmpty }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        // Queue entries: (node index, key range, depth).
        var queue: [(node: Int, lo: Int, hi: Int, depth: Int)] = [(0, 0, keys.count, 0)]
        childStart = [0]; childCount = [0]; labels = [0]; values = [-1]
        var head = 0
        while head < queue.count {
            let (node, lo0, hi, depth) = queue[head]
            head += 1
            var lo = lo0
            while lo < hi && keys[lo].0.count == depth { values[node] = keys[lo].1; lo += 1 }
            childStart[node] = Int32(labels.count)
            var i = lo
            while i < hi {
                let b = keys[i].0[depth]
                var j = i + 1
                while j < hi && keys[j].0[depth] == b { j += 1 }
                let child = labels.count
                labels.append(b); values.append(-1); childStart.append(0); childCount.append(0)
                queue.append((child, i, j, depth + 1))
                i = j
            }
            childCount[node] = Int32(labels.count) - childStart[node]
        }
        for k in 0..<Int(childCount[0]) { root[Int(labels[Int(childStart[0]) + k])] = childStart[0] + Int32(k) }
    }

    /// Whether the trie holds no key (empty keys are never stored, so the root has no child).
    var isEmpty: Bool { childCount[0] == 0 }

    /// Calls `body(length, value)` for every key that is a prefix of `bytes[start...]`, shortest first.
    func forEachPrefix(of bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ body: (Int, Int32) -> Void) {
        guard start < bytes.count else { return }
        var node = Int(root[Int(bytes[start])])
        var i = start + 1
        while node >= 0 {
            if values[node] >= 0 { body(i - start, values[node]) }
            guard i < bytes.count else { return }
            node = child(of: node, bytes[i])
            i += 1
        }
    }

    private func child(of node: Int, _ b: UInt8) -> Int {
        var lo = Int(childStart[node]), hi = lo + Int(childCount[node])
        while lo < hi {
            let mid = (lo + hi) / 2
            let l = labels[mid]
            if l == b { return mid }
            if l < b { lo = mid + 1 } else { hi = mid }
        }
        return -1
    }
}
