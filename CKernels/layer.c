/* Layer operations on contiguous row-major [rows, cols] fp32 matrices: LayerNorm
   (Ba et al. 2016, arXiv:1607.06450), LayerNorm of bias + residual, bias + exact GELU
   (Hendrycks & Gimpel 2016, arXiv:1606.08415), pooling, L2 normalization and the GEMM entry
   points (OpenBLAS). */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"
#include "ck_exp_avx2.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>

/* Rows x cols work above which row loops fork threads. */
#define CK_PARALLEL_MIN_WORK 32768

static ck_status ck_check_matrix(const void *x, int64_t rows, int64_t cols) {
    if (!x) return CK_ERR_NULL_POINTER;
    if (rows < 1 || cols < 1) return CK_ERR_INVALID_SHAPE;
    return CK_OK;
}

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

/* ---- pooling (sums in double) ---- */

ck_status ck_pool_f32(float *out, const float *x, const uint8_t *mask, int64_t rows, int64_t cols, ck_pooling mode) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    if (!out) return CK_ERR_NULL_POINTER;
    int64_t count = 0, last = -1;
    for (int64_t r = 0; r < rows; r++) if (!mask || mask[r]) { count++; last = r; }
    if (count == 0) return CK_ERR_INVALID_SHAPE;
    switch (mode) {
    case CK_POOL_CLS:
        for (int64_t c = 0; c < cols; c++) out[c] = x[c];
        return CK_OK;
    case CK_POOL_LAST:
        for (int64_t c = 0; c < cols; c++) out[c] = x[last * cols + c];
        return CK_OK;
    case CK_POOL_MEAN: {
        for (int64_t c = 0; c < cols; c++) {
            double acc = 0.0;
            for (int64_t r = 0; r < rows; r++) if (!mask || mask[r]) acc += x[r * cols + c];
            out[c] = (float)(acc / (double)count);
        }
        return CK_OK;
    }
    }
    return CK_ERR_UNSUPPORTED;
}

/* ---- L2 normalize: x / max(||x||, 1e-12), norm in double ---- */

ck_status ck_l2_normalize_f32(float *x, int64_t rows, int64_t cols) {
    ck_status s = ck_check_matrix(x, rows, cols);
    if (s != CK_OK) return s;
    for (int64_t r = 0; r < rows; r++) {
        float *xr = x + r * cols;
        double ss = 0.0;
        for (int64_t c = 0; c < cols; c++) ss += (double)xr[c] * xr[c];
        double n = sqrt(ss);
        if (n < 1e-12) n = 1e-12;
        for (int64_t c = 0; c < cols; c++) xr[c] = (float)(xr[c] / n);
    }
    return CK_OK;
}

/* ---- GEMMs through OpenBLAS ---- */

/* One cblas_sgemm call on the block [r0, r0 + rows) x [c0, c0 + cols) of C. */
static void ck_sgemm_block(int trans_a, int trans_b, int64_t r0, int64_t rows, int64_t c0, int64_t cols,
                           int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                           float beta, float *c, int64_t ldc) {
    const float *ab = trans_a ? a + r0 : a + r0 * lda;
    const float *bb = trans_b ? b + c0 * ldb : b + c0;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (int)rows, (int)cols, (int)k, alpha, ab, (int)lda, bb, (int)ldb, beta, c + r0 * ldc + c0, (int)ldc);
}

/* Multiply-adds below which a GEMM runs on the calling thread. */
#define CK_GEMM_PARALLEL_MIN ((int64_t)1 << 21)

/* In OpenMP builds OpenBLAS runs single-threaded (runtime.c) and the OpenMP team splits C into
   row (or, for wide short products, column) blocks of multiples of 16, one cblas_sgemm each,
   handed out dynamically: the only threads are the team's, so no BLAS worker spins beside the
   next kernel. */
ck_status ck_sgemm_f32(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc) {
    if (!a || !b || !c) return CK_ERR_NULL_POINTER;
    if (m < 1 || n < 1 || k < 1) return CK_ERR_INVALID_SHAPE;
    if (lda < (trans_a ? m : k) || ldb < (trans_b ? k : n) || ldc < n) return CK_ERR_INVALID_SHAPE;
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX || ldc > INT32_MAX)
        return CK_ERR_UNSUPPORTED;
    const int threads = ck_max_threads();
    const int by_rows = m >= n || m >= 64 * (int64_t)threads;
    const int64_t len = by_rows ? m : n;
    if (threads < 2 || m * n * k < CK_GEMM_PARALLEL_MIN || len < 32) {
        ck_sgemm_block(trans_a, trans_b, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return CK_OK;
    }
    /* About four blocks per thread, multiples of 16 rows (columns), at least 64, handed out
       through an atomic counter so that a thread on a slower core takes fewer of them. */
    int64_t chunk = ((len + 4 * threads - 1) / (4 * threads) + 15) & ~(int64_t)15;
    if (chunk < 64) chunk = 64;
    const int64_t blocks = (len + chunk - 1) / chunk;
    int64_t next = 0;
#ifdef CK_USE_OPENMP
#pragma omp parallel
#endif
    {
        for (;;) {
            const int64_t blk = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
            if (blk >= blocks) break;
            const int64_t s0 = blk * chunk, s1 = s0 + chunk < len ? s0 + chunk : len;
            if (by_rows) ck_sgemm_block(trans_a, trans_b, s0, s1 - s0, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            else ck_sgemm_block(trans_a, trans_b, 0, m, s0, s1 - s0, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }
    return CK_OK;
}

ck_status ck_linear_f32(float *y, const float *x, const float *w, const float *bias,
                        int64_t rows, int64_t in_features, int64_t out_features) {
    if (!y || !x || !w) return CK_ERR_NULL_POINTER;
    if (rows < 1 || in_features < 1 || out_features < 1) return CK_ERR_INVALID_SHAPE;
    float beta = 0.0f;
    if (bias) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out_features; o++) y[r * out_features + o] = bias[o];
        beta = 1.0f;
    }
    return ck_sgemm_f32(0, 1, rows, out_features, in_features, 1.0f, x, in_features, w, in_features, beta,
                        y, out_features);
}
