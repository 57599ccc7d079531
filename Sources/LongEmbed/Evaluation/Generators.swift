import Foundation

/// SplitMix64: a small seeded generator, so generated data is identical on every machine.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Synthetic data of the LongEmbed benchmark: 100 documents and 50 queries per context
/// length; a document of length L has at most floor(0.75 L) words (1 token = 0.75 words).
public enum SyntheticData {
    /// The passkey filler (LongEmbed Sec. 4.1).
    public static let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

    static let firstNames = ["Joyce", "Malayah", "Arthur", "Beatrice", "Cedric", "Delphine", "Emil", "Farah", "Gideon", "Harriet",
                             "Ivan", "Juno", "Kasimir", "Leona", "Marcus", "Nell", "Oscar", "Petra", "Quentin", "Rosalie",
                             "Silas", "Tamsin", "Ulric", "Vera", "Wendell", "Xenia", "Yorick", "Zelda", "Amos", "Bianca",
                             "Clement", "Dora", "Ezra", "Flora", "Gustav", "Hazel", "Ignatius", "Jolene", "Konrad", "Lydia"]
    static let lastNames = ["Jenkins", "Graves", "Ashworth", "Bellamy", "Castellan", "Dunmore", "Everly", "Fairbanks", "Greaves", "Holloway",
                            "Ingram", "Jessop", "Kettering", "Lockhart", "Merriweather", "Northcott", "Oakes", "Pemberton", "Quayle", "Ravenscroft",
                            "Sutcliffe", "Thistlewood", "Underhill", "Vance", "Whitlock", "Yardley", "Zimmerman", "Abernathy", "Blackwood", "Crane",
                            "Devereux", "Ellsworth", "Fenwick", "Gallagher", "Hargreave", "Iverson", "Jardine", "Kingsley", "Lindqvist", "Mortimer"]

    /// The longest synthetic context length accepted (2^20 tokens).
    public static let maxLength = 1 << 20

    /// Passkey retrieval: the filler repeated, one line "{Name}'s pass key is {k}. Remember it.
    /// {k} is the pass key for {Name}." inserted at a random position, one unique person per
    /// document, 5-digit keys; queries "what is the passkey for {Name}?". With `maxDocs`, each
    /// length keeps what ``RetrievalSet/limited(maxDocs:)`` would keep, and only those
    /// documents' texts are built (the random draws are the same either way).
    public static func passkey(lengths: [Int], seed: UInt64 = 0, documents: Int = 100, queries: Int = 50,
                               maxDocs: Int? = nil) -> RetrievalSet {
        var rng = SeededGenerator(seed: seed ^ 0x5041_5353_4B45_5900)
        var names = firstNames.flatMap { f in lastNames.map { "\(f) \($0)" } }
        names.shuffle(using: &rng)
        var nameIndex = 0
        let fillerWords = filler.split(separator: " ").count
        var set = RetrievalSet(corpus: [], queries: [], qrels: [:])
        for length in lengths {
            var recipes: [(name: String, needle: String, before: Int, after: Int)] = []
            for _ in 0..<documents {
                let name = names[nameIndex % names.count]
                nameIndex += 1
                let key = Int.random(in: 10_000...99_999, using: &rng)
                let needle = "\n\(name)'s pass key is \(key). Remember it. \(key) is the pass key for \(name).\n"
                let budget = Int(Double(length) * 0.75)
                let repeats = max(0, (budget - needle.split(whereSeparator: \.isWhitespace).count) / fillerWords)
                let at = Int.random(in: 0...repeats, using: &rng)
                recipes.append((name, needle, at, repeats - at))
            }
            let split = splitWithQueries(length: length, documents: documents, queries: queries, maxDocs: maxDocs, rng: &rng) {
                "what is the passkey for \(recipes[$0].name)?"
            } text: { d in
                let r = recipes[d]
                return Array(repeating: filler, count: r.before).joined(separator: " ") + r.needle
                    + Array(repeating: filler, count: r.after).joined(separator: " ")
            }
            set.append(split)
        }
        return set
    }

