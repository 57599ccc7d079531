import Foundation

// Pooling: token vectors -> one vector per sequence -> one vector per document (PCW chunks
// averaged, LongEmbed Sec. 3.1).

extension Encoder {
    /// Pools every sequence; sequences are packed into batches of about `batchTokens` tokens.
    func poolAll(_ plans: [SequencePlan]) throws(EncoderError) -> [[Float]] {
        var result = [[Float]](repeating: [], count: plans.count)
        // Similar lengths together keep attention work balanced within a batch.
        let order = plans.indices.sorted { plans[$0].ids.count > plans[$1].ids.count }
        var batch: [Int] = []
        var tokens = 0
        func flush() throws(EncoderError) {
            guard !batch.isEmpty else { return }
            let pooled = try forwardPooled(batch.map { plans[$0] })
            for (i, p) in zip(batch, pooled) { result[i] = p }
            batch.removeAll(keepingCapacity: true)
            tokens = 0
        }
        for i in order {
            let n = plans[i].ids.count
            if !batch.isEmpty && tokens + n > options.batchTokens { try flush() }
            batch.append(i)
            tokens += n
        }
        try flush()
        return result
    }

    /// Pools each sequence of one packed batch, then runs the folder's Dense modules in order.
    private func forwardPooled(_ plans: [SequencePlan]) throws(EncoderError) -> [[Float]] {
        let h = architecture.hiddenSize
        let dense = model.sentenceTransformers?.dense ?? []
        let hidden = try forward(plans, observe: nil)
        var out: [[Float]] = []
        out.reserveCapacity(plans.count)
        var offset = 0
        for plan in plans {
            let n = plan.ids.count
            var v = [Float](repeating: 0, count: h)
            do {
                try v.withUnsafeMutableBufferPointer { dst throws(KernelError) in
                    guard let base = dst.baseAddress else { return }
                    try kernels.pool(out: base, x: hidden.constPointer + offset * h, mask: nil,
                                     rows: n, cols: h, mode: pooling)
                }
            } catch { throw .kernel(error) }
            for layer in dense { v = layer.apply(v) }
            out.append(v)
            offset += n
        }
        return out
    }

    /// One document vector from its sequences' pooled vectors.
    func combine(_ chunks: [[Float]], _ combo: ChunkCombination) throws(EncoderError) -> [Float] {
        let h = fullDimension
        var v: [Float]
        switch combo {
        case .single:
            guard let only = chunks.first else { throw .emptyInput }
            v = only
        case .meanOfNormalized, .meanOfRaw:
            var acc = [Double](repeating: 0, count: h)
            for var c in chunks {
                if combo == .meanOfNormalized { try normalize(&c) }
                for j in 0..<h { acc[j] += Double(c[j]) }
            }
            v = acc.map { Float($0 / Double(max(chunks.count, 1))) }
        }
        if normalizes || combo != .single { try normalize(&v) }
        // Matryoshka truncation (Kusupati et al. 2022, arXiv:2205.13147): the first N
        // components, normalized again.
        if let n = options.dimensions, n < h {
            v.removeSubrange(n...)
            if normalizes { try normalize(&v) }
        }
        return v
    }

    private func normalize(_ v: inout [Float]) throws(EncoderError) {
        let h = v.count
        do {
            try v.withUnsafeMutableBufferPointer { p throws(KernelError) in
                guard let base = p.baseAddress else { return }
                try kernels.l2Normalize(x: base, rows: 1, cols: h)
            }
        } catch { throw .kernel(error) }
    }
}
