// Generic kernel implementations, compiled once per ISA. The including translation unit
// defines, before including this file:
//   IRLL_NS          a namespace name unique to the translation unit (e.g. avx512)
//   IRLL_TABLE_FN    the name of the table getter (e.g. table_avx512)
//   IRLL_ISA_NAME    a string literal
// and, inside `namespace irll { namespace IRLL_NS { ... } }`:
//   constexpr i64 MR, NR, KC, MC;     GEMM register/cache blocking
//   ukr(kc, A, B, C, ldc, alpha, beta, nr)
//       C[0:MR, 0:nr] = alpha * Apanel @ Bpanel + beta * C (beta == 0: C not read), nr <= NR.
//   float gemm_merge(float beta, float c, float t)  the same rounding as ukr's store: t + beta*c
//
// Everything here lives in the unique namespace (or is `static`), so the copies compiled with
// different instruction sets never meet at link time. Only plain C++ and C library calls are
// used (no std:: containers/templates shared with other translation units).
//
// Determinism: every result is independent of the number of threads. Work is cut into chunks
// whose boundaries depend only on the problem size, and reductions combine chunk partials in a
// fixed order.
#include <cmath>
#include <cstring>

// The 64-byte vector types below are passed between static inline functions only; the note
// about their calling convention without AVX-512 is irrelevant here.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace irll {
namespace IRLL_NS {

#if IRLL_HAS_FMA
static inline float fmadd(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
#else
static inline float fmadd(float a, float b, float c) { return a * b + c; }
#endif

static inline i64 imin(i64 a, i64 b) { return a < b ? a : b; }
static inline i64 imax(i64 a, i64 b) { return a > b ? a : b; }
static inline i64 cdiv(i64 a, i64 b) { return (a + b - 1) / b; }

static inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static inline float u2f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Run body(lo, hi) over [0, n) in chunks of `chunk`, threaded when the total work (in rough
// element-operations) is large enough to pay for waking the pool.
template <class F>
struct RangeCtx {
  F* f;
  i64 n, chunk;
};
template <class F>
static void range_tramp(void* c, i64 t) {
  RangeCtx<F>* rc = (RangeCtx<F>*)c;
  i64 lo = t * rc->chunk;
  (*rc->f)(lo, imin(rc->n, lo + rc->chunk));
}
static const double kParallelWork = 150000.0;  // ~50 us of simple work
template <class F>
static void parallel_range(i64 n, i64 chunk, double work, F f) {
  if (n <= 0) return;
  if (chunk < 1) chunk = 1;
  i64 ntasks = cdiv(n, chunk);
  if (ntasks <= 1 || work < kParallelWork) {
    f((i64)0, n);
    return;
  }
  RangeCtx<F> rc{&f, n, chunk};
  parallel_for(ntasks, &range_tramp<F>, &rc, 1 << 30);
}
// Rows split so that each task has about `target` work units and there are enough tasks.
static inline i64 row_chunk(i64 rows, double per_row, double target = 65536.0) {
  i64 c = (i64)(target / (per_row > 1 ? per_row : 1));
  if (c < 1) c = 1;
  if (c > rows) c = rows;
  return c;
}

// =============================================================================================
// GEMM
// =============================================================================================

// Packed B: for each NR-wide column panel, all K rows: panel p at Bp + p*K*NR, row k at +k*NR.
static void pack_B_panel(const GemmArgs& g, i64 j, i64 nr, float* __restrict dst) {
  const i64 K = g.K;
#if IRLL_PACK_HOOKS
  if (pack_B_panel_fast(g, j, nr, dst)) return;
#endif
  if (!g.transB) {
    for (i64 k = 0; k < K; k++) {
      const float* s = g.B + k * g.ldb + j;
      float* d = dst + k * NR;
      if (nr == NR) {
        for (i64 t = 0; t < NR; t++) d[t] = s[t];
      } else {
        for (i64 t = 0; t < nr; t++) d[t] = s[t];
        for (i64 t = nr; t < NR; t++) d[t] = 0.f;
      }
    }
  } else {
    for (i64 k0 = 0; k0 < K; k0 += 32) {
      i64 kb = imin(32, K - k0);
      for (i64 t = 0; t < nr; t++) {
        const float* s = g.B + (j + t) * g.ldb + k0;
        float* d = dst + k0 * NR + t;
        for (i64 k = 0; k < kb; k++) d[k * NR] = s[k];
      }
      for (i64 t = nr; t < NR; t++)
        for (i64 k = 0; k < kb; k++) dst[(k0 + k) * NR + t] = 0.f;
    }
  }
}

// Packed A block: rows [i0, i0+mrows), k in [p0, p0+kc); MR-row panels, panel q at
// dst + q*kc*MR, element (i, k) at + k*MR + i. Rows past the block are zero.
static void pack_A_block(const GemmArgs& g, i64 i0, i64 mrows, i64 p0, i64 kc, float* __restrict dst) {
#if IRLL_PACK_HOOKS
  if (pack_A_block_fast(g, i0, mrows, p0, kc, dst)) return;
#endif
  for (i64 q = 0; q * MR < mrows; q++) {
    i64 mr = imin(MR, mrows - q * MR);
    float* d = dst + q * kc * MR;
#if IRLL_PACK_HOOKS
    if (pack_A_panel_fast(g, i0 + q * MR, mr, p0, kc, d)) continue;
#endif
    if (!g.transA) {
      const float* s0 = g.A + (i0 + q * MR) * g.lda + p0;
      if (mr == MR) {
        // 16 k at a time: keeps the MR source rows' lines hot and the writes in L1.
        i64 k0 = 0;
        for (; k0 + 16 <= kc; k0 += 16) {
          for (i64 i = 0; i < MR; i++) {
            const float* s = s0 + i * g.lda + k0;
            float* dd = d + k0 * MR + i;
            for (i64 k = 0; k < 16; k++) dd[k * MR] = s[k];
          }
        }
        for (; k0 < kc; k0++)
          for (i64 i = 0; i < MR; i++) d[k0 * MR + i] = s0[i * g.lda + k0];
      } else {
        for (i64 k = 0; k < kc; k++) {
          for (i64 i = 0; i < mr; i++) d[k * MR + i] = s0[i * g.lda + k];
          for (i64 i = mr; i < MR; i++) d[k * MR + i] = 0.f;
        }
      }
    } else {
      const float* s0 = g.A + p0 * g.lda + i0 + q * MR;
      if (mr == MR) {
        for (i64 k = 0; k < kc; k++) {
          const float* s = s0 + k * g.lda;
          for (i64 i = 0; i < MR; i++) d[k * MR + i] = s[i];
        }
      } else {
        for (i64 k = 0; k < kc; k++) {
          const float* s = s0 + k * g.lda;
          for (i64 i = 0; i < mr; i++) d[k * MR + i] = s[i];
          for (i64 i = mr; i < MR; i++) d[k * MR + i] = 0.f;
        }
      }
    }
  }
}

struct GemmPlan {
  const GemmArgs* g;
  float* Bp;       // packed panels of the current column block
  i64 j0;          // first column of the block
  i64 npan;        // panels in the block
  i64 ncols;       // columns in the block
  i64 kcb;         // K block size
  i64 mchunk, nm;  // row chunk size and count
  i64 pchunk, nn;  // panels per task and count
  i64 bpan_per_task;
};

static thread_local float* tl_apack = nullptr;
static thread_local size_t tl_apack_size = 0;
static thread_local float* tl_bpack = nullptr;
static thread_local size_t tl_bpack_size = 0;

static float* get_buf(float*& buf, size_t& have, size_t need_floats) {
  if (have < need_floats) {
    scratch_free(buf);
    buf = (float*)scratch_alloc(need_floats * sizeof(float));
    have = need_floats;
  }
  return buf;
}

// Scratch buffers are cached per thread (page faults on fresh memory are expensive, e.g. ~75 ms
// for the 34 MB packed B of a 1536x11000x784 GEMM in a VM); buffers above this size are
// returned to the system after each call instead.
static const size_t kMaxCachedFloats = (size_t)64 << 20;  // 256 MB
static void trim_buf(float*& buf, size_t& have) {
  if (have > kMaxCachedFloats) {
    scratch_free(buf);
    buf = nullptr;
    have = 0;
  }
}

static void gemm_pack_task(void* c, i64 t) {
  GemmPlan& P = *(GemmPlan*)c;
  const GemmArgs& g = *P.g;
  i64 p0 = t * P.bpan_per_task, p1 = imin(P.npan, p0 + P.bpan_per_task);
  for (i64 p = p0; p < p1; p++) {
    i64 j = P.j0 + p * NR;
    pack_B_panel(g, j, imin(NR, P.j0 + P.ncols - j), P.Bp + p * g.K * NR);
  }
}

static void gemm_compute_task(void* c, i64 t) {
  GemmPlan& P = *(GemmPlan*)c;
  const GemmArgs& g = *P.g;
  i64 im = t / P.nn, in = t % P.nn;
  i64 m0 = im * P.mchunk, mrows = imin(P.mchunk, g.M - m0);
  i64 q0 = in * P.pchunk, q1 = imin(P.npan, q0 + P.pchunk);
  float* Ap = get_buf(tl_apack, tl_apack_size, (size_t)(cdiv(P.mchunk, MR) * MR * P.kcb));
  alignas(64) float tile[MR * NR];
  for (i64 pc = 0; pc < g.K; pc += P.kcb) {
    i64 kc = imin(P.kcb, g.K - pc);
    pack_A_block(g, m0, mrows, pc, kc, Ap);
    float beta = pc == 0 ? g.beta : 1.0f;
    for (i64 q = q0; q < q1; q++) {
      i64 j = P.j0 + q * NR;
      int nr = (int)imin(NR, P.j0 + P.ncols - j);
      const float* Bq = P.Bp + q * g.K * NR + pc * NR;
      for (i64 ip = 0; ip * MR < mrows; ip++) {
        i64 mr = imin(MR, mrows - ip * MR);
        float* Cp = g.C + (m0 + ip * MR) * g.ldc + j;
        const float* Aq = Ap + ip * kc * MR;
        if (mr == MR) {
          ukr(kc, Aq, Bq, Cp, g.ldc, g.alpha, beta, nr);
        } else {
          ukr(kc, Aq, Bq, tile, NR, g.alpha, 0.0f, (int)NR);
          for (i64 i = 0; i < mr; i++) {
            float* cr = Cp + i * g.ldc;
            const float* tr = tile + i * NR;
            if (beta == 0.0f)
              for (i64 jj = 0; jj < nr; jj++) cr[jj] = tr[jj];
            else
              for (i64 jj = 0; jj < nr; jj++) cr[jj] = gemm_merge(beta, cr[jj], tr[jj]);
          }
        }
      }
    }
  }
}

static void gemm_scale_c(const GemmArgs& g) {
  for (i64 i = 0; i < g.M; i++) {
    float* c = g.C + i * g.ldc;
    if (g.beta == 0.0f)
      for (i64 j = 0; j < g.N; j++) c[j] = 0.f;
    else if (g.beta != 1.0f)
      for (i64 j = 0; j < g.N; j++) c[j] *= g.beta;
  }
}

// Tiny problems: no packing. Same arithmetic as the micro-kernel for K <= KC (one fused
// multiply-add chain over k per element, then alpha, then beta).
static void gemm_small(const GemmArgs& g) {
  float acc[256];
  for (i64 i = 0; i < g.M; i++) {
    for (i64 j = 0; j < g.N; j++) acc[j] = 0.f;
    for (i64 p = 0; p < g.K; p++) {
      const float a = g.transA ? g.A[p * g.lda + i] : g.A[i * g.lda + p];
      if (g.transB)
        for (i64 j = 0; j < g.N; j++) acc[j] = fmadd(a, g.B[j * g.ldb + p], acc[j]);
      else
        for (i64 j = 0; j < g.N; j++) acc[j] = fmadd(a, g.B[p * g.ldb + j], acc[j]);
    }
    float* c = g.C + i * g.ldc;
    for (i64 j = 0; j < g.N; j++) {
      const float t = g.alpha * acc[j];
      c[j] = g.beta == 0.0f ? t : gemm_merge(g.beta, c[j], t);
    }
  }
}

static void gemm(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0 || g.alpha == 0.0f) {
    gemm_scale_c(g);
    return;
  }
  if (g.N <= 256 && g.K <= KC && g.M * g.N * g.K <= 8192) {
    gemm_small(g);
    return;
  }
  const double flops = 2.0 * (double)g.M * (double)g.N * (double)g.K;
  const int T = flops < 4.0e6 ? 1 : pool_threads();

  GemmPlan P;
  P.g = &g;
  i64 nkb = cdiv(g.K, KC);
  P.kcb = cdiv(g.K, nkb);
  // Row chunks: at most MC rows, a multiple of MR, and (threaded) a multiple of T chunks.
  i64 nm = cdiv(g.M, MC);
  if (T > 1 && g.M > MR) nm = cdiv(nm, T) * T;
  P.mchunk = cdiv(cdiv(g.M, nm), MR) * MR;
  P.nm = cdiv(g.M, P.mchunk);
  // Column blocks: packed B of one block at most ~16M floats.
  i64 maxcols = imax(NR, ((i64)(16 << 20) / imax(g.K, 1)) / NR * NR);
  float* Bp = get_buf(tl_bpack, tl_bpack_size, (size_t)(cdiv(imin(g.N, maxcols), NR) * NR * g.K));
  for (i64 j0 = 0; j0 < g.N; j0 += maxcols) {
    P.j0 = j0;
    P.ncols = imin(maxcols, g.N - j0);
    P.npan = cdiv(P.ncols, NR);
    P.Bp = Bp;
    // Split columns too when there are few row chunks.
    P.nn = 1;
    if (T > 1 && P.nm < 2 * T) P.nn = imin(P.npan, cdiv(2 * T, P.nm));
    P.pchunk = cdiv(P.npan, P.nn);
    P.nn = cdiv(P.npan, P.pchunk);
    // Pack B (all K rows of the block's panels).
    P.bpan_per_task = imax(1, (i64)((1 << 16) / imax(1, g.K * NR / 16)));
    i64 npt = cdiv(P.npan, P.bpan_per_task);
    if (T > 1 && npt > 1 && (double)P.npan * NR * g.K > 200000.0)
      parallel_for(npt, &gemm_pack_task, &P, T);
    else
      for (i64 t = 0; t < npt; t++) gemm_pack_task(&P, t);
    i64 ntasks = P.nm * P.nn;
    if (T > 1 && ntasks > 1)
      parallel_for(ntasks, &gemm_compute_task, &P, T);
    else
      for (i64 t = 0; t < ntasks; t++) gemm_compute_task(&P, t);
  }
  trim_buf(tl_bpack, tl_bpack_size);
}

// =============================================================================================
// Portable SIMD (GCC vector extensions): 16 float lanes whatever the ISA (one zmm, two ymm or
// four xmm), so lane-wise accumulation orders, and hence results, are the same on every path.
// =============================================================================================

typedef float vf16 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef double vd8 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));
typedef uint32_t vu16 __attribute__((vector_size(64)));

