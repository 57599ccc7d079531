/*
 * CKernels: fp32 kernels for long-context text encoders (LongEmbed, Zhu et al. 2024,
 * arXiv:2404.12096). Every kernel returns a ck_status, never prints, never exits and never
 * allocates inside its hot loop (scratch, where needed, is allocated once per call).
 *
 * Layout conventions (row-major, "token-major"):
 *   A sequence of n tokens with h heads of head dim d is stored as n rows; row t starts at
 *   base + t * stride and holds the h heads back to back: head hd occupies floats
 *   [hd * d, hd * d + d) of the row. stride >= h * d lets q, k and v live side by side in one
 *   fused QKV buffer of row length 3 * h * d.
 *
 * Code paths, chosen at run time from the CPU (ck_active_isa) and compiled per function with
 * __attribute__((target)), so no global -march flag is needed:
 *   - scalar:   portable C for every kernel; the same loop finishes the vector code's tails;
 *   - AVX2+FMA: exp, RoPE (rotate-half layout; grouped k), LayerNorm (optional beta) and its
 *               bias + residual form, RMSNorm (rows, per-head q/k norm, residual + norm
 *               epilogue), bias + activation and the gated GLU product (exact GELU, tanh GELU,
 *               SiLU), attention and SelfExtend attention (grouped-query heads, sliding window,
 *               bidirectional or causal);
 *   - AVX-512:  attention and SelfExtend attention (12 x 32 micro-kernels, 16-lane exp2); the
 *               other kernels take their AVX2+FMA path on AVX-512 CPUs.
 * The row-wise layer ops and the attention work items run over an OpenMP team when built with
 * CK_USE_OPENMP.
 * Pooling, L2 normalization and the RoPE frequency table are scalar only; the GEMMs run in
 * OpenBLAS with the kernels of its own core choice (ck_blas_core_name).
 */
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Status and runtime                                                                       */
/* ---------------------------------------------------------------------------------------- */

typedef enum ck_status {
    CK_OK = 0,
    CK_ERR_NULL_POINTER = 1,   /* a required pointer was NULL */
    CK_ERR_INVALID_SHAPE = 2,  /* a size, stride or count is negative, zero where it may not be, or inconsistent */
    CK_ERR_OUT_OF_MEMORY = 3,  /* scratch allocation failed */
    CK_ERR_UNSUPPORTED = 4,    /* a parameter value this build does not support (e.g. odd head dim for RoPE) */
    CK_ERR_INVALID_VALUE = 5   /* a non-finite or out-of-range scalar parameter */
} ck_status;

/* Human-readable name of a status ("ok", "null pointer", ...). Never NULL. */
const char *ck_status_string(ck_status status);

/* Instruction set the dispatching kernels use on this CPU. Ordered: each level includes the
   one below (AVX-512 kernels exist for attention; the other kernels use AVX2+FMA there). */
typedef enum ck_isa { CK_ISA_SCALAR = 0, CK_ISA_AVX2_FMA = 1, CK_ISA_AVX512 = 2 } ck_isa;

/* The best ISA this CPU and OS support (AVX-512F with zmm state, AVX2+FMA, or scalar). */
ck_isa ck_detected_isa(void);
/* The ISA the kernels run now: the detected one, capped by ck_limit_isa (or LONGEMBED_ISA at load). */
ck_isa ck_active_isa(void);
/* Cap the ISA at `max` (CK_ISA_AVX512 restores the automatic choice). For tests and A/B runs;
   not thread-safe against kernels in flight. */
void ck_limit_isa(ck_isa max);
/* Name of an ISA: "scalar", "avx2+fma" or "avx512". */
const char *ck_isa_name(ck_isa isa);

/* Clock probe for scaling measurements on shared hosts: `threads` threads each run the same
   FMA-throughput loop (12 independent chains, `iterations` steps); *seconds is the wall time
   until all finish. On `threads` free physical cores it equals the one-thread time; hyperthread
   siblings or a busy host make it longer. 1 <= threads <= 256. */
ck_status ck_clock_probe(int threads, int64_t iterations, double *seconds);

/* The kernel set OpenBLAS runs its GEMMs with (its core name, e.g. "SkylakeX", "Haswell").
   At load, a pre-AVX2 fallback choice of OpenBLAS on an AVX2/AVX-512 CPU is replaced by the
   matching core (runtime.c explains why); OPENBLAS_CORETYPE or LONGEMBED_KEEP_BLAS_CORE=1 keeps
   OpenBLAS' own choice. */
