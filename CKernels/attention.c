/* Bidirectional multi-head attention with a chunked online softmax (Milakov & Gimelshein 2018,
   arXiv:1805.02867; Rabe & Staats 2021, arXiv:2112.05682), and SelfExtend attention (Jin et al.
   2024, arXiv:2401.01325) in the bidirectional form of LongEmbed (Zhu et al. 2024,
   arXiv:2404.12096): scores from normal and grouped positions merged before one softmax.

   Work plan of one call:
   1. pack, per key/value head, K^T into key tiles [d][BK] (8 consecutive keys load as one
      vector) and V into [BK][d] tiles; keys >= n_valid are left out (tails zero-padded,
      masked to -inf). With grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245)
      the query heads of a group read the same packed tiles;
   2. for every (query head, query tile of BQ rows), in parallel: q pre-scaled by
      scale * log2(e), then for each key tile (K and V tiles stay in L1/L2 for the whole query
      tile) and each strip of 6 query rows: S = Q K^T (6 x 16 register-blocked micro-kernel, 12
      accumulators), running max and sum with exp2, O = O * exp2(m_old - m_new) + P V
      (6 x 16 micro-kernel); O / l at the end. The strip's scores (6 x BK) never leave L1.
      On AVX-512 CPUs the same plan runs with strips of 12 rows (CK_SR), 12 x 32
      micro-kernels and 16-lane exp2; the scalar path takes the same steps one float at a
      time (and finishes the AVX2 P V columns past the last multiple of 16).
   With a sliding window |i - j| < w, a query tile visits only the key tiles that meet its
   band, and a strip only those that meet the strip's band; the softmax masks each row to its
   keys [lo, hi) of the tile (ck_band), so the cost is O(L w), not O(L^2). Causal attention
   (decoders: keys j <= i, and i - j < w with a window) is the same band cut at the diagonal:
   tiles above it are never visited, the diagonal tile is masked row by row, so the work is
   half of the bidirectional kernel's.
   Memory: O(L * d) per head for the packed copies, O(BQ * d) per thread: never L x L. */
#include "CKernels.h"
#include "ck_internal.h"
#include "ck_parallel.h"
#include "ck_exp_avx2.h"
#include "ck_exp_avx512.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CK_BQ 96   /* query rows per work item: 16 strips */
#define CK_BK 64   /* keys per tile */
#define CK_SR 12   /* most query rows per strip: 6 with AVX2 and scalar (16 ymm), 12 with AVX-512 (32 zmm) */
#define CK_LOG2E 1.44269504088896341f

/* Score sets of SelfExtend; plain attention uses CK_SET_NORMAL only. */
enum { CK_SET_NORMAL = 0, CK_SET_LOWER = 1, CK_SET_UPPER = 2, CK_MAX_SETS = 3 };

typedef struct {
    const ck_attention_params *p;
    int n_sets;
    const float *q[CK_MAX_SETS];
    const float *k[CK_MAX_SETS];
    const float *v;
    float *out;
    int n_kv;                /* key/value heads; query head h reads kv head h / (n_heads / n_kv) */
    int64_t se_window;       /* SelfExtend neighbour window, or -1 for plain attention */
    int64_t n_ktiles, n_qtiles;
    int64_t next_item;       /* work counter: items are handed out one at a time (see below) */
    float *kt;               /* [n_sets][kv heads][n_ktiles][d][BK] */
    float *vp;               /* [kv heads][n_ktiles][BK][d] */
    float *scratch;          /* per thread: see ck_thread_floats */
    size_t thread_floats;
} ck_attn_job;

static size_t ck_thread_floats(int n_sets, int d) {
    /* qs[n_sets][BQ][d], S[n_sets][SR][BK], O[BQ][d], m[BQ], l[BQ], l16[BQ][16] (AVX-512 row
       sums kept as vectors), padded to 16 floats */
    size_t n = (size_t)n_sets * CK_BQ * d + (size_t)n_sets * CK_SR * CK_BK + (size_t)CK_BQ * d + 2 * CK_BQ + 16 * CK_BQ;
    return (n + 15) & ~(size_t)15;
}

/* ---------------------------------------------------------------------------------------- */
/* Packing                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static void ck_pack_kt_tile(float *dst, const float *k, int64_t stride, int64_t j0, int64_t nk, int d) {
    for (int c = 0; c < d; c++) {
        float *row = dst + (size_t)c * CK_BK;
        int64_t jj = 0;
        for (; jj < nk; jj++) row[jj] = k[(j0 + jj) * stride + c];
        for (; jj < CK_BK; jj++) row[jj] = 0.0f;
    }
}

static void ck_pack_v_tile(float *dst, const float *v, int64_t stride, int64_t j0, int64_t nk, int d) {
    int64_t jj = 0;
    for (; jj < nk; jj++) memcpy(dst + (size_t)jj * d, v + (j0 + jj) * stride, (size_t)d * sizeof(float));
    for (; jj < CK_BK; jj++) memset(dst + (size_t)jj * d, 0, (size_t)d * sizeof(float));
}

/* ---------------------------------------------------------------------------------------- */
/* S = Qs K^T for one strip x key tile: S[r][jj], r < nr, jj < BK (padded keys score 0,     */
/* masked later)                                                                            */
/* ---------------------------------------------------------------------------------------- */

