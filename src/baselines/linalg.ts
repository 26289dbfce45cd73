/**
 * Dense symmetric positive definite (SPD) inverse for the EASE baseline: a BLOCKED Cholesky
 * factorisation, a blocked inverse of the triangular factor and the product L^-T L^-1, all in
 * place on one n x n row-major Float32Array.
 *
 * The bulk of the work (about n^3 flops in all) goes through `kernels.gemm` (the multithreaded
 * native GEMM when available); only the small diagonal blocks (block x block) are factored and
 * inverted in plain TypeScript, in float64. Storage is float32, so the result carries float32
 * rounding: the relative residual |P G - I| is typically 1e-6 .. 1e-4 depending on the condition
 * number of G (checked in the tests against a float64 reference).
 *
 * Steps (b = block width, default 256):
 *   1. choleskyInPlace:   A = L L^T, right-looking. Per block column k: factor the diagonal block
 *                         in float64, L21 = A21 inv(L11)^T (one gemm), then the trailing lower
 *                         triangle A22 -= L21 L21^T (gemms over row groups, so that only a thin
 *                         band above the diagonal is computed needlessly).
 *   2. invertLowerInPlace: W = L^-1, block row by block row: W[i, :i] = -inv(L_ii) L[i, :i] W[:i, :i]
 *                         (gemms that skip the zero upper triangle of W).
 *   3. lowerGramInPlace:  P = W^T W, block row by block row: P[i, :i+b] = V[i, i:] V[:i+b, i:]^T with
 *                         V = W^T (transposed in place first, so the gemms need no transposed A).
 */
import type { Kernels } from '../kernels/types.js';
import { getKernels } from '../kernels/index.js';

export interface LinalgOptions {
  /** Defaults to getKernels(). */
  kernels?: Kernels;
  /** Panel / block width (default 256). Any value >= 1 works; results barely depend on it. */
  block?: number;
}

export const DEFAULT_BLOCK = 256;

/** Rows per trailing-update gemm in the Cholesky (bounds the wasted band above the diagonal). */
const ROW_GROUP = 1024;

export class NotPositiveDefiniteError extends Error {
  constructor(public readonly pivot: number, value: number) {
    super(`matrix is not positive definite (pivot ${pivot} is ${value})`);
    this.name = 'NotPositiveDefiniteError';
  }
}

function setup(n: number, A: Float32Array, opts: LinalgOptions | undefined): { k: Kernels; b: number } {
  if (!Number.isInteger(n) || n < 0) throw new Error(`linalg: invalid n ${n}`);
  if (A.length < n * n) throw new Error(`linalg: matrix has ${A.length} entries, need n * n = ${n * n}`);
  const b = opts?.block ?? DEFAULT_BLOCK;
  if (!Number.isInteger(b) || b < 1) throw new Error(`linalg: invalid block ${b}`);
  return { k: opts?.kernels ?? getKernels(), b };
}

/**
 * Unblocked Cholesky of a b x b float64 matrix (row-major, lower triangle read), in place:
 * on return the lower triangle holds L and the strict upper triangle is zero.
 * `offset` only labels the pivot in the error.
 */
export function cholesky64(b: number, D: Float64Array, offset = 0): void {
  for (let j = 0; j < b; j++) {
    const rj = j * b;
    let d = D[rj + j];
    for (let p = 0; p < j; p++) d -= D[rj + p] * D[rj + p];
    if (!(d > 0)) throw new NotPositiveDefiniteError(offset + j, d);
    const ljj = Math.sqrt(d);
    D[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < b; i++) {
      const ri = i * b;
      let s = D[ri + j];
      for (let p = 0; p < j; p++) s -= D[ri + p] * D[rj + p];
      D[ri + j] = s * inv;
    }
    for (let c = j + 1; c < b; c++) D[rj + c] = 0;
  }
}

