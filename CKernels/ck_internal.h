/* Internal helpers shared by the CKernels translation units. Not part of the public API. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "CKernels.h"

#define CK_AVX2 __attribute__((target("avx2,fma")))
#define CK_AVX512 __attribute__((target("avx512f,avx2,fma")))

/* 1 when the AVX2+FMA path should run (also on AVX-512 CPUs, for kernels without a 512 path). */
static inline int ck_use_avx2(void) { return ck_active_isa() >= CK_ISA_AVX2_FMA; }

/* Rows x cols work above which the row loops of the layer ops fork threads. */
#define CK_PARALLEL_MIN_WORK 32768

/* A [rows, cols] matrix argument: non-NULL, both sizes >= 1. */
static inline ck_status ck_check_matrix(const void *x, int64_t rows, int64_t cols) {
    if (!x) return CK_ERR_NULL_POINTER;
    if (rows < 1 || cols < 1) return CK_ERR_INVALID_SHAPE;
    return CK_OK;
}

#endif
