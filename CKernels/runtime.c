/* Runtime services of CKernels: status names, ISA dispatch, threads, NUMA-aware allocation. */
#include "CKernels.h"
#include "ck_internal.h"

#include <math.h>
#include <immintrin.h>
#include <numa.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#ifdef CK_USE_OPENMP
int omp_get_max_threads(void);
void omp_set_num_threads(int n);
#endif
/* OpenBLAS' own thread control (pthread build); declared here to avoid cblas.h variations. */
void openblas_set_num_threads(int n);

const char *ck_status_string(ck_status status) {
    switch (status) {
    case CK_OK: return "ok";
    case CK_ERR_NULL_POINTER: return "null pointer";
    case CK_ERR_INVALID_SHAPE: return "invalid shape";
    case CK_ERR_OUT_OF_MEMORY: return "out of memory";
    case CK_ERR_UNSUPPORTED: return "unsupported parameter";
    case CK_ERR_INVALID_VALUE: return "invalid value";
    }
    return "unknown status";
}


/* ---- OpenBLAS kernel choice ----
   A DYNAMIC_ARCH OpenBLAS picks its kernels by CPU model when it loads. A release older than
   the CPU does not know the model and falls back to its Prescott (SSE3) kernels: Debian 12's
   0.3.21 on an Intel family 6 model 207 Xeon ran sgemm 2048^3 about 5x slower than with its
   SkylakeX kernels on the same machine (README, "Measured"). When OpenBLAS' choice is such a
   pre-AVX2 core while the CPU (and OS) support AVX2+FMA or AVX-512, the core is chosen again
   from the features: AVX-512 F/CD/BW/DQ/VL -> SkylakeX, AVX2+FMA -> Haswell, by OpenBLAS' own
   load-time sequence (gotoblas_dynamic_quit, then gotoblas_dynamic_init, which reads
   OPENBLAS_CORETYPE). Runs in ck_configure_runtime_at_load, after OpenBLAS' own constructor and
   before main, with no BLAS call in flight. A user's OPENBLAS_CORETYPE,
   LONGEMBED_KEEP_BLAS_CORE=1 or an OpenBLAS built without DYNAMIC_ARCH (the weak symbols are
   absent) leaves it alone. */

/* The OpenBLAS core for this CPU's features, from the same detection as the kernels' ISA
   (ck_detected_isa: AVX2+FMA, AVX-512F with zmm state) plus the AVX-512 subsets SkylakeX needs. */
static int ck_blas_core_for_cpu(const char **core) {
#if defined(__x86_64__) || defined(__i386__)
    const ck_isa isa = ck_detected_isa();
    if (isa == CK_ISA_AVX512 && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        *core = "SkylakeX";
        return 1;
    }
    if (isa >= CK_ISA_AVX2_FMA) { *core = "Haswell"; return 1; }
#else
    (void)core;
#endif
    return 0;
}

/* Provided by OpenBLAS; the dynamic-arch entry points only by DYNAMIC_ARCH builds. */
char *openblas_get_corename(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Cores of OpenBLAS 0.3.x without AVX2 kernels (its x86 fallbacks for unknown models). */
static int ck_blas_core_is_pre_avx2(const char *name) {
    static const char *const old[] = { "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge",
                                       "Atom", "Katmai", "Coppermine", "Northwood", "Banias", "Athlon", "Opteron",
                                       "Opteron_SSE3", "Barcelona", "Bobcat", "Bulldozer", "Piledriver", "Nano" };
    if (!name) return 0;
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        if (strcasecmp(name, old[i]) == 0) return 1;
    return 0;
}

static void ck_reselect_blas_core_for_cpu(void) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("LONGEMBED_KEEP_BLAS_CORE")) return;
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    const char *core = NULL;
    if (!ck_blas_core_for_cpu(&core) || !ck_blas_core_is_pre_avx2(openblas_get_corename())) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

const char *ck_blas_core_name(void) { return openblas_get_corename(); }

/* The highest ISA the kernels may use (ck_limit_isa, LONGEMBED_ISA). */
static ck_isa ck_isa_cap = CK_ISA_AVX512;

/* Passive OpenMP waiting unless the user chose otherwise (OMP_WAIT_POLICY set): on a host that
   sometimes gives the VM one core, spinning threads cost milliseconds per parallel region
   (README, "Measured", on the cores the host gives). Must run before the OpenMP runtime reads
   its environment. */
static void ck_default_omp_wait_policy_passive(void) { setenv("OMP_WAIT_POLICY", "passive", 0); }

/* LONGEMBED_ISA=scalar|avx2 caps the kernels' ISA for the whole process (A/B runs, instruction
   counts that do not depend on the host); any other value keeps the automatic choice. */
static void ck_apply_isa_cap_from_env(void) {
    const char *isa = getenv("LONGEMBED_ISA");
    if (!isa) return;
    if (strcasecmp(isa, "scalar") == 0) ck_isa_cap = CK_ISA_SCALAR;
    else if (strcasecmp(isa, "avx2") == 0 || strcasecmp(isa, "avx2+fma") == 0) ck_isa_cap = CK_ISA_AVX2_FMA;
}

/* With OpenMP, GEMMs are split over the OpenMP team (layer.c); OpenBLAS' own pthreads would
   otherwise spin for up to ~2^28 cycles after each call, on the cores the next kernel needs. */
