// AVX-512 kernels (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma; only called
// after a cpuid check).
#include <immintrin.h>

#include "common.h"

// GCC 12's _mm512_undefined_ps() (used inside the shuffle intrinsics) trips a false
// "may be used uninitialized" warning.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define IRLL_NS avx512
#define IRLL_TABLE_FN table_avx512
#define IRLL_ISA_NAME "avx512"
#define IRLL_ISA_LEVEL 2
#define IRLL_HAS_FMA 1

namespace irll {
namespace avx512 {

constexpr i64 MR = 14;   // rows of C per micro-tile (broadcast from packed A)
constexpr i64 NR = 32;   // columns of C per micro-tile (two zmm, loaded from packed B)
constexpr i64 KC = 512;  // K block (fewer passes over C; the 64 KB B micro-panel streams from L2)
constexpr i64 MC = 448;  // rows per A block (MC x KC floats stay in L2)

static inline float gemm_merge(float beta, float c, float t) { return __builtin_fmaf(beta, c, t); }

// ---- packing -------------------------------------------------------------------------------

// In-register transpose of a 16x16 block: on return r[c][i] = (old r[i])[c].
static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // per group g of 4 rows: column 4j+c of rows 4g..4g+3 in 128-bit lane j of u[4g+c]
  __m512 u[16];
  for (int g = 0; g < 4; g++) {
    __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
    __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  // 4x4 transpose of 128-bit lanes across the groups, for each c
  for (int c = 0; c < 4; c++) {
    __m512 a = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
    __m512 b = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
    __m512 e = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
    __m512 f = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
    r[0 + c] = _mm512_shuffle_f32x4(a, e, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + c] = _mm512_shuffle_f32x4(a, e, _MM_SHUFFLE(3, 1, 3, 1));
    r[4 + c] = _mm512_shuffle_f32x4(b, f, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + c] = _mm512_shuffle_f32x4(b, f, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// Transposes `rows` (<= 16) source rows of `kc` floats (row stride ld) into kc output rows of
// width `w` (stride ow): out[k*ow + i] = src[i*ld + k] for i < rows (lanes rows..w-1 zero).
// pf: rows to prefetch (at the same columns) for the next call, or null.
static inline void transpose_rows(const float* src, i64 ld, int rows, i64 kc, float* out, i64 ow, __mmask16 wmask,
                                  const float* pf = nullptr, int pfrows = 0) {
  for (i64 k0 = 0; k0 < kc; k0 += 16) {
    const int kb = (int)(kc - k0 < 16 ? kc - k0 : 16);
    const __mmask16 lm = kb == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << kb) - 1);
    for (int i = 0; i < pfrows; i++) _mm_prefetch((const char*)(pf + i * ld + k0), _MM_HINT_T0);
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(lm, src + i * ld + k0) : _mm512_setzero_ps();
    transpose16(r);
    for (int k = 0; k < kb; k++) _mm512_mask_storeu_ps(out + (k0 + k) * ow, wmask, r[k]);
  }
}

// One MR-row panel of packed A (mr valid rows, kc columns from p0).
static bool pack_A_panel_fast(const GemmArgs& g, i64 row0, i64 mr, i64 p0, i64 kc, float* d) {
  if (!g.transA) {
    // prefetch the next panel's rows (when they exist): DRAM latency otherwise dominates
    i64 nxt = row0 + MR, pfr = g.M - nxt < MR ? g.M - nxt : MR;
    transpose_rows(g.A + row0 * g.lda + p0, g.lda, (int)mr, kc, d, MR, (__mmask16)((1u << MR) - 1),
                   pfr > 0 ? g.A + nxt * g.lda + p0 : nullptr, pfr > 0 ? (int)pfr : 0);
  } else {
    const __mmask16 lm = (__mmask16)((1u << mr) - 1), sm = (__mmask16)((1u << MR) - 1);
    const float* s = g.A + p0 * g.lda + row0;
    for (i64 k = 0; k < kc; k++) {
      // a hint only (never dereferenced), so an address past the array is harmless
      _mm_prefetch((const char*)((uintptr_t)s + (uintptr_t)((k + 16) * g.lda * 4)), _MM_HINT_T0);
      _mm512_mask_storeu_ps(d + k * MR, sm, _mm512_maskz_loadu_ps(lm, s + k * g.lda));
    }
  }
  return true;
}

// A whole packed-A block when A is transposed (stored K x M): walk each source row once,
// contiguously, scattering its MR-wide pieces to the panels.
static bool pack_A_block_fast(const GemmArgs& g, i64 i0, i64 mrows, i64 p0, i64 kc, float* dst) {
  if (!g.transA) return false;
  const __mmask16 sm = (__mmask16)((1u << MR) - 1);
  const i64 nfull = mrows / MR, rem = mrows - nfull * MR;
  const __mmask16 lm = (__mmask16)((1u << rem) - 1);
  for (i64 k = 0; k < kc; k++) {
    const float* s = g.A + (p0 + k) * g.lda + i0;
    if (k + 4 < kc) {  // the strips are short and far apart: prefetch a few rows ahead
      const float* sp = s + 4 * g.lda;
      for (i64 c = 0; c < mrows; c += 16) _mm_prefetch((const char*)(sp + c), _MM_HINT_T0);
    }
    float* d = dst + k * MR;
    for (i64 q = 0; q < nfull; q++)
      _mm512_mask_storeu_ps(d + q * kc * MR, sm, _mm512_maskz_loadu_ps(sm, s + q * MR));
    if (rem) _mm512_mask_storeu_ps(d + nfull * kc * MR, sm, _mm512_maskz_loadu_ps(lm, s + nfull * MR));
  }
  return true;
}

// One NR-column panel of packed B (all K rows).
static bool pack_B_panel_fast(const GemmArgs& g, i64 j, i64 nr, float* dst) {
  const i64 K = g.K;
  if (!g.transB) {
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : (__mmask16)0;
    const float* s = g.B + j;
    for (i64 k = 0; k < K; k++) {
      _mm512_store_ps(dst + k * NR, _mm512_maskz_loadu_ps(m0, s + k * g.ldb));
      _mm512_store_ps(dst + k * NR + 16, _mm512_maskz_loadu_ps(m1, s + k * g.ldb + 16));
    }
  } else {
    // columns j.. of op(B) are rows j.. of B: two 16-row transposes per panel
    const float* s = g.B + j * g.ldb;
    int r0 = (int)(nr < 16 ? nr : 16), r1 = (int)(nr > 16 ? nr - 16 : 0);
    transpose_rows(s, g.ldb, r0, K, dst, NR, (__mmask16)0xFFFF);
    transpose_rows(s + 16 * g.ldb, g.ldb, r1, K, dst + 16, NR, (__mmask16)0xFFFF);
  }
  return true;
}
#define IRLL_PACK_HOOKS 1

// C[0:14, 0:nr] = alpha * A(14 x kc) @ B(kc x 16*NV) + beta * C, with nr <= 16*NV. The packed
// B rows are NR = 32 floats apart whatever NV (NV = 1 serves the half-empty last panel).
template <int NV>
static inline void ukr_t(i64 kc, const float* __restrict A, const float* __restrict B, float* C, i64 ldc,
                         float alpha, float beta, int nr) {
  __m512 c[MR][NV];
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) c[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) _mm_prefetch((const char*)(C + i * ldc + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; k++) {
    __m512 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(B + 16 * v);
    _mm_prefetch((const char*)(A + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      __m512 a = _mm512_set1_ps(A[i]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
    }
    A += MR;
    B += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  __mmask16 m[NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; v++) {
    int w = nr - 16 * v;
    m[v] = w >= 16 ? (__mmask16)0xFFFF : w > 0 ? (__mmask16)((1u << w) - 1) : (__mmask16)0;
  }
  if (beta == 0.0f) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) _mm512_mask_storeu_ps(C + i * ldc + 16 * v, m[v], _mm512_mul_ps(va, c[i][v]));
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) {
        float* p = C + i * ldc + 16 * v;
        _mm512_mask_storeu_ps(p, m[v], _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m[v], p), _mm512_mul_ps(va, c[i][v])));
      }
  }
}

// Not inlined into the driver: on its own the k loop keeps every counter in a register.
__attribute__((noinline)) static void ukr(i64 kc, const float* __restrict A, const float* __restrict B, float* C,
                                          i64 ldc, float alpha, float beta, int nr) {
  if (nr > 16)
    ukr_t<2>(kc, A, B, C, ldc, alpha, beta, nr);
  else
    ukr_t<1>(kc, A, B, C, ldc, alpha, beta, nr);
}

}  // namespace avx512
}  // namespace irll

#include "impl.h"