static inline vf16 vload(const float* p) {
  vf16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline void vstore(float* p, vf16 v) { std::memcpy(p, &v, sizeof v); }
static inline vf16 vsplat(float x) { return vf16{} + x; }
static inline vf16 vload_part(const float* p, i64 n, float fill) {
  float t[16];
  for (int l = 0; l < 16; l++) t[l] = l < n ? p[l] : fill;
  return vload(t);
}
static inline void vstore_part(float* p, vf16 v, i64 n) {
  float t[16];
  vstore(t, v);
  for (int l = 0; l < n; l++) p[l] = t[l];
}
static inline vd8 vlo(vf16 v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), vd8); }
static inline vd8 vhi(vf16 v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), vd8);
}
static inline vf16 vmax(vf16 a, vf16 b) { return a > b ? a : b; }  // NaN in a: keeps b

#if IRLL_ISA_LEVEL == 2
static inline vf16 vfma(vf16 a, vf16 b, vf16 c) { return (vf16)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline bool vany_ge(vf16 x, float t) { return _mm512_cmp_ps_mask((__m512)x, _mm512_set1_ps(t), _CMP_GE_OQ) != 0; }
static inline bool vany_nan(vf16 x) { return _mm512_cmp_ps_mask((__m512)x, (__m512)x, _CMP_UNORD_Q) != 0; }
#elif IRLL_ISA_LEVEL == 1
static inline vf16 vfma(vf16 a, vf16 b, vf16 c) {
  vf8 al = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7), ah = __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
  vf8 bl = __builtin_shufflevector(b, b, 0, 1, 2, 3, 4, 5, 6, 7), bh = __builtin_shufflevector(b, b, 8, 9, 10, 11, 12, 13, 14, 15);
  vf8 cl = __builtin_shufflevector(c, c, 0, 1, 2, 3, 4, 5, 6, 7), ch = __builtin_shufflevector(c, c, 8, 9, 10, 11, 12, 13, 14, 15);
  vf8 rl = (vf8)_mm256_fmadd_ps((__m256)al, (__m256)bl, (__m256)cl);
  vf8 rh = (vf8)_mm256_fmadd_ps((__m256)ah, (__m256)bh, (__m256)ch);
  return __builtin_shufflevector(rl, rh, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
static inline bool vany_ge(vf16 x, float t) {
  __m256 tt = _mm256_set1_ps(t);
  vf8 xl = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7), xh = __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  __m256 m = _mm256_or_ps(_mm256_cmp_ps((__m256)xl, tt, _CMP_GE_OQ), _mm256_cmp_ps((__m256)xh, tt, _CMP_GE_OQ));
  return _mm256_movemask_ps(m) != 0;
}
static inline bool vany_nan(vf16 x) {
  vf8 xl = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7), xh = __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  __m256 m = _mm256_or_ps(_mm256_cmp_ps((__m256)xl, (__m256)xl, _CMP_UNORD_Q), _mm256_cmp_ps((__m256)xh, (__m256)xh, _CMP_UNORD_Q));
  return _mm256_movemask_ps(m) != 0;
}
#else
static inline vf16 vfma(vf16 a, vf16 b, vf16 c) { return a * b + c; }
static inline bool vany_ge(vf16 x, float t) {
  vi16 m = x >= t;
  int any = 0;
  for (int l = 0; l < 16; l++) any |= m[l];
  return any != 0;
}
static inline bool vany_nan(vf16 x) {
  vi16 m = x != x;
  int any = 0;
  for (int l = 0; l < 16; l++) any |= m[l];
  return any != 0;
}
#endif

