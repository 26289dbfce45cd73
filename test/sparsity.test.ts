/**
 * Metrics by user activity (src/eval/sparsity.ts): the bucket bounds, every evaluated user in
 * exactly one bucket, bucket means that average back to the overall metric when weighted by the
 * bucket sizes, and the field in the trainer's result and in `train --json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { summary } from '../src/cli/train.js';
import { resolveConfig } from '../src/config/load.js';
import { csrFromPairs } from '../src/data/csr.js';
import { assemble } from '../src/data/dataset.js';
import { activityBuckets, bucketLabel, evaluateFullRanking, flattenMetrics, SparsityAccumulator } from '../src/eval/index.js';
import { getKernels } from '../src/kernels/index.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'irllrec-sparsity-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A CSR whose row u has counts[u] entries (items 0..counts[u]-1). */
function rowsWith(counts: number[], cols: number) {
  const r: number[] = [];
  const c: number[] = [];
  counts.forEach((n, u) => { for (let i = 0; i < n; i++) { r.push(u); c.push(i % cols); } });
  return csrFromPairs(counts.length, cols, Int32Array.from(r), Int32Array.from(c));
}

describe('activityBuckets', () => {
  it('distinct counts: quintiles of two users each, bounds in order', () => {
    const train = rowsWith([5, 1, 9, 3, 7, 2, 10, 4, 8, 6], 20);
    const gt = rowsWith(new Array(10).fill(1), 20);
    const b = activityBuckets(train, gt, 10);
    expect(b.buckets).toEqual([
      { bucket: 1, min: 1, max: 2, users: 2 }, { bucket: 2, min: 3, max: 4, users: 2 }, { bucket: 3, min: 5, max: 6, users: 2 },
      { bucket: 4, min: 7, max: 8, users: 2 }, { bucket: 5, min: 9, max: 10, users: 2 },
    ]);
    expect(Array.from(b.of)).toEqual([2, 0, 4, 1, 3, 0, 4, 1, 3, 2]);
    expect(bucketLabel(b.buckets[0]!)).toBe('Q1 (1-2 interactions, 2 users)');
  });

  it('ties share a bucket (mid-rank quantile), empty buckets are dropped and the rest renumbered; non-evaluated users are in none', () => {
    // counts 1,1,1,1 | 2,2 | 3,4 | 5,6 (mid-ranks 0.2, 0.5, 0.65/0.75, 0.85/0.95 of n), plus two users without test items
    const counts = [1, 1, 1, 1, 2, 2, 3, 4, 5, 6, 1, 9];
    const train = rowsWith(counts, 20);
    const gt = rowsWith([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], 20);
    const b = activityBuckets(train, gt, counts.length);
    expect(b.buckets).toEqual([
      { bucket: 1, min: 1, max: 1, users: 4 }, { bucket: 2, min: 2, max: 2, users: 2 },
      { bucket: 3, min: 3, max: 4, users: 2 }, { bucket: 4, min: 5, max: 6, users: 2 },
    ]);
    expect(b.of[10]).toBe(-1);
    expect(b.of[11]).toBe(-1);
    // every bucket is a contiguous count range and they do not overlap
    for (let i = 1; i < b.buckets.length; i++) expect(b.buckets[i]!.min).toBeGreaterThan(b.buckets[i - 1]!.max);
  });

  it('one count for everybody: a single bucket', () => {
    const b = activityBuckets(rowsWith([3, 3, 3], 5), rowsWith([1, 1, 1], 5), 3);
    expect(b.buckets).toEqual([{ bucket: 1, min: 3, max: 3, users: 3 }]);
  });
});

describe('SparsityAccumulator on a full ranking', () => {
  it('each evaluated user in exactly one bucket; weighted bucket means give back the overall metrics', () => {
    const rng = new Rng(7);
    const U = 300;
    const I = 80;
    const tr: [number[], number[]] = [[], []];
    const te: [number[], number[]] = [[], []];
    for (let u = 0; u < U; u++) {
      const n = 1 + Math.floor(rng.float() ** 2 * 40); // skewed activity
      const items = new Set<number>();
      while (items.size < n + 2) items.add(Math.floor(rng.float() * I));
      const list = [...items];
      list.slice(0, n).forEach((i) => { tr[0].push(u); tr[1].push(i); });
      // some users have no test item
      if (u % 7) list.slice(n).forEach((i) => { te[0].push(u); te[1].push(i); });
    }
    const train = csrFromPairs(U, I, Int32Array.from(tr[0]), Int32Array.from(tr[1]));
    const test = csrFromPairs(U, I, Int32Array.from(te[0]), Int32Array.from(te[1]));
    const dim = 8;
    const userEmb = Float32Array.from({ length: U * dim }, () => rng.float() - 0.5);
    const itemEmb = Float32Array.from({ length: I * dim }, () => rng.float() - 0.5);
    const ks = [5, 20];
    const acc = new SparsityAccumulator(train, test, U, ks);
    const seen = new Map<number, number>();
    const overall = evaluateFullRanking({
      kernels: getKernels(), userEmb, itemEmb, dim, numUsers: U, numItems: I, trainMask: train, groundTruth: test, ks, batchSize: 37,
      onUser: (u, _t, v) => { seen.set(u, (seen.get(u) ?? 0) + 1); acc.add(u, v); },
    });
    const r = acc.result();
    expect(r.buckets.length).toBe(5);
    expect(r.users).toBe(overall.users);
    expect(r.buckets.reduce((a, b) => a + b.users, 0)).toBe(overall.users);
    // each evaluated user counted once, and in the bucket of its count
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    const counts = (u: number) => train.indptr[u + 1]! - train.indptr[u]!;
    for (const u of seen.keys()) {
      const inB = r.buckets.filter((b) => counts(u) >= b.min && counts(u) <= b.max);
      expect(inB.length).toBe(1);
    }
    // sizes near n / 5
    for (const b of r.buckets) expect(Math.abs(b.users - overall.users / 5)).toBeLessThan(overall.users / 5);
    const flat = flattenMetrics(overall);
    for (const key of ['recall@5', 'recall@20', 'ndcg@5', 'ndcg@20']) {
      const weighted = r.buckets.reduce((a, b) => a + b.users * b.metrics[key]!, 0) / r.users;
      expect(weighted).toBeCloseTo(flat[key]!, 12);
    }
    // the least active users are a different population: their bucket mean is not the overall one
    expect(r.buckets[0]!.metrics['recall@20']).not.toBe(flat['recall@20']);
    expect(() => acc.add(0, { recall: [0, 0], ndcg: [0, 0], hit: [0, 0], precision: [0, 0], mrr: [0, 0], map: [0, 0], rrsum: [0, 0] })).toThrow(/no item in the evaluated split/);
  });
});

