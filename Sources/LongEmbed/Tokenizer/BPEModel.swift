import Foundation

/// Byte-pair encoding (Sennrich et al. 2016, arXiv:1508.07909) as the tokenizers library runs
/// it: a word starts as its characters (with `continuing_subword_prefix` on all but the first and
/// `end_of_word_suffix` on the last); a character outside the vocabulary becomes its
/// `<0xXX>` byte tokens with `byte_fallback`, else the unknown token (consecutive ones fused with
/// `fuse_unk`; dropped when there is no unknown token); then the pair of lowest merge rank
/// (leftmost on ties) is merged until none is left. With `ignore_merges` a word that is itself
/// in the vocabulary is one token. `dropout` must be null: training-time randomness has no
/// place in an embedding pipeline.
struct BPEModel: TokenModel {
    let vocabulary: Vocabulary
    /// (left id << 32 | right id) -> (rank, merged id).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    private let unkID: Int32?
    private let fuseUnk: Bool
    private let byteFallback: Bool
    private let ignoreMerges: Bool
    private let prefix: String?
    private let suffix: String?
    /// Id of each single-scalar token (the common case of the initial split), by scalar value.
    private let scalarIDs: [UInt32: Int32]
    /// Id of `<0xXX>` for each byte, -1 when absent.
    private let byteIDs: [Int32]
    private let cache = WordCache()

    init(_ spec: TokenizerSpec) throws(ModelError) {
        if let d = spec.value("dropout") { throw spec.unsupported("BPE dropout \(d.brief)") }
        let vocabulary = try Vocabulary(object: spec)
        self.vocabulary = vocabulary
        fuseUnk = try spec.bool("fuse_unk", default: false)
        byteFallback = try spec.bool("byte_fallback", default: false)
        ignoreMerges = try spec.bool("ignore_merges", default: false)
        prefix = try spec.optionalString("continuing_subword_prefix")
        suffix = try spec.optionalString("end_of_word_suffix")
        if let unk = try spec.optionalString("unk_token") {
            guard let id = vocabulary.id(unk) else { throw spec.invalid("unk_token \(unk.debugDescription) is not in the vocabulary") }
            unkID = id
        } else {
            unkID = nil
        }
        merges = try Self.parseMerges(spec, vocabulary: vocabulary, prefix: prefix)
        var single: [UInt32: Int32] = [:]
        for (token, id) in vocabulary.entries {
            var it = token.unicodeScalars.makeIterator()
            if let first = it.next(), it.next() == nil { single[first.value] = id }
        }
        scalarIDs = single
        byteIDs = (0..<256).map { b in vocabulary.id(String(format: "<0x%02X>", b)) ?? -1 }
    }

