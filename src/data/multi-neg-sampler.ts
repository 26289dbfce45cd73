/**
 * Pairwise training batches with k negatives per triple, for losses that contrast one positive
 * against several sampled items (AlphaRec's sampled softmax, whose official `cal_loss` indexes
 * `negs` as a [B, k] tensor).
 *
 * Same protocol as PairSampler (./sampler.ts): every training interaction once per epoch,
 * shuffled, batch size B (last batch partial); each negative is drawn uniformly among the items
 * the user has no training interaction with (rejection, like the reference's `sample_negs`), the
 * k negatives of one triple independently (they may repeat). Draw order: interaction by
 * interaction, its k negatives in turn, then the shuffle; so with k = 1 the batches (and the
 * generator's state afterwards) are exactly PairSampler's.
 *
 * A batch is a PairBatch whose `negs` holds B * k items, row-major: the negatives of triple b are
 * negs[b*k .. b*k+k-1]. Consumers that expect one negative per triple (BPR in the composed model)
 * must not be given k > 1.
 */
import type { Rng } from '../util/rng.js';
import { csrHas, type CsrPattern } from './csr.js';
import type { Interactions } from './dataset.js';
import type { PairBatch } from './sampler.js';

export interface MultiNegBatch extends PairBatch {
  /** Negatives per triple (k); negs.length === ancs.length * negCount. */
  negCount: number;
}

/** Negatives per triple of a batch: its `negCount`, else negs.length / ancs.length (checked). */
export function negCountOf(batch: PairBatch & { negCount?: number }): number {
  const B = batch.ancs.length;
  const k = batch.negCount ?? (B === 0 ? 1 : batch.negs.length / B);
  if (!Number.isInteger(k) || k < 1 || batch.negs.length !== B * k || batch.poss.length !== B) {
    throw new RangeError(`batch: ${batch.negs.length} negatives for ${B} triples (${batch.poss.length} positives) is not k >= 1 per triple`);
  }
  return k;
}

export class MultiNegSampler {
  private readonly negs: Int32Array;
  private readonly order: Int32Array;

  constructor(private readonly pairs: Interactions, private readonly train: CsrPattern, readonly negCount: number) {
    if (!Number.isInteger(negCount) || negCount < 1) throw new RangeError(`negatives per triple must be an integer >= 1, got ${negCount}`);
    const n = pairs.user.length;
    this.negs = new Int32Array(n * negCount);
    this.order = new Int32Array(n);
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
  epoch(rng: Rng, batchSize: number): MultiNegBatch[] {
    const { user, item } = this.pairs;
    const n = user.length;
    const k = this.negCount;
    const numItems = this.train.cols;
    for (let i = 0; i < n; i++) {
      const u = user[i]!;
      for (let q = 0; q < k; q++) {
        let j: number;
        do j = rng.int(numItems);
        while (csrHas(this.train, u, j));
        this.negs[i * k + q] = j;
      }
    }
    for (let i = 0; i < n; i++) this.order[i] = i;
    rng.shuffle(this.order);
    const batches: MultiNegBatch[] = [];
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
        negs.set(this.negs.subarray(i * k, (i + 1) * k), r * k);
      }
      batches.push({ ancs, poss, negs, negCount: k });
    }
    return batches;
  }
}
