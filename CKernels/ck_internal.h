/* Internal helpers shared by the CKernels translation units. Not part of the public API. */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "CKernels.h"

#define CK_AVX2 __attribute__((target("avx2,fma")))

/* 1 when the AVX2+FMA path should run. */
static inline int ck_use_avx2(void) { return ck_active_isa() == CK_ISA_AVX2_FMA; }

#endif
