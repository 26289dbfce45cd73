import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  BASELINES, BaselineLimitError, Ease, ItemKnn, MostPop, NotPositiveDefiniteError,
  choleskyInPlace, createBaseline, easeWeightsDirect, easeWeightsWoodbury, evaluateBaseline,
  gramLower, spdInverseInPlace,
} from '../src/baselines/index.js';
import { baselineCommand, parseEaseLambda, parseKList, parseModels, registerBaselineCommand } from '../src/cli/baseline-command.js';
import { UsageError } from '../src/cli/errors.js';
import { REPORT_METRICS } from '../src/eval/metrics.js';
import { csrFromPairs, type CsrPattern } from '../src/data/csr.js';
import { assemble, type Dataset } from '../src/data/dataset.js';
import { getKernels, jsKernels } from '../src/kernels/index.js';
import type { Kernels } from '../src/kernels/types.js';
import { mulberry32 } from './helpers/seeded-random.mjs';

// ---------------------------------------------------------------- helpers

type Pairs = [number, number][];

function toPairs(p: Pairs): { user: Int32Array; item: Int32Array } {
  return { user: Int32Array.from(p.map((x) => x[0])), item: Int32Array.from(p.map((x) => x[1])) };
}

function dataset(users: number, items: number, train: Pairs, valid: Pairs, test: Pairs): Dataset {
  return assemble('/mem/tiny', 'memory', users, items, [toPairs(train), toPairs(valid), toPairs(test)], ['train', 'valid', 'test']);
}

/** Random binary users x items pattern with a skewed item popularity; every user has >= 1 item. */
function randomPattern(users: number, items: number, seed: number, maxPerUser = 12): CsrPattern {
  const r = mulberry32(seed);
  const u: number[] = [];
  const it: number[] = [];
  for (let a = 0; a < users; a++) {
    const d = 1 + Math.floor(r() * maxPerUser);
    for (let t = 0; t < d; t++) {
      u.push(a);
      it.push(Math.floor(r() ** 1.5 * items));
    }
  }
  return csrFromPairs(users, items, Int32Array.from(u), Int32Array.from(it));
}

function dense(X: CsrPattern): number[][] {
  const out = Array.from({ length: X.rows }, () => new Array<number>(X.cols).fill(0));
  for (let r = 0; r < X.rows; r++) for (let p = X.indptr[r]!; p < X.indptr[r + 1]!; p++) out[r]![X.indices[p]!] = 1;
  return out;
}

/** float64 reference inverse (Gauss-Jordan with partial pivoting), independent of src/. */
function refInverse(A: number[][]): number[][] {
  const n = A.length;
  const M = A.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    const d = M[c]![c]!;
    for (let j = 0; j < 2 * n; j++) M[c]![j]! /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * n; j++) M[r]![j]! -= f * M[c]![j]!;
    }
  }
  return M.map((row) => row.slice(n));
}

/** A random SPD matrix G = A^T A + lambda I (n x n, float64 rows). */
function randomSpd(n: number, seed: number, lambda: number): number[][] {
  const r = mulberry32(seed);
  const m = n + 7;
  const A = Array.from({ length: m }, () => Array.from({ length: n }, () => r() - 0.5));
  const G = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += A[k]![i]! * A[k]![j]!;
    G[i]![j] = s + (i === j ? lambda : 0);
  }
  return G;
}

function toF32(A: number[][]): Float32Array {
  const n = A.length;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = A[i]![j]!;
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Reference EASE weights in float64: B = -P / diag(P), diag 0. */
function refEase(X: CsrPattern, lambda: number): number[][] {
  const D = dense(X);
  const n = X.cols;
  const G = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (const row of D) s += row[i]! * row[j]!;
    return s + (i === j ? lambda : 0);
  }));
  const P = refInverse(G);
  return P.map((row, i) => row.map((v, j) => (i === j ? 0 : -v / P[j]![j]!)));
}

const kernelSets: [string, Kernels][] = [['default', getKernels()], ['js', jsKernels]];

// ---------------------------------------------------------------- linear algebra

