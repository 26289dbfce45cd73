// AVX2 + FMA kernels (compiled with -mavx2 -mfma; only called after a cpuid check).
#include <immintrin.h>

#include "common.h"

#define IRLL_NS avx2
#define IRLL_TABLE_FN table_avx2
#define IRLL_ISA_NAME "avx2"
#define IRLL_ISA_LEVEL 1
#define IRLL_HAS_FMA 1

namespace irll {
namespace avx2 {

constexpr i64 MR = 6;    // rows of C per micro-tile
constexpr i64 NR = 16;   // columns (two ymm)
constexpr i64 KC = 256;
constexpr i64 MC = 192;

static inline float gemm_merge(float beta, float c, float t) { return __builtin_fmaf(beta, c, t); }

static inline __m256i tail_mask(int n) {  // lanes < n set
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// ---- packing -------------------------------------------------------------------------------

// In-register 8x8 transpose: on return r[c][i] = (old r[i])[c].
static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 2; g++) {
    u[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// out[k*ow + i] = src[i*ld + k] for i < rows (<= 8), k < kc; lanes >= rows written as zero
// (only the lanes in wmask are stored).
static inline void transpose_rows(const float* src, i64 ld, int rows, i64 kc, float* out, i64 ow, __m256i wmask) {
  for (i64 k0 = 0; k0 < kc; k0 += 8) {
    const int kb = (int)(kc - k0 < 8 ? kc - k0 : 8);
    const __m256i lm = tail_mask(kb);
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = i < rows ? _mm256_maskload_ps(src + i * ld + k0, lm) : _mm256_setzero_ps();
    transpose8(r);
    for (int k = 0; k < kb; k++) _mm256_maskstore_ps(out + (k0 + k) * ow, wmask, r[k]);
  }
}

static bool pack_A_panel_fast(const GemmArgs& g, i64 row0, i64 mr, i64 p0, i64 kc, float* d) {
  const __m256i sm = tail_mask((int)MR);
  if (!g.transA) {
    transpose_rows(g.A + row0 * g.lda + p0, g.lda, (int)mr, kc, d, MR, sm);
  } else {
    const __m256i lm = tail_mask((int)mr);
    const float* s = g.A + p0 * g.lda + row0;
    for (i64 k = 0; k < kc; k++) _mm256_maskstore_ps(d + k * MR, sm, _mm256_maskload_ps(s + k * g.lda, lm));
  }
  return true;
}

static bool pack_B_panel_fast(const GemmArgs& g, i64 j, i64 nr, float* dst) {
  const i64 K = g.K;
  const __m256i all = tail_mask(8);
  if (!g.transB) {
    const __m256i m0 = tail_mask((int)nr), m1 = tail_mask((int)nr - 8);
    const float* s = g.B + j;
    for (i64 k = 0; k < K; k++) {
      _mm256_store_ps(dst + k * NR, _mm256_maskload_ps(s + k * g.ldb, m0));
      _mm256_store_ps(dst + k * NR + 8, _mm256_maskload_ps(s + k * g.ldb + 8, m1));
    }
  } else {
    const float* s = g.B + j * g.ldb;
    int r0 = (int)(nr < 8 ? nr : 8), r1 = (int)(nr > 8 ? nr - 8 : 0);
    transpose_rows(s, g.ldb, r0, K, dst, NR, all);
    transpose_rows(s + 8 * g.ldb, g.ldb, r1, K, dst + 8, NR, all);
  }
  return true;
}
static bool pack_A_block_fast(const GemmArgs&, i64, i64, i64, i64, float*) { return false; }
#define IRLL_PACK_HOOKS 1

__attribute__((noinline)) static void ukr(i64 kc, const float* __restrict A, const float* __restrict B, float* C, i64 ldc,
                float alpha, float beta, int nr) {
  __m256 c[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    c[i][0] = _mm256_setzero_ps();
    c[i][1] = _mm256_setzero_ps();
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (i64 k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(B);
    __m256 b1 = _mm256_load_ps(B + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      __m256 a = _mm256_broadcast_ss(A + i);
      c[i][0] = _mm256_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm256_fmadd_ps(a, b1, c[i][1]);
    }
    A += MR;
    B += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  if (nr >= 16) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      float* p = C + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, c[i][0]), r1 = _mm256_mul_ps(va, c[i][1]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p + 8), r1);
      }
      _mm256_storeu_ps(p, r0);
      _mm256_storeu_ps(p + 8, r1);
    }
  } else {
    const __m256i m0 = tail_mask(nr), m1 = tail_mask(nr - 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      float* p = C + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, c[i][0]), r1 = _mm256_mul_ps(va, c[i][1]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(p, m0), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(p + 8, m1), r1);
      }
      _mm256_maskstore_ps(p, m0, r0);
      _mm256_maskstore_ps(p + 8, m1, r1);
    }
  }
}

}  // namespace avx2
}  // namespace irll

#include "impl.h"