const char *ck_blas_core_name(void);

/* Threads used by the OpenMP-parallel kernels. 1 when built without OpenMP. */
int ck_get_num_threads(void);
/* Set the thread count (n >= 1): the OpenMP team's with OpenMP (OpenBLAS then stays
   single-threaded and GEMMs are split over the team), OpenBLAS' own without. */
ck_status ck_set_num_threads(int n);
/* 1 when compiled with OpenMP, else 0. */
int ck_openmp_enabled(void);

/* NUMA: number of configured nodes (1 when libnuma reports NUMA unavailable). */
int ck_numa_node_count(void);
/* Allocate n floats, 64-byte aligned. On more than one NUMA node the pages are interleaved over
   all nodes; on one node this is a plain aligned allocation. Returns NULL on failure. */
float *ck_alloc_f32(size_t n);
/* Free memory from ck_alloc_f32 (n must be the same count). NULL is ignored. */
void ck_free_f32(float *p, size_t n);

/* ---------------------------------------------------------------------------------------- */
/* Vector exp                                                                               */
/* ---------------------------------------------------------------------------------------- */

/* out[i] = exp(x[i]) for n floats (in place allowed). Max relative error over
   x in [-87.3, 88.7]: <= 2e-6 (measured in the tests; AVX2: Cody-Waite reduction and a
   degree-7 polynomial; scalar path and tails: libm expf). On the AVX2 path inputs below -87.3
   give 0 and above 88.7 give +inf; NaN stays NaN. */
ck_status ck_exp_f32(float *out, const float *x, int64_t n);

/* ---------------------------------------------------------------------------------------- */
/* RoPE (Su et al., RoFormer, arXiv:2104.09864)                                             */
/* ---------------------------------------------------------------------------------------- */

typedef enum ck_rope_layout {
    /* HF / GPT-NeoX "rotate_half": pair (x[i], x[i + d/2]) rotated by angle_i. */
    CK_ROPE_ROTATE_HALF = 0,
    /* GPT-J interleaved: pair (x[2i], x[2i + 1]) rotated by angle_i. */
    CK_ROPE_INTERLEAVED = 1
} ck_rope_layout;

/* inv_freq[j] = base^(-2j / head_dim), j in [0, head_dim/2), computed in double, stored fp32
   (NTK-aware interpolation multiplies base by lambda; LongEmbed Sec. 3.3). head_dim even. */
ck_status ck_rope_inv_freq_f32(float *inv_freq, int head_dim, double base);

/* Rotate q and (optionally) k of all heads in one pass, in place.
 *   q: [n_tokens rows, stride q_stride], heads*head_dim used per row
 *   k: same shape with k_stride, or NULL to rotate q only
 *   positions: [n_tokens], one float position per token (fractional for PI, any sign)
 *   inv_freq:  [head_dim/2]
 * The angle of pair i at token t is computed as (double)positions[t] * (double)inv_freq[i],
 * then cos/sin in double, rounded to fp32: never by repeated multiplication, so the result
 * depends only on the position, not on how many tokens precede it. */
ck_status ck_rope_qk_f32(float *q, int64_t q_stride, float *k, int64_t k_stride,
                         int64_t n_tokens, int n_heads, int head_dim,
                         const float *positions, const float *inv_freq, ck_rope_layout layout);

/* ck_rope_qk_f32 with grouped-query k: q rows hold n_heads heads, k rows n_kv_heads heads
   (0 means n_heads; k_stride >= n_kv_heads * head_dim). ck_rope_qk_f32 is this with
   n_kv_heads = n_heads. */
ck_status ck_rope_qk_gqa_f32(float *q, int64_t q_stride, float *k, int64_t k_stride,
                             int64_t n_tokens, int n_heads, int n_kv_heads, int head_dim,
                             const float *positions, const float *inv_freq, ck_rope_layout layout);

/* ---------------------------------------------------------------------------------------- */
/* Attention: chunked online softmax (Milakov & Gimelshein 2018, arXiv:1805.02867;          */
/* Rabe & Staats 2021, arXiv:2112.05682)                                                    */
/* ---------------------------------------------------------------------------------------- */

