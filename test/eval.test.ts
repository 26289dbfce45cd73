import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getKernels, jsKernels } from '../src/kernels/index.js';
import type { Kernels } from '../src/kernels/types.js';
import {
  type CsrPattern,
  type MetricName,
  type MetricResult,
  type PerUserMetricName,
  type UserMetricValues,
  MASK_SCORE,
  evaluateFullRanking,
  evaluatedUsers,
  flattenMetrics,
  topKForUsers,
  userMetrics,
} from '../src/eval/index.js';
import { fixturesDir } from './shared.js';
import { expectCloseValues, patternFromPairs } from './helpers/metrics.js';
import { mulberry32 } from './helpers/seeded-random.mjs';

const fixturePath = resolve(fixturesDir, 'metrics.json');
const haveFixture = existsSync(fixturePath);
if (!haveFixture) {
  console.warn(`[eval.test] SKIPPING fixture replay: ${fixturePath} not found`);
}

const ALL: MetricName[] = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum', 'coverage', 'gini'];
const PER_USER: PerUserMetricName[] = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum'];

/** Fixture metric name (official code) -> our name: the official "mrr" sums every hit's 1/rank. */
const FIXTURE_NAMES: Record<string, PerUserMetricName> = { recall: 'recall', ndcg: 'ndcg', precision: 'precision', mrr: 'rrsum' };

function copyValues(v: UserMetricValues): Record<PerUserMetricName, number[]> {
  const out = {} as Record<PerUserMetricName, number[]>;
  for (const m of PER_USER) out[m] = v[m].slice();
  return out;
}

// ---------------------------------------------------------------- helpers

function rowOf(m: CsrPattern, u: number): number[] {
  return Array.from(m.indices.subarray(m.indptr[u], m.indptr[u + 1]));
}

function randomPattern(r: () => number, rows: number, cols: number, p: number, exclude?: CsrPattern): CsrPattern {
  const pairs: [number, number][] = [];
  for (let u = 0; u < rows; u++) {
    const ex = exclude ? new Set(rowOf(exclude, u)) : new Set<number>();
    for (let i = 0; i < cols; i++) if (!ex.has(i) && r() < p) pairs.push([u, i]);
  }
  return patternFromPairs(pairs, rows);
}

/** Naive reference: full sort of every user's masked scores, metrics from the definitions. */
function naiveEvaluate(
  scores: Float32Array, numUsers: number, numItems: number, mask: CsrPattern, gt: CsrPattern, ks: number[],
): { result: Record<MetricName, number[]>; users: number; perUser: Map<number, { topk: number[]; v: Record<PerUserMetricName, number[]> }> } {
  const K = Math.max(...ks);
  const sums = {} as Record<PerUserMetricName, number[]>;
  for (const m of PER_USER) sums[m] = ks.map(() => 0);
  const perUser = new Map<number, { topk: number[]; v: Record<PerUserMetricName, number[]> }>();
  const lists: number[][] = [];
  let n = 0;
  for (let u = 0; u < numUsers; u++) {
    const truth = rowOf(gt, u);
    if (truth.length === 0) continue;
    n++;
    const masked = new Set(rowOf(mask, u));
    const s = Array.from({ length: numItems }, (_, i) => (masked.has(i) ? -1e8 : scores[u * numItems + i]));
    const order = s.map((_, i) => i).sort((a, b) => (s[b] - s[a]) || (a - b));
    const topk = order.slice(0, K);
    lists.push(topk);
    const v = {} as Record<PerUserMetricName, number[]>;
    for (const m of PER_USER) v[m] = [];
    ks.forEach((k, ki) => {
      const top = topk.slice(0, k);
      const hitRanks = top.map((it, j) => (truth.includes(it) ? j : -1)).filter((j) => j >= 0);
      let dcg = 0;
      for (const j of hitRanks) dcg += 1 / Math.log2(j + 2);
      let idcg = 0;
      for (let j = 0; j < Math.min(k, truth.length); j++) idcg += 1 / Math.log2(j + 2);
      let rrsum = 0;
      for (const j of hitRanks) rrsum += 1 / (j + 1);
      let ap = 0;
      hitRanks.forEach((j, h) => { ap += (h + 1) / (j + 1); });
      v.recall[ki] = hitRanks.length / truth.length;
      v.precision[ki] = hitRanks.length / k;
      v.ndcg[ki] = dcg / idcg;
      v.hit[ki] = hitRanks.length > 0 ? 1 : 0;
      v.mrr[ki] = hitRanks.length > 0 ? 1 / (hitRanks[0] + 1) : 0;
      v.map[ki] = ap / Math.min(k, truth.length);
      v.rrsum[ki] = rrsum;
      for (const m of PER_USER) sums[m][ki] += v[m][ki];
    });
    perUser.set(u, { topk, v });
  }
  const result = {} as Record<MetricName, number[]>;
  for (const m of PER_USER) result[m] = sums[m].map((x) => x / n);
  // Aggregates, straight from the definitions (RecBole's ItemCoverage / GiniIndex code path:
  // counts of the recommended items only, zero counts implied by the index offset).
  result.coverage = ks.map((k) => new Set(lists.flatMap((l) => l.slice(0, k))).size / numItems);
  result.gini = ks.map((k) => {
    const cnt = new Map<number, number>();
    for (const l of lists) for (const it of l.slice(0, k)) cnt.set(it, (cnt.get(it) ?? 0) + 1);
    const sorted = [...cnt.values()].sort((a, b) => a - b);
    let g = 0;
    sorted.forEach((c, t) => { g += (2 * (numItems - sorted.length + 1 + t) - numItems - 1) * c; });
    return g / (lists.length * k) / numItems;
  });
  return { result, users: n, perUser };
}