/** Inverse of a b x b lower triangular float64 matrix (upper triangle ignored) into W (lower, upper zero). */
export function invertLower64(b: number, L: Float64Array, W: Float64Array): void {
  W.fill(0, 0, b * b);
  // row by row (contiguous access): W[i, :i] = -(1 / L[i, i]) sum_{p < i} L[i, p] W[p, :p+1]
  for (let i = 0; i < b; i++) {
    const ri = i * b;
    for (let p = 0; p < i; p++) {
      const l = L[ri + p];
      if (l === 0) continue;
      const rp = p * b;
      for (let j = 0; j <= p; j++) W[ri + j] -= l * W[rp + j];
    }
    const inv = 1 / L[ri + i];
    for (let j = 0; j < i; j++) W[ri + j] *= inv;
    W[ri + i] = inv;
  }
}

/** Copies the bk x bk diagonal block at (k, k) of A (ld n) into a float64 buffer. */
function loadBlock(n: number, A: Float32Array, k: number, bk: number, D: Float64Array): void {
  for (let i = 0; i < bk; i++) {
    const src = (k + i) * n + k;
    for (let j = 0; j < bk; j++) D[i * bk + j] = A[src + j];
  }
}

function storeBlock(n: number, A: Float32Array, k: number, bk: number, D: Float64Array): void {
  for (let i = 0; i < bk; i++) {
    const dst = (k + i) * n + k;
    for (let j = 0; j < bk; j++) A[dst + j] = D[i * bk + j];
  }
}

/**
 * In-place Cholesky A = L L^T of an SPD n x n row-major float32 matrix. Only the lower triangle
 * of A is read; on return it holds L and the strict upper triangle is zero.
 * Throws NotPositiveDefiniteError when a pivot is <= 0 (or NaN).
 */
export function choleskyInPlace(n: number, A: Float32Array, opts?: LinalgOptions): void {
  const { k: K, b } = setup(n, A, opts);
  const D = new Float64Array(b * b);
  const Winv = new Float64Array(b * b);
  const T32 = new Float32Array(b * b);
  const panel = new Float32Array(Math.max(0, n - Math.min(b, n)) * b);
  for (let k = 0; k < n; k += b) {
    const bk = Math.min(b, n - k);
    loadBlock(n, A, k, bk, D);
    cholesky64(bk, D, k);
    storeBlock(n, A, k, bk, D);
    const s = k + bk;
    const m = n - s;
    if (m === 0) break;
    // L21 = A21 inv(L11)^T
    invertLower64(bk, D, Winv);
    for (let i = 0; i < bk * bk; i++) T32[i] = Winv[i];
    K.gemm(false, true, m, bk, bk, 1, A.subarray(s * n + k), n, T32, bk, 0, panel, bk);
    for (let i = 0; i < m; i++) A.set(panel.subarray(i * bk, (i + 1) * bk), (s + i) * n + k);
    // A22 -= L21 L21^T on the lower triangle, by row groups [r0, r1) x columns [s, r1)
    for (let r0 = s; r0 < n; r0 += ROW_GROUP) {
      const r1 = Math.min(n, r0 + ROW_GROUP);
      K.gemm(false, true, r1 - r0, r1 - s, bk, -1, A.subarray(r0 * n + k), n, A.subarray(s * n + k), n, 1, A.subarray(r0 * n + s), n);
    }
  }
  zeroUpper(n, A);
}

function zeroUpper(n: number, A: Float32Array): void {
  for (let i = 0; i < n; i++) A.fill(0, i * n + i + 1, (i + 1) * n);
}

/**
 * In-place inverse of a lower triangular n x n row-major float32 matrix (the strict upper
 * triangle must be zero; it stays zero).
 */
export function invertLowerInPlace(n: number, L: Float32Array, opts?: LinalgOptions): void {
  const { k: K, b } = setup(n, L, opts);
  const D = new Float64Array(b * b);
  const Winv = new Float64Array(b * b);
  const Wi32 = new Float32Array(b * b);
  const T = new Float32Array(n > b ? b * (n - Math.min(b, n)) : 0);
  for (let i = 0; i < n; i += b) {
    const bi = Math.min(b, n - i);
    loadBlock(n, L, i, bi, D);
    invertLower64(bi, D, Winv);
    if (i > 0) {
      // T = L[i, :i] W[:i, :i], one column block c at a time: W[c.., c-block] is zero above row c
      for (let c = 0; c < i; c += b) {
        const bc = Math.min(b, i - c);
        K.gemm(false, false, bi, bc, i - c, 1, L.subarray(i * n + c), n, L.subarray(c * n + c), n, 0, T.subarray(c), i);
      }
      // W[i, :i] = -inv(L_ii) T
      for (let p = 0; p < bi * bi; p++) Wi32[p] = Winv[p];
      K.gemm(false, false, bi, i, bi, -1, Wi32, bi, T, i, 0, L.subarray(i * n), n);
    }
    storeBlock(n, L, i, bi, Winv);
  }
}