/* Zero-initialized new fields (n_kv_heads, window, causal) give bidirectional multi-head global attention. */
typedef struct ck_attention_params {
    int64_t n_queries;  /* query rows (>= 1) */
    int64_t n_keys;     /* key/value rows present in k and v (>= 1) */
    int64_t n_valid;    /* keys [0, n_valid) take part; keys >= n_valid are padding (1 <= n_valid <= n_keys) */
    int n_heads;        /* query heads, >= 1 */
    int head_dim;       /* >= 1; 32, 64 and 128 have tuned paths */
    int64_t q_stride;   /* floats between consecutive query rows, >= n_heads * head_dim */
    int64_t k_stride;   /* >= n_kv_heads * head_dim */
    int64_t v_stride;   /* >= n_kv_heads * head_dim */
    int64_t out_stride; /* >= n_heads * head_dim */
    float scale;        /* logits = scale * q.k; usually 1/sqrt(head_dim) times the attention-scaling factor */
    /* Key/value heads (grouped-query attention, Ainslie et al. 2023, arXiv:2305.13245):
       0 means n_heads; otherwise it must divide n_heads, and query head hq reads kv head
       hq / (n_heads / n_kv_heads). k and v rows hold n_kv_heads * head_dim floats; kv heads
       are never copied per query head. */
    int n_kv_heads;
    /* Sliding-window (local) attention, bidirectional: 0 = global; w > 0: query i attends only
       to keys j with |i - j| < w (ModernBERT's local layers use w = local_window / 2 + 1).
       Requires n_queries == n_keys. Key tiles outside the band are skipped (cost O(L w)).
       With causal = 1 the window is one-sided: query i attends to keys i - w < j <= i
       (Mistral's and Gemma 3's causal sliding window: Beltagy et al. 2020, arXiv:2004.05150). */
    int64_t window;
    /* 0: bidirectional (encoders). 1: causal (decoders; Vaswani et al. 2017, arXiv:1706.03762):
       query i attends only to keys j <= i. Requires n_queries == n_keys. Key tiles above the
       diagonal are never visited and the diagonal tile is masked, so the work is about half of
       the bidirectional kernel's. Any other value is CK_ERR_INVALID_VALUE. */
    int causal;
} ck_attention_params;

/* softmax(scale * Q K^T) V for one sequence, all heads, bidirectional or causal (p->causal):
 *   q: [n_queries, q_stride], k: [n_keys, k_stride], v: [n_keys, v_stride],
 *   out: [n_queries, out_stride] (heads*head_dim written per row; must not alias q, k or v).
 * Tiled over queries and keys with an online softmax: memory O(L * d), never an L x L buffer.
 * Parallel over (head, query tile). With a window, a query row whose band holds no valid key
 * (only possible when n_valid < n_keys) gets zeros. */
ck_status ck_attention_f32(const ck_attention_params *p, const float *q, const float *k,
                           const float *v, float *out);

/* SelfExtend inputs (Jin et al. 2024, arXiv:2401.01325; bidirectional form of LongEmbed).
 * All q_* share p->q_stride and all k_* share p->k_stride.
 *   q, k:             rotated with normal positions i and j   (used where |i - j| <  window)
 *   q_lower, k_lower: rotated with grouped positions for j <= i (used where |i - j| >= window, j <= i)
 *   q_upper, k_upper: rotated with grouped positions for j > i (used where |i - j| >= window, j > i)
 * Grouped positions follow LongEmbed's official bidirectional code (Zhu et al. 2024,
 * arXiv:2404.12096): lower: query floor(i/g) + shift, key floor(j/g); upper: query floor(i/g),
 * key floor(j/g) + shift; shift = w - floor(w/g).
 * Causal SelfExtend (p->causal = 1; the decoder form of Jin et al. 2024: grouped query
 * floor(i/g) + shift, grouped key floor(j/g), neighbours i - j < w) reads only q/k and
 * q_lower/k_lower; q_upper and k_upper may then be NULL. */
typedef struct ck_selfextend_inputs {
    const float *q, *k;
    const float *q_lower, *k_lower;
    const float *q_upper, *k_upper;
} ck_selfextend_inputs;