static void ck_strip_scores_scalar(float *s, const float *qs, const float *kt, int nr, int d) {
    for (int r = 0; r < nr; r++)
        for (int jj = 0; jj < CK_BK; jj++) {
            float acc = 0.0f;
            for (int c = 0; c < d; c++) acc += qs[r * d + c] * kt[(size_t)c * CK_BK + jj];
            s[r * CK_BK + jj] = acc;
        }
}

/* R x 16 blocks of S = Qs K^T for R <= SR rows (R a compile-time constant after inlining, so
   the 2R accumulators live in registers): per c, two K loads and R broadcasts feed 2R FMAs. */
CK_AVX2 static inline __attribute__((always_inline))
void ck_strip_scores_rows_avx2(float *s, const float *qs, const float *kt, int d, const int R) {
    for (int jb = 0; jb < CK_BK; jb += 16) {
        __m256 a[CK_SR][2];
        for (int r = 0; r < R; r++) { a[r][0] = _mm256_setzero_ps(); a[r][1] = _mm256_setzero_ps(); }
        const float *kp = kt + jb;
        for (int c = 0; c < d; c++) {
            __m256 k0 = _mm256_load_ps(kp + (size_t)c * CK_BK), k1 = _mm256_load_ps(kp + (size_t)c * CK_BK + 8);
            for (int r = 0; r < R; r++) {
                __m256 b = _mm256_broadcast_ss(qs + r * d + c);
                a[r][0] = _mm256_fmadd_ps(b, k0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(b, k1, a[r][1]);
            }
        }
        for (int r = 0; r < R; r++) {
            _mm256_store_ps(s + r * CK_BK + jb, a[r][0]);
            _mm256_store_ps(s + r * CK_BK + jb + 8, a[r][1]);
        }
    }
}

CK_AVX2 static void ck_strip_scores_avx2(float *s, const float *qs, const float *kt, int nr, int d) {
    switch (nr) {
    case 6: ck_strip_scores_rows_avx2(s, qs, kt, d, 6); break;
    case 5: ck_strip_scores_rows_avx2(s, qs, kt, d, 5); break;
    case 4: ck_strip_scores_rows_avx2(s, qs, kt, d, 4); break;
    case 3: ck_strip_scores_rows_avx2(s, qs, kt, d, 3); break;
    case 2: ck_strip_scores_rows_avx2(s, qs, kt, d, 2); break;
    default: ck_strip_scores_rows_avx2(s, qs, kt, d, 1); break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Online softmax of one strip x key tile: S -> P in place, updates m, l and rescales O.    */
/* Scores are in log2 units (q carried scale * log2 e).                                     */
/* ---------------------------------------------------------------------------------------- */

/* The keys of one strip x key tile that take part, row by row: with w = 0 all nk keys of the
   tile, with w > 0 those in the sliding-window band |i - j| < w (bidirectional local attention:
   Beltagy et al. 2020, Longformer, arXiv:2004.05150; ModernBERT, arXiv:2412.13663). */
typedef struct {
    int64_t i0;   /* query index of the strip's first row */
    int64_t j0;   /* key index of the tile's first key */
    int64_t w;    /* band half-width, 0 for none */
    int nk;       /* keys present in the tile */
    int causal;   /* keys j <= i only (decoders: Vaswani et al. 2017's masked self-attention) */
} ck_band;

static inline int ck_clamp_key(int64_t x, int nk) { return x < 0 ? 0 : (x > nk ? nk : (int)x); }

/* Keys [lo, hi) of the tile for strip row r (empty when lo >= hi): j > i - w with a window,
   j <= i when causal, j < i + w with a bidirectional window. */
static inline void ck_band_row(const ck_band *b, int r, int *lo, int *hi) {
    if (b->w <= 0 && !b->causal) { *lo = 0; *hi = b->nk; return; }
    const int64_t i = b->i0 + r;
    *lo = b->w > 0 ? ck_clamp_key(i - b->w + 1 - b->j0, b->nk) : 0;
    *hi = b->causal ? ck_clamp_key(i + 1 - b->j0, b->nk) : (b->w > 0 ? ck_clamp_key(i + b->w - b->j0, b->nk) : b->nk);
}

static void ck_strip_softmax_scalar(float *s, float *m, float *l, float *o, int nr, const ck_band *b, int d) {
    for (int r = 0; r < nr; r++) {
        float *sr = s + r * CK_BK;
        int lo, hi;
        ck_band_row(b, r, &lo, &hi);
        for (int jj = 0; jj < lo; jj++) sr[jj] = 0.0f;
        for (int jj = hi; jj < CK_BK; jj++) sr[jj] = 0.0f;
        if (lo >= hi) continue;   /* no key of this row in the tile: P row 0, m and l unchanged */
        float mt = -INFINITY;
        for (int jj = lo; jj < hi; jj++) mt = sr[jj] > mt ? sr[jj] : mt;
        float mn = m[r] > mt ? m[r] : mt;
        float corr = exp2f(m[r] - mn);
        float sum = 0.0f;
        for (int jj = lo; jj < hi; jj++) { sr[jj] = exp2f(sr[jj] - mn); sum += sr[jj]; }
        l[r] = l[r] * corr + sum;
        m[r] = mn;
        if (corr != 1.0f) for (int c = 0; c < d; c++) o[r * d + c] *= corr;
    }
}

CK_AVX2 static float ck_hsum_avx2(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

CK_AVX2 static float ck_hmax_avx2(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

CK_AVX2 static void ck_strip_softmax_avx2(float *s, float *m, float *l, float *o, int nr, const ck_band *b, int d) {
    for (int r = 0; r < nr; r++) {
        float *sr = s + r * CK_BK;
        int lo, hi;
        ck_band_row(b, r, &lo, &hi);
        if (lo >= hi) {   /* no key of this row in the tile: P row 0, m and l unchanged */
            memset(sr, 0, CK_BK * sizeof(float));
            continue;
        }
        for (int jj = 0; jj < lo; jj++) sr[jj] = -INFINITY;
        for (int jj = hi; jj < CK_BK; jj++) sr[jj] = -INFINITY;
        __m256 vm = _mm256_set1_ps(-INFINITY);
        for (int jj = 0; jj < CK_BK; jj += 8) vm = _mm256_max_ps(vm, _mm256_load_ps(sr + jj));
        float mt = ck_hmax_avx2(vm);
        float mn = m[r] > mt ? m[r] : mt;
        float corr = exp2f(m[r] - mn);
        __m256 vmn = _mm256_set1_ps(mn), acc = _mm256_setzero_ps();
        for (int jj = 0; jj < CK_BK; jj += 8) {
            __m256 e = ck_exp2_nonpos_avx2(_mm256_sub_ps(_mm256_load_ps(sr + jj), vmn));
            _mm256_store_ps(sr + jj, e);
            acc = _mm256_add_ps(acc, e);
        }
        l[r] = l[r] * corr + ck_hsum_avx2(acc);
        m[r] = mn;
        if (corr != 1.0f) {
            __m256 vc = _mm256_set1_ps(corr);
            int c = 0;
            for (; c + 8 <= d; c += 8) _mm256_storeu_ps(o + r * d + c, _mm256_mul_ps(_mm256_loadu_ps(o + r * d + c), vc));
            for (; c < d; c++) o[r * d + c] *= corr;
        }
    }
}

/* ---------------------------------------------------------------------------------------- */
/* O += P V for one strip x key tile: O[r][c] += sum_jj P[r][jj] V[jj][c], columns from c0  */
/* (the scalar path and the column tail of the AVX2 path)                                   */
/* ---------------------------------------------------------------------------------------- */

static void ck_strip_pv_scalar(float *o, const float *p, const float *vt, int nr, int d, int c0) {
    for (int r = 0; r < nr; r++)
        for (int jj = 0; jj < CK_BK; jj++) {
            float pj = p[r * CK_BK + jj];
            if (pj == 0.0f) continue;
            const float *vr = vt + (size_t)jj * d;
            for (int c = c0; c < d; c++) o[r * d + c] += pj * vr[c];
        }
}

/* O[R][c..c+16) += P[R][BK] V[BK][c..c+16) for R <= SR rows, accumulators in registers. */
CK_AVX2 static inline __attribute__((always_inline))
void ck_strip_pv_rows_avx2(float *o, const float *p, const float *vt, int d, int d16, const int R) {
    for (int c = 0; c < d16; c += 16) {
        __m256 a[CK_SR][2];
        for (int r = 0; r < R; r++) { a[r][0] = _mm256_loadu_ps(o + r * d + c); a[r][1] = _mm256_loadu_ps(o + r * d + c + 8); }
        for (int jj = 0; jj < CK_BK; jj++) {
            const float *vr = vt + (size_t)jj * d + c;
            __m256 v0 = _mm256_loadu_ps(vr), v1 = _mm256_loadu_ps(vr + 8);
            for (int r = 0; r < R; r++) {
                __m256 b = _mm256_broadcast_ss(p + r * CK_BK + jj);
                a[r][0] = _mm256_fmadd_ps(b, v0, a[r][0]);
                a[r][1] = _mm256_fmadd_ps(b, v1, a[r][1]);
            }
        }
        for (int r = 0; r < R; r++) { _mm256_storeu_ps(o + r * d + c, a[r][0]); _mm256_storeu_ps(o + r * d + c + 8, a[r][1]); }
    }
}

CK_AVX2 static void ck_strip_pv_avx2(float *o, const float *p, const float *vt, int nr, int d) {
    const int d16 = d & ~15;
    switch (nr) {
    case 6: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 6); break;
    case 5: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 5); break;
    case 4: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 4); break;
    case 3: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 3); break;
    case 2: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 2); break;
    default: ck_strip_pv_rows_avx2(o, p, vt, d, d16, 1); break;
    }
    if (d16 < d) ck_strip_pv_scalar(o, p, vt, nr, d, d16);
}

