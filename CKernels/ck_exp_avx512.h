/* Vectorized exp2 for the AVX-512 paths. Internal. */
#ifndef CK_EXP_AVX512_H
#define CK_EXP_AVX512_H

#include <immintrin.h>
#include "ck_internal.h"
#include "ck_exp_avx2.h"

/* 2^u for finite u <= 0, 16 lanes (the polynomial of ck_exp2_nonpos_avx2), without range checks: vscalefps flushes 2^n below the
   smallest subnormal to 0 (u = -1e30 gives exactly 0). Not for -inf or NaN inputs. */
CK_AVX512 static inline __m512 ck_exp2_nonpos_avx512(__m512 u) {
    __m512 n = _mm512_roundscale_ps(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(u, n);
    __m512 p = _mm512_set1_ps(CK_EXP2_C6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CK_EXP2_C5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CK_EXP2_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CK_EXP2_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CK_EXP2_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(CK_EXP2_C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

#endif