    /// Merges as `"a b"` strings or `["a", "b"]` pairs; rank = position in the list.
    private static func parseMerges(_ spec: TokenizerSpec, vocabulary: Vocabulary,
                                    prefix: String?) throws(ModelError) -> [UInt64: (rank: Int32, id: Int32)] {
        let list = try spec.array("merges")
        guard list.count < Int(Int32.max) else { throw spec.invalid("too many merges") }
        var out: [UInt64: (rank: Int32, id: Int32)] = [:]
        out.reserveCapacity(list.count)
        for (rank, entry) in list.enumerated() {
            let a: String, b: String
            if let s = entry.stringValue {
                // Split on the space byte: a space before a combining mark is one Character.
                let parts = s.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw spec.invalid("merge \(rank) \(s.debugDescription) is not two tokens separated by one space") }
                (a, b) = (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self))
            } else if let pair = entry.arrayValue, pair.count == 2, let x = pair[0].stringValue, let y = pair[1].stringValue {
                (a, b) = (x, y)
            } else {
                throw spec.invalid("merge \(rank) is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard let ia = vocabulary.id(a), let ib = vocabulary.id(b) else {
                throw spec.invalid("merge \(rank) names a token that is not in the vocabulary: \(vocabulary.id(a) == nil ? a.debugDescription : b.debugDescription)")
            }
            var tail = b
            if let p = prefix, b.utf8.starts(with: p.utf8) { tail = String(decoding: b.utf8.dropFirst(p.utf8.count), as: UTF8.self) }
            guard let merged = vocabulary.id(a + tail) else {
                throw spec.invalid("merge \(rank) gives \((a + tail).debugDescription), which is not in the vocabulary")
            }
            let key = UInt64(UInt32(bitPattern: ia)) << 32 | UInt64(UInt32(bitPattern: ib))
            out[key] = (Int32(rank), merged)   // a repeated pair: the later rank wins, as in the tokenizers library
        }
        return out
    }

    func tokenize(_ word: String, into ids: inout [Int32]) {
        if ignoreMerges, let id = vocabulary.id(word) { ids.append(id); return }
        if let hit = cache.get(word) { ids.append(contentsOf: hit); return }
        var symbols = initialSymbols(word)
        mergeAll(&symbols)
        let result = symbols.filter { $0.alive }.map(\.id)
        cache.put(word, result)
        ids.append(contentsOf: result)
    }

    // MARK: The initial split

    private struct Symbol {
        var id: Int32
        var prev: Int32
        var next: Int32
        var alive = true
    }

    private func initialSymbols(_ word: String) -> [Symbol] {
        var ids: [Int32] = []
        ids.reserveCapacity(word.utf8.count)
        var pendingUnk = false
        let scalars = Array(word.unicodeScalars)
        for (i, c) in scalars.enumerated() {
            if let id = lookup(c, first: i == 0, last: i == scalars.count - 1) {
                pendingUnk = false
                ids.append(id)
                continue
            }
            if byteFallback, let bytes = byteTokens(c) {
                ids.append(contentsOf: bytes)
                continue
            }
            guard let unk = unkID else { continue }
            if pendingUnk && fuseUnk { continue }
            ids.append(unk)
            pendingUnk = true
        }
        return ids.enumerated().map { i, id in Symbol(id: id, prev: Int32(i) - 1, next: i + 1 < ids.count ? Int32(i + 1) : -1) }
    }

    private func lookup(_ c: Unicode.Scalar, first: Bool, last: Bool) -> Int32? {
        let decorated = (!first && prefix != nil) || (last && suffix != nil)
        if !decorated { return scalarIDs[c.value] }
        var s = first ? "" : (prefix ?? "")
        s.unicodeScalars.append(c)
        if last, let suffix { s += suffix }
        return vocabulary.id(s)
    }

    private func byteTokens(_ c: Unicode.Scalar) -> [Int32]? {
        var out: [Int32] = []
        for b in String(c).utf8 {
            let id = byteIDs[Int(b)]
            guard id >= 0 else { return nil }
            out.append(id)
        }
        return out
    }

    // MARK: Merging

    private struct Candidate: Comparable {
        var rank: Int32
        var pos: Int32
        var id: Int32
        static func < (a: Candidate, b: Candidate) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos }
    }

    private func merge(_ a: Int32, _ b: Int32) -> (rank: Int32, id: Int32)? {
        merges[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))]
    }

    /// Repeatedly merges the lowest-ranked (then leftmost) adjacent pair, with a min-heap of
    /// candidates; stale candidates are skipped when popped (O(n log n) for long words).
    private func mergeAll(_ s: inout [Symbol]) {
        guard s.count > 1 else { return }
        var heap = MinHeap<Candidate>()
        for i in 0..<(s.count - 1) {
            if let m = merge(s[i].id, s[i + 1].id) { heap.push(Candidate(rank: m.rank, pos: Int32(i), id: m.id)) }
        }
        while let top = heap.pop() {
            let p = Int(top.pos)
            guard s[p].alive, s[p].next >= 0 else { continue }
            let n = Int(s[p].next)
            guard let m = merge(s[p].id, s[n].id), m.id == top.id else { continue }
            s[p].id = m.id
            s[n].alive = false
            s[p].next = s[n].next
            if s[n].next >= 0 { s[Int(s[n].next)].prev = Int32(p) }
            if s[p].prev >= 0, let l = merge(s[Int(s[p].prev)].id, s[p].id) {
                heap.push(Candidate(rank: l.rank, pos: s[p].prev, id: l.id))
            }
            if s[p].next >= 0, let r = merge(s[p].id, s[Int(s[p].next)].id) {
                heap.push(Candidate(rank: r.rank, pos: Int32(p), id: r.id))
            }
        }
    }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