describe('blocked Cholesky inverse', () => {
  for (const [kname, kernels] of kernelSets) {
    it(`matches a float64 reference (n not a multiple of the block; ${kname} kernels)`, () => {
      for (const [n, block] of [[150, 32], [97, 256], [61, 7]] as const) {
        const G = randomSpd(n, n, 0.5);
        const P = toF32(G);
        spdInverseInPlace(n, P, { kernels, block });
        const R = refInverse(G);
        let err = 0;
        let scale = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
          err = Math.max(err, Math.abs(P[i * n + j]! - R[i]![j]!));
          scale = Math.max(scale, Math.abs(R[i]![j]!));
          expect(P[i * n + j]).toBe(P[j * n + i]); // exactly symmetric
        }
        expect(err / scale).toBeLessThan(1e-4);
        // |P G - I| in float64
        let res = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += P[i * n + k]! * G[k]![j]!;
          res = Math.max(res, Math.abs(s - (i === j ? 1 : 0)));
        }
        expect(res).toBeLessThan(1e-4);
      }
    });
  }

  it('the factor reproduces A = L L^T and refuses a matrix that is not positive definite', () => {
    const n = 45;
    const G = randomSpd(n, 3, 0.1);
    const L = toF32(G);
    choleskyInPlace(n, L, { block: 16 });
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      if (j > i) expect(L[i * n + j]).toBe(0);
      let s = 0;
      for (let k = 0; k <= Math.min(i, j); k++) s += L[i * n + k]! * L[j * n + k]!;
      expect(Math.abs(s - G[i]![j]!)).toBeLessThan(1e-4 * (1 + Math.abs(G[i]![j]!)));
    }
    const bad = toF32(G);
    bad[30 * n + 30] = -5;
    expect(() => choleskyInPlace(n, bad, { block: 16 })).toThrow(NotPositiveDefiniteError);
  });
});

// ---------------------------------------------------------------- EASE