static void ck_make_openblas_single_threaded(void) {
#ifdef CK_USE_OPENMP
    openblas_set_num_threads(1);
#endif
}

/* Load-time configuration of the runtime, after OpenBLAS' own constructor and before main:
   OpenMP wait policy, OpenBLAS core and threads, ISA cap. */
__attribute__((constructor)) static void ck_configure_runtime_at_load(void) {
    ck_default_omp_wait_policy_passive();
    ck_reselect_blas_core_for_cpu();
    ck_apply_isa_cap_from_env();
    ck_make_openblas_single_threaded();
}

static ck_isa ck_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();   /* the avx512 bits are set only when the OS saves zmm state */
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return CK_ISA_SCALAR;
    return __builtin_cpu_supports("avx512f") ? CK_ISA_AVX512 : CK_ISA_AVX2_FMA;
#else
    return CK_ISA_SCALAR;
#endif
}

ck_isa ck_detected_isa(void) {
    static int detected = -1;
    if (detected < 0) detected = (int)ck_cpu_isa();
    return (ck_isa)detected;
}

ck_isa ck_active_isa(void) {
    ck_isa d = ck_detected_isa();
    return d < ck_isa_cap ? d : ck_isa_cap;
}

void ck_limit_isa(ck_isa max) {
    ck_isa_cap = max < CK_ISA_SCALAR ? CK_ISA_SCALAR : (max > CK_ISA_AVX512 ? CK_ISA_AVX512 : max);
}

const char *ck_isa_name(ck_isa isa) {
    switch (isa) {
    case CK_ISA_AVX512: return "avx512";
    case CK_ISA_AVX2_FMA: return "avx2+fma";
    default: return "scalar";
    }
}

int ck_openmp_enabled(void) {
#ifdef CK_USE_OPENMP
    return 1;
#else
    return 0;
#endif
}

int ck_get_num_threads(void) {
#ifdef CK_USE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

ck_status ck_set_num_threads(int n) {
    if (n < 1) return CK_ERR_INVALID_VALUE;
#ifdef CK_USE_OPENMP
    omp_set_num_threads(n);
#else
    openblas_set_num_threads(n);
#endif
    return CK_OK;
}

int ck_numa_node_count(void) {
    if (numa_available() < 0) return 1;
    int n = numa_num_configured_nodes();
    return n < 1 ? 1 : n;
}

/* Large buffers (>= 2 MiB) come from mmap so that their pages can be interleaved over NUMA
   nodes; small ones from aligned_alloc. The size decides the path in both alloc and free. */
#define CK_MMAP_THRESHOLD ((size_t)2 << 20)

float *ck_alloc_f32(size_t n) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX / sizeof(float) - 64) return NULL;
    size_t bytes = n * sizeof(float);
    if (bytes >= CK_MMAP_THRESHOLD) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        if (ck_numa_node_count() > 1) numa_interleave_memory(p, bytes, numa_all_nodes_ptr);
        return (float *)p;
    }
    size_t rounded = (bytes + 63) & ~(size_t)63;
    return (float *)aligned_alloc(64, rounded);
}

void ck_free_f32(float *p, size_t n) {
    if (!p) return;
    if (n == 0) n = 1;
    size_t bytes = n * sizeof(float);
    if (bytes >= CK_MMAP_THRESHOLD) munmap(p, bytes);
    else free(p);
}

/* ---- Clock probe: how many cores' worth of floating-point throughput the host gives now ----
   Each of `threads` pthreads runs the same loop of 12 independent FMA chains (AVX2 where the CPU
   has it, else scalar), which saturates one core's FMA units: two threads on two free cores
   take as long as one thread; on one core's worth of CPU, or on two hyperthreads of one
   physical core (which an integer dependency chain would not reveal), about twice as long. */

typedef struct { uint64_t iterations; float result; } ck_probe_arg;

CK_AVX2 static float ck_probe_fma_avx2(uint64_t iterations) {
    __m256 a[12];
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps(1.0f + (float)i);
    for (uint64_t it = 0; it < iterations; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

static float ck_probe_fma_scalar(uint64_t iterations) {
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = 1.0f + (float)i;
    for (uint64_t it = 0; it < iterations; it++)
        for (int i = 0; i < 12; i++) a[i] = fmaf(a[i], 0.999999f, 1e-7f);
    float s = 0.0f;
    for (int i = 0; i < 12; i++) s += a[i];
    return s;
}

static void *ck_probe_spin(void *p) {
    ck_probe_arg *a = (ck_probe_arg *)p;
    a->result = ck_detected_isa() >= CK_ISA_AVX2_FMA ? ck_probe_fma_avx2(a->iterations) : ck_probe_fma_scalar(a->iterations);
    return NULL;
}

ck_status ck_clock_probe(int threads, int64_t iterations, double *seconds) {
    if (!seconds) return CK_ERR_NULL_POINTER;
    if (threads < 1 || threads > 256 || iterations < 1) return CK_ERR_INVALID_VALUE;
    pthread_t tid[256];
    ck_probe_arg args[256];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int started = 0;
    for (; started < threads; started++) {
        args[started].iterations = (uint64_t)iterations;
        if (pthread_create(&tid[started], NULL, ck_probe_spin, &args[started]) != 0) break;
    }
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (started < threads) return CK_ERR_OUT_OF_MEMORY;
    volatile float sink = 0.0f;
    for (int i = 0; i < threads; i++) sink += args[i].result;
    (void)sink;
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return CK_OK;
}
