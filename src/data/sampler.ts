/**
 * Pairwise training batches as the reference builds them: every training interaction once per
 * epoch, shuffled, batch size B (last batch partial), each with one negative item drawn
 * uniformly among the items the user has no training interaction with (rejection, like the
 * reference's `sample_negs`).
 *
 * With k negatives per triple (losses that contrast one positive against several sampled items,
 * AlphaRec's sampled softmax) the k of one triple are drawn independently in turn (they may
 * repeat): draws go interaction by interaction, then the shuffle, so k = 1 is exactly the
 * reference's stream. A batch's `negs` then holds B * k items, row-major (triple b's are
 * negs[b*k .. b*k+k-1]); consumers reading one negative per triple (BPR) must not get k > 1.
 */
import type { Rng } from '../util/rng.js';
import { csrHas, type CsrPattern } from './csr.js';
import type { Interactions } from './dataset.js';

export interface PairBatch {
  ancs: Int32Array;
  poss: Int32Array;
  negs: Int32Array;
  /** Negatives per triple when more than one (negs.length === ancs.length * negCount). */
  negCount?: number;
}

/** Negatives per triple of a batch: its `negCount`, else negs.length / ancs.length (checked). */
export function negCountOf(batch: PairBatch): number {
  const B = batch.ancs.length;
  const k = batch.negCount ?? (B === 0 ? 1 : batch.negs.length / B);
  if (!Number.isInteger(k) || k < 1 || batch.negs.length !== B * k || batch.poss.length !== B) {
    throw new RangeError(`batch: ${batch.negs.length} negatives for ${B} triples (${batch.poss.length} positives) is not k >= 1 per triple`);
  }
  return k;
}

export class PairSampler {
  private readonly negs: Int32Array;
  private readonly order: Int32Array;

  constructor(private readonly pairs: Interactions, private readonly train: CsrPattern, readonly negCount = 1) {
    if (!Number.isInteger(negCount) || negCount < 1) throw new RangeError(`negatives per triple must be an integer >= 1, got ${negCount}`);
    this.negs = new Int32Array(pairs.user.length * negCount);
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
    const k = this.negCount;
    const numItems = this.train.cols;
    for (let i = 0; i < n; i++) {
      const u = user[i]!;
      for (let q = i * k; q < (i + 1) * k; q++) {
        let j: number;
        do j = rng.int(numItems);
        while (csrHas(this.train, u, j));
        this.negs[q] = j;
      }
    }
    for (let i = 0; i < n; i++) this.order[i] = i;
    rng.shuffle(this.order);
    const batches: PairBatch[] = [];
    for (let s = 0; s < n; s += batchSize) {
      const e = Math.min(n, s + batchSize);
      const b = e - s;
      const ancs = new Int32Array(b);
      const poss = new Int32Array(b);
      const negs = new Int32Array(b * k);
      for (let r = 0; r < b; r++) {
        const i = this.order[s + r]!;
        ancs[r] = user[i]!;
        poss[r] = item[i]!;
        for (let q = 0; q < k; q++) negs[r * k + q] = this.negs[i * k + q]!;
      }
      batches.push(k === 1 ? { ancs, poss, negs } : { ancs, poss, negs, negCount: k });
    }
    return batches;
  }
}
