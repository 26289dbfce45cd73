// Portable kernels (baseline x86-64 / any CPU): plain C++ that the compiler vectorizes with
// whatever the baseline target allows.
#include "common.h"

#define IRLL_NS scalar
#define IRLL_TABLE_FN table_scalar
#define IRLL_ISA_NAME "scalar"
#define IRLL_ISA_LEVEL 0
#define IRLL_HAS_FMA 0

namespace irll {
namespace scalar {

constexpr i64 MR = 4;
constexpr i64 NR = 8;
constexpr i64 KC = 256;
constexpr i64 MC = 128;

static inline float gemm_merge(float beta, float c, float t) { return t + beta * c; }

static void ukr(i64 kc, const float* __restrict A, const float* __restrict B, float* C, i64 ldc,
                float alpha, float beta, int nr) {
  float c[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i][j] = 0.f;
  for (i64 k = 0; k < kc; k++) {
    for (int i = 0; i < MR; i++) {
      float a = A[i];
      for (int j = 0; j < NR; j++) c[i][j] += a * B[j];
    }
    A += MR;
    B += NR;
  }
  for (int i = 0; i < MR; i++) {
    float* p = C + i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < nr; j++) p[j] = alpha * c[i][j];
    else
      for (int j = 0; j < nr; j++) p[j] = alpha * c[i][j] + beta * p[j];
  }
}

}  // namespace scalar
}  // namespace irll

#include "impl.h"
