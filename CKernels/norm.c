/* Normalization layers on contiguous row-major [rows, cols] fp32 matrices: LayerNorm
   (Ba et al. 2016, arXiv:1607.06450) and LayerNorm of bias + residual. Statistics in double. */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"

#include <immintrin.h>
#include <math.h>

/* ---- LayerNorm: mean and variance in double, two passes over the row. ---- */

static void ck_layernorm_row_scalar(float *y, const float *x, const float *g, const float *b, int64_t cols,
                                    double mean, double inv, int64_t start) {
    for (int64_t c = start; c < cols; c++) y[c] = (float)(((double)x[c] - mean) * inv) * g[c] + b[c];
}

CK_AVX2 static void ck_layernorm_row_avx2(float *y, const float *x, const float *g, const float *b, int64_t cols,
                                          double mean, double inv) {
    int64_t c = 0;
    __m256d vm = _mm256_set1_pd(mean), vi = _mm256_set1_pd(inv);
    for (; c + 8 <= cols; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        __m256d lo = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm), vi);
        __m256d hi = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm), vi);
        __m256 n = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
        _mm256_storeu_ps(y + c, _mm256_fmadd_ps(n, _mm256_loadu_ps(g + c), _mm256_loadu_ps(b + c)));
    }
    ck_layernorm_row_scalar(y, x, g, b, cols, mean, inv, c);
}

/* One row: mean and variance in double (two passes), then the affine normalization. */
static void ck_layernorm_row(float *y, const float *x, const float *gamma, const float *beta, int64_t cols,
                             float eps, int avx2) {
    double sum = 0.0, sq = 0.0;
    for (int64_t c = 0; c < cols; c++) sum += x[c];
    double mean = sum / (double)cols;
    for (int64_t c = 0; c < cols; c++) { double d = x[c] - mean; sq += d * d; }
    double inv = 1.0 / sqrt(sq / (double)cols + (double)eps);
    if (avx2) ck_layernorm_row_avx2(y, x, gamma, beta, cols, mean, inv);
    else ck_layernorm_row_scalar(y, x, gamma, beta, cols, mean, inv, 0);
}

ck_status ck_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                           int64_t rows, int64_t cols, float eps) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!y || !gamma || !beta) return CK_ERR_NULL_POINTER;
    if (!(eps > 0.0f) || !isfinite(eps)) return CK_ERR_INVALID_VALUE;
    int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) ck_layernorm_row(y + r * cols, x + r * cols, gamma, beta, cols, eps, avx2);
    return CK_OK;
}

/* ---- y = LayerNorm(x + bias + residual): the sum is formed once, into y, then normalized ---- */

ck_status ck_bias_residual_layernorm_f32(float *y, const float *x, const float *bias, const float *residual,
                                         const float *gamma, const float *beta, int64_t rows, int64_t cols,
                                         float eps) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!y || !gamma || !beta) return CK_ERR_NULL_POINTER;
    if (!(eps > 0.0f) || !isfinite(eps)) return CK_ERR_INVALID_VALUE;
    int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *rr = residual ? residual + r * cols : NULL;
        float *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = xr[c];
            if (bias) v += bias[c];
            if (rr) v += rr[c];
            yr[c] = v;
        }
        ck_layernorm_row(yr, yr, gamma, beta, cols, eps, avx2);
    }
    return CK_OK;
}
