// N-API binding of the irllrec kernels. Every function is synchronous, takes typed arrays
// (views honoured: the data pointer includes the byteOffset) and validates its arguments before
// touching memory: a wrong call throws a TypeError/RangeError instead of reading or writing out
// of bounds. Argument parsing uses the raw Node-API calls (one napi_get_typedarray_info per
// array) to keep the per-call overhead small.
#include <napi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common.h"

namespace irll {
namespace {

const KernelTable* g_table = nullptr;
IsaLevel g_level = kIsaScalar;

IsaLevel detect_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma"))
    return kIsaAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return kIsaAvx2;
#endif
  return kIsaScalar;
}

void set_level(IsaLevel want) {
  IsaLevel best = detect_isa();
  if (want > best) want = best;
  g_level = want;
  switch (want) {
#if defined(__x86_64__) || defined(__i386__)
    case kIsaAvx512: g_table = table_avx512(); break;
    case kIsaAvx2: g_table = table_avx2(); break;
#endif
    default: g_table = table_scalar(); break;
  }
}

bool parse_isa(const std::string& s, IsaLevel* out) {
  if (s == "avx512") *out = kIsaAvx512;
  else if (s == "avx2") *out = kIsaAvx2;
  else if (s == "scalar") *out = kIsaScalar;
  else return false;
  return true;
}

// ------------------------------------------------------------------ argument helpers

struct Args {
  napi_env env;
  const char* fn;
  napi_value argv[16];
  size_t argc = 16;
  bool failed = false;

  Args(napi_env e, napi_callback_info info, const char* name, size_t expected) : env(e), fn(name) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < expected) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "irllrec %s: expected %zu arguments, got %zu", fn, expected, argc);
      type_error(buf);
    }
  }

  void type_error(const char* msg) {
    if (failed) return;
    failed = true;
    napi_throw_type_error(env, nullptr, msg);
  }
  void range_error(const char* msg) {
    if (failed) return;
    failed = true;
    napi_throw_range_error(env, nullptr, msg);
  }
  void errorf(bool range, const char* fmt, const char* a, long long x = 0, long long y = 0) {
    char buf[256];
    char body[200];
    std::snprintf(body, sizeof body, fmt, a, x, y);
    std::snprintf(buf, sizeof buf, "irllrec %s: %s", fn, body);
    if (range) range_error(buf);
    else type_error(buf);
  }

  double num(size_t i, const char* name) {
    if (failed) return 0;
    double v = 0;
    if (napi_get_value_double(env, argv[i], &v) != napi_ok) {
      errorf(false, "%s must be a number", name);
      return 0;
    }
    return v;
  }
  // non-negative integer dimension
  i64 dim(size_t i, const char* name) {
    double v = num(i, name);
    if (failed) return 0;
    if (!(v >= 0) || v != std::floor(v) || v > 9007199254740991.0) {
      errorf(true, "%s must be a non-negative integer", name);
      return 0;
    }
    return (i64)v;
  }
  bool flag(size_t i) {
    if (failed) return false;
    napi_value b;
    bool r = false;
    if (napi_coerce_to_bool(env, argv[i], &b) != napi_ok || napi_get_value_bool(env, b, &r) != napi_ok) {
      errorf(false, "argument %s must be a boolean", "");
      return false;
    }
    return r;
  }
  template <class T>
  T* arr(size_t i, const char* name, napi_typedarray_type want, i64* len) {
    *len = 0;
    if (failed) return nullptr;
    bool is = false;
    napi_is_typedarray(env, argv[i], &is);
    napi_typedarray_type t;
    size_t n = 0;
    void* data = nullptr;
    if (!is || napi_get_typedarray_info(env, argv[i], &t, &n, &data, nullptr, nullptr) != napi_ok || t != want) {
      errorf(false, want == napi_float32_array ? "%s must be a Float32Array"
                    : want == napi_int32_array ? "%s must be an Int32Array"
                    : want == napi_uint8_array ? "%s must be a Uint8Array"
                                               : "%s must be a Float64Array",
             name);
      return nullptr;
    }
    *len = (i64)n;
    return (T*)data;
  }
  float* f32(size_t i, const char* name, i64* len) { return arr<float>(i, name, napi_float32_array, len); }
  int32_t* i32(size_t i, const char* name, i64* len) { return arr<int32_t>(i, name, napi_int32_array, len); }
  uint8_t* u8(size_t i, const char* name, i64* len) { return arr<uint8_t>(i, name, napi_uint8_array, len); }
  double* f64(size_t i, const char* name, i64* len) { return arr<double>(i, name, napi_float64_array, len); }
  bool is_null(size_t i) {
    napi_valuetype t;
    return napi_typeof(env, argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined);
  }

  // require len >= need
  void need(const char* name, i64 len, i64 need_) {
    if (failed) return;
    if (len < need_) {
      char buf[256];
      std::snprintf(buf, sizeof buf, "irllrec %s: %s is too small (%lld elements, needs %lld for the given dimensions)",
                    fn, name, (long long)len, (long long)need_);
      range_error(buf);
    }
  }
  void check(bool ok, const char* msg) {
    if (failed || ok) return;
    char buf[256];
    std::snprintf(buf, sizeof buf, "irllrec %s: %s", fn, msg);
    range_error(buf);
  }
};

