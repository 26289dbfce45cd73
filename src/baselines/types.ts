/** The common interface of the non-graph baselines and small sparse helpers they share. */
import type { CsrPattern } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import type { ScoreBlockFn } from '../eval/ranking.js';
import { UserError } from '../util/errors.js';

export type BaselineLog = (line: string) => void;

export interface Baseline {
  /** 'mostpop', 'itemknn' or 'ease'. */
  readonly name: string;
  /**
   * Throws BaselineLimitError when the dataset is outside what this baseline accepts (e.g. too
   * many items for EASE's dense items x items matrix). Cheap; fit() calls it too.
   */
  check(ds: Dataset): void;
  /**
   * Learns from `ds.train` only (EASE's automatic lambda also reads `ds.valid`; nothing ever
   * reads `ds.test`).
   */
  fit(ds: Dataset, log?: BaselineLog): void;
  /**
   * Raw scores of a block of users against all items (see ScoreBlockFn): `out[r * numItems + i]`.
   * A bound function (safe to pass around). Only valid after fit().
   */
  readonly scoreBlock: ScoreBlockFn;
  /** The hyper-parameters in effect (after fit: including chosen values, e.g. EASE's lambda). */
  params(): Record<string, number>;
}

/** A dataset the baseline refuses (too large, ...): a user-facing message with a suggestion. */
export class BaselineLimitError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'BaselineLimitError';
  }
}

/** The transpose of a CSR pattern (rows sorted ascending within each row of the result). */
export function transposePattern(m: { indptr: Int32Array; indices: Int32Array }, rows: number, cols: number): CsrPattern {
  const nnz = m.indptr[rows];
  const indptr = new Int32Array(cols + 1);
  for (let p = 0; p < nnz; p++) indptr[m.indices[p] + 1]++;
  for (let c = 0; c < cols; c++) indptr[c + 1] += indptr[c];
  const fill = indptr.slice(0, cols);
  const indices = new Int32Array(nnz);
  for (let r = 0; r < rows; r++) {
    for (let p = m.indptr[r], e = m.indptr[r + 1]; p < e; p++) indices[fill[m.indices[p]]++] = r;
  }
  return { rows: cols, cols: rows, indptr, indices };
}

/** Number of stored entries per row. */
export function rowCounts(m: { indptr: Int32Array }, rows: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = m.indptr[r + 1] - m.indptr[r];
  return out;
}

/**
 * The CSR rows of `users` (in that order) of the pattern `m`, as a standalone CSR (indptr starts
 * at 0) with unit values, reusing the given buffers when large enough.
 */
export class RowGather {
  indptr = new Int32Array(1);
  indices = new Int32Array(0);
  values = new Float32Array(0);

  gather(m: { indptr: Int32Array; indices: Int32Array }, users: Int32Array): number {
    const b = users.length;
    if (this.indptr.length < b + 1) this.indptr = new Int32Array(b + 1);
    let nnz = 0;
    for (let r = 0; r < b; r++) nnz += m.indptr[users[r] + 1] - m.indptr[users[r]];
    if (this.indices.length < nnz) {
      this.indices = new Int32Array(nnz);
      this.values = new Float32Array(nnz).fill(1);
    }
    let w = 0;
    this.indptr[0] = 0;
    for (let r = 0; r < b; r++) {
      const u = users[r];
      const s = m.indptr[u];
      const e = m.indptr[u + 1];
      this.indices.set(m.indices.subarray(s, e), w);
      w += e - s;
      this.indptr[r + 1] = w;
    }
    return nnz;
  }
}
