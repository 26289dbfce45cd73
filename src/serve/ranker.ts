/**
 * Serving's ranking: the blocked top-k scorer (src/eval/ranking.ts's `blockedTopK`, the one
 * evaluation ranks with) over all items or a candidate subset, with per-row exclusions, and the
 * pair scorer behind `score`. Plus the small vector helpers the serving modules share.
 */
import { blockedTopK } from '../eval/ranking.js';
import type { Kernels } from '../kernels/types.js';
import { InvalidArgumentError } from './errors.js';

export const MAX_BATCH_DEFAULT = 256;

/**
 * Most scores in one block (64M floats, 256 MiB): with many items the rows per block shrink to fit
 * (1M items: 67 users per block, about evaluation's default test.batch_size of 64), so a batch of 256 users
 * never allocates a 1 GB buffer. A row's scores do not depend on its block, so neither do results.
 */
export const MAX_BLOCK_SCORES = 1 << 26;

/** Rows per scoring block for `n` columns: at most `blockSize`, within MAX_BLOCK_SCORES scores. */
export function blockRows(blockSize: number, n: number, maxScores = MAX_BLOCK_SCORES): number {
  return Math.max(1, Math.min(blockSize, Math.floor(maxScores / Math.max(1, n))));
}

/** Top-k of one query row: item indices and scores, best first. */
export interface RankedRow {
  items: Int32Array;
  scores: Float32Array;
}

export function checkK(k: unknown, max: number, name = 'k'): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}], got ${JSON.stringify(k)}`);
  }
  return k;
}

export function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

export function normalizeRows(src: Float32Array, rows: number, d: number): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < d; c++) n += src[r * d + c]! ** 2;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let c = 0; c < d; c++) out[r * d + c] = src[r * d + c]! * inv;
  }
  return out;
}

export function round(x: number, digits = 6): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export class Ranker {
  private scratch: Float32Array | null = null;
  /** item -> position in the candidate list; -1 outside it (reset after each use). */
  private candPos: Int32Array | null = null;

  constructor(
    private readonly kernels: Kernels, private readonly numItems: number, private readonly dim: number, private readonly blockSize: number,
    private readonly maxBlockScores = MAX_BLOCK_SCORES,
  ) {}

  private getScratch(n: number): Float32Array {
    if (!this.scratch || this.scratch.length < n) this.scratch = new Float32Array(n);
    return this.scratch.subarray(0, n);
  }

  /**
   * Top-k for rows of query vectors `Q` (rows x dim) against all rows of `table` or `cand`;
   * `maskRow(r)` gives the items to leave out for row r. Returns per row the item indices and
   * scores (excluded items never appear, so a row may have fewer than k).
   */
  rank(
    Q: Float32Array, rows: number, table: Float32Array, k: number, cand: Int32Array | null,
    maskRow: (r: number, set: (item: number) => void) => void,
  ): RankedRow[] {
    const d = this.dim;
    if (cand) {
      // duplicates would be ranked (and masked) once each: keep the first of each
      const seenCand = new Set<number>();
      cand = cand.filter((i) => (seenCand.has(i) ? false : (seenCand.add(i), true)));
    }
    const n = cand ? cand.length : this.numItems;
    const out: RankedRow[] = [];
    if (n === 0) {
      for (let r = 0; r < rows; r++) out.push({ items: new Int32Array(0), scores: new Float32Array(0) });
      return out;
    }
    let candTable: Float32Array = table;
    let pos: Int32Array | null = null;
    if (cand) {
      candTable = new Float32Array(n * d);
      this.kernels.gatherRows(d, table, cand, candTable);
      pos = this.candPos ??= new Int32Array(this.numItems).fill(-1);
      for (let j = 0; j < n; j++) pos[cand[j]!] = j;
    }
    try {
      return this.rankBlocks(Q, rows, candTable, k, n, cand, pos, maskRow);
    } finally {
      if (cand && pos) for (let j = 0; j < n; j++) pos[cand[j]!] = -1;
    }
  }

  private rankBlocks(
    Q: Float32Array, rows: number, candTable: Float32Array, k: number, n: number, cand: Int32Array | null, pos: Int32Array | null,
    maskRow: (r: number, set: (item: number) => void) => void,
  ): RankedRow[] {
    const d = this.dim;
    const out: RankedRow[] = [];
    const kk = Math.min(k, n);
    const bs = blockRows(this.blockSize, n, this.maxBlockScores);
    blockedTopK({
      kernels: this.kernels, rows, numItems: n, k: kk, batchSize: bs,
      scratch: this.getScratch(Math.min(bs, rows) * n),
      score: (s, b, S) => this.kernels.gemm(false, true, b, n, d, 1, Q.subarray(s * d, (s + b) * d), d, candTable, d, 0, S, n),
      mask: (s, b, S) => {
        for (let r = 0; r < b; r++) {
          const o = r * n;
          maskRow(s + r, pos ? (item) => {
            const j = pos![item]!;
            if (j >= 0) S[o + j] = -Infinity;
          } : (item) => {
            S[o + item] = -Infinity;
          });
        }
      },
      onBlock: (_s, b, idx, val) => {
        for (let r = 0; r < b; r++) {
          let m = 0;
          while (m < kk && val[r * kk + m]! > -Infinity) m++;
          const items = new Int32Array(m);
          const scores = new Float32Array(m);
          for (let j = 0; j < m; j++) {
            const c = idx[r * kk + j]!;
            items[j] = cand ? cand[c]! : c;
            scores[j] = val[r * kk + j]!;
          }
          out.push({ items, scores });
        }
      },
    });
    return out;
  }

  /**
   * Scores of (user, item) pairs: one matrix product per user over its items. The kernel computes
   * each score as one multiply-add chain over the dimensions, whatever the shape, so these are
   * the scores `rank` gives.
   */
  scorePairs(userEmb: Float32Array, itemEmb: Float32Array, us: Int32Array, is: Int32Array): Float32Array {
    const n = us.length;
    const order = Array.from({ length: n }, (_, p) => p).sort((a, b) => us[a]! - us[b]! || a - b);
    const d = this.dim;
    const out = new Float32Array(n);
    for (let s = 0; s < n;) {
      const u = us[order[s]!]!;
      let e = s;
      while (e < n && us[order[e]!] === u) e++;
      const m = e - s;
      const rows = Int32Array.from({ length: m }, (_, j) => is[order[s + j]!]!);
      const T = new Float32Array(m * d);
      this.kernels.gatherRows(d, itemEmb, rows, T);
      const S = new Float32Array(m);
      this.kernels.gemm(false, true, 1, m, d, 1, userEmb.subarray(u * d, (u + 1) * d), d, T, d, 0, S, m);
      for (let j = 0; j < m; j++) out[order[s + j]!] = S[j]!;
      s = e;
    }
    return out;
  }
}