// Elements a row-major view with `rows` rows, `cols` used columns and leading dimension ld
// spans (0 when empty). Saturates instead of overflowing.
i64 span(i64 rows, i64 cols, i64 ld) {
  if (rows == 0 || cols == 0) return 0;
  double d = (double)(rows - 1) * (double)ld + (double)cols;
  if (d > 9.0e18) return INT64_MAX;
  return (rows - 1) * ld + cols;
}
i64 prod(i64 a, i64 b) {
  double d = (double)a * (double)b;
  if (d > 9.0e18) return INT64_MAX;
  return a * b;
}

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
napi_value make_num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

// ------------------------------------------------------------------ kernels

napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a(env, info, "gemm", 13);
  bool tA = a.flag(0), tB = a.flag(1);
  i64 M = a.dim(2, "M"), N = a.dim(3, "N"), K = a.dim(4, "K");
  double alpha = a.num(5, "alpha");
  i64 la, lb, lc;
  const float* A = a.f32(6, "A", &la);
  i64 lda = a.dim(7, "lda");
  const float* B = a.f32(8, "B", &lb);
  i64 ldb = a.dim(9, "ldb");
  double beta = a.num(10, "beta");
  float* C = a.f32(11, "C", &lc);
  i64 ldc = a.dim(12, "ldc");
  if (a.failed) return nullptr;
  a.check(lda >= (tA ? (M > 1 ? M : 1) : (K > 1 ? K : 1)), tA ? "lda must be >= max(1, M) when transA" : "lda must be >= max(1, K)");
  a.check(ldb >= (tB ? (K > 1 ? K : 1) : (N > 1 ? N : 1)), tB ? "ldb must be >= max(1, K) when transB" : "ldb must be >= max(1, N)");
  a.check(ldc >= (N > 1 ? N : 1), "ldc must be >= max(1, N)");
  if (M > 0 && N > 0 && K > 0) {
    a.need("A", la, tA ? span(K, M, lda) : span(M, K, lda));
    a.need("B", lb, tB ? span(N, K, ldb) : span(K, N, ldb));
  }
  a.need("C", lc, span(M, N, ldc));
  if (a.failed) return nullptr;
  if (M == 0 || N == 0) return undef(env);
  GemmArgs g{tA, tB, M, N, K, (float)alpha, A, lda, B, ldb, (float)beta, C, ldc};
  g_table->gemm(g);
  return undef(env);
}

void sparse_error(Args& a, i64 code) {
  char buf[200];
  if (code < 0)
    std::snprintf(buf, sizeof buf, "indptr is invalid at row %lld (must be non-decreasing, >= 0 and <= nnz)",
                  (long long)(-code - 1));
  else
    std::snprintf(buf, sizeof buf, "column index at nonzero %lld is out of range", (long long)(code - 1));
  a.check(false, buf);
}