// Fixed-order sum of 16 double lanes.
static inline double lanes_total(const double* acc) {
  double s8[8];
  for (int l = 0; l < 8; l++) s8[l] = acc[l] + acc[l + 8];
  double s4[4];
  for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

// 16 float64 lanes; element i of a stream goes to lane i % 16.
struct DAcc {
  vd8 a = {}, b = {};
  inline void add(vf16 v) {
    a += vlo(v);
    b += vhi(v);
  }
  inline void add_sq(vf16 v) {
    vd8 l = vlo(v), h = vhi(v);
    a += l * l;
    b += h * h;
  }
  inline void add_prod(vf16 x, vf16 y) {
    a += vlo(x) * vlo(y);
    b += vhi(x) * vhi(y);
  }
  inline double total() const {
    double t[16];
    std::memcpy(t, &a, sizeof a);
    std::memcpy(t + 8, &b, sizeof b);
    return lanes_total(t);
  }
};

// =============================================================================================
// Reductions (float64, fixed chunks combined in order)
// =============================================================================================

static const i64 kRedChunk = 1 << 16;  // elements per partial sum (multiple of 16)

// One pass over n floats in 16-wide steps, the tail loaded masked to zero: `step(acc, i, m)` folds
// elements [i, i + m) (m = 16 except at the tail) into the float64 accumulator.
template <class Step>
static double reduce_chunk(i64 n, Step step) {
  DAcc acc;
  i64 i = 0;
  for (; i + 16 <= n; i += 16) step(acc, i, (i64)16);
  if (i < n) step(acc, i, n - i);
  return acc.total();
}
static inline vf16 vload_n(const float* p, i64 m) { return m == 16 ? vload(p) : vload_part(p, m, 0.f); }
static double sum_chunk(const float* x, i64 n) {
  return reduce_chunk(n, [&](DAcc& acc, i64 i, i64 m) { acc.add(vload_n(x + i, m)); });
}
static double sumsq_chunk(const float* x, i64 n) {
  return reduce_chunk(n, [&](DAcc& acc, i64 i, i64 m) { acc.add_sq(vload_n(x + i, m)); });
}
static double dot_chunk(const float* x, const float* y, i64 n) {
  return reduce_chunk(n, [&](DAcc& acc, i64 i, i64 m) { acc.add_prod(vload_n(x + i, m), vload_n(y + i, m)); });
}

template <class F>
static double chunked_reduce(i64 n, F chunkfn) {
  if (n <= 0) return 0.0;
  i64 nch = cdiv(n, kRedChunk);
  if (nch == 1) return chunkfn((i64)0, n);
  double stackbuf[64];
  double* part = nch <= 64 ? stackbuf : (double*)scratch_alloc(sizeof(double) * nch);
  parallel_range(nch, 1, (double)n, [&](i64 lo, i64 hi) {
    for (i64 c = lo; c < hi; c++) {
      i64 s = c * kRedChunk;
      part[c] = chunkfn(s, imin(n, s + kRedChunk));
    }
  });
  double tot = 0.0;
  for (i64 c = 0; c < nch; c++) tot += part[c];
  if (part != stackbuf) scratch_free(part);
  return tot;
}

static double k_sum(i64 n, const float* x) {
  return chunked_reduce(n, [&](i64 lo, i64 hi) { return sum_chunk(x + lo, hi - lo); });
}
static double k_sumSquares(i64 n, const float* x) {
  return chunked_reduce(n, [&](i64 lo, i64 hi) { return sumsq_chunk(x + lo, hi - lo); });
}
static double k_dot(i64 n, const float* x, const float* y) {
  return chunked_reduce(n, [&](i64 lo, i64 hi) { return dot_chunk(x + lo, y + lo, hi - lo); });
}

// =============================================================================================
// Element-wise
// =============================================================================================

static const i64 kEwChunk = 1 << 15;
static const double kEwParallel = 1 << 18;  // memory-bound: only large arrays are split

static void k_axpy(i64 n, float alpha, const float* x, float* y) {
  parallel_range(n, kEwChunk, n >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    const vf16 va = vsplat(alpha);
    i64 i = lo;
    for (; i + 16 <= hi; i += 16) vstore(y + i, vfma(va, vload(x + i), vload(y + i)));
    for (; i < hi; i++) y[i] = fmadd(alpha, x[i], y[i]);
  });
}