describe('EASE', () => {
  it('direct weights match a dense float64 solve, with a zero diagonal', () => {
    const X = randomPattern(90, 60, 11);
    const n = 60;
    for (const lambda of [2, 50]) {
      const B = new Float32Array(n * n);
      easeWeightsDirect(X, 90, n, lambda, B, { block: 16 });
      const R = refEase(X, lambda);
      let err = 0;
      for (let i = 0; i < n; i++) {
        expect(B[i * n + i]).toBe(0);
        for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(B[i * n + j]! - R[i]![j]!));
      }
      expect(err).toBeLessThan(1e-4 * Math.max(1, maxAbs(R.flat())));
    }
  });

  it('Woodbury (users < items) gives the same B as the direct inverse', () => {
    const U = 40;
    const n = 70;
    const X = randomPattern(U, n, 5, 20);
    for (const lambda of [1, 30]) {
      const Bd = new Float32Array(n * n);
      const Bw = new Float32Array(n * n).fill(NaN);
      easeWeightsDirect(X, U, n, lambda, Bd, { block: 32 });
      easeWeightsWoodbury(X, U, n, lambda, Bw, { block: 16 });
      let err = 0;
      for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(Bd[i]! - Bw[i]!));
      expect(err).toBeLessThan(1e-4 * Math.max(1, maxAbs(Bd)));
      const R = refEase(X, lambda);
      expect(Math.abs(Bw[3 * n + 5]! - R[3]![5]!)).toBeLessThan(1e-4);
    }
  });

  it('gramLower writes the lower triangle of X^T X + lambda I', () => {
    const X = randomPattern(20, 9, 2);
    const G = new Float32Array(81).fill(7);
    gramLower(X, 20, 9, 3, G);
    const D = dense(X);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) {
      const want = j > i ? 0 : D.reduce((s, row) => s + row[i]! * row[j]!, 0) + (i === j ? 3 : 0);
      expect(G[i * 9 + j]).toBe(want);
    }
  });

  it('scores X_u B, picks lambda on the validation split only, and refuses too many items', () => {
    const r = mulberry32(9);
    const train: Pairs = [];
    const valid: Pairs = [];
    const test: Pairs = [];
    for (let u = 0; u < 50; u++) for (let i = 0; i < 30; i++) {
      const x = r();
      if (x < 0.15) train.push([u, i]);
      else if (x < 0.2) valid.push([u, i]);
      else if (x < 0.25) test.push([u, i]);
    }
    const ds = dataset(50, 30, train, valid, test);
    const e = new Ease({ lambdaGrid: [1, 10, 100], patience: 5, block: 8 });
    const lines: string[] = [];
    e.fit(ds, (s) => lines.push(s));
    expect(e.search.map((s) => s.lambda)).toEqual([1, 10, 100]);
    const best = e.search.reduce((a, b) => (b.recall > a.recall ? b : a));
    expect(e.lambda).toBe(best.lambda);
    expect(e.params().lambda).toBe(best.lambda);
    expect(lines.at(-1)).toContain(`chose lambda ${best.lambda}`);
    // B is the one of the chosen lambda; scores are X_u B
    const B = new Float32Array(900);
    easeWeightsDirect(ds.train, 50, 30, e.lambda, B, { block: 8 });
    const users = Int32Array.from([4, 0, 17]);
    const out = new Float32Array(3 * 30 + 5).fill(-3);
    e.scoreBlock(users, out);
    for (let rr = 0; rr < 3; rr++) for (let i = 0; i < 30; i++) {
      let s = 0;
      for (let p = ds.train.indptr[users[rr]!]!; p < ds.train.indptr[users[rr]! + 1]!; p++) s += B[ds.train.indices[p]! * 30 + i]!;
      expect(out[rr * 30 + i]).toBeCloseTo(s, 4);
    }
    expect(out[90]).toBe(-3); // extra entries untouched
    // the test split is never read: a different test split gives the same search
    const ds2 = dataset(50, 30, train, valid, [[0, 0]]);
    const e2 = new Ease({ lambdaGrid: [1, 10, 100], patience: 5, block: 8 });
    e2.fit(ds2);
    expect(e2.search).toEqual(e.search.map((s, k) => ({ ...s, seconds: e2.search[k]!.seconds })));
    // early stop: patience 1 stops at the first candidate that does not improve
    const e3 = new Ease({ lambdaGrid: [100, 10, 1], patience: 1, block: 8 });
    e3.fit(ds);
    const rec = e.search.map((s) => s.recall);
    const stop = rec[1]! > rec[0]! ? 3 : 2; // 100 is tried only when 10 improved on 1
    expect(e3.search.map((s) => s.lambda)).toEqual([1, 10, 100].slice(0, stop));
    // the item limit
    expect(() => new Ease({ maxItems: 29 }).check(ds)).toThrow(BaselineLimitError);
    expect(() => new Ease({ maxItems: 29 }).fit(ds)).toThrow(/use itemknn/);
  });
});

// ---------------------------------------------------------------- ItemKNN

describe('ItemKNN', () => {
  it('matches a brute-force dense computation (top-k per target item, shrinkage)', () => {
    const U = 25;
    const n = 14;
    const X = randomPattern(U, n, 21, 6);
    const D = dense(X);
    const pop = Array.from({ length: n }, (_, i) => D.reduce((s, row) => s + row[i]!, 0));
    for (const [k, shrink] of [[3, 0], [5, 2.5], [50, 1]] as const) {
      // W[j][i] = sim(j, i) when j is among the k most similar items of target i
      const W = Array.from({ length: n }, () => new Array<number>(n).fill(0));
      for (let i = 0; i < n; i++) {
        const cand: { j: number; s: number }[] = [];
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          const c = D.reduce((s, row) => s + row[i]! * row[j]!, 0);
          if (c > 0) cand.push({ j, s: c / (Math.sqrt(pop[i]! * pop[j]!) + shrink) });
        }
        cand.sort((a, b) => b.s - a.s || a.j - b.j);
        for (const { j, s } of cand.slice(0, k)) W[j]![i] = s;
      }
      const ds = dataset(U, n, Array.from(X.indices, (_, p) => [rowOf(X, p), X.indices[p]!] as [number, number]), [[0, 0]], [[0, 0]]);
      const b = new ItemKnn({ neighbours: k, shrink });
      b.fit(ds);
      const users = Int32Array.from({ length: U }, (_, u) => u);
      const out = new Float32Array(U * n);
      b.scoreBlock(users, out);
      for (let u = 0; u < U; u++) for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += D[u]![j]! * W[j]![i]!;
        expect(out[u * n + i]).toBeCloseTo(s, 5);
      }
      expect(b.params()).toEqual({ neighbours: k, shrink });
    }
  });

  it('a hand-made example', () => {
    // items 0 and 1 always together, item 2 with 1 once, item 3 alone
    const ds = dataset(3, 4, [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 3]], [[2, 0]], [[2, 1]]);
    const b = new ItemKnn({ neighbours: 1, shrink: 0 });
    b.fit(ds);
    const out = new Float32Array(3 * 4);
    b.scoreBlock(Int32Array.from([0, 1, 2]), out);
    // neighbours: N(0) = {1} (1.0), N(1) = {0} (1.0 > 1/sqrt(2)), N(2) = {0} (tie with 1 at 1/sqrt(2): lower id), N(3) = {}
    const s = 1 / Math.sqrt(2);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 1, Math.fround(s), 0]);
    expect(Array.from(out.subarray(4, 8))).toEqual([1, 1, Math.fround(s), 0]);
    expect(Array.from(out.subarray(8, 12))).toEqual([0, 0, 0, 0]);
  });
});

