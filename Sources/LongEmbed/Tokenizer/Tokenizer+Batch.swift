import Dispatch
import Foundation
import Synchronization

extension Tokenizer {
    /// Token ids of each text, in order, encoded on up to `threads` threads (default: every
    /// active core). The tokenizer is immutable and its word caches are locked, so texts encode
    /// independently.
    public func encode(batch texts: [String], addSpecialTokens: Bool = true, threads: Int? = nil) -> [[Int32]] {
        encode(batch: texts, threads: threads) { self.encode($0, addSpecialTokens: addSpecialTokens) }
    }

    /// Each text through `body` on up to `threads` threads, results in input order.
    func encode(batch texts: [String], threads: Int?, _ body: @Sendable (String) -> [Int32]) -> [[Int32]] {
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, texts.count))
        if workers == 1 { return texts.map(body) }
        let results = Mutex<[[Int32]]>([[Int32]](repeating: [], count: texts.count))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < texts.count {
                let ids = body(texts[i])
                results.withLock { $0[i] = ids }
                i += workers
            }
        }
        return results.withLock { $0 }
    }
}
