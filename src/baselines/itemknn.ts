/**
 * ItemKNN (item-based collaborative filtering) on the binary training matrix X (users x items):
 *
 *   sim(i, j) = c_ij / (sqrt(n_i * n_j) + shrink)        (cosine; c_ij = users with both items,
 *                                                          n_i = training popularity of i)
 *   score(u, i) = sum over the user's training items j in N_k(i) of sim(j, i)
 *
 * where N_k(i) are the `neighbours` items most similar to the target item i (ties: lower item id).
 * This is the usual pruning (each column of the item-item matrix keeps its top k entries, as in
 * Dacrema et al.'s ItemKNNCF). shrink = 0 is plain cosine; shrink > 0 damps similarities that
 * rest on few co-occurrences.
 *
 * Everything is sparse: similarities are computed one target item at a time from the
 * co-occurrence counts of the users of that item (cost sum_u |items(u)|^2, memory
 * O(numItems * neighbours)), so it scales to ~100k items; no items x items dense matrix.
 */
import type { CsrPattern } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import type { ScoreBlockFn } from '../eval/ranking.js';
import { transposePattern, rowCounts, type Baseline, type BaselineLog } from './types.js';

export interface ItemKnnOptions {
  /** Neighbours kept per target item (default 100). */
  neighbours?: number;
  /** Shrinkage added to the cosine denominator (default 10). */
  shrink?: number;
}

export const ITEMKNN_DEFAULTS = { neighbours: 100, shrink: 10 } as const;

/** Sparse item-item similarity, rows = source item j, entries (target i, sim(j, i)). */
export interface SparseSimilarity {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * The pruned similarity matrix as CSR over SOURCE items: row j lists the targets i with
 * j in N_k(i), and sim(j, i). X is the binary users x items training pattern.
 */
export function itemKnnSimilarity(X: CsrPattern, numUsers: number, numItems: number, neighbours: number, shrink: number): SparseSimilarity {
  const n = numItems;
  const XT = transposePattern(X, numUsers, n);
  const pop = rowCounts(XT, n);
  const k = Math.max(0, Math.min(neighbours, n - 1));
  const count = new Int32Array(n);
  const touched = new Int32Array(n);
  const hs = new Float64Array(Math.max(1, k));
  const hi = new Int32Array(Math.max(1, k));
  // targets-major result (rows = target i, entries = source j), grown as needed
  const tIndptr = new Int32Array(n + 1);
  let cap = Math.min(n * k, 1 << 20);
  let tIdx = new Int32Array(cap);
  let tVal = new Float32Array(cap);
  let nnz = 0;
  const worse = (sa: number, ia: number, sb: number, ib: number) => sa < sb || (sa === sb && ia > ib);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let p = XT.indptr[i], e = XT.indptr[i + 1]; p < e; p++) {
      const u = XT.indices[p];
      for (let q = X.indptr[u], f = X.indptr[u + 1]; q < f; q++) {
        const j = X.indices[q];
        if (count[j] === 0) touched[t++] = j;
        count[j]++;
      }
    }
    // top-k by a min-heap whose root is the worst kept entry
    let size = 0;
    const ni = pop[i];
    for (let a = 0; a < t; a++) {
      const j = touched[a];
      const c = count[j];
      count[j] = 0;
      if (j === i || k === 0) continue;
      const s = c / (Math.sqrt(ni * pop[j]) + shrink);
      if (size < k) {
        // sift up
        let x = size++;
        while (x > 0) {
          const par = (x - 1) >> 1;
          if (!worse(s, j, hs[par], hi[par])) break;
          hs[x] = hs[par]; hi[x] = hi[par]; x = par;
        }
        hs[x] = s; hi[x] = j;
      } else if (worse(hs[0], hi[0], s, j)) {
        // replace the root, sift down
        let x = 0;
        for (;;) {
          const l = 2 * x + 1;
          if (l >= size) break;
          let m = l;
          if (l + 1 < size && worse(hs[l + 1], hi[l + 1], hs[l], hi[l])) m = l + 1;
          if (!worse(hs[m], hi[m], s, j)) break;
          hs[x] = hs[m]; hi[x] = hi[m]; x = m;
        }
        hs[x] = s; hi[x] = j;
      }
    }
    if (nnz + size > cap) {
      cap = Math.max(nnz + size, Math.min(n * k, cap * 2));
      const ni2 = new Int32Array(cap); ni2.set(tIdx.subarray(0, nnz)); tIdx = ni2;
      const nv2 = new Float32Array(cap); nv2.set(tVal.subarray(0, nnz)); tVal = nv2;
    }
    for (let a = 0; a < size; a++) { tIdx[nnz] = hi[a]; tVal[nnz++] = hs[a]; }
    tIndptr[i + 1] = nnz;
  }
  // transpose to source-major rows for scoring
  const indptr = new Int32Array(n + 1);
  for (let p = 0; p < nnz; p++) indptr[tIdx[p] + 1]++;
  for (let j = 0; j < n; j++) indptr[j + 1] += indptr[j];
  const fill = indptr.slice(0, n);
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  for (let i = 0; i < n; i++) {
    for (let p = tIndptr[i], e = tIndptr[i + 1]; p < e; p++) {
      const w = fill[tIdx[p]]++;
      indices[w] = i;
      values[w] = tVal[p];
    }
  }
  return { indptr, indices, values };
}

export class ItemKnn implements Baseline {
  readonly name = 'itemknn';
  readonly neighbours: number;
  readonly shrink: number;
  sim: SparseSimilarity | null = null;
  private train: CsrPattern | null = null;
  private numItems = 0;

  constructor(o: ItemKnnOptions = {}) {
    this.neighbours = o.neighbours ?? ITEMKNN_DEFAULTS.neighbours;
    this.shrink = o.shrink ?? ITEMKNN_DEFAULTS.shrink;
    if (!Number.isInteger(this.neighbours) || this.neighbours < 1) throw new Error(`itemknn: neighbours must be an integer >= 1, got ${this.neighbours}`);
    if (!Number.isFinite(this.shrink) || this.shrink < 0) throw new Error(`itemknn: shrink must be >= 0, got ${this.shrink}`);
  }

  check(_ds: Dataset): void {}

  fit(ds: Dataset, log?: BaselineLog): void {
    const t0 = performance.now();
    this.sim = itemKnnSimilarity(ds.train, ds.numUsers, ds.numItems, this.neighbours, this.shrink);
    this.train = ds.train;
    this.numItems = ds.numItems;
    const nnz = this.sim.indptr[ds.numItems];
    log?.(`itemknn: ${nnz} similarities kept (${(nnz / Math.max(1, ds.numItems)).toFixed(1)} per item, neighbours ${this.neighbours}, shrink ${this.shrink}) in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  }

  readonly scoreBlock: ScoreBlockFn = (users, out) => {
    const S = this.sim;
    const X = this.train;
    if (!S || !X) throw new Error('itemknn: scoreBlock called before fit');
    const n = this.numItems;
    out.fill(0, 0, users.length * n);
    const { indptr, indices, values } = S;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const o = r * n;
      for (let q = X.indptr[u], f = X.indptr[u + 1]; q < f; q++) {
        const j = X.indices[q];
        for (let p = indptr[j], e = indptr[j + 1]; p < e; p++) out[o + indices[p]] += values[p];
      }
    }
  };

  params(): Record<string, number> {
    return { neighbours: this.neighbours, shrink: this.shrink };
  }
}
