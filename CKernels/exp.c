/* Vector exp: ck_exp_f32. */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_exp_avx2.h"

#include <math.h>

static void ck_exp_f32_scalar(float *out, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = expf(x[i]);
}

CK_AVX2 static void ck_exp_f32_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, ck_exp_avx2(_mm256_loadu_ps(x + i)));
    ck_exp_f32_scalar(out + i, x + i, n - i);
}

ck_status ck_exp_f32(float *out, const float *x, int64_t n) {
    if (n < 0) return CK_ERR_INVALID_SHAPE;
    if (n == 0) return CK_OK;
    if (!out || !x) return CK_ERR_NULL_POINTER;
    if (ck_use_avx2()) ck_exp_f32_avx2(out, x, n);
    else ck_exp_f32_scalar(out, x, n);
    return CK_OK;
}
