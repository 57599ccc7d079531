/* Element-wise activations on contiguous row-major [rows, cols] fp32 matrices: bias + exact
   GELU (Hendrycks & Gimpel 2016, arXiv:1606.08415). */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"
#include "ck_exp_avx2.h"

#include <immintrin.h>
#include <math.h>

/* ---- bias + exact GELU: x Phi(x), Phi(x) = 0.5 (1 + erf(x / sqrt 2)) = 0.5 erfc(-x / sqrt 2) ---- */

static void ck_bias_gelu_row_scalar(float *x, const float *bias, int64_t cols, int64_t c) {
    for (; c < cols; c++) {
        float v = x[c] + (bias ? bias[c] : 0.0f);
        x[c] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

/* Phi through erfc(z), z = |x| / sqrt 2 >= 0, with the Chebyshev-fitted form
   erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), P of degree 9 (fractional error < 1.2e-7;
   Press et al., Numerical Recipes, 2nd ed., Sec. 6.2): Phi = 1 - erfc/2 for x >= 0, erfc/2
   below, so the negative tail keeps its relative accuracy (exp adds <= 2e-6). */
CK_AVX2 static void ck_bias_gelu_row_avx2(float *x, const float *bias, int64_t cols) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 rsqrt2 = _mm256_set1_ps(0.70710678118654752f);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + c));
        __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, v), rsqrt2);
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
        _mm256_storeu_ps(x + c, _mm256_mul_ps(v, phi));
    }
    ck_bias_gelu_row_scalar(x, bias, cols, c);
}

ck_status ck_bias_gelu_f32(float *x, const float *bias, int64_t rows, int64_t cols) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        if (avx2) ck_bias_gelu_row_avx2(x + r * cols, bias, cols);
        else ck_bias_gelu_row_scalar(x + r * cols, bias, cols, 0);
    }
    return CK_OK;
}
