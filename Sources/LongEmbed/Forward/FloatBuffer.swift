import CKernels

/// A fixed-size, 64-byte aligned fp32 buffer owned by the encoder (weights, activations).
///
/// Large buffers come from `ck_alloc_f32`, which interleaves their pages over NUMA nodes on a
/// multi-socket machine (a no-op on one node). Contents are written once while building and are
/// read-only afterwards when shared, hence `@unchecked Sendable`.
final class FloatBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    /// Allocates `count` floats, zero-filled.
    init(count: Int) throws(EncoderError) {
        guard count >= 0, let p = ck_alloc_f32(count) else {
            throw .outOfMemory(floats: count)
        }
        pointer = p
        self.count = count
        p.initialize(repeating: 0, count: count)
    }

    /// Copies `values`.
    convenience init(_ values: [Float]) throws(EncoderError) {
        try self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { ck_free_f32(pointer, count) }

    var constPointer: UnsafePointer<Float> { UnsafePointer(pointer) }

    func toArray() -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