describe('the trainer and train --json', () => {
  it('reports the test metrics by activity bucket from the same ranking pass', () => {
    const parts = [0, 1, 2].map(() => ({ user: [] as number[], item: [] as number[] }));
    for (let u = 0; u < 80; u++) {
      const n = 3 + (u * 7) % 15;
      for (let k = 0; k < n + 2; k++) {
        const s = k < n ? 0 : k === n ? 1 : 2;
        parts[s]!.user.push(u);
        parts[s]!.item.push((u * 5 + k * 11) % 50);
      }
    }
    const dir = join(tmp, 'act');
    const ds = assemble(dir, 'memory', 80, 50, parts.map((p) => ({ user: Int32Array.from(p.user), item: Int32Array.from(p.item) })), ['a', 'b', 'c']);
    const { config } = resolveConfig({ model: 'lightgcn', stats: { users: 80, items: 50, train: ds.trainPairs.user.length }, sets: ['train.batch_size=64'] });
    const r = train({ config, dataset: ds, epochs: 1 });
    const sp = r.testSparsity!;
    expect(sp.by).toBe('training interactions per user');
    expect(sp.buckets.length).toBe(5);
    for (const k of config.test.k) {
      for (const m of ['recall', 'ndcg']) {
        const key = `${m}@${k}`;
        const weighted = sp.buckets.reduce((a, b) => a + b.users * b.metrics[key]!, 0) / sp.users;
        expect(weighted).toBeCloseTo(r.test[key]!, 12);
      }
    }
    const s = summary(config, ds, r, true) as { sparsity: { split: string; buckets: unknown[] }; test: Record<string, unknown> };
    expect(s.sparsity.split).toBe('test');
    expect(s.sparsity.buckets).toEqual(sp.buckets);
    // the test metrics stay a flat object of numbers
    expect(Object.values(s.test).every((v) => typeof v === 'number')).toBe(true);
  });
});

describe('the HTML report', () => {
  it('shows recall and NDCG by activity bucket, a table and a chart per dataset; runs without the field get a note', async () => {
    const { renderReport } = await import('../src/report/report.js');
    const sparsity = (f: number) => ({
      split: 'test', by: 'training interactions per user', quantiles: 5, users: 30,
      buckets: [1, 2, 3].map((b) => ({ bucket: b, min: b * 3 - 2, max: b * 3, users: 10, metrics: { 'recall@10': 0.1 * b * f, 'ndcg@10': 0.05 * b * f, 'recall@20': 0.2 * b * f, 'ndcg@20': 0.07 * b * f } })),
    });
    const run = (label: string, sp: unknown) => ({
      label, rec: null,
      info: {
        dir: `/x/${label}`, model: 'lightgcn', meta: { data: '/d/ml', textDir: null, epochs: 1 }, history: null,
        config: { test: { k: [10, 20] } },
        summary: { dataset: 'ml', test: { 'recall@20': 0.3, 'ndcg@20': 0.1 }, ...(sp ? { sparsity: sp } : {}) },
      },
    });
    const html = renderReport([run('a', sparsity(1)), run('b', sparsity(1.5))] as never);
    expect(html).toContain('<h2>Test metrics by user activity</h2>');
    expect(html).toContain('Q1: 1–3 (10 users)');
    expect(html).toContain('Q3: 7–9 (10 users)');
    expect(html).toContain('ml: test recall@20 by user activity');
    expect(html).toContain('ml: test ndcg@20 by user activity');
    // run b's Q3 recall@20 = 0.2 * 3 * 1.5, the best of its column
    expect(html).toMatch(/<td class="num best">0\.9000<\/td>/);
    expect(html).toContain('a: bucket Q2, 0.4');
    const old = renderReport([run('a', null)] as never);
    expect(old).toContain('No run has test metrics by user activity');
  });
});