/* SelfExtend attention: scores with the normal pair where |i - j| < window, with the grouped
 * pairs elsewhere, merged before the softmax inside the same online-softmax pass; only tiles
 * that straddle |i - j| = window compute both score sets. window >= 0 (0: grouped everywhere).
 * Shapes as ck_attention_f32 (requires n_queries == n_keys: one sequence attending to itself;
 * p->causal selects the decoder form, which computes the lower set only below the diagonal);
 * p->n_kv_heads applies to all three k views, and p->window (the sliding window, distinct from
 * the SelfExtend neighbour window) excludes the pairs with |i - j| >= p->window first. */
ck_status ck_selfextend_attention_f32(const ck_attention_params *p, int64_t window,
                                      const ck_selfextend_inputs *in, const float *v, float *out);

/* ---------------------------------------------------------------------------------------- */
/* Layer ops (contiguous row-major [rows, cols])                                            */
/* ---------------------------------------------------------------------------------------- */

/* y = LayerNorm(x) * gamma + beta per row; mean and variance accumulated in double.
   x, y: [rows, cols] (y may equal x); gamma, beta: [cols]; beta may be NULL (no bias, as in
   ModernBERT); eps > 0. */
ck_status ck_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                           int64_t rows, int64_t cols, float eps);

/* x = gelu(x + bias), exact erf form 0.5 * x * (1 + erf(x / sqrt(2))) = x * Phi(x), in place.
   bias may be NULL. x: [rows, cols]; bias: [cols]. The AVX2 path evaluates Phi through erfc
   (relative error <= 3e-6 over the whole range, tails included); the scalar path uses
   0.5 erfcf(-x / sqrt 2). Equal to ck_bias_act_f32 with CK_ACT_GELU_ERF. */
ck_status ck_bias_gelu_f32(float *x, const float *bias, int64_t rows, int64_t cols);

/* Element-wise activations. */
typedef enum ck_activation {
    CK_ACT_GELU_ERF = 0,   /* x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (Hendrycks & Gimpel 2016, arXiv:1606.08415) */
    CK_ACT_GELU_TANH = 1,  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): PyTorch gelu(approximate="tanh") */
    CK_ACT_SILU = 2        /* x sigmoid(x) (Elfwing et al. 2017, arXiv:1702.03118) */
} ck_activation;

/* x = act(x + bias) in place. x: [rows, cols]; bias: [cols] or NULL. ck_bias_gelu_f32 is this
   with CK_ACT_GELU_ERF. The AVX2 path evaluates tanh-GELU as x / (1 + exp(-2u)) and SiLU as
   x / (1 + exp(-x)) with the AVX2 exp (relative error <= 3e-6 over the whole range, tails
   included, for inputs given exactly); the scalar path uses the same forms with libm expf. */
ck_status ck_bias_act_f32(float *x, const float *bias, int64_t rows, int64_t cols, ck_activation act);

/* The gated linear unit product (Shazeer 2020, arXiv:2002.05202; SwiGLU = CK_ACT_SILU, GeGLU =
   CK_ACT_GELU_ERF or CK_ACT_GELU_TANH): out[r * out_stride + c] = act(gate[r * in_stride + c]) *
   up[r * in_stride + c] for c < cols. gate and up may point into one fused [rows, 2 * cols]
   buffer (in_stride = 2 * cols, up = gate + cols). out may equal gate or up only when
   out_stride == in_stride (else CK_ERR_INVALID_SHAPE), and must not otherwise overlap them.
   out_stride, in_stride >= cols. */
ck_status ck_gated_act_f32(float *out, int64_t out_stride, const float *gate, const float *up, int64_t in_stride,
                           int64_t rows, int64_t cols, ck_activation act);

/* y = LayerNorm(x + bias + residual) * gamma + beta per row, one pass over x (the BERT
   sub-layer epilogue). bias, residual and beta may be NULL; y may equal x or residual.
   x, residual, y: [rows, cols]; bias, gamma, beta: [cols]; eps > 0. */
ck_status ck_bias_residual_layernorm_f32(float *y, const float *x, const float *bias, const float *residual,
                                         const float *gamma, const float *beta, int64_t rows, int64_t cols,
                                         float eps);

/* RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467) per row:
   y = x / sqrt(mean(x^2) + eps) * w, or * (1 + w) when add_one != 0 (Gemma's form,
   arXiv:2403.08295). Sum of squares in double. x, y: [rows, cols] (y may equal x); w: [cols];
   eps > 0. */
ck_status ck_rmsnorm_f32(float *y, const float *x, const float *w, int64_t rows, int64_t cols, float eps,
                         int add_one);