napi_value Spmm(napi_env env, napi_callback_info info) {
  Args a(env, info, "spmm", 8);
  i64 rows = a.dim(0, "rows"), n = a.dim(1, "n");
  i64 lp, li, lv, lx, ly;
  const int32_t* indptr = a.i32(2, "indptr", &lp);
  const int32_t* indices = a.i32(3, "indices", &li);
  const float* values = a.f32(4, "values", &lv);
  const float* X = a.f32(5, "X", &lx);
  double beta = a.num(6, "beta");
  float* Y = a.f32(7, "Y", &ly);
  if (a.failed) return nullptr;
  // optional: bias B (Y = S X + beta Y + B) and a running sum SUM (SUM += Y)
  i64 lb = 0, ls = 0;
  const float* B = a.argc > 8 && !a.is_null(8) ? a.f32(8, "bias", &lb) : nullptr;
  float* SUM = a.argc > 9 && !a.is_null(9) ? a.f32(9, "sum", &ls) : nullptr;
  a.need("indptr", lp, rows + 1);
  a.need("Y", ly, prod(rows, n));
  if (B) a.need("bias", lb, prod(rows, n));
  if (SUM) a.need("sum", ls, prod(rows, n));
  if (a.failed) return nullptr;
  if (rows == 0) return undef(env);
  i64 nnzCap = li < lv ? li : lv;
  i64 xrows = n > 0 ? lx / n : 0;
  i64 code = g_table->spmm(rows, n, indptr, indices, values, nnzCap, X, xrows, (float)beta, Y, B, SUM);
  if (code != 0) {
    sparse_error(a, code);
    return nullptr;
  }
  return undef(env);
}

napi_value SpmmT(napi_env env, napi_callback_info info) {
  Args a(env, info, "spmmT", 9);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols"), n = a.dim(2, "n");
  i64 lp, li, lv, lx, ly;
  const int32_t* indptr = a.i32(3, "indptr", &lp);
  const int32_t* indices = a.i32(4, "indices", &li);
  const float* values = a.f32(5, "values", &lv);
  const float* X = a.f32(6, "X", &lx);
  double beta = a.num(7, "beta");
  float* Y = a.f32(8, "Y", &ly);
  if (a.failed) return nullptr;
  a.need("indptr", lp, rows + 1);
  a.need("X", lx, prod(rows, n));
  a.need("Y", ly, prod(cols, n));
  a.check(cols <= 2147483647LL, "cols must fit in an int32");
  if (a.failed) return nullptr;
  i64 nnzCap = li < lv ? li : lv;
  i64 code = g_table->spmmT(rows, cols, n, indptr, indices, values, nnzCap, X, (float)beta, Y);
  if (code != 0) {
    sparse_error(a, code);
    return nullptr;
  }
  return undef(env);
}

napi_value SoftmaxRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmaxRows", 4);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 lx, ly;
  const float* X = a.f32(2, "X", &lx);
  float* Y = a.f32(3, "Y", &ly);
  a.need("X", lx, prod(rows, cols));
  a.need("Y", ly, prod(rows, cols));
  float* lse = nullptr;
  if (a.argc > 4) {
    napi_valuetype t;
    napi_typeof(env, a.argv[4], &t);
    if (t != napi_undefined && t != napi_null) {
      i64 ll;
      lse = a.f32(4, "lse", &ll);
      a.need("lse", ll, rows);
    }
  }
  if (a.failed) return nullptr;
  if (rows > 0 && cols > 0) g_table->softmaxRows(rows, cols, X, Y, lse);
  return undef(env);
}

