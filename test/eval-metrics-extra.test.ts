/**
 * The RecBole-style metrics beside recall / ndcg (hit, mrr, map, coverage, gini), the official
 * "mrr" kept as rrsum, and the metric-key helpers. Values are computed by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../src/kernels/index.js';
import {
  type MetricName,
  type MetricResult,
  type UserMetricValues,
  AGGREGATE_METRICS,
  DEFAULT_METRICS,
  ItemExposure,
  METRIC_NAMES,
  MetricAccumulator,
  PER_USER_METRICS,
  REPORT_METRICS,
  evaluateFullRanking,
  flattenMetrics,
  higherIsBetter,
  metricKind,
  parseMetricKey,
  userMetrics,
} from '../src/eval/index.js';
import { expectCloseValues, patternFromPairs } from './helpers/metrics.js';
import { mulberry32 } from './helpers/seeded-random.mjs';

/** evaluateFullRanking over an explicit score matrix (numUsers x numItems). */
function evalScores(
  scores: number[][], gtPairs: [number, number][], ks: number[], opts: { mask?: [number, number][]; metrics?: readonly MetricName[]; batchSize?: number } = {},
): { result: MetricResult; perUser: Map<number, { topk: number[]; v: UserMetricValues }> } {
  const nu = scores.length;
  const ni = scores[0].length;
  const flat = Float32Array.from(scores.flat());
  const perUser = new Map<number, { topk: number[]; v: UserMetricValues }>();
  const result = evaluateFullRanking({
    kernels: jsKernels, numUsers: nu, numItems: ni, ks,
    trainMask: patternFromPairs(opts.mask ?? [], nu), groundTruth: patternFromPairs(gtPairs, nu),
    metrics: opts.metrics ?? METRIC_NAMES, batchSize: opts.batchSize,
    scoreBlock: (users, out) => users.forEach((u, r) => out.set(flat.subarray(u * ni, (u + 1) * ni), r * ni)),
    onUser: (u, topk, v) => {
      const copy = {} as UserMetricValues;
      for (const m of PER_USER_METRICS) copy[m] = v[m].slice();
      perUser.set(u, { topk: Array.from(topk), v: copy });
    },
  });
  return { result, perUser };
}

// ---------------------------------------------------------------- per-user definitions