static void k_axpby(i64 n, float alpha, const float* x, float beta, float* y) {
  parallel_range(n, kEwChunk, n >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    const vf16 va = vsplat(alpha), vb = vsplat(beta);
    i64 i = lo;
    if (beta == 0.0f) {
      for (; i + 16 <= hi; i += 16) vstore(y + i, va * vload(x + i));
      for (; i < hi; i++) y[i] = alpha * x[i];
    } else {
      for (; i + 16 <= hi; i += 16) vstore(y + i, vfma(va, vload(x + i), vb * vload(y + i)));
      for (; i < hi; i++) y[i] = fmadd(alpha, x[i], beta * y[i]);
    }
  });
}

static void k_mul(i64 n, const float* a, const float* b, float* out) {
  // out may alias a or b: each element is read before it is written.
  parallel_range(n, kEwChunk, n >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    i64 i = lo;
    for (; i + 16 <= hi; i += 16) vstore(out + i, vload(a + i) * vload(b + i));
    for (; i < hi; i++) out[i] = a[i] * b[i];
  });
}

static void k_leakyRelu(i64 n, float slope, const float* x, float* y) {
  parallel_range(n, kEwChunk, n >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    const vf16 vs = vsplat(slope), z = vsplat(0.0f);
    i64 i = lo;
    for (; i + 16 <= hi; i += 16) {
      vf16 v = vload(x + i);
      vstore(y + i, v > z ? v : v * vs);
    }
    for (; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
  });
}

static void k_leakyReluBackward(i64 n, float slope, const float* x, const float* g, float beta, float* dx) {
  parallel_range(n, kEwChunk, n >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    const vf16 vs = vsplat(slope), z = vsplat(0.0f), vb = vsplat(beta);
    i64 i = lo;
    if (beta == 0.0f) {
      for (; i + 16 <= hi; i += 16) {
        vf16 gv = vload(g + i);
        vstore(dx + i, vload(x + i) > z ? gv : gv * vs);
      }
      for (; i < hi; i++) dx[i] = x[i] > 0.0f ? g[i] : g[i] * slope;
    } else {
      for (; i + 16 <= hi; i += 16) {
        vf16 gv = vload(g + i);
        vstore(dx + i, vb * vload(dx + i) + (vload(x + i) > z ? gv : gv * vs));
      }
      for (; i < hi; i++) dx[i] = beta * dx[i] + (x[i] > 0.0f ? g[i] : g[i] * slope);
    }
  });
}

