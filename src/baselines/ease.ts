/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW'19):
 *
 *   G = X^T X + lambda I,  P = G^-1,  B = -P / diag(P) (column-wise),  diag(B) = 0,
 *   score(u, :) = X_u B
 *
 * with X the binary users x items training matrix. B is a dense items x items float32 matrix
 * (numItems^2 * 4 bytes), so EASE refuses datasets above `maxItems` (default 30,000).
 *
 * Two exact ways to get B (same result up to float32 rounding):
 * - direct: the blocked Cholesky inverse of G (./linalg.ts), ~numItems^3 flops through kernels.gemm;
 * - Woodbury, cheaper when numUsers < numItems: P = (1/lambda)(I - Q), Q = X^T (lambda I + X X^T)^-1 X,
 *   so only a users x users SPD matrix is inverted and B[i, j] = Q[i, j] / (1 - Q[j, j]) (i != j).
 *
 * lambda: 'auto' (the default) fits B for the values of a small grid (EASE_LAMBDA_GRID, in increasing
 * order, stopping after 2 candidates in a row without improvement) and keeps the best recall@20 on
 * the VALIDATION split (training items masked, the same full-ranking protocol as everything else);
 * the test split is never read. A number fixes lambda.
 */
import { constants as bufferConstants } from 'node:buffer';
import type { CsrPattern } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import { evaluateFullRanking, type ScoreBlockFn } from '../eval/ranking.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { spdInverseInPlace, type LinalgOptions } from './linalg.js';
import { BaselineLimitError, RowGather, transposePattern, type Baseline, type BaselineLog } from './types.js';

export type EaseSolver = 'auto' | 'direct' | 'woodbury';

export interface EaseOptions {
  /** A fixed L2 weight, or 'auto' (default): the best of `lambdaGrid` on the validation split. */
  lambda?: number | 'auto';
  /** Candidates for lambda 'auto' (default EASE_LAMBDA_GRID). */
  lambdaGrid?: number[];
  /** Refuse datasets with more items than this (default 30,000: a 3.6 GB weight matrix). */
  maxItems?: number;
  /** 'auto' (default): Woodbury when numUsers < numItems, else direct. */
  solver?: EaseSolver;
  /** Cut-off of the validation recall used by lambda 'auto' (default 20, capped at numItems). */
  selectK?: number;
  /** lambda 'auto': stop after this many consecutive candidates without improvement (default 2; Infinity: whole grid). */
  patience?: number;
  kernels?: Kernels;
  /** Block width of the Cholesky inverse (default 256). */
  block?: number;
}

/**
 * Default lambda candidates. Steck reports 200-3000 on ML-20M / Netflix / MSD (dense, large);
 * sparse datasets with few interactions per item (Amazon-book: ~13 per item) need much less,
 * so the grid spans both regimes.
 */
export const EASE_LAMBDA_GRID: readonly number[] = [5, 20, 50, 100, 200, 500, 1000, 3000];

/**
 * maxItems: the dense weight matrix limit. selectK: the validation recall@K of lambda 'auto'.
 * patience: lambda 'auto' walks the grid in increasing order and stops once this many
 * consecutive candidates fail to beat the best so far (validation recall is unimodal in lambda
 * in practice; every candidate costs one full fit).
 */
export const EASE_DEFAULTS = { maxItems: 30_000, selectK: 20, patience: 2 } as const;

/**
 * Lower triangle of M = A^T A + lambda I for the binary pattern A (rows x cols), into the cols x
 * cols row-major `out` (zeroed first; the strict upper triangle is left at 0). Cost
 * sum_r |row r|^2 / 2 (pattern rows are sorted, so the larger index is the row of the entry).
 */
export function gramLower(A: { indptr: Int32Array; indices: Int32Array }, rows: number, cols: number, lambda: number, out: Float32Array): void {
  out.fill(0, 0, cols * cols);
  const { indptr, indices } = A;
  for (let r = 0; r < rows; r++) {
    const s = indptr[r];
    const e = indptr[r + 1];
    for (let p = s; p < e; p++) {
      const o = indices[p] * cols;
      for (let q = s; q <= p; q++) out[o + indices[q]] += 1;
    }
  }
  for (let i = 0; i < cols; i++) out[i * cols + i] += lambda;
}

function checkLambda(lambda: number): void {
  if (!Number.isFinite(lambda) || lambda <= 0) throw new Error(`ease: lambda must be a positive number, got ${lambda}`);
}

/** B from P = G^-1 (in place): B[i, j] = -P[i, j] / P[j, j], B[j, j] = 0. */
function weightsFromInverse(n: number, P: Float32Array): void {
  const scale = new Float64Array(n);
  for (let j = 0; j < n; j++) scale[j] = -1 / P[j * n + j];
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) P[o + j] *= scale[j];
    P[o + i] = 0;
  }
}

