// Training-step kernels that are memory- or latency-bound rather than SIMD-bound, so one
// baseline-ISA build serves every CPU: the edge-dropout keep mask (the library's xoshiro128**
// stream, bit for bit), the dropped adjacency's values, and the fused BPR loss.
#include <cmath>
#include <vector>

#include "common.h"

namespace irll {
namespace {

struct BprCtx {
  i64 d, rows_per_task, B;
  const float *A, *P, *N;
  double* coef;
  double* x;
};

void bpr_forward_task(void* c, i64 t) {
  BprCtx* k = (BprCtx*)c;
  i64 r0 = t * k->rows_per_task, r1 = r0 + k->rows_per_task;
  if (r1 > k->B) r1 = k->B;
  const i64 d = k->d;
  for (i64 r = r0; r < r1; r++) {
    const float* a = k->A + r * d;
    const float* p = k->P + r * d;
    const float* n = k->N + r * d;
    // float64 products and sums in index order: the same numbers as the TypeScript reference
    double sp = 0, sn = 0;
    for (i64 j = 0; j < d; j++) {
      sp += (double)a[j] * (double)p[j];
      sn += (double)a[j] * (double)n[j];
    }
    double x = (double)((float)sn - (float)sp);
    k->x[r] = x;
    k->coef[r] = 1.0 / (1.0 + std::exp(-x)) / (double)k->B;
  }
}

struct BprBackCtx {
  i64 d, rows_per_task, B;
  const float *A, *P, *N;
  const double* coef;
  double scale;
  float *gA, *gP, *gN;
};

void bpr_backward_task(void* c, i64 t) {
  BprBackCtx* k = (BprBackCtx*)c;
  i64 r0 = t * k->rows_per_task, r1 = r0 + k->rows_per_task;
  if (r1 > k->B) r1 = k->B;
  const i64 d = k->d;
  for (i64 r = r0; r < r1; r++) {
    const double cf = k->coef[r] * k->scale;
    const float* a = k->A + r * d;
    const float* p = k->P + r * d;
    const float* n = k->N + r * d;
    if (k->gA) {
      float* g = k->gA + r * d;
      for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] + cf * ((double)n[j] - (double)p[j]));
    }
    if (k->gP) {
      float* g = k->gP + r * d;
      for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] - cf * (double)a[j]);
    }
    if (k->gN) {
      float* g = k->gN + r * d;
      for (i64 j = 0; j < d; j++) g[j] = (float)((double)g[j] + cf * (double)a[j]);
    }
  }
}

struct CompactCtx {
  i64 rows;
  const int32_t *indptr, *indices;
  const float* values;
  const uint8_t* kept;
  const int32_t* perm;
  int32_t *ip[2], *ix[2];
  float* vs[2];
};

// Task 0 builds S (entry p kept iff kept[perm[p]]), task 1 builds S^T (kept[p]).
void compact_task(void* c, i64 t) {
  CompactCtx* k = (CompactCtx*)c;
  int32_t* ip = k->ip[t];
  int32_t* ix = k->ix[t];
  float* vs = k->vs[t];
  const uint8_t* kept = k->kept;
  const int32_t* perm = k->perm;
  int32_t q = 0;
  ip[0] = 0;
  for (i64 r = 0; r < k->rows; r++) {
    const int32_t e = k->indptr[r + 1];
    for (int32_t p = k->indptr[r]; p < e; p++) {
      const bool keep = t == 0 ? kept[perm[p]] != 0 : kept[p] != 0;
      ix[q] = k->indices[p];
      vs[q] = k->values[p];
      q += keep ? 1 : 0;  // branch-free: the slot is overwritten when the entry is dropped
    }
    ip[r + 1] = q;
  }
}

struct RowAxpbyCtx {
  i64 rows, cols, chunk;
  const float* alpha;
  const float* X;
  const float* beta;
  float* Y;
};

