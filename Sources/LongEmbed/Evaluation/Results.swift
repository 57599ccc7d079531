import Foundation

/// The scores of one task under one setting.
public struct TaskEvaluation: Sendable, Equatable {
    public var task: LongEmbedTask
    /// The setting's name (e.g. "pi").
    public var setting: String
    /// Split ("test_256", "test", ...) -> metric -> value, with "evaluation_time" in seconds.
    public var splits: [String: [String: Double]]

    /// The task's main score: mean nDCG@1 over lengths (synthetic) or nDCG@10 of its split.
    public var mainScore: Double {
        let values = splits.values.compactMap { $0[task.mainMetric] }
        return values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    /// The synthetic splits' context lengths with their main metric, ascending.
    public var byLength: [(length: Int, score: Double)] {
        splits.compactMap { key, metrics -> (Int, Double)? in
            guard key.hasPrefix("test_"), let n = Int(key.dropFirst(5)), let v = metrics[task.mainMetric] else { return nil }
            return (n, v)
        }.sorted { $0.0 < $1.0 }
    }
}

/// Result files: MTEB's per-task JSON, the authors' overall summary, a Table-2 markdown
/// summary and a Figure-1b-style SVG chart.
public enum ResultWriter {
    /// MTEB version whose file layout is written (the authors' own results use it).
    public static let mtebVersion = "1.6.23"