/**
 * EASE weights by the direct inverse: B (numItems^2, row-major) is overwritten.
 * X is the binary users x items training pattern.
 */
export function easeWeightsDirect(X: CsrPattern, numUsers: number, numItems: number, lambda: number, B: Float32Array, opts?: LinalgOptions): void {
  checkLambda(lambda);
  const n = numItems;
  gramLower(X, numUsers, n, lambda, B);
  spdInverseInPlace(n, B, opts);
  weightsFromInverse(n, B);
}

/**
 * EASE weights through the Woodbury identity with the numUsers x numUsers Gram matrix
 * (cheaper when numUsers < numItems). B (numItems^2) is overwritten.
 */
export function easeWeightsWoodbury(X: CsrPattern, numUsers: number, numItems: number, lambda: number, B: Float32Array, opts?: LinalgOptions): void {
  checkLambda(lambda);
  const kern = opts?.kernels ?? getKernels();
  const n = numItems;
  const U = numUsers;
  const XT = transposePattern(X, U, n);
  // M = (X X^T + lambda I)^-1, U x U
  const M = new Float32Array(U * U);
  gramLower(XT, n, U, lambda, M);
  spdInverseInPlace(U, M, opts);
  const nnz = X.indptr[U];
  const ones = new Float32Array(nnz).fill(1);
  // Y = X^T M (n x U), Z = Y^T = M X (U x n), Q = X^T Z = X^T M X (n x n); the products with
  // X^T are row-parallel spmm over the items x users pattern
  let Y: Float32Array | null = new Float32Array(n * U);
  kern.spmm(n, U, XT.indptr, XT.indices, ones, M, 0, Y);
  const Z = new Float32Array(U * n);
  transpose(n, U, Y, Z);
  Y = null;
  kern.spmm(n, n, XT.indptr, XT.indices, ones, Z, 0, B);
  // B[i, j] = Q[i, j] / (1 - Q[j, j]) for i != j, 0 on the diagonal
  const scale = new Float64Array(n);
  for (let j = 0; j < n; j++) scale[j] = 1 / (1 - B[j * n + j]);
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) B[o + j] *= scale[j];
    B[o + i] = 0;
  }
}

/** dst (cols x rows) = src^T (src rows x cols, row-major), tiled. */
function transpose(rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  const t = 64;
  for (let r0 = 0; r0 < rows; r0 += t) {
    const r1 = Math.min(rows, r0 + t);
    for (let c0 = 0; c0 < cols; c0 += t) {
      const c1 = Math.min(cols, c0 + t);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) dst[c * rows + r] = src[r * cols + c];
    }
  }
}

export class Ease implements Baseline {
  readonly name = 'ease';
  readonly lambdaOption: number | 'auto';
  readonly lambdaGrid: number[];
  readonly maxItems: number;
  readonly solver: EaseSolver;
  readonly selectK: number;
  readonly patience: number;
  /** The lambda in use after fit. */
  lambda = NaN;
  /** Validation recall@selectK per lambda candidate (lambda 'auto' only). */
  search: { lambda: number; recall: number; seconds: number }[] = [];
  /** The solver used by the last fit. */
  usedSolver: 'direct' | 'woodbury' | null = null;
  /** Dense numItems x numItems weights (after fit). */
  B: Float32Array | null = null;
  private train: CsrPattern | null = null;
  private numItems = 0;
  private readonly kernelsOpt: Kernels | undefined;
  private readonly block: number | undefined;
  private readonly gather = new RowGather();

  constructor(o: EaseOptions = {}) {
    this.lambdaOption = o.lambda ?? 'auto';
    if (this.lambdaOption !== 'auto') checkLambda(this.lambdaOption);
    this.lambdaGrid = (o.lambdaGrid ?? EASE_LAMBDA_GRID).slice().sort((a, b) => a - b);
    if (this.lambdaGrid.length === 0) throw new Error('ease: lambdaGrid is empty');
    for (const l of this.lambdaGrid) checkLambda(l);
    this.maxItems = o.maxItems ?? EASE_DEFAULTS.maxItems;
    if (!Number.isInteger(this.maxItems) || this.maxItems < 1) throw new Error(`ease: maxItems must be an integer >= 1, got ${this.maxItems}`);
    this.solver = o.solver ?? 'auto';
    if (!['auto', 'direct', 'woodbury'].includes(this.solver)) throw new Error(`ease: unknown solver '${String(this.solver)}' (auto, direct, woodbury)`);
    this.selectK = o.selectK ?? EASE_DEFAULTS.selectK;
    if (!Number.isInteger(this.selectK) || this.selectK < 1) throw new Error(`ease: selectK must be an integer >= 1, got ${this.selectK}`);
    this.patience = o.patience ?? EASE_DEFAULTS.patience;
    if (!(this.patience >= 1)) throw new Error(`ease: patience must be >= 1, got ${this.patience}`);
    this.kernelsOpt = o.kernels;
    this.block = o.block;
  }