/* RMSNorm of every head vector in place (the q/k norm of Qwen3 and Gemma 3): head h of row r,
   x + r * stride + h * head_dim, is normalized over its head_dim floats and scaled by the shared
   w[head_dim] (or 1 + w). stride >= heads * head_dim; eps > 0. */
ck_status ck_head_rmsnorm_f32(float *x, int64_t stride, int64_t rows, int heads, int head_dim, const float *w,
                              float eps, int add_one);

/* The norm of ck_residual_norm_f32. */
typedef enum ck_norm_kind {
    CK_NORM_LAYER = 0,        /* LayerNorm: (v - mean) / sqrt(var + eps) * gamma (+ beta) */
    CK_NORM_RMS = 1,          /* RMSNorm: v / sqrt(mean(v^2) + eps) * gamma (+ beta) */
    CK_NORM_RMS_ADD_ONE = 2   /* RMSNorm scaled by (1 + gamma) (Gemma) */
} ck_norm_kind;

/* The pre-norm sub-layer epilogue in one pass per row: residual += x (+ bias), then
   y = norm(residual) * gamma (+ beta). residual, x, y: [rows, cols]; bias, gamma, beta: [cols];
   bias and beta may be NULL; y must not overlap residual or x (CK_ERR_INVALID_SHAPE); x may
   equal residual; eps > 0. */
ck_status ck_residual_norm_f32(float *residual, const float *x, const float *bias, float *y,
                               const float *gamma, const float *beta, int64_t rows, int64_t cols,
                               float eps, ck_norm_kind kind);

typedef enum ck_pooling {
    CK_POOL_MEAN = 0,  /* mean over tokens with mask != 0 */
    CK_POOL_CLS = 1,   /* row 0 */
    CK_POOL_LAST = 2   /* last token with mask != 0 */
} ck_pooling;

/* out[cols] = pooling of x[rows, cols] under mask[rows] (mask may be NULL: all tokens).
   Sums in double. A mask with no set token gives CK_ERR_INVALID_SHAPE. */
ck_status ck_pool_f32(float *out, const float *x, const uint8_t *mask, int64_t rows,
                      int64_t cols, ck_pooling mode);

/* Each row of x[rows, cols] divided by max(||row||_2, 1e-12) (sentence-transformers' rule), in place. */
ck_status ck_l2_normalize_f32(float *x, int64_t rows, int64_t cols);

/* y[rows, out_features] = x[rows, in_features] W^T + bias, W: [out_features, in_features]
   (the PyTorch nn.Linear layout), bias may be NULL. Through OpenBLAS cblas_sgemm. */
ck_status ck_linear_f32(float *y, const float *x, const float *w, const float *bias,
                        int64_t rows, int64_t in_features, int64_t out_features);

/* 16-bit weight storage: bf16 (the upper half of an fp32) or IEEE 754 binary16. */
typedef enum ck_half_format { CK_HALF_BF16 = 0, CK_HALF_F16 = 1 } ck_half_format;

/* dst[i] = (float)src[i] for i < count, exactly (every bf16 and fp16 value, subnormals, infinities
   and NaNs included: a NaN stays a NaN). AVX2 shifts bf16 and F16C converts fp16; scalar elsewhere.
   Split over the OpenMP team when large. */
ck_status ck_widen_half_f32(float *dst, const uint16_t *src, int64_t count, ck_half_format format);

/* ck_linear_f32 with W [out_features, in_features] stored in 16 bits: W is widened to fp32
   `scratch_floats / in_features` rows at a time into scratch (at least one row: scratch_floats
   >= in_features) and each block multiplied through ck_sgemm_f32, so the product is fp32 and
   equals ck_linear_f32 on the widened W up to summation order. bias [out_features] may be NULL. */
ck_status ck_linear_half_f32(float *y, const float *x, const uint16_t *w, ck_half_format format, const float *bias,
                             int64_t rows, int64_t in_features, int64_t out_features, float *scratch,
                             int64_t scratch_floats);

/* C[m, n] = alpha * op(A) op(B) + beta * C, row-major, op = transpose when trans_* != 0.
   lda/ldb/ldc are row strides. OpenBLAS cblas_sgemm; with OpenMP, blocks of C are split over
   the team (one single-threaded cblas_sgemm per thread). */
ck_status ck_sgemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc);

#ifdef __cplusplus
}
#endif

#endif /* CKERNELS_H */