static void k_adam(i64 n, float* param, const float* grad, float* m, float* v, float beta1,
                   float beta2, float eps, float stepSize, float bc2sqrt) {
  // the same float operations as PyTorch 1.13's Adam (single tensor path)
  const float omb1 = 1.0f - beta1, omb2 = 1.0f - beta2;
  parallel_range(n, kEwChunk, n >= kEwParallel / 4 ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    float* __restrict p = param;
    const float* __restrict gr = grad;
    float* __restrict ms = m;
    float* __restrict vs = v;
    for (i64 i = lo; i < hi; i++) {
      float g = gr[i];
      float mi = beta1 * ms[i] + omb1 * g;
      float vi = beta2 * vs[i] + omb2 * (g * g);
      ms[i] = mi;
      vs[i] = vi;
      float denom = std::sqrt(vi) / bc2sqrt + eps;
      p[i] = p[i] - stepSize * (mi / denom);
    }
  });
}

// =============================================================================================
// Row-wise kernels
// =============================================================================================

// exp(x) (NaN stays NaN, -inf and x < -87.3 give 0, x > 88.72 gives inf), ~1 ulp on the
// range softmax uses. Cody-Waite reduction and a degree-6 polynomial.
static inline vf16 vexp(vf16 x) {
  const vf16 lo = vsplat(-87.33654475f), hi = vsplat(88.0f);
  vf16 xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  vf16 t = xc * 1.44269504088896341f;
  vf16 kf = t + 12582912.0f;  // 1.5*2^23: rounds t to the nearest integer
  vf16 n = kf - 12582912.0f;
  vf16 r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf16 p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  vu16 ni = (vu16)kf - 0x4B400000u;  // n as a two's-complement integer
  vf16 scale = (vf16)((ni + 127u) << 23);
  vf16 res = p * scale;
  res = x < lo ? vsplat(0.0f) : res;
  res = x > vsplat(88.72283935f) ? vsplat(u2f(0x7F800000u)) : res;
  return res;
}

static inline float row_max(const float* x, i64 n) {
  vf16 m = vsplat(-INFINITY);
  i64 i = 0;
  for (; i + 16 <= n; i += 16) m = vmax(vload(x + i), m);
  if (i < n) m = vmax(vload_part(x + i, n - i, -INFINITY), m);
  float r = -INFINITY;
  for (int l = 0; l < 16; l++) r = m[l] > r ? m[l] : r;
  return r;
}

static inline bool row_has_nan(const float* x, i64 n) {
  i64 i = 0;
  for (; i + 16 <= n; i += 16)
    if (vany_nan(vload(x + i))) return true;
  return i < n && vany_nan(vload_part(x + i, n - i, 0.f));
}

static inline void scale_row(float* y, i64 n, float s) {
  i64 i = 0;
  for (; i + 16 <= n; i += 16) vstore(y + i, vload(y + i) * s);
  for (; i < n; i++) y[i] *= s;
}

// lse (may be null): also write log(sum(exp(x))) per row, from the same exp pass.
static void k_softmaxRows(i64 rows, i64 cols, const float* X, float* Y, float* lse) {
  parallel_range(rows, row_chunk(rows, 8.0 * cols), 8.0 * rows * cols, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; r++) {
      const float* x = X + r * cols;
      float* y = Y + r * cols;
      float mx = row_max(x, cols);
      if (mx == -INFINITY) mx = 0.0f;
      const vf16 vm = vsplat(mx);
      DAcc acc;
      i64 i = 0;
      for (; i + 16 <= cols; i += 16) {
        vf16 e = vexp(vload(x + i) - vm);
        vstore(y + i, e);
        acc.add(e);
      }
      if (i < cols) {
        vf16 e = vexp(vload_part(x + i, cols - i, -INFINITY) - vm);
        vstore_part(y + i, e, cols - i);
        acc.add(e);
      }
      const double tot = acc.total();
      if (lse) lse[r] = (float)((double)mx + std::log(tot));  // an all -inf row: mx = 0, tot = 0 -> -inf
      scale_row(y, cols, (float)(1.0 / tot));
    }
  });
}

static void k_softmaxRowsBackward(i64 rows, i64 cols, const float* Y, const float* G, float* GX) {
  parallel_range(rows, row_chunk(rows, 4.0 * cols), 4.0 * rows * cols, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; r++) {
      const float* y = Y + r * cols;
      const float* g = G + r * cols;
      float* gx = GX + r * cols;
      const vf16 vs = vsplat((float)dot_chunk(g, y, cols));
      i64 i = 0;
      for (; i + 16 <= cols; i += 16) vstore(gx + i, vload(gx + i) + vload(y + i) * (vload(g + i) - vs));
      const float s = vs[0];
      for (; i < cols; i++) gx[i] += y[i] * (g[i] - s);
    }
  });
}

static void k_logSumExpRows(i64 rows, i64 cols, const float* X, float* out) {
  parallel_range(rows, row_chunk(rows, 6.0 * cols), 6.0 * rows * cols, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; r++) {
      const float* x = X + r * cols;
      float mx = row_max(x, cols);
      if (mx == -INFINITY || mx == INFINITY) {
        out[r] = row_has_nan(x, cols) ? NAN : mx;
        continue;
      }
      const vf16 vm = vsplat(mx);
      DAcc acc;
      i64 i = 0;
      for (; i + 16 <= cols; i += 16) acc.add(vexp(vload(x + i) - vm));
      if (i < cols) acc.add(vexp(vload_part(x + i, cols - i, -INFINITY) - vm));
      out[r] = (float)((double)mx + std::log(acc.total()));
    }
  });
}

static void k_l2NormalizeRows(i64 rows, i64 cols, const float* X, float eps, float* Y, float* norms) {
  parallel_range(rows, row_chunk(rows, 3.0 * cols), 3.0 * rows * cols, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; r++) {
      const float* x = X + r * cols;
      float* y = Y + r * cols;
      double nrm = std::sqrt(sumsq_chunk(x, cols));
      norms[r] = (float)nrm;
      double d = nrm > (double)eps ? nrm : (double)eps;
      float inv = (float)(1.0 / d);
      i64 i = 0;
      for (; i + 16 <= cols; i += 16) vstore(y + i, vload(x + i) * inv);
      for (; i < cols; i++) y[i] = x[i] * inv;
    }
  });
}