  private get kernels(): Kernels {
    return this.kernelsOpt ?? getKernels();
  }

  check(ds: Dataset): void {
    const n = ds.numItems;
    const gb = (n * n * 4) / 2 ** 30;
    if (n > this.maxItems) {
      throw new BaselineLimitError(
        `ease: ${n} items exceed the limit of ${this.maxItems} (its dense items x items weight matrix would need ${gb.toFixed(1)} GiB); use itemknn for large catalogues, or raise the limit (--ease-max-items)`,
      );
    }
    const solver = this.pickSolver(ds);
    const side = solver === 'woodbury' ? ds.numUsers : n;
    for (const m of [n, side]) {
      if (m * m * 4 > bufferConstants.MAX_LENGTH) {
        throw new BaselineLimitError(`ease: a ${m} x ${m} float32 matrix exceeds this Node.js's largest typed array (${bufferConstants.MAX_LENGTH} bytes); use itemknn`);
      }
    }
  }

  private pickSolver(ds: Dataset): 'direct' | 'woodbury' {
    if (this.solver !== 'auto') return this.solver;
    return ds.numUsers < ds.numItems ? 'woodbury' : 'direct';
  }

  /** Computes B for one lambda into this.B. */
  private compute(ds: Dataset, lambda: number): void {
    const opts: LinalgOptions = { kernels: this.kernels, block: this.block };
    const n = ds.numItems;
    if (!this.B || this.B.length !== n * n) this.B = new Float32Array(n * n);
    if (this.usedSolver === 'woodbury') easeWeightsWoodbury(ds.train, ds.numUsers, n, lambda, this.B, opts);
    else easeWeightsDirect(ds.train, ds.numUsers, n, lambda, this.B, opts);
    this.lambda = lambda;
  }

  fit(ds: Dataset, log?: BaselineLog): void {
    this.check(ds);
    this.train = ds.train;
    this.numItems = ds.numItems;
    this.usedSolver = this.pickSolver(ds);
    this.search = [];
    const what = `${ds.numItems} items, ${this.usedSolver} solver${this.usedSolver === 'woodbury' ? ` (${ds.numUsers} users < items)` : ''}`;
    if (this.lambdaOption !== 'auto') {
      const t0 = performance.now();
      this.compute(ds, this.lambdaOption);
      log?.(`ease: lambda ${this.lambdaOption} (fixed), ${what}, ${secs(t0)}s`);
      return;
    }
    const K = Math.min(this.selectK, ds.numItems);
    let best = -1;
    let bestLambda = this.lambdaGrid[0];
    let since = 0;
    for (const lambda of this.lambdaGrid) {
      const t0 = performance.now();
      this.compute(ds, lambda);
      const r = evaluateFullRanking({
        kernels: this.kernels, numUsers: ds.numUsers, numItems: ds.numItems, scoreBlock: this.scoreBlock,
        trainMask: ds.train, groundTruth: ds.valid, ks: [K],
      });
      const recall = r.users > 0 ? r.recall[0] : 0;
      const seconds = secs(t0);
      this.search.push({ lambda, recall, seconds });
      log?.(`ease: lambda ${lambda}: valid recall@${K} ${recall.toFixed(4)} (${seconds}s)`);
      if (recall > best) {
        best = recall;
        bestLambda = lambda;
        since = 0;
      } else if (++since >= this.patience) {
        break;
      }
    }
    if (this.lambda !== bestLambda) this.compute(ds, bestLambda);
    const tried = this.search.map((s) => s.lambda);
    const edge = this.lambdaGrid.length > 1 && (bestLambda === this.lambdaGrid[0] || bestLambda === this.lambdaGrid[this.lambdaGrid.length - 1]);
    log?.(`ease: chose lambda ${bestLambda} (best valid recall@${K} ${best.toFixed(4)}; tried ${tried.join(', ')}` +
      (tried.length < this.lambdaGrid.length ? ` of ${this.lambdaGrid.join(', ')}, stopped after ${this.patience} without improvement` : '') +
      `), ${what}` + (edge ? '; the best value is at the edge of the grid, consider a wider --ease-lambda grid' : ''));
  }

  readonly scoreBlock: ScoreBlockFn = (users, out) => {
    const B = this.B;
    const X = this.train;
    if (!B || !X) throw new Error('ease: scoreBlock called before fit');
    const g = this.gather;
    g.gather(X, users);
    this.kernels.spmm(users.length, this.numItems, g.indptr, g.indices, g.values, B, 0, out);
  };

  params(): Record<string, number> {
    const p: Record<string, number> = { lambda: this.lambda };
    if (this.usedSolver) p.woodbury = this.usedSolver === 'woodbury' ? 1 : 0;
    return p;
  }
}

function secs(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}