napi_value SoftmaxRowsBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmaxRowsBackward", 5);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 ly, lg, lx;
  const float* Y = a.f32(2, "Y", &ly);
  const float* G = a.f32(3, "G", &lg);
  float* GX = a.f32(4, "GX", &lx);
  a.need("Y", ly, prod(rows, cols));
  a.need("G", lg, prod(rows, cols));
  a.need("GX", lx, prod(rows, cols));
  if (a.failed) return nullptr;
  if (rows > 0 && cols > 0) g_table->softmaxRowsBackward(rows, cols, Y, G, GX);
  return undef(env);
}

napi_value LogSumExpRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "logSumExpRows", 4);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 lx, lo;
  const float* X = a.f32(2, "X", &lx);
  float* out = a.f32(3, "out", &lo);
  a.need("X", lx, prod(rows, cols));
  a.need("out", lo, rows);
  if (a.failed) return nullptr;
  if (rows > 0) g_table->logSumExpRows(rows, cols, X, out);
  return undef(env);
}

napi_value L2NormalizeRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "l2NormalizeRows", 6);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 lx, ly, ln;
  const float* X = a.f32(2, "X", &lx);
  double eps = a.num(3, "eps");
  float* Y = a.f32(4, "Y", &ly);
  float* norms = a.f32(5, "norms", &ln);
  a.need("X", lx, prod(rows, cols));
  a.need("Y", ly, prod(rows, cols));
  a.need("norms", ln, rows);
  if (a.failed) return nullptr;
  if (rows > 0) g_table->l2NormalizeRows(rows, cols, X, (float)eps, Y, norms);
  return undef(env);
}

napi_value GatherRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "gatherRows", 4);
  i64 cols = a.dim(0, "cols");
  i64 ls, li, ld;
  const float* src = a.f32(1, "src", &ls);
  const int32_t* idx = a.i32(2, "idx", &li);
  float* dst = a.f32(3, "dst", &ld);
  a.need("dst", ld, prod(li, cols));
  if (a.failed) return nullptr;
  if (li == 0 || cols == 0) return undef(env);
  i64 code = g_table->gatherRows(cols, src, ls / cols, idx, li, dst);
  if (code != 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "idx[%lld] = %d is out of range (src has %lld rows)", (long long)(code - 1),
                  (int)idx[code - 1], (long long)(ls / cols));
    a.check(false, buf);
    return nullptr;
  }
  return undef(env);
}

napi_value ScatterAddRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "scatterAddRows", 4);
  i64 cols = a.dim(0, "cols");
  i64 ls, li, ld;
  const float* src = a.f32(1, "src", &ls);
  const int32_t* idx = a.i32(2, "idx", &li);
  float* dst = a.f32(3, "dst", &ld);
  a.need("src", ls, prod(li, cols));
  if (a.failed) return nullptr;
  if (li == 0 || cols == 0) return undef(env);
  i64 code = g_table->scatterAddRows(cols, src, idx, li, dst, ld / cols);
  if (code != 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "idx[%lld] = %d is out of range (dst has %lld rows)", (long long)(code - 1),
                  (int)idx[code - 1], (long long)(ld / cols));
    a.check(false, buf);
    return nullptr;
  }
  return undef(env);
}

napi_value RowDot(napi_env env, napi_callback_info info) {
  Args a(env, info, "rowDot", 5);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 la, lb, lo;
  const float* A = a.f32(2, "A", &la);
  const float* B = a.f32(3, "B", &lb);
  float* out = a.f32(4, "out", &lo);
  a.need("A", la, prod(rows, cols));
  a.need("B", lb, prod(rows, cols));
  a.need("out", lo, rows);
  if (a.failed) return nullptr;
  if (rows > 0) g_table->rowDot(rows, cols, A, B, out);
  return undef(env);
}

napi_value Axpy(napi_env env, napi_callback_info info) {
  Args a(env, info, "axpy", 4);
  i64 n = a.dim(0, "n");
  double alpha = a.num(1, "alpha");
  i64 lx, ly;
  const float* x = a.f32(2, "x", &lx);
  float* y = a.f32(3, "y", &ly);
  a.need("x", lx, n);
  a.need("y", ly, n);
  if (a.failed) return nullptr;
  if (n > 0) g_table->axpy(n, (float)alpha, x, y);
  return undef(env);
}