function rowOf(X: CsrPattern, p: number): number {
  let r = 0;
  while (X.indptr[r + 1]! <= p) r++;
  return r;
}

// ---------------------------------------------------------------- MostPop and evaluation

describe('MostPop and evaluateBaseline', () => {
  // popularity: item 2: 3, item 0: 2, item 4: 2, item 1: 1, item 3: 0, item 5: 0
  const train: Pairs = [[0, 2], [1, 2], [2, 2], [0, 0], [3, 0], [1, 4], [2, 4], [3, 1]];
  const test: Pairs = [[0, 4], [0, 3], [1, 0], [2, 5], [3, 2]];
  const valid: Pairs = [[1, 1], [2, 0]];
  const ds = dataset(4, 6, train, valid, test);

  it('orders items by training popularity, the same list for every user', () => {
    const b = createBaseline('mostpop');
    expect(b).toBeInstanceOf(MostPop);
    b.fit(ds);
    const out = new Float32Array(2 * 6);
    b.scoreBlock(Int32Array.from([3, 1]), out);
    expect(Array.from(out)).toEqual([2, 1, 3, 0, 2, 0, 2, 1, 3, 0, 2, 0]);
  });

  it('recall and ndcg by hand (training items masked, ties by lower item id)', () => {
    const b = createBaseline('mostpop');
    b.fit(ds);
    const m = evaluateBaseline(b, ds, 'test', [1, 2]);
    // global order: 2, 0, 4, 1, 3, 5. After masking each user's training items:
    // u0 (train 2,0): 4, 1, ... gt {4, 3}: top1 hit, top2 {4,1} 1 hit -> recall@1 1/2, @2 1/2
    // u1 (train 2,4): 0, 1, ... gt {0}: recall 1, 1
    // u2 (train 2,4): 0, 1, ... gt {5}: 0, 0
    // u3 (train 0,1): 2, 4, ... gt {2}: 1, 1
    expect(m['recall@1']).toBeCloseTo((0.5 + 1 + 0 + 1) / 4, 12);
    expect(m['recall@2']).toBeCloseTo((0.5 + 1 + 0 + 1) / 4, 12);
    // ndcg@2: u0 = 1 / (1 + 1/log2(3)), u1 = 1, u2 = 0, u3 = 1
    expect(m['ndcg@2']).toBeCloseTo((1 / (1 + 1 / Math.log2(3)) + 1 + 0 + 1) / 4, 12);
    expect(Object.keys(m)).toEqual(['recall@1', 'recall@2', 'ndcg@1', 'ndcg@2']);
    // valid: u1 (train 2,4) -> 0, 1: gt {1} hit at rank 2; u2 -> 0: gt {0} hit at rank 1
    const v = evaluateBaseline(b, ds, 'valid', [1, 2], ['recall', 'precision']);
    expect(v['recall@1']).toBeCloseTo(0.5, 12);
    expect(v['recall@2']).toBeCloseTo(1, 12);
    expect(v['precision@2']).toBeCloseTo(0.5, 12);
    // the block size does not matter
    expect(evaluateBaseline(b, ds, 'test', [1, 2], undefined, { batchSize: 1 })).toEqual(m);
  });

  it('createBaseline knows every name and refuses others', () => {
    expect([...BASELINES]).toEqual(['mostpop', 'itemknn', 'ease']);
    for (const name of BASELINES) expect(createBaseline(name).name).toBe(name);
    expect(() => createBaseline('bpr')).toThrow(/unknown baseline 'bpr'/);
  });
});