/* ---------------------------------------------------------------------------------------- */
/* AVX-512 versions of the three strip steps (same tiles and packing, 16 lanes)             */
/* ---------------------------------------------------------------------------------------- */

CK_AVX512 static inline __attribute__((always_inline))
void ck_strip_scores_rows_avx512(float *s, const float *qs, const float *kt, int d, const int R) {
    for (int jb = 0; jb < CK_BK; jb += 32) {
        __m512 a[CK_SR][2];
        for (int r = 0; r < R; r++) { a[r][0] = _mm512_setzero_ps(); a[r][1] = _mm512_setzero_ps(); }
        const float *kp = kt + jb;
        for (int c = 0; c < d; c++) {
            __m512 k0 = _mm512_loadu_ps(kp + (size_t)c * CK_BK), k1 = _mm512_loadu_ps(kp + (size_t)c * CK_BK + 16);
            for (int r = 0; r < R; r++) {
                __m512 b = _mm512_set1_ps(qs[r * d + c]);
                a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
            }
        }
        for (int r = 0; r < R; r++) {
            _mm512_storeu_ps(s + r * CK_BK + jb, a[r][0]);
            _mm512_storeu_ps(s + r * CK_BK + jb + 16, a[r][1]);
        }
    }
}

CK_AVX512 static void ck_strip_scores_avx512(float *s, const float *qs, const float *kt, int nr, int d) {
    switch (nr) {
    case 12: ck_strip_scores_rows_avx512(s, qs, kt, d, 12); break;
    case 11: ck_strip_scores_rows_avx512(s, qs, kt, d, 11); break;
    case 10: ck_strip_scores_rows_avx512(s, qs, kt, d, 10); break;
    case 9: ck_strip_scores_rows_avx512(s, qs, kt, d, 9); break;
    case 8: ck_strip_scores_rows_avx512(s, qs, kt, d, 8); break;
    case 7: ck_strip_scores_rows_avx512(s, qs, kt, d, 7); break;
    case 6: ck_strip_scores_rows_avx512(s, qs, kt, d, 6); break;
    case 5: ck_strip_scores_rows_avx512(s, qs, kt, d, 5); break;
    case 4: ck_strip_scores_rows_avx512(s, qs, kt, d, 4); break;
    case 3: ck_strip_scores_rows_avx512(s, qs, kt, d, 3); break;
    case 2: ck_strip_scores_rows_avx512(s, qs, kt, d, 2); break;
    default: ck_strip_scores_rows_avx512(s, qs, kt, d, 1); break;
    }
}

