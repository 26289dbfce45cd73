/**
 * The numeric kernel interface. Everything the models compute goes through these calls, so a
 * faster backend (the C++ SIMD addon, later maybe a GPU) drops in without touching the models.
 *
 * Conventions:
 * - Matrices are dense, row-major Float32Array with an explicit leading dimension (ld = the
 *   distance in elements between two consecutive rows). Typed-array views (subarray) are fine:
 *   every kernel honours the view's byteOffset.
 * - Sparse matrices are CSR: indptr (rows+1, Int32Array), indices (nnz, Int32Array), values
 *   (nnz, Float32Array).
 * - Outputs never alias inputs unless a kernel says it may.
 * - Reductions accumulate in float64 unless noted, then round to float32 once.
 */
export interface Kernels {
  /** 'js' (the reference) or 'native' (the C++ addon). */
  readonly name: 'js' | 'native';
  /** Human-readable description, e.g. "native avx512 threads=2". */
  readonly info: string;

  /**
   * C = alpha * op(A) @ op(B) + beta * C, op(A) is M x K, op(B) is K x N, C is M x N.
   * transA: A is stored K x M (lda >= M); else M x K (lda >= K). transB: B stored N x K
   * (ldb >= K); else K x N (ldb >= N). beta = 0 means C is written without being read (so NaN
   * garbage in C is overwritten).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
    beta: number, C: Float32Array, ldc: number,
  ): void;

  /**
   * Y = S @ X + beta * Y with S a CSR matrix of `rows` rows; X has (max column index + 1) rows
   * and n columns (row-major, ld = n); Y is rows x n (ld = n). beta = 0: Y not read.
   * Fused extras (both optional, rows x n): with `bias`, Y = S @ X + (beta * Y + bias) (bias may
   * alias Y); with `sum`, afterwards sum += Y (a running sum of layers, in the same pass).
   */
  spmm(
    rows: number, n: number, indptr: Int32Array, indices: Int32Array, values: Float32Array,
    X: Float32Array, beta: number, Y: Float32Array, bias?: Float32Array | null, sum?: Float32Array | null,
  ): void;

  /**
   * Y = S^T @ X + beta * Y with S a CSR matrix rows x cols; X is rows x n; Y is cols x n.
   */
  spmmT(
    rows: number, cols: number, n: number, indptr: Int32Array, indices: Int32Array,
    values: Float32Array, X: Float32Array, beta: number, Y: Float32Array,
  ): void;

  /**
   * Y[r,:] = softmax(X[r,:]) (max-subtracted). Y may alias X. With `lse`, also writes
   * lse[r] = log(sum_c exp(X[r,c])) from the same pass (one exp per entry instead of two).
   */
  softmaxRows(rows: number, cols: number, X: Float32Array, Y: Float32Array, lse?: Float32Array): void;

  /** Softmax's gradient: GX[r,:] += Y[r,:] * (G[r,:] - sum_c G[r,c] Y[r,c]) (the dot in float64). */
  softmaxRowsBackward(rows: number, cols: number, Y: Float32Array, G: Float32Array, GX: Float32Array): void;

  /** out[r] = log(sum_c exp(X[r,c])) (max-subtracted). */
  logSumExpRows(rows: number, cols: number, X: Float32Array, out: Float32Array): void;

  /**
   * Y[r,:] = X[r,:] / max(||X[r,:]||_2, eps); norms[r] = ||X[r,:]||_2 (unclamped).
   * Y may alias X.
   */
  l2NormalizeRows(rows: number, cols: number, X: Float32Array, eps: number, Y: Float32Array, norms: Float32Array): void;

  /** dst[i,:] = src[idx[i],:] for i < idx.length; rows of width cols. */
  gatherRows(cols: number, src: Float32Array, idx: Int32Array, dst: Float32Array): void;

  /** dst[idx[i],:] += src[i,:] for i < idx.length (duplicates accumulate). */
  scatterAddRows(cols: number, src: Float32Array, idx: Int32Array, dst: Float32Array): void;

  /** out[r] = dot(A[r,:], B[r,:]) for r < rows. */
  rowDot(rows: number, cols: number, A: Float32Array, B: Float32Array, out: Float32Array): void;

  /** y[i] += alpha * x[i] for i < n. */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;

  /** y[i] = alpha * x[i] + beta * y[i] (beta = 0: y not read). */
  axpby(n: number, alpha: number, x: Float32Array, beta: number, y: Float32Array): void;

