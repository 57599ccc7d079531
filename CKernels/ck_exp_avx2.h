/* Vectorized exp / exp2 for the AVX2+FMA paths. Internal. */
#ifndef CK_EXP_AVX2_H
#define CK_EXP_AVX2_H

#include <immintrin.h>
#include "ck_internal.h"

/* Coefficients c_k = ln2^k / k! of the degree-6 Taylor polynomial of 2^f, |f| <= 0.5, shared by
   the AVX2 and AVX-512 exp2 (relative error <= 2e-7). */
#define CK_EXP2_C6 1.5403530393381606e-4f
#define CK_EXP2_C5 1.3333558146428443e-3f
#define CK_EXP2_C4 9.6181291076284772e-3f
#define CK_EXP2_C3 5.5504108664821580e-2f
#define CK_EXP2_C2 2.4022650695910071e-1f
#define CK_EXP2_C1 6.9314718055994531e-1f

/* 2^u for u <= 0 (attention's exp2(s - max)); u < -126 gives 0. Range reduction u = n + f with
   n = round(u), f in [-0.5, 0.5] (exact); 2^f = e^(f ln 2) by its degree-6 Taylor polynomial,
   relative error <= 2e-7; the result is p * 2^n built in the exponent bits. */
CK_AVX2 static inline __m256 ck_exp2_nonpos_avx2(__m256 u) {
    const __m256 lo = _mm256_set1_ps(-126.0f);
    __m256 zero_mask = _mm256_cmp_ps(u, lo, _CMP_LT_OQ);
    u = _mm256_max_ps(u, lo);
    __m256 n = _mm256_round_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(u, n);
    __m256 p = _mm256_set1_ps(CK_EXP2_C6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CK_EXP2_C5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CK_EXP2_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CK_EXP2_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CK_EXP2_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(CK_EXP2_C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    __m256 r = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
    return _mm256_andnot_ps(zero_mask, r);
}

/* e^x for x in [-87.3, 88.7] (below: 0, above: +inf). Cody-Waite reduction x = n ln2 + r,
   |r| <= ln2/2, e^r by its degree-7 Taylor polynomial; relative error <= 2e-6 (measured in
   the tests over a dense sweep). */
CK_AVX2 static inline __m256 ck_exp_avx2(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.7f), lo = _mm256_set1_ps(-87.3f);
    __m256 over = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n in two halves so that n = 128 (x near 88.7) does not overflow the exponent field. */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 res = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    res = _mm256_blendv_ps(res, _mm256_set1_ps(__builtin_inff()), over);
    res = _mm256_andnot_ps(under, res);
    return _mm256_blendv_ps(res, x, nan);
}

#endif
