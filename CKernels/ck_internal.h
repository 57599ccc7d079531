/* Internal helpers shared by the CKernels translation units. Not part of the public API. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "CKernels.h"

#define CK_AVX2 __attribute__((target("avx2,fma")))
#define CK_AVX512 __attribute__((target("avx512f,avx2,fma")))

/* 1 when the AVX2+FMA path should run (also on AVX-512 CPUs, for kernels without a 512 path). */
static inline int ck_use_avx2(void) { return ck_active_isa() >= CK_ISA_AVX2_FMA; }

#endif
