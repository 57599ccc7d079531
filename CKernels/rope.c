/* Rotary position embedding (Su et al., RoFormer, arXiv:2104.09864). */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"

#include <immintrin.h>
#include <math.h>

ck_status ck_rope_inv_freq_f32(float *inv_freq, int head_dim, double base) {
    if (!inv_freq) return CK_ERR_NULL_POINTER;
    if (head_dim < 2) return CK_ERR_INVALID_SHAPE;
    if (head_dim % 2) return CK_ERR_UNSUPPORTED;
    if (!(base > 0.0) || !isfinite(base)) return CK_ERR_INVALID_VALUE;
    for (int j = 0; j < head_dim / 2; j++) inv_freq[j] = (float)(1.0 / pow(base, (double)(2 * j) / head_dim));
    return CK_OK;
}

/* Pair (x[a_i], x[b_i]) -> (x_a cos - x_b sin, x_b cos + x_a sin) for i in [start, half). */
static void ck_rope_head_scalar(float *x, const float *cs, const float *sn, int half, int interleaved, int start) {
    for (int i = start; i < half; i++) {
        int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
        float x1 = x[a], x2 = x[b];
        x[a] = x1 * cs[i] - x2 * sn[i];
        x[b] = x2 * cs[i] + x1 * sn[i];
    }
}

CK_AVX2 static void ck_rope_head_half_avx2(float *x, const float *cs, const float *sn, int half) {
    int i = 0;
    for (; i + 8 <= half; i += 8) {
        __m256 x1 = _mm256_loadu_ps(x + i), x2 = _mm256_loadu_ps(x + i + half);
        __m256 c = _mm256_loadu_ps(cs + i), s = _mm256_loadu_ps(sn + i);
        _mm256_storeu_ps(x + i, _mm256_fmsub_ps(x1, c, _mm256_mul_ps(x2, s)));
        _mm256_storeu_ps(x + i + half, _mm256_fmadd_ps(x2, c, _mm256_mul_ps(x1, s)));
    }
    ck_rope_head_scalar(x, cs, sn, half, 0, i);
}

/* Rotate the heads of one row by the angles of one token. */
static void ck_rope_row(float *x, int heads, int head_dim, const float *cs, const float *sn, int interleaved,
                        int avx2) {
    const int half = head_dim / 2;
    for (int h = 0; h < heads; h++) {
        float *xh = x + (int64_t)h * head_dim;
        if (avx2) ck_rope_head_half_avx2(xh, cs, sn, half);
        else ck_rope_head_scalar(xh, cs, sn, half, interleaved, 0);
    }
}

ck_status ck_rope_qk_gqa_f32(float *q, int64_t q_stride, float *k, int64_t k_stride,
                             int64_t n_tokens, int n_heads, int n_kv_heads, int head_dim,
                             const float *positions, const float *inv_freq, ck_rope_layout layout) {
    if (!q || !positions || !inv_freq) return CK_ERR_NULL_POINTER;
    if (n_kv_heads == 0) n_kv_heads = n_heads;
    if (n_tokens < 1 || n_heads < 1 || n_kv_heads < 1 || head_dim < 2) return CK_ERR_INVALID_SHAPE;
    if (head_dim % 2 || head_dim > 4096) return CK_ERR_UNSUPPORTED;
    if (layout != CK_ROPE_ROTATE_HALF && layout != CK_ROPE_INTERLEAVED) return CK_ERR_UNSUPPORTED;
    const int64_t row = (int64_t)n_heads * head_dim, kv_row = (int64_t)n_kv_heads * head_dim;
    if (q_stride < row || (k && k_stride < kv_row)) return CK_ERR_INVALID_SHAPE;
    const int half = head_dim / 2;
    const int interleaved = layout == CK_ROPE_INTERLEAVED;
    const int avx2 = ck_use_avx2() && !interleaved;
    CK_PARALLEL_FOR_IF(n_tokens * (row + (k ? kv_row : 0)) >= 16384)
    for (int64_t t = 0; t < n_tokens; t++) {
        /* The d/2 angles of this token, each position * inv_freq in double, then cos/sin in
           double rounded to fp32: the value depends on the position only. */
        float cs[2048], sn[2048];
        double p = (double)positions[t];
        for (int i = 0; i < half; i++) {
            double angle = p * (double)inv_freq[i];
            cs[i] = (float)cos(angle);
            sn[i] = (float)sin(angle);
        }
        ck_rope_row(q + t * q_stride, n_heads, head_dim, cs, sn, interleaved, avx2);
        if (k) ck_rope_row(k + t * k_stride, n_kv_heads, head_dim, cs, sn, interleaved, avx2);
    }
    return CK_OK;
}

ck_status ck_rope_qk_f32(float *q, int64_t q_stride, float *k, int64_t k_stride,
                         int64_t n_tokens, int n_heads, int head_dim,
                         const float *positions, const float *inv_freq, ck_rope_layout layout) {
    return ck_rope_qk_gqa_f32(q, q_stride, k, k_stride, n_tokens, n_heads, n_heads, head_dim, positions,
                              inv_freq, layout);
}
