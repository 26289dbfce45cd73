/**
 * Pairwise training batches as the reference builds them: every training interaction once per
 * epoch, shuffled, batch size B (last batch partial), each with one negative item drawn
 * uniformly among the items the user has no training interaction with.
 */
import type { Rng } from '../util/rng.js';
import { csrHas, type CsrPattern } from './csr.js';
import type { Interactions } from './dataset.js';

export interface PairBatch {
  ancs: Int32Array;
  poss: Int32Array;
  negs: Int32Array;
}

export class PairSampler {
  private readonly negs: Int32Array;
  private readonly order: Int32Array;

  constructor(private readonly pairs: Interactions, private readonly train: CsrPattern) {
    this.negs = new Int32Array(pairs.user.length);
    this.order = new Int32Array(pairs.user.length);
    for (let u = 0; u < train.rows; u++) {
      if (train.indptr[u + 1]! - train.indptr[u]! >= train.cols) {
        throw new Error(`user ${u} interacted with every item: no negative can be sampled`);
      }
    }
  }

  get size(): number {
    return this.pairs.user.length;
  }

  /** Draws this epoch's negatives and order; returns the batches. */
  epoch(rng: Rng, batchSize: number): PairBatch[] {
    const { user, item } = this.pairs;
    const n = user.length;
    const numItems = this.train.cols;
    for (let i = 0; i < n; i++) {
      const u = user[i]!;
      let j: number;
      do j = rng.int(numItems);
      while (csrHas(this.train, u, j));
      this.negs[i] = j;
    }
    for (let i = 0; i < n; i++) this.order[i] = i;
    rng.shuffle(this.order);
    const batches: PairBatch[] = [];
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      const b = e - s;
      const ancs = new Int32Array(b);
      const poss = new Int32Array(b);
      const negs = new Int32Array(b);
      for (let k = 0; k < b; k++) {
        const i = this.order[s + k]!;
        ancs[k] = user[i]!;
        poss[k] = item[i]!;
        negs[k] = this.negs[i]!;
      }
      batches.push({ ancs, poss, negs });
    }
    return batches;
  }
}
