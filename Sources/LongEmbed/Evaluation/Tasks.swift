import Foundation

/// The six LongEmbed tasks (MTEB names).
public enum LongEmbedTask: String, CaseIterable, Sendable, Codable {
    case passkey = "LEMBPasskeyRetrieval"
    case needle = "LEMBNeedleRetrieval"
    case narrativeQA = "LEMBNarrativeQARetrieval"
    case qmsum = "LEMBQMSumRetrieval"
    case wikimQA = "LEMBWikimQARetrieval"
    case summScreenFD = "LEMBSummScreenFDRetrieval"

    /// The synthetic tasks' context lengths.
    public static let syntheticLengths = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]

    /// Folder of the task in the published dataset (dwzhu/LongEmbed).
    public var folder: String {
        switch self {
        case .passkey: return "passkey"
        case .needle: return "needle"
        case .narrativeQA: return "narrativeqa"
        case .qmsum: return "qmsum"
        case .wikimQA: return "2wikimqa"
        case .summScreenFD: return "summ_screen_fd"
        }
    }

    /// Name on the command line.
    public var shortName: String {
        switch self {
        case .passkey: return "passkey"
        case .needle: return "needle"
        case .narrativeQA: return "narrativeqa"
        case .qmsum: return "qmsum"
        case .wikimQA: return "wikimqa"
        case .summScreenFD: return "summscreenfd"
        }
    }

    /// Column header in the paper's Table 2.
    public var column: String {
        switch self {
        case .passkey: return "Passkey"
        case .needle: return "Needle"
        case .narrativeQA: return "NQA"
        case .qmsum: return "QMSum"
        case .summScreenFD: return "SFD"
        case .wikimQA: return "2WmQA"
        }
    }

    /// Passkey and needle: one split per context length.
    public var isSynthetic: Bool { self == .passkey || self == .needle }

    /// The split of a real task ("test", or "validation" for SummScreenFD).
    public var split: String { self == .summScreenFD ? "validation" : "test" }

    /// The task's main metric: nDCG@1 (= Acc@1) for the synthetic tasks, nDCG@10 otherwise.
    public var mainMetric: String { isSynthetic ? "ndcg_at_1" : "ndcg_at_10" }

    /// The task named `name` (short name, folder or MTEB name, case-insensitive).
    public static func named(_ name: String) -> LongEmbedTask? {
        let n = name.lowercased()
        return allCases.first { $0.shortName == n || $0.folder == n || $0.rawValue.lowercased() == n }
    }
}

/// An error of the evaluation runner or its data.
public enum EvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The task's folder is not in the data directory.
    case missingTask(task: String, path: String)
    /// A line of a JSON-lines file is not valid.
    case malformedLine(file: String, line: Int, reason: String)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// The data has no queries or documents.
    case emptyTask(task: String)
    /// An option is out of range.
    case invalidOption(String)
    /// The haystack for the needle task is not available.
    case missingHaystack(String)
    /// An embedder failed.
    case embedding(String)

    public var description: String {
        switch self {
        case .missingTask(let t, let p):
            return "task \(t): folder \(p) not found. Download the LongEmbed dataset (Hugging Face dataset dwzhu/LongEmbed) and place its \(URL(fileURLWithPath: p).lastPathComponent)/ folder (corpus.jsonl, queries.jsonl, qrels.jsonl) there, or pass --data DIR"
        case .malformedLine(let f, let l, let r): return "\(f):\(l): \(r)"
        case .io(let p, let r): return "\(p): \(r)"
        case .emptyTask(let t): return "task \(t) has no queries or no documents"
        case .invalidOption(let s): return "invalid option: \(s)"
        case .missingHaystack(let s): return s
        case .embedding(let s): return "embedding failed: \(s)"
        }
    }
}
