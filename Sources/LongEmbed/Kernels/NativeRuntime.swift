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

/// Facts about the native kernel runtime: ISA, threads, NUMA.
public enum NativeRuntime {
    /// The instruction set the C kernels dispatch to on this CPU ("avx2+fma" or "scalar").
    public static var isa: String { String(cString: ck_isa_name(ck_active_isa())) }
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
    /// Forces the portable scalar path (for tests and comparisons).
    public static func forceScalar(_ on: Bool) { ck_force_scalar(on ? 1 : 0) }
}
