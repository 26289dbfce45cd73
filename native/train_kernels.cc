// Training-step kernels that are memory- or latency-bound rather than SIMD-bound, so one
// baseline-ISA build serves every CPU: the edge-dropout keep mask (the library's xoshiro128**
// stream, bit for bit), the compacted dropped adjacency, the fused BPR loss, row scaling and the
// sampled dense-dense product (edge scores).
#include <cmath>
#include <vector>

#include "common.h"

namespace irll {
namespace {

template <class F>
struct RowsCtx {
  F* f;
  i64 n, chunk;
};

template <class F>
void rows_tramp(void* c, i64 t) {
  RowsCtx<F>* rc = (RowsCtx<F>*)c;
  const i64 lo = t * rc->chunk;
  (*rc->f)(lo, lo + rc->chunk < rc->n ? lo + rc->chunk : rc->n);
}

// body(lo, hi) over [0, n) in chunks of `chunk` rows, on the pool unless `serial`. Each row's
// result must not depend on which thread runs it (all callers here write rows independently).
template <class F>
void for_rows(i64 n, i64 chunk, bool serial, F body) {
  if (n <= 0) return;
  if (chunk < 1) chunk = 1;
  RowsCtx<F> rc{&body, n, chunk};
  parallel_for((n + chunk - 1) / chunk, &rows_tramp<F>, &rc, serial ? 1 : 1 << 30);
}

}  // namespace

void sddmm(i64 rows, i64 d, const int32_t* indptr, const int32_t* indices, const float* X, const float* Y, float beta,
           float* out) {
  if (rows <= 0) return;
  const i64 nnz = indptr[rows] - indptr[0];
  for_rows(rows, rows * 64 / (nnz + rows) + 1 /* about 64 edges per task */, (double)nnz * (double)d < 100000.0,
           [&](i64 r0, i64 r1) {
             for (i64 r = r0; r < r1; r++) {
               const float* x = X + r * d;
               for (int32_t e = indptr[r]; e < indptr[r + 1]; e++) {
                 const float* y = Y + (i64)indices[e] * d;
                 // eight partial sums in a fixed order: the result does not depend on the thread count
                 float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                 i64 j = 0;
                 for (; j + 8 <= d; j += 8)
                   for (int u = 0; u < 8; u++) acc[u] += x[j + u] * y[j + u];
                 for (; j < d; j++) acc[j & 7] += x[j] * y[j];
                 const float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                 out[e] = beta == 0.0f ? s : s + beta * out[e];
               }
             }
           });
}

void row_axpby(i64 rows, i64 cols, const float* alpha, const float* X, const float* beta, float* Y) {
  if (cols <= 0) return;
  for_rows(rows, 65536 / cols, (double)rows * (double)cols < 100000.0, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const float a = alpha[r];
      const float* x = X + r * cols;
      float* y = Y + r * cols;
      if (beta) {
        const float b = beta[r];
        for (i64 j = 0; j < cols; j++) y[j] = a * x[j] + b * y[j];
      } else {
        for (i64 j = 0; j < cols; j++) y[j] = a * x[j];
      }
    }
  });
}

void keep_mask_xoshiro(uint32_t* s, i64 n, uint32_t threshold, uint8_t* out) {
  uint32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
  for (i64 i = 0; i < n; i++) {
    const uint32_t x = s1 * 5u;
    const uint32_t result = ((x << 7) | (x >> 25)) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >> 21);
    out[i] = (result >> 8) >= threshold ? 1 : 0;
  }
  s[0] = s0;
  s[1] = s1;
  s[2] = s2;
  s[3] = s3;
}

void compact_dropped_edges(i64 rows, const int32_t* indptr, const int32_t* indices, const float* values,
                           const uint8_t* kept, const int32_t* perm, int32_t* ipS, int32_t* ixS, float* vS,
                           int32_t* ipT, int32_t* ixT, float* vT) {
  // two "rows" of work: S (entry p kept iff kept[perm[p]]) and S^T (kept[p]), one per thread
  for_rows(2, 1, false, [&](i64 t0, i64 t1) {
    for (i64 t = t0; t < t1; t++) {
      int32_t* ip = t == 0 ? ipS : ipT;
      int32_t* ix = t == 0 ? ixS : ixT;
      float* vs = t == 0 ? vS : vT;
      int32_t q = 0;
      ip[0] = 0;
      for (i64 r = 0; r < rows; r++) {
        const int32_t e = indptr[r + 1];
        for (int32_t p = indptr[r]; p < e; p++) {
          const bool keep = t == 0 ? kept[perm[p]] != 0 : kept[p] != 0;
          ix[q] = indices[p];
          vs[q] = values[p];
          q += keep ? 1 : 0;  // branch-free: the slot is overwritten when the entry is dropped
        }
        ip[r + 1] = q;
      }
    }
  });
}

double bpr_forward(i64 B, i64 d, const float* A, const float* P, const float* N, double* coef) {
  if (B <= 0) return 0.0;
  std::vector<double> x((size_t)B);
  for_rows(B, 512, false, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const float* a = A + r * d;
      const float* p = P + r * d;
      const float* n = N + r * d;
      // float64 products and sums in index order: the same numbers as the TypeScript reference
      double sp = 0, sn = 0;
      for (i64 j = 0; j < d; j++) {
        sp += (double)a[j] * (double)p[j];
        sn += (double)a[j] * (double)n[j];
      }
      x[r] = (double)((float)sn - (float)sp);
      coef[r] = 1.0 / (1.0 + std::exp(-x[r])) / (double)B;
    }
  });
  // the loss is summed in row order on one thread, so it does not depend on the thread count
  double loss = 0;
  for (i64 r = 0; r < B; r++) loss += x[r] > 20.0 ? x[r] : std::log1p(std::exp(x[r]));
  return loss;
}

void bpr_backward(i64 B, i64 d, const float* A, const float* P, const float* N, const double* coef, double scale,
                  float* gA, float* gP, float* gN) {
  for_rows(B, 512, false, [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; r++) {
      const double cf = coef[r] * scale;
      const float* a = A + r * d;
      const float* p = P + r * d;
      const float* n = N + r * d;
      if (gA) {
        float* g = gA + r * d;
        for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] + cf * ((double)n[j] - (double)p[j]));
      }
      if (gP) {
        float* g = gP + r * d;
        for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] - cf * (double)a[j]);
      }
      if (gN) {
        float* g = gN + r * d;
        for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] + cf * (double)a[j]);
      }
    }
  });
}

}  // namespace irll