static void k_rowDot(i64 rows, i64 cols, const float* A, const float* B, float* out) {
  parallel_range(rows, row_chunk(rows, 2.0 * cols), 2.0 * rows * cols, [&](i64 lo, i64 hi) {
    for (i64 r = lo; r < hi; r++) out[r] = (float)dot_chunk(A + r * cols, B + r * cols, cols);
  });
}

static i64 k_gatherRows(i64 cols, const float* src, i64 srcRows, const int32_t* idx, i64 n, float* dst) {
  i64 bad = 0;
  parallel_range(n, row_chunk(n, (double)cols + 8), (double)n * (cols + 8), [&](i64 lo, i64 hi) {
    for (i64 i = lo; i < hi; i++) {
      int32_t s = idx[i];
      if (s < 0 || (i64)s >= srcRows) {
        __atomic_store_n(&bad, i + 1, __ATOMIC_RELAXED);
        continue;
      }
      std::memcpy(dst + i * cols, src + (i64)s * cols, sizeof(float) * (size_t)cols);
    }
  });
  return bad;
}

static inline void add_row(float* __restrict d, const float* __restrict s, i64 cols) {
  i64 c = 0;
  for (; c + 16 <= cols; c += 16) vstore(d + c, vload(d + c) + vload(s + c));
  for (; c < cols; c++) d[c] += s[c];
}

static i64 k_scatterAddRows(i64 cols, const float* src, const int32_t* idx, i64 n, float* dst, i64 dstRows) {
  for (i64 i = 0; i < n; i++)
    if (idx[i] < 0 || (i64)idx[i] >= dstRows) return i + 1;
  // Destination rows are split between tasks; each task scans all indices in order, so every
  // destination row receives its contributions in increasing i whatever the thread count.
  auto body = [&](i64 rlo, i64 rhi) {
    for (i64 i = 0; i < n; i++) {
      i64 t = idx[i];
      if (t < rlo || t >= rhi) continue;
      add_row(dst + t * cols, src + i * cols, cols);
    }
  };
  double work = (double)n * cols;
  if (work < 8 * kParallelWork || dstRows < 2 || pool_threads() < 2) {
    body(0, dstRows);
  } else {
    i64 parts = imin(dstRows, 2 * (i64)pool_threads());
    parallel_range(dstRows, cdiv(dstRows, parts), 1e30, body);
  }
  return 0;
}

// =============================================================================================
// Sparse (CSR)
// =============================================================================================

static const i64 kPrefetchDist = 8;  // nonzeros ahead whose X (or Y) row is prefetched

// Prefetch the 16*NV floats at p (one line per 16 floats).
template <int NV>
static inline void prefetch_row(const float* p) {
  for (int u = 0; u < NV; u++) __builtin_prefetch(p + 16 * u, 0, 3);
}

// One row of S @ X for the columns [j, j + 16*NV).
template <int NV>
static inline void spmm_row_vec(i64 s, i64 e, const int32_t* indices, const float* values, i64 nnzCap,
                                const float* X, i64 n, i64 j, i64 xrows, float beta, float* y, const float* bias,
                                float* sum, i64* bad) {
  vf16 acc[NV];
  for (int u = 0; u < NV; u++) acc[u] = vf16{};
  for (i64 q = s; q < e; q++) {
    i64 qp = q + kPrefetchDist;
    if (qp < nnzCap) {
      uint64_t cp = (uint64_t)(int64_t)indices[qp];
      if (cp < (uint64_t)xrows) prefetch_row<NV>(X + (i64)cp * n + j);
    }
    int32_t c = indices[q];
    if ((uint64_t)(int64_t)c >= (uint64_t)xrows) {
      *bad = q + 1;
      continue;
    }
    const vf16 v = vsplat(values[q]);
    const float* x = X + (i64)c * n + j;
    for (int u = 0; u < NV; u++) acc[u] = vfma(v, vload(x + 16 * u), acc[u]);
  }
  float* yy = y + j;
  if (bias) {
    // y = S x + (beta * y + b): the same two roundings as adding b into y first, then spmm
    const float* bb = bias + j;
    if (beta == 0.0f) {
      for (int u = 0; u < NV; u++) acc[u] = acc[u] + vload(bb + 16 * u);
    } else {
      const vf16 vb = vsplat(beta);
      for (int u = 0; u < NV; u++) acc[u] = acc[u] + vfma(vb, vload(yy + 16 * u), vload(bb + 16 * u));
    }
    for (int u = 0; u < NV; u++) vstore(yy + 16 * u, acc[u]);
  } else if (beta == 0.0f) {
    for (int u = 0; u < NV; u++) vstore(yy + 16 * u, acc[u]);
  } else {
    const vf16 vb = vsplat(beta);
    for (int u = 0; u < NV; u++) {
      acc[u] = vfma(vb, vload(yy + 16 * u), acc[u]);
      vstore(yy + 16 * u, acc[u]);
    }
  }
  if (sum) {
    float* ss = sum + j;
    for (int u = 0; u < NV; u++) vstore(ss + 16 * u, vload(ss + 16 * u) + acc[u]);
  }
}

// Columns [j, n) (fewer than 16) of one row of S @ X.
static inline void spmm_row_tail(i64 s, i64 e, const int32_t* indices, const float* values, const float* X,
                                 i64 n, i64 j, i64 xrows, float beta, float* y, const float* bias, float* sum,
                                 i64* bad) {
  float acc[16] = {0};
  i64 w = n - j;
  for (i64 q = s; q < e; q++) {
    int32_t c = indices[q];
    if ((uint64_t)(int64_t)c >= (uint64_t)xrows) {
      *bad = q + 1;
      continue;
    }
    float v = values[q];
    const float* x = X + (i64)c * n + j;
    for (i64 t = 0; t < w; t++) acc[t] = fmadd(v, x[t], acc[t]);
  }
  for (i64 t = 0; t < w; t++) {
    float r;
    if (bias) r = acc[t] + (beta == 0.0f ? bias[j + t] : fmadd(beta, y[j + t], bias[j + t]));
    else r = beta == 0.0f ? acc[t] : fmadd(beta, y[j + t], acc[t]);
    y[j + t] = r;
    if (sum) sum[j + t] += r;
  }
}