describe('hit, mrr, map, rrsum per user', () => {
  it('two hits at ranks 2 and 4 (1-based), |gt| = 4', () => {
    // topk [10, 1, 11, 2, 12, 13], gt {1, 2, 3, 4}: hits at 0-based ranks 1 and 3.
    const v = userMetrics([10, 1, 11, 2, 12, 13], [1, 2, 3, 4], [1, 2, 4, 6]);
    expect(v.hit).toEqual([0, 1, 1, 1]);
    // First hit at rank 2: 1/2 from k = 2 on.
    expect(v.mrr).toEqual([0, 0.5, 0.5, 0.5]);
    // precision@2 = 1/2, precision@4 = 2/4; divided by min(k, 4) = 1, 2, 4, 4.
    expectCloseValues(v.map, [0, 0.5 / 2, (0.5 + 0.5) / 4, (0.5 + 0.5) / 4], 1e-15, 'map');
    // Every hit: 1/2 + 1/4.
    expectCloseValues(v.rrsum, [0, 0.5, 0.75, 0.75], 1e-15, 'rrsum');
    expectCloseValues(v.precision, [0, 0.5, 0.5, 2 / 6], 1e-15, 'precision');
  });

  it('map divides by min(k, |gt|) when |gt| < k', () => {
    // gt {5, 7} (|gt| = 2), hits at 0-based ranks 0 and 2.
    const v = userMetrics([5, 0, 7, 1, 2], [5, 7], [1, 3, 5]);
    // k = 1: 1 / min(1, 2); k = 3, 5: (1/1 + 2/3) / 2 (not / k: that would give 1/3 at k = 5).
    expectCloseValues(v.map, [1, 5 / 6, 5 / 6], 1e-15, 'map');
    expect(v.hit).toEqual([1, 1, 1]);
    expect(v.mrr).toEqual([1, 1, 1]);
    expectCloseValues(v.rrsum, [1, 1 + 1 / 3, 1 + 1 / 3], 1e-15, 'rrsum');
    expectCloseValues(v.recall, [0.5, 1, 1], 0, 'recall');
    // Every relevant item on top: AP = 1.
    expectCloseValues(userMetrics([7, 5, 0, 1], [5, 7], [2, 4]).map, [1, 1], 0, 'perfect map');
  });

  it('no hits: every metric is 0', () => {
    const v = userMetrics([0, 1, 2, 3, 4], [8, 9], [1, 5]);
    for (const m of PER_USER_METRICS) expect(v[m], m).toEqual([0, 0]);
  });

  it('mrr is at most 1 where rrsum (the official "mrr") exceeds it', () => {
    const v = userMetrics([1, 2, 3, 4], [1, 2, 3, 4], [4]);
    expect(v.mrr).toEqual([1]);
    expectCloseValues(v.rrsum, [1 + 1 / 2 + 1 / 3 + 1 / 4], 1e-15, 'rrsum');
    expectCloseValues(v.map, [1], 0, 'map');
  });

  it('only the hit positions matter, not which irrelevant items fill the other ranks', () => {
    const a = userMetrics([9, 1, 8, 7, 2], [1, 2, 3], [1, 3, 5]);
    const b = userMetrics([4, 1, 5, 6, 2], [2, 3, 1], [1, 3, 5]);
    expect(b).toEqual(a);
  });

  it('score ties are broken by lower item index before the metrics (full ranking)', () => {
    // Items 0, 1, 2 tie; item 1 is relevant: ranking [0, 1, 2, 3] (lower index first), hit at rank 2.
    const { result, perUser } = evalScores([[1, 1, 1, 0]], [[0, 1]], [1, 2, 4]);
    expect(perUser.get(0)!.topk).toEqual([0, 1, 2, 3]);
    expect(result.hit).toEqual([0, 1, 1]);
    expect(result.mrr).toEqual([0, 0.5, 0.5]);
    expect(result.map).toEqual([0, 0.5, 0.5]);
    // Masking item 0 (a training item) moves the relevant item to the top.
    const masked = evalScores([[1, 1, 1, 0]], [[0, 1]], [1, 2, 4], { mask: [[0, 0]] });
    expect(masked.perUser.get(0)!.topk).toEqual([1, 2, 3, 0]);
    expect(masked.result.mrr).toEqual([1, 1, 1]);
    expect(masked.result.hit).toEqual([1, 1, 1]);
  });

  it('means over users; onUser receives the new per-user values', () => {
    // User 0: gt {2}, ranking [2, ...] -> mrr 1. User 1: gt {0, 3}, ranking [1, 3, 0, 2] -> first hit at
    // rank 2 -> mrr 1/2, map@4 = (1/2 + 2/3) / 2. User 2 has no ground truth and is skipped.
    const { result, perUser } = evalScores(
      [[0, 1, 3, 2], [2, 3, 0, 2.5], [9, 8, 7, 6]], [[0, 2], [1, 0], [1, 3]], [1, 4],
    );
    expect(result.users).toBe(2);
    expect([...perUser.keys()]).toEqual([0, 1]);
    expect(perUser.get(1)!.topk).toEqual([1, 3, 0, 2]);
    expect(perUser.get(1)!.v.mrr).toEqual([0, 0.5]);
    expectCloseValues(perUser.get(1)!.v.map, [0, (0.5 + 2 / 3) / 2], 1e-15, 'user 1 map');
    expectCloseValues(perUser.get(1)!.v.rrsum, [0, 0.5 + 1 / 3], 1e-15, 'user 1 rrsum');
    expect(result.hit).toEqual([0.5, 1]);
    expect(result.mrr).toEqual([0.5, 0.75]);
    expectCloseValues(result.map!, [0.5, (1 + (0.5 + 2 / 3) / 2) / 2], 1e-15, 'map');
  });
});

// ---------------------------------------------------------------- aggregates