    /// One task's MTEB JSON: dataset_revision, mteb_dataset_name, mteb_version, then one object
    /// per split with evaluation_time and every metric at k in {1,3,5,10,20,100,1000}.
    /// - Throws: when a value cannot be written as JSON (a non-finite score).
    public static func mtebJSON(_ e: TaskEvaluation, datasetRevision: String) throws -> Data {
        var object: [String: Any] = ["dataset_revision": datasetRevision, "mteb_dataset_name": e.task.rawValue,
                                     "mteb_version": mtebVersion]
        for (split, metrics) in e.splits { object[split] = metrics }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// The authors' `overall_results.json` layout for one setting.
    /// - Throws: when a value cannot be written as JSON (a non-finite score).
    public static func overallJSON(_ evaluations: [TaskEvaluation]) throws -> Data {
        var object: [String: Any] = [:]
        for e in evaluations {
            if e.task.isSynthetic {
                var o: [String: Any] = [:]
                for (n, v) in e.byLength { o[String(n)] = v }
                o["avg"] = e.mainScore
                object[e.task.rawValue] = o
            } else if let m = e.splits[e.task.split] {
                object[e.task.rawValue] = ["ndcg@1": m["ndcg_at_1"] ?? 0, "ndcg@10": m["ndcg_at_10"] ?? 0]
            }
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// A markdown table laid out like the paper's Table 2: one row per setting, scores in %.
    public static func markdownTable(rows: [(name: String, evaluations: [TaskEvaluation])]) -> String {
        let order: [LongEmbedTask] = [.passkey, .needle, .narrativeQA, .qmsum, .summScreenFD, .wikimQA]
        var out = "| model + method | " + order.map(\.column).joined(separator: " | ") + " | Avg |\n"
        out += "|---|" + String(repeating: "---|", count: order.count + 1) + "\n"
        for row in rows {
            var cells: [String] = []
            var present: [Double] = []
            for t in order {
                if let e = row.evaluations.first(where: { $0.task == t }) {
                    cells.append(String(format: "%.1f", 100 * e.mainScore))
                    present.append(100 * e.mainScore)
                } else {
                    cells.append("-")
                }
            }
            let avg = present.isEmpty ? "-" : String(format: "%.1f", present.reduce(0, +) / Double(present.count))
                + (present.count < order.count ? " (\(present.count) of \(order.count))" : "")
            out += "| \(row.name) | " + cells.joined(separator: " | ") + " | \(avg) |\n"
        }
        return out
    }

    /// Per-length accuracy (Acc@1 = nDCG@1) of the synthetic tasks, one row per setting.
    public static func lengthTable(rows: [(name: String, evaluations: [TaskEvaluation])]) -> String {
        var out = ""
        for task in [LongEmbedTask.passkey, .needle] {
            let lengths = Set(rows.flatMap { $0.evaluations.filter { $0.task == task }.flatMap { $0.byLength.map(\.length) } }).sorted()
            guard !lengths.isEmpty else { continue }
            out += "\n\(task.column) Acc@1 (%) by length\n\n| method | " + lengths.map(String.init).joined(separator: " | ") + " |\n"
            out += "|---|" + String(repeating: "---|", count: lengths.count) + "\n"
            for row in rows {
                guard let e = row.evaluations.first(where: { $0.task == task }) else { continue }
                let map = Dictionary(uniqueKeysWithValues: e.byLength.map { ($0.length, $0.score) })
                out += "| \(row.name) | " + lengths.map { map[$0].map { String(format: "%.0f", 100 * $0) } ?? "-" }.joined(separator: " | ") + " |\n"
            }
        }
        return out
    }

    /// An SVG chart of passkey and needle Acc@1 by context length (log2 x axis), one line per
    /// setting, like the paper's Figure 1b.
    public static func svg(rows: [(name: String, evaluations: [TaskEvaluation])]) -> String {
        let tasks = [LongEmbedTask.passkey, .needle].filter { t in rows.contains { $0.evaluations.contains { $0.task == t } } }
        let panelW = 360.0, panelH = 240.0, left = 50.0, top = 40.0, gap = 60.0
        let width = left + Double(max(tasks.count, 1)) * (panelW + gap) + 200
        let height = top + panelH + 70
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
        let allLengths = rows.flatMap { $0.evaluations.flatMap { $0.byLength.map(\.length) } }
        let lo = log2(Double(allLengths.min() ?? 256)), hi = max(log2(Double(allLengths.max() ?? 32768)), lo + 1)
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (p, task) in tasks.enumerated() {
            let x0 = left + Double(p) * (panelW + gap)
            func x(_ n: Int) -> Double { x0 + (log2(Double(n)) - lo) / (hi - lo) * panelW }
            func y(_ v: Double) -> Double { top + (1 - v) * panelH }
            s += "<text x=\"\(x0 + panelW / 2)\" y=\"\(top - 15)\" text-anchor=\"middle\" font-size=\"14\">\(task.column) retrieval, Acc@1</text>\n"
            s += "<rect x=\"\(x0)\" y=\"\(top)\" width=\"\(panelW)\" height=\"\(panelH)\" fill=\"none\" stroke=\"black\"/>\n"
            for v in stride(from: 0.0, through: 1.0, by: 0.25) {
                s += "<line x1=\"\(x0)\" y1=\"\(y(v))\" x2=\"\(x0 + panelW)\" y2=\"\(y(v))\" stroke=\"#ddd\"/>"
                s += "<text x=\"\(x0 - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Int(v * 100))</text>\n"
            }
            for n in Set(allLengths).sorted() {
                s += "<text x=\"\(x(n))\" y=\"\(top + panelH + 16)\" text-anchor=\"middle\">\(n >= 1024 ? "\(n / 1024)k" : "\(n)")</text>\n"
            }
            s += "<text x=\"\(x0 + panelW / 2)\" y=\"\(top + panelH + 36)\" text-anchor=\"middle\">context length (tokens)</text>\n"
            for (i, row) in rows.enumerated() {
                guard let e = row.evaluations.first(where: { $0.task == task }) else { continue }
                let color = colors[i % colors.count]
                let pts = e.byLength.map { "\(x($0.length)),\(y($0.score))" }.joined(separator: " ")
                s += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                for pnt in e.byLength { s += "<circle cx=\"\(x(pnt.length))\" cy=\"\(y(pnt.score))\" r=\"3\" fill=\"\(color)\"/>\n" }
            }
        }
        let lx = left + Double(tasks.count) * (panelW + gap) - gap + 15
        for (i, row) in rows.enumerated() {
            let yy = top + 10 + Double(i) * 18
            s += "<line x1=\"\(lx)\" y1=\"\(yy)\" x2=\"\(lx + 20)\" y2=\"\(yy)\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"2\"/>"
            s += "<text x=\"\(lx + 26)\" y=\"\(yy + 4)\">\(esc(row.name))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
