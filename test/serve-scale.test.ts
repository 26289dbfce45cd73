/**
 * Serving at catalogue scale (docs/performance.md, "Serving a million-item catalogue"): what changed
 * for a million items must give exactly the results of before.
 *
 * - the ranker's score block is bounded (rows per block shrink with the number of items): results
 *   do not depend on the block;
 * - explain's rank counts items above the score with one float32 matrix-vector product plus an exact
 *   recount near the score: the same count as the loop over every item;
 * - runs open for serving without the items' text vectors, the users' float16 text kept as float16:
 *   recommendations, explanations and cold start are those of a run opened with every table as float32;
 * - the warm users' tower outputs are computed by blocks of users: the same as one pass;
 * - the CLI's repeatable --user is collected in place (10,000 users are not quadratic).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthCommand } from '../src/cli/synth-command.js';
import { trainCommand } from '../src/cli/train.js';
import { HalfRows } from '../src/data/text-rows.js';
import { getKernels } from '../src/kernels/index.js';
import { noGrad, Tensor } from '../src/tensor/tensor.js';
import { openRun } from '../src/run/open.js';
import { forTextBlocks } from '../src/serve/cold-start.js';
import { ServeCore } from '../src/serve/core.js';
import { blockRows, MAX_BLOCK_SCORES, Ranker } from '../src/serve/ranker.js';
import { Recommender } from '../src/serve/recommender.js';
import { dot, topIndices } from '../src/serve/intents.js';
import { IdMap } from '../src/run/ids.js';

function rand(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

describe('ranker blocks', () => {
  it('rows per block fit MAX_BLOCK_SCORES (a million items: 64 rows), never fewer than one', () => {
    expect(blockRows(256, 1_000_000)).toBe(67);
    expect(blockRows(256, 999_548)).toBe(67);
    expect(blockRows(256, 40_000)).toBe(256);
    expect(blockRows(256, 1e9)).toBe(1);
    expect(blockRows(256, 1_048_576) * 1_048_576).toBeLessThanOrEqual(MAX_BLOCK_SCORES);
  });

  it('results do not depend on the block (1-row blocks = 256-row blocks), with masks and candidates', () => {
    const kernels = getKernels();
    const n = 3000;
    const d = 24;
    const rows = 300;
    const r = rand(7);
    const items = Float32Array.from({ length: n * d }, () => r() - 0.5);
    // ties: some items duplicated
    for (let j = 0; j < 50; j++) items.copyWithin((j * 7 + 1000) * d, j * d, (j + 1) * d);
    const Q = Float32Array.from({ length: rows * d }, () => r() - 0.5);
    const cand = Int32Array.from({ length: 700 }, (_, j) => (j * 13) % n);
    const mask = (row: number, set: (i: number) => void) => {
      for (let j = 0; j < 5; j++) set((row * 31 + j * 17) % n);
    };
    for (const c of [null, cand]) {
      const big = new Ranker(kernels, n, d, 256).rank(Q, rows, items, 20, c, mask);
      const one = new Ranker(kernels, n, d, 256, n).rank(Q, rows, items, 20, c, mask); // one row per block
      const seven = new Ranker(kernels, n, d, 256, 7 * n).rank(Q, rows, items, 20, c, mask);
      expect(one.length).toBe(rows);
      for (let q = 0; q < rows; q++) {
        expect([...one[q]!.items]).toEqual([...big[q]!.items]);
        expect([...one[q]!.scores]).toEqual([...big[q]!.scores]);
        expect([...seven[q]!.items]).toEqual([...big[q]!.items]);
        expect([...seven[q]!.scores]).toEqual([...big[q]!.scores]);
      }
    }
  });

  it('a candidate list leaves nothing behind for the next call', () => {
    const kernels = getKernels();
    const n = 100;
    const d = 4;
    const items = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i));
    const q = Float32Array.of(1, 0.5, -0.2, 0.1);
    const ranker = new Ranker(kernels, n, d, 256);
    const none = () => undefined;
    const all = ranker.rank(q, 1, items, 5, null, none);
    ranker.rank(q, 1, items, 3, Int32Array.of(5, 9, 11), (_r, set) => set(9));
    expect(ranker.rank(q, 1, items, 5, null, none)).toEqual(all);
    const sub = ranker.rank(q, 1, items, 5, Int32Array.of(2, 3), (_r, set) => set(3));
    expect([...sub[0]!.items]).toEqual([2]);
  });
});

describe("explain's rank", () => {
  it('countAbove equals the loop over every item (ties, skipped items, the item itself, scaled rows)', () => {
    const r = rand(11);
    for (const [n, d] of [[5000, 64], [777, 3], [2000, 17]] as const) {
      const U = 20;
      const itemEmb = Float32Array.from({ length: n * d }, () => r() - 0.5);
      // exact ties and near-ties: copies and copies scaled by (1 + 2^-23)
      for (let j = 0; j < 40; j++) {
        itemEmb.copyWithin((n - 1 - j) * d, j * d, (j + 1) * d);
        for (let c = 0; c < d; c++) itemEmb[(n - 100 - j) * d + c] = itemEmb[j * d + c]! * (1 + 2 ** -23);
      }
      // rows of very different norms
      for (let j = 200; j < 260; j++) for (let c = 0; c < d; c++) itemEmb[j * d + c]! *= 1000;
      const userEmb = Float32Array.from({ length: U * d }, () => r() - 0.5);
      const core = new ServeCore({ model: 'm', numUsers: U, numItems: n, dim: d, userEmb, itemEmb, users: IdMap.identity(U), items: IdMap.identity(n) });
      for (let u = 0; u < U; u++) {
        for (const i of [0, 1, 5, n - 1, n - 100, 230, Math.floor(r() * n)]) {
          const score = dot(userEmb, u * d, itemEmb, i * d, d);
          const skip = new Set<number>([i, 2, 3, (u * 97) % n, n - 2]);
          expect(core.countAbove(u, score, i, skip)).toBe(core.countAboveExact(u, score, i, skip));
          expect(core.countAbove(u, score, i, new Set())).toBe(core.countAboveExact(u, score, i, new Set()));
        }
      }
    }
  });
});

describe("intent labels' top items", () => {
  it('topDots equals topIndices over the float32-rounded dot of every item (ties by lower index)', () => {
    const r = rand(5);
    for (const [n, d] of [[6000, 32], [500, 5]] as const) {
      const itemEmb = Float32Array.from({ length: n * d }, () => r() - 0.5);
      for (let j = 0; j < 60; j++) {
        itemEmb.copyWithin((n - 1 - j) * d, j * d, (j + 1) * d);
        for (let c = 0; c < d; c++) itemEmb[(n - 200 - j) * d + c] = itemEmb[j * d + c]! * (1 - 2 ** -24);
      }
      // a cluster of near-copies of item 0 (components off by an ulp): their dots with item 0 differ
      // by about the float32 product's own error, so its order is not the exact order
      for (let j = 300; j < 450; j++) {
        for (let c = 0; c < d; c++) itemEmb[j * d + c] = itemEmb[c]! * (1 + (Math.floor(r() * 5) - 2) * 2 ** -23);
      }
      const core = new ServeCore({ model: 'm', numUsers: 1, numItems: n, dim: d, userEmb: new Float32Array(d), itemEmb });
      for (let t = 0; t < 12; t++) {
        // queries along some items (so that copies and near-copies are at the top)
        const q = t < 6 ? itemEmb.slice(t * d, (t + 1) * d) : Float32Array.from({ length: d }, () => r() - 0.5);
        for (const top of [1, 3, 10, 40]) {
          const want = new Float32Array(n);
          for (let j = 0; j < n; j++) want[j] = dot(itemEmb, j * d, q, 0, d);
          const idx = topIndices(want, 0, n, top);
          const got = core.topDots(q, top);
          expect(got.top).toEqual(idx);
          expect([...got.values]).toEqual(idx.map((j) => want[j]!));
        }
      }
    }
  });
});

describe('runs opened for serving', () => {
  let world: string;
  let run: string;
  const quiet = async (fn: () => Promise<void>) => {
    const w = process.stderr.write;
    const o = process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await fn();
    } finally {
      process.stderr.write = w;
      process.stdout.write = o;
    }
  };

  beforeAll(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'irllrec-serve-scale-'));
    world = join(tmp, 'world');
    run = join(tmp, 'run');
    await quiet(() => synthCommand({ out: world, users: '300', items: '400', interactions: '4000', intents: '4', profileDim: '24', intentDim: '32', dtype: 'float16', seed: '3', quiet: true }));
    await quiet(() => trainCommand({ data: world, model: 'lightgcn_int', out: run, epochs: '2', set: ['train.batch_size=512', 'model.intent_num=4'] }));
  }, 240_000);

  afterAll(() => undefined);

  it("reads only the users' text, float16 kept as float16; the model's tables are the same", () => {
    const full = openRun(run);
    const lean = openRun(run, { text: 'serving' });
    expect(Object.keys(full.text).sort()).toEqual(['itmInt', 'itmPrf', 'usrInt', 'usrPrf']);
    expect(Object.keys(lean.text)).toEqual([]);
    expect(Object.keys(lean.textRows).sort()).toEqual(['usrInt', 'usrPrf']);
    expect(lean.textRows.usrInt).toBeInstanceOf(HalfRows);
    const h = lean.textRows.usrInt as HalfRows;
    expect([h.rows, h.cols]).toEqual([full.text.usrInt!.rows, full.text.usrInt!.cols]);
    expect([...h.gather(Int32Array.from({ length: h.rows }, (_, i) => i))]).toEqual([...full.text.usrInt!.data]);
    const a = full.net.scoringEmbeddings();
    const b = lean.net.scoringEmbeddings();
    expect(Buffer.from(b.user.buffer, b.user.byteOffset, b.user.byteLength).equals(Buffer.from(a.user.buffer, a.user.byteOffset, a.user.byteLength))).toBe(true);
    expect(Buffer.from(b.item.buffer, b.item.byteOffset, b.item.byteLength).equals(Buffer.from(a.item.buffer, a.item.byteOffset, a.item.byteLength))).toBe(true);
  });

  it('recommend, explain, similar items and cold start give what a run with every table as float32 gives', async () => {
    const lean = await Recommender.open(run);
    const full = Recommender.fromRun(openRun(run));
    const users = Array.from({ length: lean.numUsers }, (_, u) => lean.users.key(u));
    expect(lean.recommend(users, { k: 20 })).toEqual(full.recommend(users, { k: 20 }));
    expect(lean.recommend(users, { k: 7, excludeSeen: 'all' })).toEqual(full.recommend(users, { k: 7, excludeSeen: 'all' }));
    for (let u = 0; u < lean.numUsers; u += 37) {
      const top = lean.recommend(users[u]!, { k: 3 }).items;
      for (const it of [...top, { item: lean.items.key(u % lean.numItems) }]) {
        const e = lean.explain(users[u]!, it.item);
        expect(e).toEqual(full.explain(users[u]!, it.item));
        // the rank is the one of the plain definition: 1 + unseen items scoring above
        const ui = lean.userIndex(users[u]!);
        const ii = lean.itemIndex(it.item);
        const seen = new Set(lean.seenIndices(users[u]!));
        const { user, item, dim } = lean.embeddings();
        const s = dot(user, ui * dim, item, ii * dim, dim);
        let rank = 1;
        for (let j = 0; j < lean.numItems; j++) if (j !== ii && !seen.has(j) && dot(user, ui * dim, item, j * dim, dim) > s) rank++;
        expect(e.rank).toBe(seen.has(ii) ? 0 : rank);
      }
    }
    const items = Array.from({ length: 30 }, (_, i) => lean.items.key(i * 3));
    expect(lean.similarItems(items, { k: 10 })).toEqual(full.similarItems(items, { k: 10 }));
    // cold start from text vectors (a user's own, perturbed), both strategies
    const t = openRun(run).text;
    const vec = (m: Tensor, row: number) => Array.from(m.data.subarray(row * m.cols, (row + 1) * m.cols), (x, c) => x + 0.01 * Math.sin(c));
    for (const strategy of ['neighbors', 'tower'] as const) {
      const input = { vectors: { profile: vec(t.usrPrf!, 5), intent: vec(t.usrInt!, 5) } };
      expect(await lean.coldStart(input, { k: 10, strategy })).toEqual(await full.coldStart(input, { k: 10, strategy }));
    }
  });

  it("intent labels: each prototype's items are topIndices of its column / of the dot with every item", async () => {
    const rec = await Recommender.open(run);
    const m = rec.intents!;
    const { item: E, dim: d } = rec.embeddings();
    for (const n of [1, 3, 5, 40]) {
      for (let k = 0; k < m.K; k++) {
        const col = Float32Array.from({ length: rec.numItems }, (_, i) => m.itemW[i * m.K + k]!);
        const want = topIndices(col, 0, rec.numItems, n).map((i) => rec.items.key(i));
        expect(rec.intentLabel('item', k, n).items.map((x) => x.item)).toEqual(want);
        const dots = Float32Array.from({ length: rec.numItems }, (_, i) => dot(E, i * d, m.userProto, k * d, d));
        const wantU = topIndices(dots, 0, rec.numItems, n).map((i) => rec.items.key(i));
        expect(rec.intentLabel('user', k, n).items.map((x) => x.item)).toEqual(wantU);
      }
    }
  });

  it("the text tower over blocks of users = one pass over every user (float16 rows decoded by block)", () => {
    const loaded = openRun(run);
    const lean = openRun(run, { text: 'serving' });
    const rec = Recommender.fromRun(loaded);
    const mlp = (rec as unknown as { core: ServeCore }).core.towers!.intent!;
    const whole = noGrad(() => mlp.forward(loaded.text.usrInt!).data);
    for (const block of [1, 7, 64, 10_000]) {
      const out = new Float32Array(whole.length);
      const w = whole.length / loaded.text.usrInt!.rows;
      forTextBlocks(lean.textRows.usrInt!, (s, n, b) => out.set(noGrad(() => mlp.forward(new Tensor(b, [n, b.length / n])).data), s * w), block);
      expect(Buffer.from(out.buffer).equals(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength))).toBe(true);
    }
  });

  it('irllrec recommend takes 10,000 --user flags (collected in place)', async () => {
    const { Command } = await import('commander');
    const { registerServeCommands } = await import('../src/cli/serve-commands.js');
    const p = new Command();
    p.exitOverride();
    registerServeCommands(p);
    let got: string[] = [];
    p.commands.find((c) => c.name() === 'recommend')!.action((o: { user: string[] }) => {
      got = o.user;
    });
    const argv = ['node', 'irllrec', 'recommend', '--run', run];
    for (let u = 0; u < 10_000; u++) argv.push('--user', String(u % 300));
    const t0 = performance.now();
    await p.parseAsync(argv);
    expect(got.length).toBe(10_000);
    expect(got[9_999]).toBe(String(9_999 % 300));
    expect(performance.now() - t0).toBeLessThan(5000);
    writeFileSync(join(run, '..', 'argv-ok'), '');
  });
});