/** Full score matrix with the same float32 rounding as any correct gemm (exact dyadic data). */
function dotScores(U: Float32Array, V: Float32Array, nu: number, ni: number, d: number): Float32Array {
  const s = new Float32Array(nu * ni);
  for (let u = 0; u < nu; u++) {
    for (let i = 0; i < ni; i++) {
      let acc = 0;
      for (let c = 0; c < d; c++) acc += U[u * d + c] * V[i * d + c];
      s[u * ni + i] = acc;
    }
  }
  return s;
}

const kernelList: [string, Kernels][] = [['js', jsKernels]];
{
  const k = getKernels();
  if (k !== jsKernels) kernelList.push([k.name, k]);
}

// ---------------------------------------------------------------- fixture replay

interface MetricsFixture {
  user_num: number;
  item_num: number;
  scores: { shape: [number, number]; dtype: string; data: number[] };
  train_pairs: [number, number][];
  test_pairs: [number, number][];
  test_users: number[];
  k: number[];
  batch_size: number;
  /** Official names: recall, ndcg, precision, mrr (= our rrsum). */
  result: Record<string, number[]>;
  per_user: ({ user: number; topk: number[]; ground_truth: number[] } & Record<string, number[]>)[];
}

describe.skipIf(!haveFixture)('official metrics.json fixture', () => {
  const fx = (haveFixture ? JSON.parse(readFileSync(fixturePath, 'utf8')) : null) as MetricsFixture;
  const tol = 1e-12;

  const run = (kernels: Kernels, batchSize: number) => {
    const nu = fx.user_num;
    const ni = fx.item_num;
    const scores = Float32Array.from(fx.scores.data);
    const perUser = new Map<number, { topk: number[]; v: Record<PerUserMetricName, number[]> }>();
    const result = evaluateFullRanking({
      kernels,
      numUsers: nu,
      numItems: ni,
      trainMask: patternFromPairs(fx.train_pairs, nu),
      groundTruth: patternFromPairs(fx.test_pairs, nu),
      ks: fx.k,
      metrics: ALL,
      batchSize,
      scoreBlock: (users, out) => {
        users.forEach((u, r) => out.set(scores.subarray(u * ni, (u + 1) * ni), r * ni));
      },
      onUser: (u, topk, v) => {
        perUser.set(u, { topk: Array.from(topk), v: copyValues(v) });
      },
    });
    return { result, perUser };
  };

  for (const [kname, kernels] of kernelList) {
    for (const bs of [fx?.batch_size ?? 2, 1, 1000]) {
      it(`reproduces result and per_user (${kname} kernels, batch ${bs})`, () => {
        const { result, perUser } = run(kernels, bs);
        expect(result.users).toBe(fx.test_users.length);
        expect(result.ks).toEqual(fx.k);
        expect(result.metrics).toEqual(ALL);
        expect(Object.keys(fx.result).sort()).toEqual(Object.keys(FIXTURE_NAMES).sort());
        for (const [fm, m] of Object.entries(FIXTURE_NAMES)) expectCloseValues(result[m], fx.result[fm], tol, `result.${m} (official ${fm})`);
        expect([...perUser.keys()]).toEqual(fx.test_users);
        for (const pu of fx.per_user) {
          const got = perUser.get(pu.user);
          expect(got, `user ${pu.user}`).toBeDefined();
          expect(got!.topk).toEqual(pu.topk);
          for (const [fm, m] of Object.entries(FIXTURE_NAMES)) expectCloseValues(got!.v[m], pu[fm], tol, `user ${pu.user} ${m} (official ${fm})`);
          // The first-hit metrics, recomputed from the fixture's own top-k and ground truth.
          fx.k.forEach((k, ki) => {
            const first = pu.topk.slice(0, k).findIndex((it) => pu.ground_truth.includes(it));
            expect(got!.v.hit[ki], `user ${pu.user} hit@${k}`).toBe(first >= 0 ? 1 : 0);
            expect(got!.v.mrr[ki], `user ${pu.user} mrr@${k}`).toBe(first >= 0 ? 1 / (first + 1) : 0);
          });
        }
      });
    }
  }

  it('user 6 has no ground truth and is not evaluated', () => {
    const gt = patternFromPairs(fx.test_pairs, fx.user_num);
    expect(Array.from(evaluatedUsers(gt, fx.user_num))).toEqual(fx.test_users);
    expect(fx.test_users).not.toContain(6);
    const { perUser } = run(jsKernels, 2);
    expect(perUser.has(6)).toBe(false);
  });

  it('topKForUsers with the training mask gives the fixture top-5', () => {
    const ni = fx.item_num;
    const scores = Float32Array.from(fx.scores.data);
    const users = Int32Array.from(fx.per_user.map((p) => p.user));
    const outScores = new Float32Array(users.length * 5);
    const top = topKForUsers({
      kernels: jsKernels,
      numUsers: fx.user_num,
      numItems: ni,
      users,
      k: 5,
      mask: patternFromPairs(fx.train_pairs, fx.user_num),
      batchSize: 4,
      outScores,
      scoreBlock: (us, out) => us.forEach((u, r) => out.set(scores.subarray(u * ni, (u + 1) * ni), r * ni)),
    });
    fx.per_user.forEach((p, r) => {
      expect(Array.from(top.subarray(r * 5, r * 5 + 5))).toEqual(p.topk);
      for (let j = 0; j < 5; j++) expect(outScores[r * 5 + j]).toBe(scores[p.user * ni + p.topk[j]]);
    });
  });
});