describe('coverage and gini', () => {
  it('gini is 0 for a uniform exposure and (n - 1) / n when one item takes all of it', () => {
    const n = 4;
    const uniform = new ItemExposure([1, 4], n);
    for (const l of [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]) uniform.add(l);
    expect(uniform.gini()).toEqual([0, 0]);
    expect(uniform.coverage()).toEqual([1, 1]);

    const one = new ItemExposure([1], 5);
    for (let u = 0; u < 3; u++) one.add([2]);
    expectCloseValues(one.gini(), [4 / 5], 1e-15, 'gini');
    expect(one.coverage()).toEqual([1 / 5]);
  });

  it('a hand-computed gini', () => {
    // n = 4, lists [0, 1], [0, 2] at k = 2: counts (2, 1, 1, 0), sorted (0, 1, 1, 2), weights
    // 2i - n - 1 = (-3, -1, 1, 3): 0 - 1 + 1 + 6 = 6; gini = 6 / (4 * 4) = 0.375.
    const e = new ItemExposure([1, 2], 4);
    e.add([0, 1]);
    e.add([0, 2]);
    // k = 1: counts (2, 0, 0, 0) -> 2 * 3 / (4 * 2) = 0.75 = (n - 1) / n.
    expectCloseValues(e.gini(), [0.75, 0.375], 1e-15, 'gini');
    expect(e.coverage()).toEqual([1 / 4, 3 / 4]);
    expect(Array.from(e.countsAt(1))).toEqual([2, 1, 1, 0]);
  });

  it('full ranking: aggregates over the evaluated users only, training items masked', () => {
    // 5 items. Top-2 lists: user 0 [0, 1], user 1 [1, 2] (item 0 masked), user 2 [0, 2].
    // User 3 has no ground truth: its list [4, 3] must not count.
    const scores = [
      [5, 4, 3, 2, 1],
      [9, 4, 3, 2, 1],
      [5, 1, 4, 2, 0],
      [0, 1, 2, 3, 4],
    ];
    const gt: [number, number][] = [[0, 3], [1, 1], [2, 0]];
    const { result } = evalScores(scores, gt, [1, 2], { mask: [[1, 0]], metrics: REPORT_METRICS });
    expect(result.users).toBe(3);
    // k = 1: items {0, 1} -> 2/5; k = 2: {0, 1, 2} -> 3/5.
    expect(result.coverage).toEqual([2 / 5, 3 / 5]);
    // k = 1: counts (2, 1, 0, 0, 0) sorted (0, 0, 0, 1, 2), weights (-4, -2, 0, 2, 4): 2 + 8 = 10,
    //        gini = 10 / (3 * 1) / 5 = 2/3.
    // k = 2: counts (2, 2, 2, 0, 0) sorted (0, 0, 2, 2, 2): 0 + 4 + 8 = 12, gini = 12 / (3 * 2) / 5 = 0.4.
    expectCloseValues(result.gini!, [2 / 3, 0.4], 1e-15, 'gini');
    expect(Object.keys(flattenMetrics(result))).toEqual(
      REPORT_METRICS.flatMap((m) => [`${m}@1`, `${m}@2`]),
    );
  });

  it('does not depend on the batch size', () => {
    const r = mulberry32(4242);
    const nu = 37;
    const ni = 23;
    // Coarse scores: many ties.
    const scores = Array.from({ length: nu }, () => Array.from({ length: ni }, () => Math.floor(r() * 4)));
    const gt: [number, number][] = [];
    const mask: [number, number][] = [];
    for (let u = 0; u < nu; u++) {
      for (let i = 0; i < ni; i++) {
        const x = r();
        if (x < 0.25) mask.push([u, i]);
        else if (x < 0.35) gt.push([u, i]);
      }
    }
    const ks = [1, 5, 10];
    const base = evalScores(scores, gt, ks, { mask, batchSize: 1 }).result;
    expect(base.coverage!.every((c) => c > 0 && c <= 1)).toBe(true);
    expect(base.gini!.every((g) => g >= 0 && g < 1)).toBe(true);
    for (const bs of [2, 5, 1000]) expect(evalScores(scores, gt, ks, { mask, batchSize: bs }).result, `batch ${bs}`).toEqual(base);
  });

  it('no evaluated user: aggregates are NaN like the means', () => {
    const { result } = evalScores([[1, 2, 3]], [], [1]);
    expect(result.users).toBe(0);
    expect(result.coverage).toEqual([NaN]);
    expect(result.gini).toEqual([NaN]);
    expect(result.recall).toEqual([NaN]);
  });

  it('MetricAccumulator: aggregates need numItems and a top-K list for every user', () => {
    expect(() => new MetricAccumulator([2], ['recall', 'gini'])).toThrow(/numItems/);
    const acc = new MetricAccumulator([2], ['coverage'], 4);
    acc.addHits([1, 0], 3);
    expect(() => acc.result()).toThrow(/addExposure/);
    acc.addExposure([3, 1]);
    expect(acc.result().coverage).toEqual([2 / 4]);

    const viaRanking = new MetricAccumulator([1, 2], ['mrr', 'coverage', 'gini'], 4);
    viaRanking.addRanking([0, 1], [1]);
    viaRanking.addRanking([0, 2], [3]);
    const res = viaRanking.result();
    expect(res.mrr).toEqual([0, 0.25]);
    expect(res.coverage).toEqual([1 / 4, 3 / 4]);
    expectCloseValues(res.gini!, [0.75, 0.375], 1e-15, 'gini');
    expect(() => viaRanking.addRanking([0, 4], [1])).toThrow(/outside/);
    // Without aggregates, addHits alone is enough.
    const plain = new MetricAccumulator([1], ['hit']);
    plain.addHits([1], 1);
    expect(plain.result().hit).toEqual([1]);
  });
});