  /** out[i] = a[i] * b[i]. out may alias a or b. */
  mul(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;

  /** sum_i x[i] (float64 accumulation). */
  sum(n: number, x: Float32Array): number;

  /** sum_i x[i]^2 (float64 accumulation). */
  sumSquares(n: number, x: Float32Array): number;

  /** sum_i x[i]*y[i] (float64 accumulation). */
  dot(n: number, x: Float32Array, y: Float32Array): number;

  /**
   * One Adam step with PyTorch 1.13 semantics (weight_decay 0, no amsgrad), in place:
   *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
   *   p -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
   */
  adam(
    n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, step: number,
  ): void;

  /** y[i] = x[i] > 0 ? x[i] : slope * x[i]. y may alias x. */
  leakyRelu(n: number, slope: number, x: Float32Array, y: Float32Array): void;

  /** dx[i] = beta * dx[i] + g[i] * (x[i] > 0 ? 1 : slope) (beta = 0: dx not read). */
  leakyReluBackward(n: number, slope: number, x: Float32Array, g: Float32Array, beta: number, dx: Float32Array): void;

  /**
   * Edge-dropout keep flags from a xoshiro128** stream: state (4 words, advanced in place, the
   * layout of Rng) yields n draws; out[i] = (next_u32 >>> 8) >= threshold ? 1 : 0.
   */
  keepMaskXoshiro(state: Int32Array, n: number, threshold: number, out: Uint8Array): void;

  /**
   * Edge dropout on a CSR matrix with symmetric structure (rows x rows): S keeps entry p iff
   * kept[perm[p]] != 0, S^T keeps it iff kept[p] != 0; both are written compacted (dropped
   * entries removed, order kept) to (indptrS, indicesS, valuesS) and (indptrT, indicesT, valuesT),
   * whose index/value arrays need room for indptr[rows] entries. perm entries lie in [0, nnz).
   */
  compactDroppedEdges(
    rows: number, indptr: Int32Array, indices: Int32Array, values: Float32Array, kept: Uint8Array, perm: Int32Array,
    indptrS: Int32Array, indicesS: Int32Array, valuesS: Float32Array,
    indptrT: Int32Array, indicesT: Int32Array, valuesT: Float32Array,
  ): void;

  /**
   * Sampled dense-dense product on a CSR pattern (rows x ?): out[e] = X[r,:] . Y[indices[e],:]
   * + beta * out[e] for each entry e of row r (beta = 0: out not read). X is rows x d, Y has
   * (max index + 1) rows of width d. Used for edge scores (cosines, dL/dw of weighted edges).
   */
  sddmm(rows: number, d: number, indptr: Int32Array, indices: Int32Array, X: Float32Array, Y: Float32Array, beta: number, out: Float32Array): void;

  /**
   * Row-scaled axpby: Y[r,:] = alpha[r] * X[r,:] + beta[r] * Y[r,:] (float32 arithmetic); with
   * beta null, Y = diag(alpha) X and Y is not read. X may alias Y.
   */
  rowAxpby(rows: number, cols: number, alpha: Float32Array, X: Float32Array, beta: Float32Array | null, Y: Float32Array): void;

  /**
   * BPR forward over B rows of width d: x_r = fround(fround(a.n) - fround(a.p)) (dots in
   * float64, index order), coef[r] = sigmoid(x_r) / B; returns sum_r softplus(x_r) (x > 20: x).
   */
  bprForward(B: number, d: number, A: Float32Array, P: Float32Array, N: Float32Array, coef: Float64Array): number;

  /**
   * BPR backward, accumulating: gA += s c (N - P), gP -= s c A, gN += s c A with c = coef[r]
   * and s = scale (float64 arithmetic, one rounding per entry); a null target is skipped.
   */
  bprBackward(
    B: number, d: number, A: Float32Array, P: Float32Array, N: Float32Array, coef: Float64Array, scale: number,
    gA: Float32Array | null, gP: Float32Array | null, gN: Float32Array | null,
  ): void;

  /**
   * Row-wise top-k: for each row r < rows of X (rows x cols), the indices of the k largest
   * values in descending order (ties: lower index first), written to outIdx[r*k..] and their
   * values to outVal[r*k..]. k <= cols.
   */
  topkRows(rows: number, cols: number, X: Float32Array, k: number, outIdx: Int32Array, outVal: Float32Array): void;
}