// ---------------------------------------------------------------- definitions

describe('per-user metric definitions', () => {
  it('matches the reference test vectors (ARCHITECTURE/reference-behaviour §7)', () => {
    // GT {1,2,3}, ranking [1,5,2,...] with no further hits.
    let v = userMetrics([1, 5, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26], [1, 2, 3], [5, 10, 20]);
    expect(v.recall[0]).toBeCloseTo(0.666667, 6);
    expect(v.ndcg[0]).toBeCloseTo(0.703918, 6);
    // GT {7} at rank 7 (1-based).
    v = userMetrics([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20], [7], [5, 10, 20]);
    expect(v.recall[0]).toBe(0);
    expect(v.ndcg[0]).toBe(0);
    expect(v.recall[1]).toBe(1);
    expect(v.ndcg[1]).toBeCloseTo(0.333333, 6);
    // 30 GT items, the top 20 all hits.
    const gt = Array.from({ length: 30 }, (_, i) => i);
    v = userMetrics(gt.slice(0, 20), gt, [5, 10, 20]);
    expectCloseValues(v.recall, [5 / 30, 10 / 30, 20 / 30], 1e-15, 'recall');
    expectCloseValues(v.ndcg, [1, 1, 1], 1e-15, 'ndcg');
    expectCloseValues(v.precision, [1, 1, 1], 0, 'precision');
    // rrsum (the official "mrr") counts every hit: 1 + 1/2 + ... + 1/5 at k = 5; mrr only the first.
    expectCloseValues(v.rrsum.slice(0, 1), [1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5], 1e-15, 'rrsum');
    expectCloseValues(v.mrr, [1, 1, 1], 0, 'mrr');
  });

  it('flattens results', () => {
    const r: MetricResult = { users: 3, ks: [5, 20], metrics: ['recall', 'ndcg', 'mrr'], recall: [0.1, 0.2], ndcg: [0.3, 0.4], mrr: [0.5, 0.6] };
    expect(flattenMetrics(r)).toEqual({ 'recall@5': 0.1, 'recall@20': 0.2, 'ndcg@5': 0.3, 'ndcg@20': 0.4, 'mrr@5': 0.5, 'mrr@20': 0.6 });
    expect(Object.keys(flattenMetrics(r))).toEqual(['recall@5', 'recall@20', 'ndcg@5', 'ndcg@20', 'mrr@5', 'mrr@20']);
  });

  it('defaults to recall and ndcg', () => {
    const scores = Float32Array.from([1, 2, 3, 4]);
    const r = evaluateFullRanking({
      kernels: jsKernels, numUsers: 1, numItems: 4,
      trainMask: patternFromPairs([], 1), groundTruth: patternFromPairs([[0, 3]], 1), ks: [1],
      scoreBlock: (_u, out) => out.set(scores),
    });
    expect(r.metrics).toEqual(['recall', 'ndcg']);
    for (const m of ['hit', 'precision', 'mrr', 'map', 'rrsum', 'coverage', 'gini'] as const) expect(r[m], m).toBeUndefined();
    expect(r.recall).toEqual([1]);
    expect(r.ndcg).toEqual([1]);
  });

  it('rejects bad input', () => {
    const base = {
      kernels: jsKernels, numUsers: 1, numItems: 4,
      trainMask: patternFromPairs([], 1), groundTruth: patternFromPairs([[0, 3]], 1),
      scoreBlock: (_u: Int32Array, out: Float32Array) => out.fill(0),
    };
    expect(() => evaluateFullRanking({ ...base, ks: [5] })).toThrow(/numItems/);
    expect(() => evaluateFullRanking({ ...base, ks: [0] })).toThrow(/invalid k/);
    expect(() => evaluateFullRanking({ ...base, ks: [1], metrics: ['hr' as MetricName] })).toThrow(/unknown metric/);
    expect(() => evaluateFullRanking({ ...base, ks: [1], groundTruth: patternFromPairs([[0, 4]], 1) })).toThrow(/outside/);
    const { scoreBlock: _s, ...noScorer } = base;
    expect(() => evaluateFullRanking({ ...noScorer, ks: [1] })).toThrow(/required/);
  });
});

