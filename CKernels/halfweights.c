/* Weights kept in their file's 16-bit dtype (bf16 or IEEE fp16) and widened to fp32 block by
   block inside the GEMM: the model's resident size halves while every product still runs in
   fp32 (the values are widened exactly, so results equal an fp32 copy of the weights up to the
   GEMM's summation order).

   bf16 (Kalamkar et al. 2019, arXiv:1905.12322) is the upper half of an fp32: widening is a
   16-bit shift. fp16 is IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits;
   F16C's vcvtph2ps widens it on x86, the scalar path decodes it bit by bit (subnormals
   included). */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_F16C __attribute__((target("avx2,fma,f16c")))
#endif

/* ---- widening, one 16-bit value ---- */

static inline float ck_bits_to_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float ck_bf16_to_f32(uint16_t h) { return ck_bits_to_f32((uint32_t)h << 16); }

static inline float ck_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0x1fu) return ck_bits_to_f32(sign | 0x7f800000u | (mantissa << 13)); /* inf, NaN */
    if (exponent != 0) return ck_bits_to_f32(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    if (mantissa == 0) return ck_bits_to_f32(sign);                                    /* +-0 */
    /* subnormal m * 2^-24: shift until the implicit bit (bit 10) appears, s shifts -> 2^(-14 - s) */
    uint32_t shifts = 0;
    while (!(mantissa & 0x400u)) { mantissa <<= 1; shifts++; }
    return ck_bits_to_f32(sign | ((113u - shifts) << 23) | ((mantissa & 0x3ffu) << 13));
}

/* ---- widening, runs of values (the scalar loop finishes the vector tails) ---- */

static void ck_widen_bf16_scalar(float *dst, const uint16_t *src, int64_t from, int64_t n) {
    for (int64_t i = from; i < n; i++) dst[i] = ck_bf16_to_f32(src[i]);
}

static void ck_widen_f16_scalar(float *dst, const uint16_t *src, int64_t from, int64_t n) {
    for (int64_t i = from; i < n; i++) dst[i] = ck_f16_to_f32(src[i]);
}

#if defined(__x86_64__) || defined(__i386__)
CK_AVX2 static void ck_widen_bf16_avx2(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
    }
    ck_widen_bf16_scalar(dst, src, i, n);
}

CK_F16C static void ck_widen_f16_f16c(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    ck_widen_f16_scalar(dst, src, i, n);
}

static int ck_has_f16c(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("f16c") ? 1 : 0;
    }
    return known;
}
#endif

/* dst[i] = widen(src[i]) for i < n on the calling thread, on the best path the ISA cap allows. */
static void ck_widen_run(float *dst, const uint16_t *src, int64_t n, ck_half_format format) {
#if defined(__x86_64__) || defined(__i386__)
    if (ck_use_avx2()) {
        if (format == CK_HALF_BF16) { ck_widen_bf16_avx2(dst, src, n); return; }
        if (ck_has_f16c()) { ck_widen_f16_f16c(dst, src, n); return; }
    }
#endif
    if (format == CK_HALF_BF16) ck_widen_bf16_scalar(dst, src, 0, n);
    else ck_widen_f16_scalar(dst, src, 0, n);
}

/* Values per parallel chunk of a widening (a multiple of the vector width). */
#define CK_WIDEN_CHUNK ((int64_t)1 << 15)

/* The widening split over the OpenMP team in fixed chunks (static schedule) when it is large. */
static void ck_widen_parallel(float *dst, const uint16_t *src, int64_t n, ck_half_format format) {
    const int64_t chunks = (n + CK_WIDEN_CHUNK - 1) / CK_WIDEN_CHUNK;
    CK_PARALLEL_FOR_IF(chunks > 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t s = c * CK_WIDEN_CHUNK, e = s + CK_WIDEN_CHUNK < n ? s + CK_WIDEN_CHUNK : n;
        ck_widen_run(dst + s, src + s, e - s, format);
    }
}

ck_status ck_widen_half_f32(float *dst, const uint16_t *src, int64_t count, ck_half_format format) {
    if (!dst || !src) return CK_ERR_NULL_POINTER;
    if (count < 1) return CK_ERR_INVALID_SHAPE;
    if (format != CK_HALF_BF16 && format != CK_HALF_F16) return CK_ERR_UNSUPPORTED;
    ck_widen_parallel(dst, src, count, format);
    return CK_OK;
}

/* y[:, o0 : o0 + n] = bias[o0 : o0 + n] (the GEMM then accumulates onto it). */
static void ck_fill_bias_columns(float *y, const float *bias, int64_t rows, int64_t stride, int64_t o0, int64_t n) {
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * stride + o0, bias + o0, (size_t)n * sizeof(float));
}

ck_status ck_linear_half_f32(float *y, const float *x, const uint16_t *w, ck_half_format format, const float *bias,
                             int64_t rows, int64_t in_features, int64_t out_features, float *scratch,
                             int64_t scratch_floats) {
    if (!y || !x || !w || !scratch) return CK_ERR_NULL_POINTER;
    if (rows < 1 || in_features < 1 || out_features < 1 || scratch_floats < in_features) return CK_ERR_INVALID_SHAPE;
    if (format != CK_HALF_BF16 && format != CK_HALF_F16) return CK_ERR_UNSUPPORTED;
    int64_t block = scratch_floats / in_features;
    if (block > out_features) block = out_features;
    for (int64_t o0 = 0; o0 < out_features; o0 += block) {
        const int64_t n = o0 + block < out_features ? block : out_features - o0;
        ck_widen_parallel(scratch, w + o0 * in_features, n * in_features, format);
        if (bias) ck_fill_bias_columns(y, bias, rows, out_features, o0, n);
        const ck_status s = ck_sgemm_f32(0, 1, rows, n, in_features, 1.0f, x, in_features, scratch, in_features,
                                         bias ? 1.0f : 0.0f, y + o0, out_features);
        if (s != CK_OK) return s;
    }
    return CK_OK;
}