napi_value Axpby(napi_env env, napi_callback_info info) {
  Args a(env, info, "axpby", 5);
  i64 n = a.dim(0, "n");
  double alpha = a.num(1, "alpha");
  i64 lx, ly;
  const float* x = a.f32(2, "x", &lx);
  double beta = a.num(3, "beta");
  float* y = a.f32(4, "y", &ly);
  a.need("x", lx, n);
  a.need("y", ly, n);
  if (a.failed) return nullptr;
  if (n > 0) g_table->axpby(n, (float)alpha, x, (float)beta, y);
  return undef(env);
}

napi_value Mul(napi_env env, napi_callback_info info) {
  Args a(env, info, "mul", 4);
  i64 n = a.dim(0, "n");
  i64 la, lb, lo;
  const float* x = a.f32(1, "a", &la);
  const float* y = a.f32(2, "b", &lb);
  float* out = a.f32(3, "out", &lo);
  a.need("a", la, n);
  a.need("b", lb, n);
  a.need("out", lo, n);
  if (a.failed) return nullptr;
  if (n > 0) g_table->mul(n, x, y, out);
  return undef(env);
}

napi_value LeakyRelu(napi_env env, napi_callback_info info) {
  Args a(env, info, "leakyRelu", 4);
  i64 n = a.dim(0, "n");
  double slope = a.num(1, "slope");
  i64 lx, ly;
  const float* x = a.f32(2, "x", &lx);
  float* y = a.f32(3, "y", &ly);
  a.need("x", lx, n);
  a.need("y", ly, n);
  if (a.failed) return nullptr;
  if (n > 0) g_table->leakyRelu(n, (float)slope, x, y);
  return undef(env);
}

napi_value LeakyReluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "leakyReluBackward", 6);
  i64 n = a.dim(0, "n");
  double slope = a.num(1, "slope");
  i64 lx, lg, ld;
  const float* x = a.f32(2, "x", &lx);
  const float* g = a.f32(3, "g", &lg);
  double beta = a.num(4, "beta");
  float* dx = a.f32(5, "dx", &ld);
  a.need("x", lx, n);
  a.need("g", lg, n);
  a.need("dx", ld, n);
  if (a.failed) return nullptr;
  if (n > 0) g_table->leakyReluBackward(n, (float)slope, x, g, (float)beta, dx);
  return undef(env);
}

napi_value Sum(napi_env env, napi_callback_info info) {
  Args a(env, info, "sum", 2);
  i64 n = a.dim(0, "n");
  i64 lx;
  const float* x = a.f32(1, "x", &lx);
  a.need("x", lx, n);
  if (a.failed) return nullptr;
  return make_num(env, n > 0 ? g_table->sum(n, x) : 0.0);
}

napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumSquares", 2);
  i64 n = a.dim(0, "n");
  i64 lx;
  const float* x = a.f32(1, "x", &lx);
  a.need("x", lx, n);
  if (a.failed) return nullptr;
  return make_num(env, n > 0 ? g_table->sumSquares(n, x) : 0.0);
}

napi_value Dot(napi_env env, napi_callback_info info) {
  Args a(env, info, "dot", 3);
  i64 n = a.dim(0, "n");
  i64 lx, ly;
  const float* x = a.f32(1, "x", &lx);
  const float* y = a.f32(2, "y", &ly);
  a.need("x", lx, n);
  a.need("y", ly, n);
  if (a.failed) return nullptr;
  return make_num(env, n > 0 ? g_table->dot(n, x, y) : 0.0);
}