// ---------------------------------------------------------------- names and helpers

describe('metric names and keys', () => {
  it('lists, kinds and direction', () => {
    expect(METRIC_NAMES).toEqual(['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum', 'coverage', 'gini']);
    expect(REPORT_METRICS).toEqual(['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'coverage', 'gini']);
    expect(DEFAULT_METRICS).toEqual(['recall', 'ndcg']);
    expect([...PER_USER_METRICS, ...AGGREGATE_METRICS].sort()).toEqual([...METRIC_NAMES].sort());
    for (const m of PER_USER_METRICS) expect(metricKind(m), m).toBe('mean');
    expect(metricKind('coverage')).toBe('aggregate');
    expect(metricKind('gini')).toBe('aggregate');
    for (const m of METRIC_NAMES) expect(higherIsBetter(m), m).toBe(m !== 'gini');
  });

  it('parseMetricKey accepts flattenMetrics keys, case-insensitively', () => {
    const ks = [5, 10, 20];
    expect(parseMetricKey('ndcg@10', ks)).toEqual({ metric: 'ndcg', k: 10 });
    expect(parseMetricKey('Recall@20', ks)).toEqual({ metric: 'recall', k: 20 });
    expect(parseMetricKey('hit@5', ks)).toEqual({ metric: 'hit', k: 5 });
    expect(parseMetricKey(' GINI@5 ', ks)).toEqual({ metric: 'gini', k: 5 });
    for (const m of METRIC_NAMES) expect(parseMetricKey(`${m}@20`, ks).metric).toBe(m);
  });

  it('parseMetricKey errors are one clear line', () => {
    const ks = [5, 10, 20];
    const msg = (s: string): string => {
      try {
        parseMetricKey(s, ks);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error(`no error for '${s}'`);
    };
    expect(msg('hr@10')).toMatch(/unknown metric 'hr'.*known: recall, ndcg, hit, precision, mrr, map, rrsum, coverage, gini/);
    expect(msg('ndcg@15')).toMatch(/k = 15 .*not evaluated.*evaluated ks: 5, 10, 20/);
    expect(msg('ndcg@0')).toMatch(/not evaluated/);
    expect(msg('ndcg')).toMatch(/expected <metric>@<k>/);
    expect(msg('ndcg@')).toMatch(/expected <metric>@<k>/);
    expect(msg('ndcg@1.5')).toMatch(/expected <metric>@<k>/);
    for (const s of ['hr@10', 'ndcg@15', 'ndcg', '']) expect(msg(s)).not.toMatch(/\n/);
  });
});