_Static_assert(CK_BK == 64, "the AVX-512 softmax holds a row of scores in 4 vectors");

/* Lanes [base, base + 16) of a score row that lie in the row's keys [lo, hi), as a mask. */
static inline unsigned ck_lane_mask(int lo, int hi, int base) {
    const int a = lo - base < 0 ? 0 : (lo - base > 16 ? 16 : lo - base);
    const int b = hi - base < 0 ? 0 : (hi - base > 16 ? 16 : hi - base);
    return b <= a ? 0u : (((1u << b) - 1u) & ~((1u << a) - 1u));
}

/* Online softmax of nr rows of one key tile (BK = 64 = 4 vectors per row), AVX-512 form:
   - the horizontal max is taken only when some score exceeds the running max m (a mask test);
     otherwise m stays and neither O nor the sums need rescaling (the common case after the
     first tiles: a new running max is a record of the row's scores);
   - row sums stay 16-lane vectors l16 across tiles, reduced once at the end;
   - padded keys and keys outside the band load as -1e30, whose exp2 is exactly 0, so the
     exp2 needs no clamp; a row with no key in the tile is skipped (its P row set to 0). */
CK_AVX512 static void ck_strip_softmax_avx512(float *s, float *m, float *l16, float *o, int nr, const ck_band *b, int d) {
    const __m512 pad = _mm512_set1_ps(-1e30f);
    for (int r = 0; r < nr; r++) {
        float *sr = s + r * CK_BK;
        int lo, hi;
        ck_band_row(b, r, &lo, &hi);
        if (lo >= hi) {
            for (int v = 0; v < CK_BK / 16; v++) _mm512_storeu_ps(sr + 16 * v, _mm512_setzero_ps());
            continue;
        }
        __m512 x[CK_BK / 16];
        for (int v = 0; v < CK_BK / 16; v++)
            x[v] = _mm512_mask_loadu_ps(pad, (__mmask16)ck_lane_mask(lo, hi, 16 * v), sr + 16 * v);
        const __m512 vmax = _mm512_max_ps(_mm512_max_ps(x[0], x[1]), _mm512_max_ps(x[2], x[3]));
        __m512 sum = _mm512_loadu_ps(l16 + r * 16);
        if (_mm512_cmp_ps_mask(vmax, _mm512_set1_ps(m[r]), _CMP_GT_OQ)) {
            const float mn = _mm512_reduce_max_ps(vmax);
            const float corr = exp2f(m[r] - mn);   /* 0 on the first tile (m = -inf) */
            const __m512 vc = _mm512_set1_ps(corr);
            sum = _mm512_mul_ps(sum, vc);
            int c = 0;
            for (; c + 16 <= d; c += 16) _mm512_storeu_ps(o + r * d + c, _mm512_mul_ps(_mm512_loadu_ps(o + r * d + c), vc));
            if (c < d) {
                const __mmask16 tail = (__mmask16)((1u << (d - c)) - 1);
                _mm512_mask_storeu_ps(o + r * d + c, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, o + r * d + c), vc));
            }
            m[r] = mn;
        }
        const __m512 vmn = _mm512_set1_ps(m[r]);
        for (int v = 0; v < CK_BK / 16; v++) {
            __m512 e = ck_exp2_nonpos_avx512(_mm512_sub_ps(x[v], vmn));
            _mm512_storeu_ps(sr + 16 * v, e);
            sum = _mm512_add_ps(sum, e);
        }
        _mm512_storeu_ps(l16 + r * 16, sum);
    }
}

