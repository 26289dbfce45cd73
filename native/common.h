// Shared declarations of the irllrec native kernels. This header is included by every
// translation unit, including the ISA-specific ones compiled with -mavx512f / -mavx2: it must
// therefore only declare things (no inline function bodies, no templates), so that no code
// compiled for one ISA can be picked by the linker for a caller compiled for another.
#pragma once
#include <cstddef>
#include <cstdint>

namespace irll {

typedef int64_t i64;

enum IsaLevel { kIsaScalar = 0, kIsaAvx2 = 1, kIsaAvx512 = 2 };

struct GemmArgs {
  bool transA, transB;
  i64 M, N, K;
  float alpha;
  const float* A;
  i64 lda;
  const float* B;
  i64 ldb;
  float beta;
  float* C;
  i64 ldc;
};

// Sparse kernels and row gathers return 0 on success, or 1 + the offending position when an
// index is out of range (that entry is skipped; the caller then throws).
struct KernelTable {
  const char* name;
  void (*gemm)(const GemmArgs& a);
  // Y = S X + (beta Y + B) (B may be null); then SUM += Y when SUM is not null.
  i64 (*spmm)(i64 rows, i64 n, const int32_t* indptr, const int32_t* indices, const float* values,
              i64 nnzCap, const float* X, i64 xrows, float beta, float* Y, const float* B, float* SUM);
  i64 (*spmmT)(i64 rows, i64 cols, i64 n, const int32_t* indptr, const int32_t* indices,
               const float* values, i64 nnzCap, const float* X, float beta, float* Y);
  void (*softmaxRows)(i64 rows, i64 cols, const float* X, float* Y, float* lse);
  // GX[r,:] += Y[r,:] * (G[r,:] - sum_c G[r,c] Y[r,c]) (softmax's gradient; dot in double)
  void (*softmaxRowsBackward)(i64 rows, i64 cols, const float* Y, const float* G, float* GX);
  void (*logSumExpRows)(i64 rows, i64 cols, const float* X, float* out);
  void (*l2NormalizeRows)(i64 rows, i64 cols, const float* X, float eps, float* Y, float* norms);
  i64 (*gatherRows)(i64 cols, const float* src, i64 srcRows, const int32_t* idx, i64 n, float* dst);
  i64 (*scatterAddRows)(i64 cols, const float* src, const int32_t* idx, i64 n, float* dst, i64 dstRows);
  void (*rowDot)(i64 rows, i64 cols, const float* A, const float* B, float* out);
  void (*axpy)(i64 n, float alpha, const float* x, float* y);
  void (*axpby)(i64 n, float alpha, const float* x, float beta, float* y);
  void (*mul)(i64 n, const float* a, const float* b, float* out);
  double (*sum)(i64 n, const float* x);
  double (*sumSquares)(i64 n, const float* x);
  double (*dot)(i64 n, const float* x, const float* y);
  // stepSize = lr / (1 - beta1^step), bc2sqrt = sqrt(1 - beta2^step) (computed in double).
  void (*adam)(i64 n, float* param, const float* grad, float* m, float* v, float beta1,
               float beta2, float eps, float stepSize, float bc2sqrt);
  void (*topkRows)(i64 rows, i64 cols, const float* X, i64 k, int32_t* outIdx, float* outVal);
  // y = x > 0 ? x : slope * x (y may alias x)
  void (*leakyRelu)(i64 n, float slope, const float* x, float* y);
  // dx = beta * dx + g * (x > 0 ? 1 : slope) (beta == 0: dx not read)
  void (*leakyReluBackward)(i64 n, float slope, const float* x, const float* g, float beta, float* dx);
};

const KernelTable* table_scalar();
const KernelTable* table_avx2();
const KernelTable* table_avx512();

// ---- thread pool (pool.cc, baseline ISA) ----
// Runs fn(ctx, task) for task in [0, ntasks) on up to max_workers threads (the caller is one of
// them). Tasks are handed out dynamically; callers must make results independent of which
// thread runs a task. Nested calls, or calls while another JS thread is using the pool, run
// serially on the calling thread.
typedef void (*TaskFn)(void* ctx, i64 task);
void parallel_for(i64 ntasks, TaskFn fn, void* ctx, int max_workers);
int pool_threads();
int pool_set_threads(int n);

// ---- training-step kernels (train_kernels.cc, baseline ISA) ----
// n keep flags from the xoshiro128** stream whose state is s (advanced in place): flag i is
// (next_u32 >> 8) >= threshold, i.e. float24 draw + keep rate >= 1 (see Rng.keepMask).
void keep_mask_xoshiro(uint32_t* s, i64 n, uint32_t threshold, uint8_t* out);
// Edge dropout on a CSR matrix (rows x rows, symmetric structure): S keeps entry p iff
// kept[perm[p]], S^T iff kept[p]; both written compacted (dropped entries removed, order kept).
// Output index/value arrays need room for indptr[rows] entries. indices/perm are not checked.
void compact_dropped_edges(i64 rows, const int32_t* indptr, const int32_t* indices, const float* values,
                           const uint8_t* kept, const int32_t* perm, int32_t* ipS, int32_t* ixS, float* vS,
                           int32_t* ipT, int32_t* ixT, float* vT);
// BPR over B rows of width d: coef[r] = sigmoid(x_r) / B with x_r = a.n - a.p; returns
// sum_r softplus(x_r) (threshold 20). Backward: g += scale * coef * (n - p | -a | a); null skips.
double bpr_forward(i64 B, i64 d, const float* A, const float* P, const float* N, double* coef);
void bpr_backward(i64 B, i64 d, const float* A, const float* P, const float* N, const double* coef, double scale,
                  float* gA, float* gP, float* gN);

// Y[r,:] = alpha[r] * X[r,:] + beta[r] * Y[r,:] (beta null: Y not read); X may alias Y.
void row_axpby(i64 rows, i64 cols, const float* alpha, const float* X, const float* beta, float* Y);

// Sampled dense-dense product on a CSR pattern: out[e] = X[r,:] . Y[indices[e],:] (+ beta out[e])
// for every entry e of row r. Indices must be valid (the binding checks them).
void sddmm(i64 rows, i64 d, const int32_t* indptr, const int32_t* indices, const float* X, const float* Y, float beta,
           float* out);

// Aligned scratch memory (64-byte aligned; free with scratch_free).
void* scratch_alloc(size_t bytes);
void scratch_free(void* p);

}  // namespace irll