void row_axpby_task(void* c, i64 t) {
  RowAxpbyCtx* k = (RowAxpbyCtx*)c;
  i64 r0 = t * k->chunk, r1 = r0 + k->chunk;
  if (r1 > k->rows) r1 = k->rows;
  const i64 n = k->cols;
  for (i64 r = r0; r < r1; r++) {
    const float a = k->alpha[r];
    const float* x = k->X + r * n;
    float* y = k->Y + r * n;
    if (k->beta) {
      const float b = k->beta[r];
      for (i64 j = 0; j < n; j++) y[j] = a * x[j] + b * y[j];
    } else {
      for (i64 j = 0; j < n; j++) y[j] = a * x[j];
    }
  }
}

struct SddmmCtx {
  i64 rows, d, chunk;
  const int32_t *indptr, *indices;
  const float *X, *Y;
  float beta;
  float* out;
};

void sddmm_task(void* c, i64 t) {
  SddmmCtx* k = (SddmmCtx*)c;
  i64 r0 = t * k->chunk, r1 = r0 + k->chunk;
  if (r1 > k->rows) r1 = k->rows;
  const i64 d = k->d;
  for (i64 r = r0; r < r1; r++) {
    const float* x = k->X + r * d;
    for (int32_t e = k->indptr[r]; e < k->indptr[r + 1]; e++) {
      const float* y = k->Y + (i64)k->indices[e] * d;
      // eight partial sums in a fixed order: the result does not depend on the thread count
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      i64 j = 0;
      for (; j + 8 <= d; j += 8)
        for (int u = 0; u < 8; u++) acc[u] += x[j + u] * y[j + u];
      for (; j < d; j++) acc[j & 7] += x[j] * y[j];
      const float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      k->out[e] = k->beta == 0.0f ? s : s + k->beta * k->out[e];
    }
  }
}

}  // namespace

void sddmm(i64 rows, i64 d, const int32_t* indptr, const int32_t* indices, const float* X, const float* Y, float beta,
           float* out) {
  if (rows <= 0) return;
  i64 nnz = indptr[rows] - indptr[0];
  i64 chunk = rows * 64 / (nnz + rows) + 1;  // about 64 edges per task
  if (chunk < 1) chunk = 1;
  SddmmCtx c{rows, d, chunk, indptr, indices, X, Y, beta, out};
  i64 tasks = (rows + chunk - 1) / chunk;
  parallel_for(tasks, &sddmm_task, &c, (double)nnz * (double)d < 100000.0 ? 1 : 1 << 30);
}

void row_axpby(i64 rows, i64 cols, const float* alpha, const float* X, const float* beta, float* Y) {
  if (rows <= 0 || cols <= 0) return;
  i64 chunk = 65536 / cols;
  if (chunk < 1) chunk = 1;
  RowAxpbyCtx c{rows, cols, chunk, alpha, X, beta, Y};
  i64 tasks = (rows + chunk - 1) / chunk;
  parallel_for(tasks, &row_axpby_task, &c, (double)rows * (double)cols < 100000.0 ? 1 : 1 << 30);
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
  CompactCtx c{rows, indptr, indices, values, kept, perm, {ipS, ipT}, {ixS, ixT}, {vS, vT}};
  parallel_for(2, &compact_task, &c, 2);
}

double bpr_forward(i64 B, i64 d, const float* A, const float* P, const float* N, double* coef) {
  if (B <= 0) return 0.0;
  std::vector<double> x((size_t)B);
  BprCtx c{d, 512, B, A, P, N, coef, x.data()};
  parallel_for((B + c.rows_per_task - 1) / c.rows_per_task, &bpr_forward_task, &c, 1 << 30);
  // the loss is summed in row order on one thread, so it does not depend on the thread count
  double loss = 0;
  for (i64 r = 0; r < B; r++) loss += x[r] > 20.0 ? x[r] : std::log1p(std::exp(x[r]));
  return loss;
}

void bpr_backward(i64 B, i64 d, const float* A, const float* P, const float* N, const double* coef, double scale,
                  float* gA, float* gP, float* gN) {
  if (B <= 0) return;
  BprBackCtx c{d, 512, B, A, P, N, coef, scale, gA, gP, gN};
  parallel_for((B + c.rows_per_task - 1) / c.rows_per_task, &bpr_backward_task, &c, 1 << 30);
}

}  // namespace irll
