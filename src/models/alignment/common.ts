/** Helpers shared by the alignment plug-ins. */
import { gatherRows, infoNCE, scale, sumScalars } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import { allocUninit } from '../../tensor/arena.js';
import type { MLP } from '../../nn/mlp.js';
import type { PairBatch } from '../../data/sampler.js';
import type { RandomSource } from '../../util/rng.js';
import { denseText, gatherText, type TextMatrix } from '../../data/text-rows.js';

export const ZERO = (): Tensor => new Tensor(Float32Array.of(0), []);

/**
 * Unique ids and, for each original position, its index among them. The unique list is padded
 * (repeating its first id) to a multiple of `pad`, so the tower's buffers have the same few sizes
 * from batch to batch and the step arena can recycle them; padded rows are computed but unused.
 */
export function uniqueIndex(ids: Int32Array[], pad = 512): { uniq: Int32Array; pos: Int32Array[] } {
  const map = new Map<number, number>();
  const uniq: number[] = [];
  const pos = ids.map((a) => {
    const p = new Int32Array(a.length);
    for (let i = 0; i < a.length; i++) {
      let j = map.get(a[i]!);
      if (j === undefined) {
        j = uniq.length;
        map.set(a[i]!, j);
        uniq.push(a[i]!);
      }
      p[i] = j;
    }
    return p;
  });
  const padded = Math.ceil(uniq.length / pad) * pad;
  while (uniq.length < padded) uniq.push(uniq[0]!);
  return { uniq: Int32Array.from(uniq), pos };
}

/**
 * The text tower's outputs the batch needs: every user's row (anchors use all users as
 * negatives) and the batch items' rows. Item rows are computed only for the unique batch items
 * unless `allItems` (then for every item); rows are independent, so the values are identical.
 * Scalable mode (`pool`): only a pool of users (see {@link userPool}), which are then the anchors'
 * negatives (docs/models.md).
 */
export function towerRows(mlp: MLP, usr: TextMatrix, itm: TextMatrix, batch: PairBatch, allItems: boolean, pool: UserPool | null = null) {
  let users: Tensor;
  let ancIdx = batch.ancs;
  if (pool) {
    users = mlp.forward(constRows(usr, pool.users));
    ancIdx = pool.ancIdx;
  } else users = mlp.forward(denseText(usr));
  let items: Tensor;
  let posIdx: Int32Array;
  let negIdx: Int32Array;
  if (allItems) {
    items = mlp.forward(denseText(itm));
    posIdx = batch.poss;
    negIdx = batch.negs;
  } else {
    const u = uniqueIndex([batch.poss, batch.negs]);
    items = mlp.forward(constRows(itm, u.uniq));
    posIdx = u.pos[0]!;
    negIdx = u.pos[1]!;
  }
  return { users, items, ancIdx, posIdx, negIdx };
}

/** Scalable mode: the users the anchors are contrasted against, and where the batch's users sit among them. */
export interface UserPool {
  /** the pool's user ids (no padding: every row is a negative) */
  users: Int32Array;
  /** each anchor's row in the pool */
  ancIdx: Int32Array;
  /** the batch's distinct users, and their rows in the pool */
  batchUsers: Int32Array;
  batchRows: Int32Array;
}

/**
 * The user pool of a scalable step: every user when there are at most `size` (then the contrast is
 * the reference's), else the batch's distinct users plus users drawn uniformly (without repeats)
 * up to `size` in all; `size` null: the batch's users only (in-batch contrast).
 */
export function userPool(ancs: Int32Array, numUsers: number, size: number | null, rnd: RandomSource): UserPool {
  const u = uniqueIndex([ancs], 1);
  const batchUsers = u.uniq;
  if (size !== null && numUsers <= size) {
    return { users: Int32Array.from({ length: numUsers }, (_, i) => i), ancIdx: ancs, batchUsers, batchRows: batchUsers };
  }
  const rows = Int32Array.from({ length: batchUsers.length }, (_, i) => i);
  if (size === null || batchUsers.length >= size) return { users: batchUsers, ancIdx: u.pos[0]!, batchUsers, batchRows: rows };
  const seen = new Set<number>(batchUsers);
  const users = Array.from(batchUsers);
  while (users.length < size) {
    const r = rnd.rand(size - users.length);
    for (let i = 0; i < r.length && users.length < size; i++) {
      const v = Math.min(numUsers - 1, Math.floor(r[i]! * numUsers));
      if (!seen.has(v)) {
        seen.add(v);
        users.push(v);
      }
    }
  }
  return { users: Int32Array.from(users), ancIdx: u.pos[0]!, batchUsers, batchRows: rows };
}

/** Rows idx of a constant table (float32 or float16) as a float32 tensor (no gradient). */
export function constRows(t: TextMatrix, idx: Int32Array): Tensor {
  return new Tensor(gatherText(t, idx, allocUninit(idx.length * t.cols)), [idx.length, t.cols]);
}

/**
 * weight / B * [NCE(anc, Y_u[ancs], Y_u) + NCE(pos, Y_i[poss], Y_i[poss]) + NCE(neg, Y_i[negs], Y_i[negs])]
 * (the reference's kd / kd_int terms; includeNeg=false drops the last, as SimGCL_int does).
 */
export function pairwiseAlignment(
  anc: Tensor, pos: Tensor, neg: Tensor, tower: ReturnType<typeof towerRows>, batch: PairBatch,
  temp: number, weight: number, includeNeg = true,
): Tensor {
  const ancY = gatherRows(tower.users, tower.ancIdx);
  const posY = gatherRows(tower.items, tower.posIdx);
  const terms = [infoNCE(anc, ancY, tower.users, temp), infoNCE(pos, posY, posY, temp)];
  if (includeNeg) {
    const negY = gatherRows(tower.items, tower.negIdx);
    terms.push(infoNCE(neg, negY, negY, temp));
  }
  return scale(sumScalars(terms), weight / batch.ancs.length);
}