// ---------------------------------------------------------------- CLI

describe('irllrec baselines', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'irllrec-baselines-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const r = mulberry32(4);
  const lines: Record<'train' | 'valid' | 'test', string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < 40; u++) {
    lines.train.push(`${u}\t${u % 25}`);
    for (let i = 0; i < 25; i++) {
      const x = r();
      if (x < 0.2) lines.train.push(`${u}\t${i}`);
      else if (x < 0.25) lines.valid.push(`${u}\t${i}`);
      else if (x < 0.3) lines.test.push(`${u}\t${i}`);
    }
  }
  for (const s of ['train', 'valid', 'test'] as const) writeFileSync(join(tmp, `${s}.tsv`), `user\titem\n${lines[s].join('\n')}\n`);

  async function capture(fn: () => Promise<void>): Promise<string> {
    let out = '';
    const w = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await fn();
    } finally {
      w.mockRestore();
      e.mockRestore();
    }
    return out;
  }

  it('prints a table, or one JSON object with valid/test metrics per model', async () => {
    const program = new Command();
    program.exitOverride();
    registerBaselineCommand(program);
    const table = await capture(() => program.parseAsync(['node', 'irllrec', 'baselines', '--data', tmp, '--k', '5,10', '--ease-lambda', '3,30']).then(() => undefined));
    expect(table).toContain('| model | params | fit s | test recall@5 | test recall@10 |');
    for (const m of BASELINES) expect(table).toContain(`| ${m} |`);
    const json = await capture(() => baselineCommand({ data: tmp, models: 'itemknn,mostpop', k: '3', json: true, shrink: '0' }));
    const o = JSON.parse(json) as { ks: number[]; models: { model: string; params: Record<string, number>; fit_seconds: number; valid: Record<string, number>; test: Record<string, number> }[] };
    expect(o.ks).toEqual([3]);
    expect(o.models.map((m) => m.model)).toEqual(['itemknn', 'mostpop']);
    expect(o.models[0]!.params).toEqual({ neighbours: 100, shrink: 0 });
    for (const m of o.models) {
      // every metric the report shows, as for the graph models
      expect(Object.keys(m.test)).toEqual(REPORT_METRICS.map((x) => `${x}@3`));
      expect(m.valid['recall@3']).toBeGreaterThanOrEqual(0);
      expect(m.test['ndcg@3']).toBeLessThanOrEqual(1);
      expect(m.fit_seconds).toBeGreaterThanOrEqual(0);
    }
  });

  it('user errors are UsageErrors', async () => {
    expect(() => parseModels('mostpop,bpr')).toThrow(UsageError);
    expect(() => parseModels('ease,ease')).toThrow(/twice/);
    expect(() => parseKList('5,x')).toThrow(UsageError);
    expect(() => parseKList('0')).toThrow(UsageError);
    expect(() => parseKList('5,5')).toThrow(/twice/);
    expect(parseKList(' 5, 20')).toEqual([5, 20]);
    expect(parseEaseLambda('auto')).toEqual({ lambda: 'auto' });
    expect(parseEaseLambda('500')).toEqual({ lambda: 500 });
    expect(parseEaseLambda('10,100')).toEqual({ lambda: 'auto', lambdaGrid: [10, 100] });
    expect(() => parseEaseLambda('-1')).toThrow(UsageError);
    await expect(baselineCommand({ models: 'mostpop' })).rejects.toThrow(/--data DIR is required/);
    await expect(baselineCommand({ data: tmp, models: 'knn' })).rejects.toThrow(UsageError);
    await expect(baselineCommand({ data: tmp, k: '5,100' })).rejects.toThrow(/at most the number of items/);
    await expect(capture(() => baselineCommand({ data: tmp, models: 'mostpop,ease', easeMaxItems: '10' }))).rejects.toThrow(UsageError);
  });
});
