/* Layer operations on contiguous row-major [rows, cols] fp32 matrices: pooling, L2
   normalization and the GEMM entry points (OpenBLAS). Norms live in norm.c, activations in
   activation.c. */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"

#include <cblas.h>
#include <math.h>

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