napi_value Adam(napi_env env, napi_callback_info info) {
  Args a(env, info, "adam", 10);
  i64 n = a.dim(0, "n");
  i64 lp, lg, lm, lv;
  float* p = a.f32(1, "param", &lp);
  const float* g = a.f32(2, "grad", &lg);
  float* m = a.f32(3, "m", &lm);
  float* v = a.f32(4, "v", &lv);
  double lr = a.num(5, "lr"), b1 = a.num(6, "beta1"), b2 = a.num(7, "beta2"), eps = a.num(8, "eps");
  double step = a.num(9, "step");
  a.need("param", lp, n);
  a.need("grad", lg, n);
  a.need("m", lm, n);
  a.need("v", lv, n);
  if (a.failed) return nullptr;
  if (n == 0) return undef(env);
  double bc1 = 1.0 - std::pow(b1, step);
  double bc2 = 1.0 - std::pow(b2, step);
  g_table->adam(n, p, g, m, v, (float)b1, (float)b2, (float)eps, (float)(lr / bc1), (float)std::sqrt(bc2));
  return undef(env);
}

napi_value KeepMaskXoshiro(napi_env env, napi_callback_info info) {
  Args a(env, info, "keepMaskXoshiro", 4);
  i64 ls, lo;
  int32_t* st = a.i32(0, "state", &ls);
  i64 n = a.dim(1, "n");
  i64 thr = a.dim(2, "threshold");
  uint8_t* out = a.u8(3, "out", &lo);
  a.need("state", ls, 4);
  a.need("out", lo, n);
  a.check(thr <= (1LL << 24), "threshold must be <= 2^24");
  if (a.failed) return nullptr;
  keep_mask_xoshiro((uint32_t*)st, n, (uint32_t)thr, out);
  return undef(env);
}

// A CSR row pointer of `rows` rows (rows + 1 entries present): starts at 0, never decreases.
bool check_row_pointer(Args& a, const int32_t* indptr, i64 rows) {
  a.check(indptr[0] == 0, "indptr[0] must be 0");
  for (i64 r = 0; r < rows && !a.failed; r++) a.check(indptr[r + 1] >= indptr[r], "indptr must be non-decreasing");
  return !a.failed;
}

napi_value CompactDroppedEdges(napi_env env, napi_callback_info info) {
  Args a(env, info, "compactDroppedEdges", 12);
  i64 rows = a.dim(0, "rows");
  i64 lip, lix, lv, lk, lp, l1, l2, l3, l4, l5, l6;
  const int32_t* indptr = a.i32(1, "indptr", &lip);
  const int32_t* indices = a.i32(2, "indices", &lix);
  const float* values = a.f32(3, "values", &lv);
  const uint8_t* kept = a.u8(4, "kept", &lk);
  const int32_t* perm = a.i32(5, "perm", &lp);
  int32_t* ipS = a.i32(6, "indptrS", &l1);
  int32_t* ixS = a.i32(7, "indicesS", &l2);
  float* vS = a.f32(8, "valuesS", &l3);
  int32_t* ipT = a.i32(9, "indptrT", &l4);
  int32_t* ixT = a.i32(10, "indicesT", &l5);
  float* vT = a.f32(11, "valuesT", &l6);
  a.need("indptr", lip, rows + 1);
  a.need("indptrS", l1, rows + 1);
  a.need("indptrT", l4, rows + 1);
  if (a.failed || !check_row_pointer(a, indptr, rows)) return nullptr;
  // perm must map into [0, nnz) (checked below)
  i64 nnz = indptr[rows];
  a.need("indices", lix, nnz);
  a.need("values", lv, nnz);
  a.need("kept", lk, nnz);
  a.need("perm", lp, nnz);
  a.need("indicesS", l2, nnz);
  a.need("valuesS", l3, nnz);
  a.need("indicesT", l5, nnz);
  a.need("valuesT", l6, nnz);
  if (a.failed) return nullptr;
  for (i64 p = 0; p < nnz; p++) {
    if ((uint64_t)(int64_t)perm[p] >= (uint64_t)nnz) {
      a.check(false, "perm holds an index outside [0, nnz)");
      return nullptr;
    }
  }
  compact_dropped_edges(rows, indptr, indices, values, kept, perm, ipS, ixS, vS, ipT, ixT, vT);
  return undef(env);
}