CK_AVX512 static void ck_row_sums_avx512(float *l, const float *l16, int nr) {
    for (int r = 0; r < nr; r++) l[r] = _mm512_reduce_add_ps(_mm512_loadu_ps(l16 + r * 16));
}

/* O[R][c..) += P[R][BK] V[BK][c..): blocks of 32 columns, then one masked block of <= 16. */
CK_AVX512 static inline __attribute__((always_inline))
void ck_strip_pv_rows_avx512(float *o, const float *p, const float *vt, int d, const int R) {
    int c = 0;
    for (; c + 32 <= d; c += 32) {
        __m512 a[CK_SR][2];
        for (int r = 0; r < R; r++) { a[r][0] = _mm512_loadu_ps(o + r * d + c); a[r][1] = _mm512_loadu_ps(o + r * d + c + 16); }
        for (int jj = 0; jj < CK_BK; jj++) {
            const float *vr = vt + (size_t)jj * d + c;
            __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
            for (int r = 0; r < R; r++) {
                __m512 b = _mm512_set1_ps(p[r * CK_BK + jj]);
                a[r][0] = _mm512_fmadd_ps(b, v0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(b, v1, a[r][1]);
            }
        }
        for (int r = 0; r < R; r++) { _mm512_storeu_ps(o + r * d + c, a[r][0]); _mm512_storeu_ps(o + r * d + c + 16, a[r][1]); }
    }
    for (; c < d; c += 16) {
        const int w = d - c < 16 ? d - c : 16;
        const __mmask16 mk = w == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << w) - 1);
        __m512 a[CK_SR];
        for (int r = 0; r < R; r++) a[r] = _mm512_maskz_loadu_ps(mk, o + r * d + c);
        for (int jj = 0; jj < CK_BK; jj++) {
            __m512 v0 = _mm512_maskz_loadu_ps(mk, vt + (size_t)jj * d + c);
            for (int r = 0; r < R; r++) a[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r * CK_BK + jj]), v0, a[r]);
        }
        for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(o + r * d + c, mk, a[r]);
    }
}

