/* Normalization layers on contiguous row-major [rows, cols] fp32 matrices: LayerNorm
   (Ba et al. 2016, arXiv:1607.06450), RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467; the
   (1 + w) scale of Gemma, arXiv:2403.08295), per-head RMSNorm of q and k (Qwen3, Gemma 3) and
   the residual + norm epilogues. Row statistics accumulate in double. */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

/* ---- LayerNorm: mean and variance in double, two passes over the row. ---- */

static void ck_layernorm_row_scalar(float *y, const float *x, const float *g, const float *b, int64_t cols,
                                    double mean, double inv, int64_t start) {
    for (int64_t c = start; c < cols; c++) {
        const float n = (float)(((double)x[c] - mean) * inv) * g[c];
        y[c] = b ? n + b[c] : n;
    }
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
        __m256 gv = _mm256_loadu_ps(g + c);
        _mm256_storeu_ps(y + c, b ? _mm256_fmadd_ps(n, gv, _mm256_loadu_ps(b + c)) : _mm256_mul_ps(n, gv));
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

static ck_status ck_check_eps(float eps) {
    return (eps > 0.0f && isfinite(eps)) ? CK_OK : CK_ERR_INVALID_VALUE;
}

ck_status ck_layernorm_f32(float *y, const float *x, const float *gamma, const float *beta,
                           int64_t rows, int64_t cols, float eps) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!y || !gamma) return CK_ERR_NULL_POINTER;
    if ((s = ck_check_eps(eps)) != CK_OK) return s;
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
    if (!y || !gamma) return CK_ERR_NULL_POINTER;
    if ((s = ck_check_eps(eps)) != CK_OK) return s;
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

/* ---- RMSNorm: y = x / sqrt(mean(x^2) + eps) * w, or * (1 + w); sum of squares in double ---- */

static double ck_sumsq_scalar(const float *x, int64_t n, int64_t start) {
    double acc = 0.0;
    for (int64_t c = start; c < n; c++) acc += (double)x[c] * x[c];
    return acc;
}

CK_AVX2 static double ck_sumsq_avx2(const float *x, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        a0 = _mm256_fmadd_pd(lo, lo, a0);
        a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + ck_sumsq_scalar(x, n, c);
}

static void ck_rms_scale_scalar(float *y, const float *x, const float *w, const float *b, int64_t cols, float inv,
                                int add_one, int64_t start) {
    for (int64_t c = start; c < cols; c++) {
        const float n = x[c] * inv * (add_one ? 1.0f + w[c] : w[c]);
        y[c] = b ? n + b[c] : n;
    }
}

CK_AVX2 static void ck_rms_scale_avx2(float *y, const float *x, const float *w, const float *b, int64_t cols, float inv,
                                      int add_one) {
    const __m256 vi = _mm256_set1_ps(inv), one = _mm256_set1_ps(add_one ? 1.0f : 0.0f);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 n = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + c), vi), _mm256_add_ps(one, _mm256_loadu_ps(w + c)));
        _mm256_storeu_ps(y + c, b ? _mm256_add_ps(n, _mm256_loadu_ps(b + c)) : n);
    }
    ck_rms_scale_scalar(y, x, w, b, cols, inv, add_one, c);
}

/* One row of RMSNorm (y may equal x); beta, when not NULL, is added after the scale. */
static void ck_rmsnorm_row(float *y, const float *x, const float *w, const float *b, int64_t cols, float eps,
                           int add_one, int avx2) {
    const double ss = avx2 ? ck_sumsq_avx2(x, cols) : ck_sumsq_scalar(x, cols, 0);
    const float inv = (float)(1.0 / sqrt(ss / (double)cols + (double)eps));
    if (avx2) ck_rms_scale_avx2(y, x, w, b, cols, inv, add_one);
    else ck_rms_scale_scalar(y, x, w, b, cols, inv, add_one, 0);
}

ck_status ck_rmsnorm_f32(float *y, const float *x, const float *w, int64_t rows, int64_t cols, float eps,
                         int add_one) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!y || !w) return CK_ERR_NULL_POINTER;
    if ((s = ck_check_eps(eps)) != CK_OK) return s;
    const int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) ck_rmsnorm_row(y + r * cols, x + r * cols, w, NULL, cols, eps, add_one, avx2);
    return CK_OK;
}

ck_status ck_head_rmsnorm_f32(float *x, int64_t stride, int64_t rows, int heads, int head_dim, const float *w,
                              float eps, int add_one) {
    if (!x || !w) return CK_ERR_NULL_POINTER;
    if (rows < 1 || heads < 1 || head_dim < 1 || stride < (int64_t)heads * head_dim) return CK_ERR_INVALID_SHAPE;
    ck_status s = ck_check_eps(eps);
    if (s != CK_OK) return s;
    const int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * heads * (int64_t)head_dim >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++)
        for (int h = 0; h < heads; h++) {
            float *xh = x + r * stride + (int64_t)h * head_dim;
            ck_rmsnorm_row(xh, xh, w, NULL, head_dim, eps, add_one, avx2);
        }
    return CK_OK;
}

/* ---- Pre-norm epilogue: residual += x (+ bias); y = norm(residual) ---- */

/* Whether [a, a + n) and [b, b + n) share a float. */
static int ck_overlaps(const float *a, const float *b, int64_t n) {
    const uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b, bytes = (uintptr_t)n * sizeof(float);
    return pa < pb + bytes && pb < pa + bytes;
}

ck_status ck_residual_norm_f32(float *residual, const float *x, const float *bias, float *y,
                               const float *gamma, const float *beta, int64_t rows, int64_t cols,
                               float eps, ck_norm_kind kind) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!residual || !y || !gamma) return CK_ERR_NULL_POINTER;
    if (kind != CK_NORM_LAYER && kind != CK_NORM_RMS && kind != CK_NORM_RMS_ADD_ONE) return CK_ERR_UNSUPPORTED;
    if ((s = ck_check_eps(eps)) != CK_OK) return s;
    if (ck_overlaps(y, residual, rows * cols) || ck_overlaps(y, x, rows * cols)) return CK_ERR_INVALID_SHAPE;
    const int avx2 = ck_use_avx2();
    CK_PARALLEL_FOR_IF(rows * cols >= CK_PARALLEL_MIN_WORK)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *rr = residual + r * cols, *yr = y + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            float v = xr[c];
            if (bias) v += bias[c];
            rr[c] += v;
        }
        if (kind == CK_NORM_LAYER) ck_layernorm_row(yr, rr, gamma, beta, cols, eps, avx2);
        else ck_rmsnorm_row(yr, rr, gamma, beta, cols, eps, kind == CK_NORM_RMS_ADD_ONE, avx2);
    }
    return CK_OK;
}