napi_value Sddmm(napi_env env, napi_callback_info info) {
  Args a(env, info, "sddmm", 8);
  i64 rows = a.dim(0, "rows"), d = a.dim(1, "d");
  i64 lp, li, lx, ly, lo;
  const int32_t* indptr = a.i32(2, "indptr", &lp);
  const int32_t* indices = a.i32(3, "indices", &li);
  const float* X = a.f32(4, "X", &lx);
  const float* Y = a.f32(5, "Y", &ly);
  double beta = a.num(6, "beta");
  float* out = a.f32(7, "out", &lo);
  a.need("indptr", lp, rows + 1);
  a.need("X", lx, prod(rows, d));
  if (a.failed || !check_row_pointer(a, indptr, rows)) return nullptr;
  i64 nnz = indptr[rows];
  a.need("indices", li, nnz);
  a.need("out", lo, nnz);
  if (a.failed) return nullptr;
  i64 yrows = d > 0 ? ly / d : 0;
  for (i64 e = 0; e < nnz; e++) {
    if ((uint64_t)(int64_t)indices[e] >= (uint64_t)(d > 0 ? yrows : INT64_MAX)) {
      a.check(false, "a column index is outside Y's rows");
      return nullptr;
    }
  }
  sddmm(rows, d, indptr, indices, X, Y, (float)beta, out);
  return undef(env);
}

napi_value RowAxpby(napi_env env, napi_callback_info info) {
  Args a(env, info, "rowAxpby", 6);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 la, lx, lb = 0, ly;
  const float* alpha = a.f32(2, "alpha", &la);
  const float* X = a.f32(3, "X", &lx);
  const float* beta = a.is_null(4) ? nullptr : a.f32(4, "beta", &lb);
  float* Y = a.f32(5, "Y", &ly);
  a.need("alpha", la, rows);
  a.need("X", lx, prod(rows, cols));
  if (beta) a.need("beta", lb, rows);
  a.need("Y", ly, prod(rows, cols));
  if (a.failed) return nullptr;
  row_axpby(rows, cols, alpha, X, beta, Y);
  return undef(env);
}

napi_value BprForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "bprForward", 6);
  i64 B = a.dim(0, "B"), d = a.dim(1, "d");
  i64 la, lp, ln, lc;
  const float* A = a.f32(2, "A", &la);
  const float* P = a.f32(3, "P", &lp);
  const float* N = a.f32(4, "N", &ln);
  double* coef = a.f64(5, "coef", &lc);
  a.need("A", la, prod(B, d));
  a.need("P", lp, prod(B, d));
  a.need("N", ln, prod(B, d));
  a.need("coef", lc, B);
  if (a.failed) return nullptr;
  return make_num(env, bpr_forward(B, d, A, P, N, coef));
}

napi_value BprBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "bprBackward", 10);
  i64 B = a.dim(0, "B"), d = a.dim(1, "d");
  i64 la, lp, ln, lc, l1 = 0, l2 = 0, l3 = 0;
  const float* A = a.f32(2, "A", &la);
  const float* P = a.f32(3, "P", &lp);
  const float* N = a.f32(4, "N", &ln);
  const double* coef = a.f64(5, "coef", &lc);
  double scale = a.num(6, "scale");
  float* gA = a.is_null(7) ? nullptr : a.f32(7, "gA", &l1);
  float* gP = a.is_null(8) ? nullptr : a.f32(8, "gP", &l2);
  float* gN = a.is_null(9) ? nullptr : a.f32(9, "gN", &l3);
  a.need("A", la, prod(B, d));
  a.need("P", lp, prod(B, d));
  a.need("N", ln, prod(B, d));
  a.need("coef", lc, B);
  if (gA) a.need("gA", l1, prod(B, d));
  if (gP) a.need("gP", l2, prod(B, d));
  if (gN) a.need("gN", l3, prod(B, d));
  if (a.failed) return nullptr;
  bpr_backward(B, d, A, P, N, coef, scale, gA, gP, gN);
  return undef(env);
}