    /// One length's queries (a shuffled pick of documents) and, of the documents, those a
    /// `maxDocs` limit keeps, texts built only for them.
    private static func splitWithQueries(length: Int, documents: Int, queries: Int, maxDocs: Int?,
                                         rng: inout SeededGenerator, question: (Int) -> String,
                                         text: (Int) -> String) -> RetrievalSet {
        var picked = Array(0..<documents)
        picked.shuffle(using: &rng)
        var skeleton = RetrievalSet(corpus: (0..<documents).map {
            RetrievalDocument(id: "ctx\(length)_doc\($0)", text: "", contextLength: length)
        }, queries: [], qrels: [:])
        for (q, d) in picked.prefix(queries).enumerated() {
            let qid = "ctx\(length)_query\(q)"
            skeleton.queries.append(RetrievalQuery(id: qid, text: question(d), contextLength: length))
            skeleton.qrels[qid] = ["ctx\(length)_doc\(d)": 1]
        }
        if let maxDocs { skeleton = skeleton.limited(maxDocs: maxDocs) }
        let index = Dictionary(uniqueKeysWithValues: (0..<documents).map { ("ctx\(length)_doc\($0)", $0) })
        for i in skeleton.corpus.indices {
            if let d = index[skeleton.corpus[i].id] { skeleton.corpus[i].text = text(d) }
        }
        return skeleton
    }

    /// Needle retrieval: a window of the haystack text with one fact inserted at a random word
    /// position per document; the fact's question is the query. `maxDocs` as in ``passkey(lengths:seed:documents:queries:maxDocs:)``.
    public static func needle(haystack: String, lengths: [Int], seed: UInt64 = 0, documents: Int = 100, queries: Int = 50,
                              maxDocs: Int? = nil,
                              facts: [(fact: String, question: String)] = NeedleFacts.all) throws(EvaluationError) -> RetrievalSet {
        let words = haystack.split(whereSeparator: \.isWhitespace).map(String.init)
        let longest = Int(Double(lengths.max() ?? 0) * 0.75)
        guard words.count > longest else {
            throw .missingHaystack("the haystack has \(words.count) words; \(longest) are needed for length \(lengths.max() ?? 0)")
        }
        guard documents <= facts.count else { throw .invalidOption("needle: \(documents) documents need as many facts, have \(facts.count)") }
        var rng = SeededGenerator(seed: seed ^ 0x4E45_4544_4C45_0000)
        var set = RetrievalSet(corpus: [], queries: [], qrels: [:])
        for length in lengths {
            var order = Array(facts.indices)
            order.shuffle(using: &rng)
            let budget = Int(Double(length) * 0.75)
            var recipes: [(fact: String, start: Int, take: Int, at: Int)] = []
            for d in 0..<documents {
                let fact = facts[order[d]].fact
                let take = max(0, budget - fact.split(separator: " ").count)
                let start = Int.random(in: 0...(words.count - take), using: &rng)
                let at = Int.random(in: 0...take, using: &rng)
                recipes.append((fact, start, take, at))
            }
            let split = splitWithQueries(length: length, documents: documents, queries: queries, maxDocs: maxDocs, rng: &rng) {
                facts[order[$0]].question
            } text: { d in
                let r = recipes[d]
                var window = Array(words[r.start..<(r.start + r.take)])
                window.insert(r.fact, at: r.at)
                return window.joined(separator: " ")
            }
            set.append(split)
        }
        return set
    }

    /// The default haystack: the King James Bible (public domain), installed by `make setup`
    /// from Debian's bible-kjv package into `.cache/haystack/kjv.txt`.
    public static let defaultHaystackFile = ".cache/haystack/kjv.txt"

    /// Reads every `.txt` file of a folder (or one file) as the haystack.
    public static func loadHaystack(_ url: URL) throws(EvaluationError) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw .missingHaystack("haystack \(url.path) not found: run `make setup` (installs Debian's bible-kjv and writes \(defaultHaystackFile)) or pass --haystack DIR with .txt files")
        }
        let files: [URL]
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            files = names.filter { $0.hasSuffix(".txt") }.sorted().map { url.appendingPathComponent($0) }
        } else {
            files = [url]
        }
        var text = ""
        for f in files {
            guard let data = FileManager.default.contents(atPath: f.path) else { throw .io(path: f.path, reason: "unreadable") }
            guard let s = String(validating: data, as: UTF8.self) else { throw .io(path: f.path, reason: "not valid UTF-8") }
            text += s + "\n"
        }
        guard !text.isEmpty else { throw .missingHaystack("no .txt files in \(url.path)") }
        return text
    }
}
