/** PairSampler with k negatives per triple (src/data/sampler.ts); k = 1 is the reference's stream. */
import { describe, expect, it } from 'vitest';
import { csrFromPairs, csrHas } from '../src/data/csr.js';
import { negCountOf, PairSampler } from '../src/data/sampler.js';
import { Rng } from '../src/util/rng.js';

function world(users: number, items: number, perUser: number, seed: number) {
  const r = new Rng(seed);
  const u: number[] = [];
  const i: number[] = [];
  for (let x = 0; x < users; x++) for (const j of r.choice(items, perUser)) { u.push(x); i.push(j); }
  const pairs = { user: Int32Array.from(u), item: Int32Array.from(i) };
  return { pairs, train: csrFromPairs(users, items, pairs.user, pairs.item) };
}

describe('PairSampler with k negatives per triple', () => {
  it('draws the reference stream: per interaction its k negatives by rejection, then one shuffle of the order', () => {
    const { pairs, train } = world(30, 20, 4, 3);
    for (const k of [1, 3]) {
      const r1 = new Rng(9);
      const r2 = new Rng(9);
      const s = new PairSampler(pairs, train, k);
      for (let e = 0; e < 2; e++) {
        const got = s.epoch(r1, 16);
        // the stream written out: negatives interaction by interaction, then the shuffle
        const n = pairs.user.length;
        const negs: number[] = [];
        for (let i = 0; i < n; i++) {
          for (let q = 0; q < k; q++) {
            let j: number;
            do j = r2.int(20);
            while (csrHas(train, pairs.user[i]!, j));
            negs.push(j);
          }
        }
        const order = Int32Array.from({ length: n }, (_, i) => i);
        r2.shuffle(order);
        const flat = got.flatMap((b) => Array.from(b.negs));
        expect(flat).toEqual(Array.from(order).flatMap((i) => negs.slice(i * k, i * k + k)));
        expect(got.flatMap((b) => Array.from(b.ancs))).toEqual(Array.from(order, (i) => pairs.user[i]!));
        expect(got.every((b) => (k === 1 ? b.negCount === undefined : b.negCount === k))).toBe(true);
      }
      expect(r1.state()).toEqual(r2.state());
    }
  });

  it('k negatives per triple, row-major, none a training item of the user, every interaction once per epoch', () => {
    const { pairs, train } = world(25, 12, 5, 4);
    const k = 6;
    const s = new PairSampler(pairs, train, k);
    const rng = new Rng(2);
    const seen = new Map<string, number>();
    const negHist = new Int32Array(12);
    for (const b of s.epoch(rng, 32)) {
      expect(negCountOf(b)).toBe(k);
      expect(b.negs.length).toBe(b.ancs.length * k);
      for (let r = 0; r < b.ancs.length; r++) {
        const key = `${b.ancs[r]},${b.poss[r]}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        expect(csrHas(train, b.ancs[r]!, b.poss[r]!)).toBe(true);
        for (let j = 0; j < k; j++) {
          const n = b.negs[r * k + j]!;
          expect(csrHas(train, b.ancs[r]!, n)).toBe(false);
          negHist[n]!++;
        }
      }
    }
    expect(seen.size).toBe(pairs.user.length);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    // negatives are drawn per triple: several distinct ones per row on this graph
    expect(negHist.filter((c) => c > 0).length).toBe(12);
  });

  it('refuses k < 1 and users without a possible negative; negCountOf checks batch shapes', () => {
    const { pairs, train } = world(3, 4, 2, 1);
    expect(() => new PairSampler(pairs, train, 0)).toThrow(/>= 1/);
    expect(() => new PairSampler(pairs, train, 1.5)).toThrow(/>= 1/);
    const full = { user: Int32Array.of(0, 0), item: Int32Array.of(0, 1) };
    expect(() => new PairSampler(full, csrFromPairs(1, 2, full.user, full.item), 2)).toThrow(/every item/);
    expect(negCountOf({ ancs: Int32Array.of(1, 2), poss: Int32Array.of(0, 1), negs: Int32Array.of(3, 3, 2, 2) })).toBe(2);
    expect(() => negCountOf({ ancs: Int32Array.of(1, 2), poss: Int32Array.of(0, 1), negs: Int32Array.of(3) })).toThrow();
    expect(() => negCountOf({ ancs: Int32Array.of(1, 2), poss: Int32Array.of(0, 1), negs: Int32Array.of(3, 3, 2, 2), negCount: 3 } as never)).toThrow();
  });
});