napi_value TopkRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "topkRows", 6);
  i64 rows = a.dim(0, "rows"), cols = a.dim(1, "cols");
  i64 lx, li, lv;
  const float* X = a.f32(2, "X", &lx);
  i64 k = a.dim(3, "k");
  int32_t* oi = a.i32(4, "outIdx", &li);
  float* ov = a.f32(5, "outVal", &lv);
  if (a.failed) return nullptr;
  a.check(k <= cols, "k must be <= cols");
  a.check(cols <= 2147483647LL, "cols must fit in an int32");
  a.need("X", lx, prod(rows, cols));
  a.need("outIdx", li, prod(rows, k));
  a.need("outVal", lv, prod(rows, k));
  if (a.failed) return nullptr;
  if (rows > 0 && k > 0) g_table->topkRows(rows, cols, X, k, oi, ov);
  return undef(env);
}

// ------------------------------------------------------------------ controls

napi_value Isa(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_string_utf8(env, g_table->name, NAPI_AUTO_LENGTH, &r);
  return r;
}

napi_value SetIsa(napi_env env, napi_callback_info info) {
  Args a(env, info, "setIsa", 1);
  if (a.failed) return nullptr;
  char buf[32] = {0};
  size_t len = 0;
  IsaLevel lv;
  if (napi_get_value_string_utf8(env, a.argv[0], buf, sizeof buf, &len) != napi_ok || !parse_isa(buf, &lv)) {
    a.type_error("irllrec setIsa: expected 'avx512', 'avx2' or 'scalar'");
    return nullptr;
  }
  set_level(lv);
  return Isa(env, info);
}

napi_value Threads(napi_env env, napi_callback_info) { return make_num(env, pool_threads()); }

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, "setThreads", 1);
  i64 n = a.dim(0, "n");
  if (a.failed) return nullptr;
  a.check(n >= 1 && n <= 256, "n must be in [1, 256]");
  if (a.failed) return nullptr;
  return make_num(env, pool_set_threads((int)n));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  IsaLevel lv = detect_isa();
  if (const char* e = std::getenv("IRLLREC_ISA")) {
    IsaLevel forced;
    if (e[0] && parse_isa(e, &forced)) lv = forced;
    else if (e[0]) std::fprintf(stderr, "irllrec: ignoring IRLLREC_ISA=%s (expected avx512, avx2 or scalar)\n", e);
  }
  set_level(lv);
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {
      {"gemm", Gemm}, {"spmm", Spmm}, {"spmmT", SpmmT}, {"softmaxRows", SoftmaxRows}, {"softmaxRowsBackward", SoftmaxRowsBackward},
      {"logSumExpRows", LogSumExpRows}, {"l2NormalizeRows", L2NormalizeRows}, {"gatherRows", GatherRows},
      {"scatterAddRows", ScatterAddRows}, {"rowDot", RowDot}, {"axpy", Axpy}, {"axpby", Axpby}, {"mul", Mul},
      {"sum", Sum}, {"sumSquares", SumSquares}, {"dot", Dot}, {"adam", Adam}, {"topkRows", TopkRows},
      {"leakyRelu", LeakyRelu}, {"leakyReluBackward", LeakyReluBackward},
      {"keepMaskXoshiro", KeepMaskXoshiro}, {"compactDroppedEdges", CompactDroppedEdges},
      {"rowAxpby", RowAxpby}, {"sddmm", Sddmm}, {"bprForward", BprForward}, {"bprBackward", BprBackward},
      {"isa", Isa}, {"setIsa", SetIsa}, {"threads", Threads}, {"setThreads", SetThreads},
  };
  for (const Fn& f : fns) {
    napi_value fv;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fv);
    exports.Set(f.name, Napi::Value(env, fv));
  }
  return exports;
}

}  // namespace
}  // namespace irll

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return irll::Init(env, exports); }

NODE_API_MODULE(irllrec_kernels, InitModule)
