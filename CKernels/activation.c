/* Element-wise activations on row-major fp32 matrices: bias + activation in place and the
   gated product act(gate) * up of GLU feed-forward layers (Shazeer 2020, arXiv:2002.05202).
   Activations: exact GELU (Hendrycks & Gimpel 2016, arXiv:1606.08415), its tanh form
   (PyTorch gelu(approximate="tanh")) and SiLU (Elfwing et al. 2017, arXiv:1702.03118). */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"
#include "ck_exp_avx2.h"

#include <immintrin.h>
#include <math.h>

#define CK_SQRT_2_OVER_PI 0.79788456080286536f

/* ---- scalar forms (also the tails of the vector loops) ---- */

/* GELU(x) = x Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)) = 0.5 erfc(-x / sqrt 2): the erfc form
   keeps relative accuracy in the negative tail, where 1 + erf cancels. */
static inline float ck_gelu_erf_scalar(float v) { return 0.5f * v * erfcf(v * -0.70710678118654752f); }

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3):
   the logistic form keeps relative accuracy in the negative tail, where 1 + tanh(u) cancels. */
static inline float ck_gelu_tanh_scalar(float v) {
    const float inner = 0.044715f * (v * v * v) + v;
    return v / (1.0f + expf(-2.0f * CK_SQRT_2_OVER_PI * inner));
}

/* SiLU(x) = x sigmoid(x) = x / (1 + exp(-x)). */
static inline float ck_silu_scalar(float v) { return v / (1.0f + expf(-v)); }

static inline float ck_act_scalar(float v, ck_activation act) {
    if (act == CK_ACT_SILU) return ck_silu_scalar(v);
    if (act == CK_ACT_GELU_TANH) return ck_gelu_tanh_scalar(v);
    return ck_gelu_erf_scalar(v);
}

/* ---- AVX2+FMA forms ---- */

/* x Phi(x) with Phi through erfc(z), z = |x| / sqrt 2 >= 0, with the Chebyshev-fitted form
   erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), P of degree 9 (fractional error < 1.2e-7;
   Press et al., Numerical Recipes, 2nd ed., Sec. 6.2): Phi = 1 - erfc/2 for x >= 0, erfc/2
   below, so the negative tail keeps its relative accuracy (exp adds <= 2e-6). */
CK_AVX2 static inline __m256 ck_gelu_erf_avx2(__m256 v) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v), _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
    __m256 p = _mm256_set1_ps(0.17087277f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
    __m256 arg = _mm256_fnmadd_ps(z, z, p);
    __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(half, t), ck_exp_avx2(arg));
    __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, half_erfc), half_erfc, neg);
    return _mm256_mul_ps(v, phi);
}

/* x / (1 + exp(-2u)) as ck_gelu_tanh_scalar (same operation order); exp(-2u) overflows to +inf
   for very negative x, giving -0, and underflows to 0 for large x, giving x. */
CK_AVX2 static inline __m256 ck_gelu_tanh_avx2(__m256 v) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    const __m256 inner = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x3), v);
    const __m256 e = ck_exp_avx2(_mm256_mul_ps(_mm256_set1_ps(-2.0f * CK_SQRT_2_OVER_PI), inner));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* x / (1 + exp(-x)); relative error that of ck_exp_avx2 (<= 2e-6). */
CK_AVX2 static inline __m256 ck_silu_avx2(__m256 v) {
    const __m256 e = ck_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

CK_AVX2 static inline __attribute__((always_inline)) __m256 ck_act_avx2(__m256 v, const ck_activation act) {
    if (act == CK_ACT_SILU) return ck_silu_avx2(v);
    if (act == CK_ACT_GELU_TANH) return ck_gelu_tanh_avx2(v);
    return ck_gelu_erf_avx2(v);
}

/* ---- x = act(x + bias) ---- */

static void ck_bias_act_row_scalar(float *x, const float *bias, int64_t cols, ck_activation act, int64_t c) {
    for (; c < cols; c++) x[c] = ck_act_scalar(x[c] + (bias ? bias[c] : 0.0f), act);
}

/* One loop per activation (act is a constant after inlining). */
CK_AVX2 static inline __attribute__((always_inline))
void ck_bias_act_loop_avx2(float *x, const float *bias, int64_t cols, const ck_activation act) {
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));
        _mm256_storeu_ps(x + c, ck_act_avx2(v, act));
    }
    ck_bias_act_row_scalar(x, bias, cols, act, c);
}