CK_AVX512 static void ck_strip_pv_avx512(float *o, const float *p, const float *vt, int nr, int d) {
    switch (nr) {
    case 12: ck_strip_pv_rows_avx512(o, p, vt, d, 12); break;
    case 11: ck_strip_pv_rows_avx512(o, p, vt, d, 11); break;
    case 10: ck_strip_pv_rows_avx512(o, p, vt, d, 10); break;
    case 9: ck_strip_pv_rows_avx512(o, p, vt, d, 9); break;
    case 8: ck_strip_pv_rows_avx512(o, p, vt, d, 8); break;
    case 7: ck_strip_pv_rows_avx512(o, p, vt, d, 7); break;
    case 6: ck_strip_pv_rows_avx512(o, p, vt, d, 6); break;
    case 5: ck_strip_pv_rows_avx512(o, p, vt, d, 5); break;
    case 4: ck_strip_pv_rows_avx512(o, p, vt, d, 4); break;
    case 3: ck_strip_pv_rows_avx512(o, p, vt, d, 3); break;
    case 2: ck_strip_pv_rows_avx512(o, p, vt, d, 2); break;
    default: ck_strip_pv_rows_avx512(o, p, vt, d, 1); break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* One (head, query tile) work item                                                         */
/* ---------------------------------------------------------------------------------------- */

/* Which score sets a SelfExtend tile needs: bit s set when set s is used by some pair.
   Rule: |i - j| < w normal; else j <= i lower, j > i upper. */
static unsigned ck_selfextend_sets(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t w) {
    /* i in [i0, i1), j in [j0, j1), both non-empty */
    int64_t max_ij = (i1 - 1) - j0; /* largest i - j */
    int64_t max_ji = (j1 - 1) - i0; /* largest j - i */
    int64_t min_abs;
    if (j1 - 1 < i0) min_abs = i0 - (j1 - 1);
    else if (j0 > i1 - 1) min_abs = j0 - (i1 - 1);
    else min_abs = 0;
    unsigned sets = 0;
    if (min_abs < w) sets |= 1u << CK_SET_NORMAL;
    if (max_ij >= (w > 0 ? w : 0)) sets |= 1u << CK_SET_LOWER;
    if (max_ji >= (w > 1 ? w : 1)) sets |= 1u << CK_SET_UPPER;
    return sets;
}

/* Scratch of one work item: scaled queries per set, score strips per set, the output tile and
   the online-softmax running max m and sum l (l16: 16 lanes per row on the AVX-512 path). */
typedef struct {
    float *qs, *s, *o, *m, *l, *l16;
    int64_t h, hk, i0;   /* query head, its key/value head, first query row */
    int nr;
} ck_attn_tile;

static ck_attn_tile ck_attn_tile_init(const ck_attn_job *job, int64_t item, float *scratch, ck_isa isa) {
    const ck_attention_params *p = job->p;
    const int d = p->head_dim;
    ck_attn_tile t;
    t.h = item / job->n_qtiles;
    t.hk = t.h / (p->n_heads / job->n_kv);   /* grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245) */
    /* Causal: the last query tiles see the most keys, so each head's tiles go out last-first
       and the lightest items end the run (the counter then balances the threads better). */
    const int64_t qt = item % job->n_qtiles;
    t.i0 = (p->causal ? job->n_qtiles - 1 - qt : qt) * CK_BQ;
    t.nr = (int)((p->n_queries - t.i0) < CK_BQ ? (p->n_queries - t.i0) : CK_BQ);
    t.qs = scratch;
    t.s = t.qs + (size_t)job->n_sets * CK_BQ * d;
    t.o = t.s + (size_t)job->n_sets * CK_SR * CK_BK;
    t.m = t.o + (size_t)CK_BQ * d;
    t.l = t.m + CK_BQ;
    t.l16 = t.l + CK_BQ;
    /* Queries pre-scaled by scale * log2(e) so the softmax runs in base 2 (exp2). */
    const float qscale = p->scale * CK_LOG2E;
    for (int set = 0; set < job->n_sets; set++)
        for (int r = 0; r < t.nr; r++) {
            const float *src = job->q[set] + (t.i0 + r) * p->q_stride + t.h * d;
            float *dst = t.qs + ((size_t)set * CK_BQ + r) * d;
            for (int c = 0; c < d; c++) dst[c] = src[c] * qscale;
        }
    for (int r = 0; r < t.nr; r++) { t.m[r] = -INFINITY; t.l[r] = 0.0f; }
    memset(t.o, 0, (size_t)t.nr * d * sizeof(float));
    if (isa == CK_ISA_AVX512) memset(t.l16, 0, (size_t)t.nr * 16 * sizeof(float));
    return t;
}

/* Scores of ns query rows (from row r0 of the tile) against key tile kt_index, one strip per
   SelfExtend set the strip needs; returns the strip to use (sets merged per element when the
   strip straddles the window, as SelfExtend merges them: Jin et al. 2024). */
static float *ck_attn_strip_scores(const ck_attn_job *job, const ck_attn_tile *t, int64_t kt_index,
                                   int r0, int ns, int nk, ck_isa isa) {
    const int d = job->p->head_dim;
    const int64_t ia = t->i0 + r0, j0 = kt_index * CK_BK;
    const size_t kt_tile = (size_t)d * CK_BK;
    const int causal = job->p->causal != 0;
    unsigned sets = job->se_window < 0 ? 1u : ck_selfextend_sets(ia, ia + ns, j0, j0 + nk, job->se_window);
    if (causal) sets &= ~(1u << CK_SET_UPPER);   /* causal SelfExtend has no j > i pairs */
    float *st = NULL;
    for (int set = 0; set < job->n_sets; set++) {
        if (!(sets & (1u << set))) continue;
        const float *kt = job->kt + (((size_t)set * job->n_kv + t->hk) * job->n_ktiles + kt_index) * kt_tile;
        const float *qr = t->qs + ((size_t)set * CK_BQ + r0) * d;
        float *ss = t->s + (size_t)set * CK_SR * CK_BK;
        if (isa == CK_ISA_AVX512) ck_strip_scores_avx512(ss, qr, kt, ns, d);
        else if (isa == CK_ISA_AVX2_FMA) ck_strip_scores_avx2(ss, qr, kt, ns, d);
        else ck_strip_scores_scalar(ss, qr, kt, ns, d);
        if (!st) st = ss;
    }
    if (sets & (sets - 1)) {
        /* Straddling strip: pick per element, into the first computed set's buffer. */
        const int64_t w = job->se_window;
        for (int r = 0; r < ns; r++)
            for (int jj = 0; jj < nk; jj++) {
                int64_t i = ia + r, j = j0 + jj, dist = i > j ? i - j : j - i;
                if (causal && j > i) continue;   /* masked by the band */
                int set = dist < w ? CK_SET_NORMAL : (j <= i ? CK_SET_LOWER : CK_SET_UPPER);
                st[r * CK_BK + jj] = t->s[((size_t)set * CK_SR + r) * CK_BK + jj];
            }
    }
    return st;
}

/* Key tiles [*kt0, *kt1) holding keys that query rows [i0, i1) attend to: every tile without
   a sliding window, else only the tiles that meet the band |i - j| < w, so that local
   attention costs O(L w), not O(L^2). Empty (kt1 <= kt0) when no valid key is in the band. */
static void ck_key_tiles(const ck_attn_job *job, int64_t i0, int64_t i1, int64_t *kt0, int64_t *kt1) {
    const int64_t w = job->p->window, n = job->p->n_valid;
    const int causal = job->p->causal != 0;
    if (w <= 0 && !causal) { *kt0 = 0; *kt1 = job->n_ktiles; return; }
    const int64_t jlo = w > 0 && i0 - w + 1 > 0 ? i0 - w + 1 : 0;
    const int64_t end = causal ? i1 : i1 + w - 1;   /* one past the last key a row of [i0, i1) may see */
    const int64_t jhi = end < n ? end : n;          /* keys [jlo, jhi) */
    if (jhi <= jlo) { *kt0 = *kt1 = 0; return; }
    *kt0 = jlo / CK_BK;
    *kt1 = (jhi + CK_BK - 1) / CK_BK;
}

/* One strip x key tile: scores, online-softmax update, O += P V. */
static void ck_attn_strip_step(const ck_attn_job *job, ck_attn_tile *t, int64_t kt, int r0, int ns, int nk,
                               ck_isa isa) {
    const int d = job->p->head_dim;
    const ck_band band = { .i0 = t->i0 + r0, .j0 = kt * CK_BK, .w = job->p->window, .nk = nk,
                           .causal = job->p->causal != 0 };
    const float *vt = job->vp + ((size_t)t->hk * job->n_ktiles + kt) * (size_t)CK_BK * d;
    float *st = ck_attn_strip_scores(job, t, kt, r0, ns, nk, isa);
    float *os = t->o + (size_t)r0 * d;
    if (isa == CK_ISA_AVX512) {
        ck_strip_softmax_avx512(st, t->m + r0, t->l16 + (size_t)r0 * 16, os, ns, &band, d);
        ck_strip_pv_avx512(os, st, vt, ns, d);
    } else if (isa == CK_ISA_AVX2_FMA) {
        ck_strip_softmax_avx2(st, t->m + r0, t->l + r0, os, ns, &band, d);
        ck_strip_pv_avx2(os, st, vt, ns, d);
    } else {
        ck_strip_softmax_scalar(st, t->m + r0, t->l + r0, os, ns, &band, d);
        ck_strip_pv_scalar(os, st, vt, ns, d, 0);
    }
}

/* One (head, query tile) work item: online softmax over the key tiles the tile attends to
   (Milakov & Gimelshein 2018), then the division by the row sums. A row without any key (only
   possible with a window and padded keys) gets zeros. */
static void ck_attn_item(const ck_attn_job *job, int64_t item, float *scratch, ck_isa isa) {
    const ck_attention_params *p = job->p;
    const int d = p->head_dim;
    ck_attn_tile t = ck_attn_tile_init(job, item, scratch, isa);
    const int sr = isa == CK_ISA_AVX512 ? 12 : 6;   /* strip height: 2 sr accumulators + 3 registers */
    int64_t kt0, kt1;
    ck_key_tiles(job, t.i0, t.i0 + t.nr, &kt0, &kt1);
    for (int64_t kt = kt0; kt < kt1; kt++) {
        const int64_t j0 = kt * CK_BK;
        const int nk = (int)((p->n_valid - j0) < CK_BK ? (p->n_valid - j0) : CK_BK);
        for (int r0 = 0; r0 < t.nr; r0 += sr) {
            const int ns = t.nr - r0 < sr ? t.nr - r0 : sr;
            int64_t s0, s1;
            ck_key_tiles(job, t.i0 + r0, t.i0 + r0 + ns, &s0, &s1);
            if (kt >= s0 && kt < s1) ck_attn_strip_step(job, &t, kt, r0, ns, nk, isa);
        }
    }
    if (isa == CK_ISA_AVX512) ck_row_sums_avx512(t.l, t.l16, t.nr);
    for (int r = 0; r < t.nr; r++) {
        float *dst = job->out + (t.i0 + r) * p->out_stride + t.h * d;
        const float inv = t.l[r] > 0.0f ? 1.0f / t.l[r] : 0.0f;
        for (int c = 0; c < d; c++) dst[c] = t.o[r * d + c] * inv;
    }
}

static void ck_attn_pack_item(const ck_attn_job *job, int64_t item) {
    const ck_attention_params *p = job->p;
    const int d = p->head_dim;
    const int64_t per_set = (int64_t)job->n_kv * job->n_ktiles;
    const int64_t set = item / per_set, rest = item % per_set;
    const int64_t h = rest / job->n_ktiles, t = rest % job->n_ktiles;
    const int64_t j0 = t * CK_BK;
    const int64_t nk = (p->n_valid - j0) < CK_BK ? (p->n_valid - j0) : CK_BK;
    if (set < job->n_sets) {
        float *dst = job->kt + (((size_t)set * job->n_kv + h) * job->n_ktiles + t) * (size_t)d * CK_BK;
        ck_pack_kt_tile(dst, job->k[set] + h * d, p->k_stride, j0, nk, d);
    } else {
        float *dst = job->vp + ((size_t)h * job->n_ktiles + t) * (size_t)CK_BK * d;
        ck_pack_v_tile(dst, job->v + h * d, p->v_stride, j0, nk, d);
    }
}

static ck_status ck_attention_run(ck_attn_job *job) {
    const ck_attention_params *p = job->p;
    const int d = p->head_dim;
    job->n_kv = p->n_kv_heads ? p->n_kv_heads : p->n_heads;
    job->n_ktiles = (p->n_valid + CK_BK - 1) / CK_BK;
    job->n_qtiles = (p->n_queries + CK_BQ - 1) / CK_BQ;
    const size_t kt_floats = (size_t)job->n_sets * job->n_kv * job->n_ktiles * d * CK_BK;
    const size_t vp_floats = (size_t)job->n_kv * job->n_ktiles * CK_BK * d;
    const int threads = ck_max_threads();
    job->thread_floats = ck_thread_floats(job->n_sets, d);
    const size_t scratch_floats = job->thread_floats * (size_t)threads;
    job->kt = ck_alloc_f32(kt_floats);
    job->vp = ck_alloc_f32(vp_floats);
    job->scratch = ck_alloc_f32(scratch_floats);
    if (!job->kt || !job->vp || !job->scratch) {
        ck_free_f32(job->kt, kt_floats);
        ck_free_f32(job->vp, vp_floats);
        ck_free_f32(job->scratch, scratch_floats);
        return CK_ERR_OUT_OF_MEMORY;
    }
    const ck_isa isa = ck_active_isa();
    const int64_t pack_items = (int64_t)(job->n_sets + 1) * job->n_kv * job->n_ktiles;
    const int64_t items = (int64_t)p->n_heads * job->n_qtiles;
#ifdef CK_USE_OPENMP
#pragma omp parallel
#endif
    {
        float *mine = job->scratch + job->thread_floats * (size_t)ck_thread_id();
#ifdef CK_USE_OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t it = 0; it < pack_items; it++) ck_attn_pack_item(job, it);   /* ends in a barrier */
        /* Dynamic hand-out through an atomic counter (libomp 14 cannot link clang 21's dynamic
           schedules): on a host that gives one core less than the other, or turbo that differs
           per core, a static split would wait for the slowest thread. Consecutive items share
           a head, so its K/V tiles stay warm in cache. */
        for (;;) {
            const int64_t it = __atomic_fetch_add(&job->next_item, 1, __ATOMIC_RELAXED);
            if (it >= items) break;
            ck_attn_item(job, it, mine, isa);
        }
    }
    ck_free_f32(job->kt, kt_floats);
    ck_free_f32(job->vp, vp_floats);
    ck_free_f32(job->scratch, scratch_floats);
    return CK_OK;
}

static ck_status ck_attention_check(const ck_attention_params *p) {
    if (!p) return CK_ERR_NULL_POINTER;
    if (p->n_queries < 1 || p->n_keys < 1 || p->n_heads < 1 || p->head_dim < 1) return CK_ERR_INVALID_SHAPE;
    if (p->n_valid < 1 || p->n_valid > p->n_keys) return CK_ERR_INVALID_SHAPE;
    if (p->head_dim > 1024) return CK_ERR_UNSUPPORTED;
    const int kv = p->n_kv_heads ? p->n_kv_heads : p->n_heads;
    if (kv < 1 || p->n_heads % kv != 0) return CK_ERR_INVALID_SHAPE;
    const int64_t row = (int64_t)p->n_heads * p->head_dim, kv_row = (int64_t)kv * p->head_dim;
    if (p->q_stride < row || p->k_stride < kv_row || p->v_stride < kv_row || p->out_stride < row)
        return CK_ERR_INVALID_SHAPE;
    if (!isfinite(p->scale) || p->window < 0) return CK_ERR_INVALID_VALUE;
    if ((p->window > 0 || p->causal) && p->n_queries != p->n_keys) return CK_ERR_INVALID_SHAPE;
    if (p->causal != 0 && p->causal != 1) return CK_ERR_INVALID_VALUE;
    return CK_OK;
}

ck_status ck_attention_f32(const ck_attention_params *p, const float *q, const float *k,
                           const float *v, float *out) {
    ck_status s = ck_attention_check(p);
    if (s != CK_OK) return s;
    if (!q || !k || !v || !out) return CK_ERR_NULL_POINTER;
    ck_attn_job job = { .p = p, .n_sets = 1, .q = { q }, .k = { k }, .v = v, .out = out, .se_window = -1 };
    return ck_attention_run(&job);
}

ck_status ck_selfextend_attention_f32(const ck_attention_params *p, int64_t window,
                                      const ck_selfextend_inputs *in, const float *v, float *out) {
    ck_status s = ck_attention_check(p);
    if (s != CK_OK) return s;
    if (!in || !v || !out || !in->q || !in->k || !in->q_lower || !in->k_lower)
        return CK_ERR_NULL_POINTER;
    if (!p->causal && (!in->q_upper || !in->k_upper)) return CK_ERR_NULL_POINTER;
    if (p->n_queries != p->n_keys) return CK_ERR_INVALID_SHAPE;
    if (window < 0) return CK_ERR_INVALID_VALUE;
    /* Causal SelfExtend (Jin et al. 2024's decoder form) only ever reads the normal and lower sets. */
    ck_attn_job job = { .p = p, .n_sets = p->causal ? 2 : 3,
                        .q = { in->q, in->q_lower, in->q_upper }, .k = { in->k, in->k_lower, in->k_upper },
                        .v = v, .out = out, .se_window = window };
    return ck_attention_run(&job);
}