// ---------------------------------------------------------------- brute force on random data

describe('brute force vs naive full sort', () => {
  for (const [kname, kernels] of kernelList) {
    it(`random dyadic embeddings, ties, masks (${kname} kernels)`, () => {
      const r = mulberry32(12345);
      const nu = 57;
      const ni = 43;
      const d = 6;
      // Values in {-1, -0.5, 0, 0.5, 1}: dot products are exact in float32, so every gemm agrees
      // and many scores tie (exercising the lower-index-first rule).
      const U = Float32Array.from({ length: nu * d }, () => (Math.floor(r() * 5) - 2) * 0.5);
      const V = Float32Array.from({ length: ni * d }, () => (Math.floor(r() * 5) - 2) * 0.5);
      const mask = randomPattern(r, nu, ni, 0.3);
      const gt = randomPattern(r, nu, ni, 0.1, mask);
      const ks = [1, 3, 10, 20];
      const scores = dotScores(U, V, nu, ni, d);
      const ref = naiveEvaluate(scores, nu, ni, mask, gt, ks);
      expect(ref.users).toBeGreaterThan(0);
      expect(ref.users).toBeLessThan(nu); // some users have no ground truth

      const results: MetricResult[] = [];
      for (const bs of [1, 7, 1000]) {
        const seen: number[] = [];
        const res = evaluateFullRanking({
          kernels, userEmb: U, itemEmb: V, dim: d, numUsers: nu, numItems: ni,
          trainMask: mask, groundTruth: gt, ks, metrics: ALL, batchSize: bs,
          onUser: (u, topk, v) => {
            seen.push(u);
            const p = ref.perUser.get(u)!;
            expect(Array.from(topk)).toEqual(p.topk);
            for (const m of PER_USER) expectCloseValues(v[m], p.v[m], 1e-12, `user ${u} ${m}`);
          },
        });
        expect(seen).toEqual([...ref.perUser.keys()]);
        expect(res.users).toBe(ref.users);
        for (const m of ALL) expectCloseValues(res[m], ref.result[m], 1e-12, `${m} (batch ${bs})`);
        results.push(res);
      }
      // Batch size does not change the result at all.
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);

      // topKForUsers on all users (including those without ground truth) vs the full sort.
      const all = Int32Array.from({ length: nu }, (_, u) => u);
      const top = topKForUsers({ kernels, userEmb: U, itemEmb: V, dim: d, numUsers: nu, numItems: ni, users: all, k: 20, mask, batchSize: 9 });
      for (let u = 0; u < nu; u++) {
        const masked = new Set(rowOf(mask, u));
        const s = Array.from({ length: ni }, (_, i) => (masked.has(i) ? MASK_SCORE : scores[u * ni + i]));
        const order = s.map((_, i) => i).sort((a, b) => (s[b] - s[a]) || (a - b)).slice(0, 20);
        expect(Array.from(top.subarray(u * 20, u * 20 + 20))).toEqual(order);
      }
    });

    it(`random continuous scores via scoreBlock, heavy masking (${kname} kernels)`, () => {
      const r = mulberry32(777);
      const nu = 40;
      const ni = 30;
      const scores = Float32Array.from({ length: nu * ni }, () => r() * 4 - 2);
      const mask = randomPattern(r, nu, ni, 0.6); // many users with < K = 25 unmasked items: masked (-1e8) items enter the top-K
      const gt = randomPattern(r, nu, ni, 0.3, mask);
      const ks = [2, 5, 25];
      const ref = naiveEvaluate(scores, nu, ni, mask, gt, ks);
      const calls: number[] = [];
      const res = evaluateFullRanking({
        kernels, numUsers: nu, numItems: ni, trainMask: mask, groundTruth: gt, ks, metrics: ALL, batchSize: 6,
        scoreBlock: (users, out) => {
          calls.push(users.length);
          users.forEach((u, i) => out.set(scores.subarray(u * ni, (u + 1) * ni), i * ni));
        },
      });
      expect(Math.max(...calls)).toBeLessThanOrEqual(6);
      expect(calls.reduce((a, b) => a + b, 0)).toBe(ref.users);
      expect(res.users).toBe(ref.users);
      for (const m of ALL) expectCloseValues(res[m], ref.result[m], 1e-12, m);
    });
  }

  it('a user with no ground truth does not change the result', () => {
    const r = mulberry32(99);
    const ni = 25;
    const d = 4;
    const U = Float32Array.from({ length: 5 * d }, () => r() - 0.5);
    const V = Float32Array.from({ length: ni * d }, () => r() - 0.5);
    const gtPairs: [number, number][] = [[0, 1], [0, 7], [1, 3], [3, 0], [3, 4], [3, 9], [4, 2]];
    const maskPairs: [number, number][] = [[0, 2], [2, 5], [3, 1]];
    const common = { kernels: jsKernels, userEmb: U, itemEmb: V, dim: d, numItems: ni, ks: [1, 5], metrics: ALL };
    const with5 = evaluateFullRanking({ ...common, numUsers: 5, trainMask: patternFromPairs(maskPairs, 5), groundTruth: patternFromPairs(gtPairs, 5) });
    expect(with5.users).toBe(4); // user 2 has none
    // Same data without user 2: remap users 3, 4 -> 2, 3.
    const remap = (u: number) => (u > 2 ? u - 1 : u);
    const keep = [0, 1, 3, 4];
    const U4 = new Float32Array(4 * d);
    keep.forEach((u, i) => U4.set(U.subarray(u * d, (u + 1) * d), i * d));
    const without = evaluateFullRanking({
      ...common, userEmb: U4, numUsers: 4,
      trainMask: patternFromPairs(maskPairs.filter(([u]) => u !== 2).map(([u, i]) => [remap(u), i]), 4),
      groundTruth: patternFromPairs(gtPairs.map(([u, i]) => [remap(u), i]), 4),
    });
    expect(without).toEqual(with5);
  });
});
