/* OpenMP helpers. The few omp_* functions used are declared here instead of taken from omp.h:
   the Swift toolchain's clang ships no omp.h, and libomp's lies in a folder Package.swift has
   to find (`openMPInclude` there). Only static schedules are used (clang 21 + libomp 14 cannot
   link dynamic ones); dynamic hand-out of work goes through atomic counters instead. */
#ifndef CK_PARALLEL_H
#define CK_PARALLEL_H

#ifdef CK_USE_OPENMP
int omp_get_thread_num(void);
int omp_get_max_threads(void);
#define CK_PRAGMA(x) _Pragma(#x)
/* Parallel static loop over rows when the work is worth the fork. */
#define CK_PARALLEL_FOR_IF(cond) CK_PRAGMA(omp parallel for schedule(static) if (cond))
static inline int ck_thread_id(void) { return omp_get_thread_num(); }
static inline int ck_max_threads(void) { return omp_get_max_threads(); }
#else
#define CK_PARALLEL_FOR_IF(cond)
static inline int ck_thread_id(void) { return 0; }
static inline int ck_max_threads(void) { return 1; }
#endif

#endif
