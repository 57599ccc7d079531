import CKernels

/// Maps a `ck_status` to ``KernelError``; `CK_OK` returns normally.
@inline(__always)
func checkStatus(_ status: ck_status, _ operation: String) throws(KernelError) {
    switch status {
    case CK_OK: return
    case CK_ERR_NULL_POINTER: throw .nullPointer(operation: operation)
    case CK_ERR_INVALID_SHAPE: throw .invalidShape(operation: operation, detail: "rejected by \(operation)")
    case CK_ERR_OUT_OF_MEMORY: throw .outOfMemory(operation: operation)
    case CK_ERR_UNSUPPORTED: throw .unsupported(operation: operation, detail: "rejected by \(operation)")
    default: throw .invalidValue(operation: operation, detail: String(cString: ck_status_string(status)))
    }
}

/// Instruction sets the C kernels dispatch between, lowest first. Each level includes the one
/// below: with ``avx512`` the attention kernels run 16-lane code, the other kernels AVX2+FMA.
public enum KernelISA: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// The portable C path (also the fallback on non-x86 CPUs).
    case scalar = 0
    /// AVX2 with FMA.
    case avx2 = 1
    /// AVX-512F (with the OS saving zmm state).
    case avx512 = 2

    public static func < (a: KernelISA, b: KernelISA) -> Bool { a.rawValue < b.rawValue }
    /// The name `bench --info` prints: "scalar", "avx2+fma" or "avx512".
    public var description: String { String(cString: ck_isa_name(ck_isa(rawValue: UInt32(rawValue)))) }
}

/// Facts about the native kernel runtime: ISA, threads, NUMA.
public enum NativeRuntime {
    /// The instruction set the C kernels dispatch to now ("avx512", "avx2+fma" or "scalar").
    public static var isa: String { String(cString: ck_isa_name(ck_active_isa())) }
    /// The best instruction set this CPU and OS support.
    public static var detectedISA: KernelISA { KernelISA(rawValue: Int(ck_detected_isa().rawValue)) ?? .scalar }
    /// Caps the instruction set the kernels use (``KernelISA/avx512`` restores the automatic
    /// choice). For tests and A/B comparisons; do not call while kernels run.
    public static func limitISA(to isa: KernelISA) { ck_limit_isa(ck_isa(rawValue: UInt32(isa.rawValue))) }
    /// Whether the C kernels were built with OpenMP.
    public static var openMPEnabled: Bool { ck_openmp_enabled() != 0 }
    /// Threads the C kernels use.
    public static var threads: Int { Int(ck_get_num_threads()) }
    /// Sets the thread count of the C kernels and OpenBLAS (`n >= 1`).
    public static func setThreads(_ n: Int) throws(KernelError) {
        try checkStatus(ck_set_num_threads(Int32(clamping: n)), "setThreads")
    }
    /// The kernel set OpenBLAS runs the dense GEMMs with (for example "SkylakeX", "Haswell").
    /// When OpenBLAS falls back to pre-AVX2 kernels on a CPU it does not know, CKernels
    /// re-selects the core from the CPU's features at load time (unless `OPENBLAS_CORETYPE`
    /// or `LONGEMBED_KEEP_BLAS_CORE=1` is set).
    public static var blasCore: String { String(cString: ck_blas_core_name()) }
    /// Number of NUMA nodes (1 on a single-node machine).
    public static var numaNodes: Int { Int(ck_numa_node_count()) }
}