static i64 k_spmm(i64 rows, i64 n, const int32_t* indptr, const int32_t* indices, const float* values,
                  i64 nnzCap, const float* X, i64 xrows, float beta, float* Y, const float* B, float* SUM) {
  i64 bad = 0;
  i64 nnz = rows > 0 ? imax(0, (i64)indptr[rows] - (i64)indptr[0]) : 0;
  double work = (double)(nnz + rows) * (double)(n + 8);
  parallel_range(rows, row_chunk(rows, work / imax(rows, 1), 32768.0), work, [&](i64 lo, i64 hi) {
    i64 lbad = 0;
    for (i64 r = lo; r < hi; r++) {
      i64 s = indptr[r], e = indptr[r + 1];
      float* y = Y + r * n;
      const float* b = B ? B + r * n : nullptr;
      float* sm = SUM ? SUM + r * n : nullptr;
      if (s < 0 || e < s || e > nnzCap) {
        lbad = -(r + 1);
        s = e = 0;
      }
      i64 j = 0;
      for (; j + 64 <= n; j += 64) spmm_row_vec<4>(s, e, indices, values, nnzCap, X, n, j, xrows, beta, y, b, sm, &lbad);
      if (j + 48 <= n) {
        spmm_row_vec<3>(s, e, indices, values, nnzCap, X, n, j, xrows, beta, y, b, sm, &lbad);
        j += 48;
      } else if (j + 32 <= n) {
        spmm_row_vec<2>(s, e, indices, values, nnzCap, X, n, j, xrows, beta, y, b, sm, &lbad);
        j += 32;
      } else if (j + 16 <= n) {
        spmm_row_vec<1>(s, e, indices, values, nnzCap, X, n, j, xrows, beta, y, b, sm, &lbad);
        j += 16;
      }
      if (j < n) spmm_row_tail(s, e, indices, values, X, n, j, xrows, beta, y, b, sm, &lbad);
    }
    if (lbad != 0) __atomic_store_n(&bad, lbad, __ATOMIC_RELAXED);
  });
  return bad;
}

// y[c] += v * x over source rows [r0, r1) into Yp (columns [j, j + 16*NV)).
template <int NV>
static void spmmT_rows_vec(i64 r0, i64 r1, const int32_t* indptr, const int32_t* indices, const float* values,
                           i64 qend, const float* X, i64 n, i64 j, float* Yp) {
  for (i64 r = r0; r < r1; r++) {
    vf16 x[NV];
    for (int u = 0; u < NV; u++) x[u] = vload(X + r * n + j + 16 * u);
    for (i64 q = indptr[r], e = indptr[r + 1]; q < e; q++) {
      i64 qp = q + kPrefetchDist;
      if (qp < qend) prefetch_row<NV>(Yp + (i64)indices[qp] * n + j);
      float* y = Yp + (i64)indices[q] * n + j;
      const vf16 v = vsplat(values[q]);
      for (int u = 0; u < NV; u++) vstore(y + 16 * u, vfma(v, x[u], vload(y + 16 * u)));
    }
  }
}

static void spmmT_rows(i64 r0, i64 r1, const int32_t* indptr, const int32_t* indices, const float* values,
                       const float* X, i64 n, float* Yp) {
  if (r0 >= r1) return;
  i64 qend = indptr[r1];  // indices below qend are validated
  i64 j = 0;
  for (; j + 64 <= n; j += 64) spmmT_rows_vec<4>(r0, r1, indptr, indices, values, qend, X, n, j, Yp);
  if (j + 32 <= n) {
    spmmT_rows_vec<2>(r0, r1, indptr, indices, values, qend, X, n, j, Yp);
    j += 32;
  }
  if (j + 16 <= n) {
    spmmT_rows_vec<1>(r0, r1, indptr, indices, values, qend, X, n, j, Yp);
    j += 16;
  }
  if (j < n) {
    for (i64 r = r0; r < r1; r++) {
      const float* x = X + r * n;
      for (i64 q = indptr[r]; q < indptr[r + 1]; q++) {
        float* y = Yp + (i64)indices[q] * n;
        float v = values[q];
        for (i64 t = j; t < n; t++) y[t] = fmadd(v, x[t], y[t]);
      }
    }
  }
}

static thread_local float* tl_spmmT = nullptr;
static thread_local size_t tl_spmmT_size = 0;

struct SpmmTPart {
  i64 r0, r1;
  float* Yp;  // Y itself for part 0, else a private buffer
};

