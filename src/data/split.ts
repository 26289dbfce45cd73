/**
 * Seeded splits of an interaction list: the official per-interaction random split (3:1:1 by
 * default; some users may get no validation or test item, as in the reference data).
 */
import type { Rng } from '../util/rng.js';
import type { Interactions } from './dataset.js';

/** Maps arbitrary ids to 0..n-1 in order of first appearance after sorting. */
export function compactIds(ids: ArrayLike<number>): { index: Int32Array; external: number[] } {
  const uniq = [...new Set(Array.from(ids))].sort((a, b) => a - b);
  const map = new Map<number, number>();
  uniq.forEach((v, i) => map.set(v, i));
  const index = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) index[i] = map.get(ids[i]!)!;
  return { index, external: uniq };
}

/** Randomly assigns each interaction to train/valid/test with the given ratios. */
export function randomSplit(pairs: Interactions, ratios: [number, number, number], rng: Rng): [Interactions, Interactions, Interactions] {
  const n = pairs.user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  rng.shuffle(order);
  const total = ratios[0] + ratios[1] + ratios[2];
  const nTrain = Math.round((n * ratios[0]) / total);
  const nValid = Math.round((n * ratios[1]) / total);
  const parts: [number, number][] = [[0, nTrain], [nTrain, nTrain + nValid], [nTrain + nValid, n]];
  return parts.map(([s, e]) => {
    const idx = order.slice(s, e).sort();
    const user = new Int32Array(idx.length);
    const item = new Int32Array(idx.length);
    idx.forEach((j, k) => {
      user[k] = pairs.user[j]!;
      item[k] = pairs.item[j]!;
    });
    return { user, item };
  }) as [Interactions, Interactions, Interactions];
}