CK_AVX2 static void ck_bias_act_row_avx2(float *x, const float *bias, int64_t cols, ck_activation act) {
    switch (act) {
    case CK_ACT_SILU: ck_bias_act_loop_avx2(x, bias, cols, CK_ACT_SILU); break;
    case CK_ACT_GELU_TANH: ck_bias_act_loop_avx2(x, bias, cols, CK_ACT_GELU_TANH); break;
    default: ck_bias_act_loop_avx2(x, bias, cols, CK_ACT_GELU_ERF); break;
    }
}

static int ck_valid_act(ck_activation act) {
    return act == CK_ACT_GELU_ERF || act == CK_ACT_GELU_TANH || act == CK_ACT_SILU;
}

ck_status ck_bias_act_f32(float *x, const float *bias, int64_t rows, int64_t cols, ck_activation act) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!ck_valid_act(act)) return CK_ERR_UNSUPPORTED;
    const int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        if (avx2) ck_bias_act_row_avx2(x + r * cols, bias, cols, act);
        else ck_bias_act_row_scalar(x + r * cols, bias, cols, act, 0);
    }
    return CK_OK;
}

ck_status ck_bias_gelu_f32(float *x, const float *bias, int64_t rows, int64_t cols) {
    return ck_bias_act_f32(x, bias, rows, cols, CK_ACT_GELU_ERF);
}

/* ---- out = act(gate) * up ---- */

static void ck_gated_row_scalar(float *o, const float *g, const float *u, int64_t cols, ck_activation act,
                                int64_t c) {
    for (; c < cols; c++) o[c] = ck_act_scalar(g[c], act) * u[c];
}

CK_AVX2 static inline __attribute__((always_inline))
void ck_gated_loop_avx2(float *o, const float *g, const float *u, int64_t cols, const ck_activation act) {
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8)
        _mm256_storeu_ps(o + c, _mm256_mul_ps(ck_act_avx2(_mm256_loadu_ps(g + c), act), _mm256_loadu_ps(u + c)));
    ck_gated_row_scalar(o, g, u, cols, act, c);
}

CK_AVX2 static void ck_gated_row_avx2(float *o, const float *g, const float *u, int64_t cols, ck_activation act) {
    switch (act) {
    case CK_ACT_SILU: ck_gated_loop_avx2(o, g, u, cols, CK_ACT_SILU); break;
    case CK_ACT_GELU_TANH: ck_gated_loop_avx2(o, g, u, cols, CK_ACT_GELU_TANH); break;
    default: ck_gated_loop_avx2(o, g, u, cols, CK_ACT_GELU_ERF); break;
    }
}

ck_status ck_gated_act_f32(float *out, int64_t out_stride, const float *gate, const float *up, int64_t in_stride,
                           int64_t rows, int64_t cols, ck_activation act) {
    if (!out || !gate || !up) return CK_ERR_NULL_POINTER;
    if (rows < 1 || cols < 1 || out_stride < cols || in_stride < cols) return CK_ERR_INVALID_SHAPE;
    if ((out == gate || out == up) && out_stride != in_stride) return CK_ERR_INVALID_SHAPE;
    if (!ck_valid_act(act)) return CK_ERR_UNSUPPORTED;
    const int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * out_stride;
        const float *g = gate + r * in_stride, *u = up + r * in_stride;
        if (avx2) ck_gated_row_avx2(o, g, u, cols, act);
        else ck_gated_row_scalar(o, g, u, cols, act, 0);
    }
    return CK_OK;
}