// Y = S^T X + beta Y. The source rows are cut into P parts by a rule that depends only on the
// problem (not on the thread count); part 0 accumulates into Y, the others into private zeroed
// buffers that are then added to Y in part order. So results are identical for any number of
// threads.
static i64 k_spmmT(i64 rows, i64 cols, i64 n, const int32_t* indptr, const int32_t* indices,
                   const float* values, i64 nnzCap, const float* X, float beta, float* Y) {
  // validate before touching Y
  for (i64 r = 0; r < rows; r++) {
    i64 s = indptr[r], e = indptr[r + 1];
    if (s < 0 || e < s || e > nnzCap) return -(r + 1);
  }
  i64 first = rows > 0 ? indptr[0] : 0;
  i64 last = rows > 0 ? indptr[rows] : 0;
  {
    const int32_t* p = indices + first;
    i64 cnt = last - first;
    int anybad = 0;
    for (i64 q = 0; q < cnt; q++) anybad |= (uint32_t)p[q] >= (uint64_t)cols;
    if (anybad)
      for (i64 q = first; q < last; q++)
        if ((uint64_t)(int64_t)indices[q] >= (uint64_t)cols) return q + 1;
  }
  const i64 total = cols * n;
  const i64 nnz = last - first;
  const double work = (double)nnz * (double)n;
  const i64 P = work >= 8.0e6 ? 4 : work >= 1.0e6 ? 2 : 1;
  if (P == 1 || n == 0) {
    if (beta == 0.0f) std::memset(Y, 0, sizeof(float) * (size_t)total);
    else if (beta != 1.0f) for (i64 i = 0; i < total; i++) Y[i] *= beta;
    spmmT_rows(0, rows, indptr, indices, values, X, n, Y);
    return 0;
  }
  float* bufs = get_buf(tl_spmmT, tl_spmmT_size, (size_t)((P - 1) * total));
  SpmmTPart parts[4];
  // row cuts at (nearly) equal nonzero counts
  i64 r = 0;
  for (i64 p = 0; p < P; p++) {
    parts[p].r0 = r;
    i64 target = first + (nnz * (p + 1)) / P;
    if (p == P - 1) r = rows;
    else
      while (r < rows && indptr[r + 1] <= target) r++;
    parts[p].r1 = r;
    parts[p].Yp = p == 0 ? Y : bufs + (p - 1) * total;
  }
  auto run_part = [&](i64 plo, i64 phi) {
    for (i64 p = plo; p < phi; p++) {
      float* Yp = parts[p].Yp;
      if (p == 0) {
        if (beta == 0.0f) std::memset(Y, 0, sizeof(float) * (size_t)total);
        else if (beta != 1.0f) for (i64 i = 0; i < total; i++) Y[i] *= beta;
      } else {
        std::memset(Yp, 0, sizeof(float) * (size_t)total);
      }
      spmmT_rows(parts[p].r0, parts[p].r1, indptr, indices, values, X, n, Yp);
    }
  };
  parallel_range(P, 1, 1e30, run_part);
  parallel_range(total, kEwChunk, total >= kEwParallel ? 1e30 : 0.0, [&](i64 lo, i64 hi) {
    for (i64 p = 1; p < P; p++) add_row(Y + lo, bufs + (p - 1) * total + lo, hi - lo);
  });
  trim_buf(tl_spmmT, tl_spmmT_size);
  return 0;
}

// =============================================================================================
// Top-k
// =============================================================================================

// Sort key: larger is better; NaN smallest; -0 == +0; ties by lower index (in the low bits).
static inline int64_t topk_key(float v, i64 idx) {
  uint32_t b = f2u(v);
  int32_t k;
  if (v != v) {
    k = INT32_MIN;
  } else if (v == 0.0f) {
    k = 0;
  } else {
    k = (int32_t)b;
    if (k < 0) k = (int32_t)(b ^ 0x7FFFFFFFu);
  }
  return ((int64_t)k << 32) | (int64_t)(0xFFFFFFFFu - (uint32_t)idx);
}

// Min-heap (root = worst kept key) of the k best keys.
static inline void heap_sift_down(int64_t* h, i64 n, i64 i) {
  int64_t v = h[i];
  for (;;) {
    i64 l = 2 * i + 1;
    if (l >= n) break;
    i64 m = (l + 1 < n && h[l + 1] < h[l]) ? l + 1 : l;
    if (h[m] >= v) break;
    h[i] = h[m];
    i = m;
  }
  h[i] = v;
}
static inline void heap_sift_up(int64_t* h, i64 i) {
  int64_t v = h[i];
  while (i > 0) {
    i64 p = (i - 1) / 2;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}
static inline i64 key_index(int64_t key) { return (i64)(0xFFFFFFFFu - (uint32_t)(key & 0xFFFFFFFF)); }

static void topk_row(const float* x, i64 cols, i64 k, int32_t* oi, float* ov, int64_t* h) {
  if (k <= 0) return;
  for (i64 c = 0; c < k; c++) {
    h[c] = topk_key(x[c], c);
    heap_sift_up(h, c);
  }
  // Cheap filter: only values >= the worst kept value can enter (a NaN worst admits anything).
  auto filter = [&]() {
    float w = x[key_index(h[0])];
    return w != w ? -INFINITY : w;
  };
  float thr = filter();
  auto consider = [&](i64 c) {
    if (!(x[c] >= thr)) return;
    int64_t key = topk_key(x[c], c);
    if (key <= h[0]) return;
    h[0] = key;
    heap_sift_down(h, k, 0);
    thr = filter();
  };
  i64 c = k;
  for (; c < cols && (c & 15); c++) consider(c);
  for (; c + 16 <= cols; c += 16) {
    if (!vany_ge(vload(x + c), thr)) continue;
    for (i64 l = 0; l < 16; l++) consider(c + l);
  }
  for (; c < cols; c++) consider(c);
  // pop worst-first into the tail of the output
  for (i64 n = k; n > 0; n--) {
    int64_t key = h[0];
    h[0] = h[n - 1];
    if (n > 1) heap_sift_down(h, n - 1, 0);
    i64 idx = key_index(key);
    oi[n - 1] = (int32_t)idx;
    ov[n - 1] = x[idx];
  }
}

static void k_topkRows(i64 rows, i64 cols, const float* X, i64 k, int32_t* outIdx, float* outVal) {
  if (k <= 0 || rows <= 0) return;
  parallel_range(rows, row_chunk(rows, 2.0 * cols, 131072.0), 2.0 * rows * cols, [&](i64 lo, i64 hi) {
    int64_t* buf = (int64_t*)scratch_alloc(sizeof(int64_t) * (size_t)(k + 1));
    for (i64 r = lo; r < hi; r++) topk_row(X + r * cols, cols, k, outIdx + r * k, outVal + r * k, buf);
    scratch_free(buf);
  });
}

}  // namespace IRLL_NS

const KernelTable* IRLL_TABLE_FN() {
  static const KernelTable t = {
      IRLL_ISA_NAME,
      &IRLL_NS::gemm,
      &IRLL_NS::k_spmm,
      &IRLL_NS::k_spmmT,
      &IRLL_NS::k_softmaxRows,
      &IRLL_NS::k_softmaxRowsBackward,
      &IRLL_NS::k_logSumExpRows,
      &IRLL_NS::k_l2NormalizeRows,
      &IRLL_NS::k_gatherRows,
      &IRLL_NS::k_scatterAddRows,
      &IRLL_NS::k_rowDot,
      &IRLL_NS::k_axpy,
      &IRLL_NS::k_axpby,
      &IRLL_NS::k_mul,
      &IRLL_NS::k_sum,
      &IRLL_NS::k_sumSquares,
      &IRLL_NS::k_dot,
      &IRLL_NS::k_adam,
      &IRLL_NS::k_topkRows,
      &IRLL_NS::k_leakyRelu,
      &IRLL_NS::k_leakyReluBackward,
  };
  return &t;
}

}  // namespace irll