/**
 * In place: W (lower triangular, strict upper triangle zero) becomes the full symmetric
 * P = W^T W. W is first transposed in place (V = W^T, upper triangular) so that every gemm is a
 * plain A B^T product: P[i-block, :w] = V[i-block, i:] V[:w, i:]^T, block row by block row (the
 * columns >= i of the rows still to be read are never overwritten before they are read).
 */
export function lowerGramInPlace(n: number, W: Float32Array, opts?: LinalgOptions): void {
  const { k: K, b } = setup(n, W, opts);
  transposeLowerToUpper(n, W);
  const T = new Float32Array(Math.min(b, n) * n);
  for (let i = 0; i < n; i += b) {
    const bi = Math.min(b, n - i);
    const w = i + bi;
    K.gemm(false, true, bi, w, n - i, 1, W.subarray(i * n + i), n, W.subarray(i), n, 0, T, w);
    for (let r = 0; r < bi; r++) W.set(T.subarray(r * w, (r + 1) * w), (i + r) * n);
  }
  mirrorLowerToUpper(n, W);
}

/** In place: the strict lower triangle moves to the upper one (A := A^T for triangular A), lower zeroed. */
function transposeLowerToUpper(n: number, A: Float32Array): void {
  copyLowerToUpper(n, A, true);
}

/** A[r, c] = A[c, r] for c > r (tiled, for cache locality). */
export function mirrorLowerToUpper(n: number, A: Float32Array): void {
  copyLowerToUpper(n, A, false);
}

/** The strict lower triangle copied onto the upper one (tiled), the lower one zeroed when `move`. */
function copyLowerToUpper(n: number, A: Float32Array, move: boolean): void {
  const t = 64;
  for (let r0 = 0; r0 < n; r0 += t) {
    const r1 = Math.min(n, r0 + t);
    for (let c0 = r0; c0 < n; c0 += t) {
      const c1 = Math.min(n, c0 + t);
      for (let r = r0; r < r1; r++) {
        const ro = r * n;
        for (let c = Math.max(c0, r + 1); c < c1; c++) {
          A[ro + c] = A[c * n + r];
          if (move) A[c * n + r] = 0;
        }
      }
    }
  }
}

/**
 * In-place inverse of an SPD n x n row-major float32 matrix (lower triangle read; the result is
 * the full symmetric inverse). Throws NotPositiveDefiniteError when A is not positive definite.
 */
export function spdInverseInPlace(n: number, A: Float32Array, opts?: LinalgOptions): void {
  choleskyInPlace(n, A, opts);
  invertLowerInPlace(n, A, opts);
  lowerGramInPlace(n, A, opts);
}

/**
 * Reference SPD inverse in float64 (unblocked Gauss-Jordan on [A | I]), for tests and tiny
 * matrices. A is n x n row-major (full, symmetric); returns a new Float64Array.
 */
export function spdInverse64(n: number, A: ArrayLike<number>): Float64Array {
  const M = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) M[i] = A[i];
  const X = new Float64Array(n * n);
  for (let i = 0; i < n; i++) X[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[piv * n + c])) piv = r;
    if (M[piv * n + c] === 0) throw new Error('spdInverse64: singular matrix');
    if (piv !== c) {
      for (let j = 0; j < n; j++) {
        let t = M[c * n + j]; M[c * n + j] = M[piv * n + j]; M[piv * n + j] = t;
        t = X[c * n + j]; X[c * n + j] = X[piv * n + j]; X[piv * n + j] = t;
      }
    }
    const inv = 1 / M[c * n + c];
    for (let j = 0; j < n; j++) { M[c * n + j] *= inv; X[c * n + j] *= inv; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r * n + c];
      if (f === 0) continue;
      for (let j = 0; j < n; j++) { M[r * n + j] -= f * M[c * n + j]; X[r * n + j] -= f * X[c * n + j]; }
    }
  }
  return X;
}
