/**
 * Scalable training mode: each departure from the reference computation checked on a small graph
 * (docs/models.md, "Scalable mode"): the batch that grows to bound the steps per epoch, the sampled
 * sub-batch, in-batch contrast for the text towers, interaction intents on the sample's neighbourhood, and
 * the reference path left untouched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloat16, encodeFloat16, writeNpy } from '../src/data/formats/numpy.js';
import { denseText, HalfRows, loadTrainingText } from '../src/data/text-rows.js';
import { resolveConfig } from '../src/config/load.js';
import { buildNormalizedAdjacency } from '../src/data/graph.js';
import { PairSampler } from '../src/data/sampler.js';
import { pairwiseAlignment, towerRows, userPool } from '../src/models/alignment/common.js';
import { sampleBatch, type ComposedModel } from '../src/models/composed.js';
import { createModel } from '../src/models/registry.js';
import { MLP } from '../src/nn/mlp.js';
import { neighbourSample, type IntentAlignment } from '../src/models/alignment/irllrec.js';
import { defaultSampleSize, trainingMode } from '../src/config/schema.js';
import { ParamStore } from '../src/nn/params.js';
import { gatherRows, infoNCE, scale, sumScalars } from '../src/tensor/ops/index.js';
import { noGrad, Tensor, Tape, withTape } from '../src/tensor/tensor.js';
import { effectiveBatchSize, evaluateSplit, sampleSplitUsers, train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { twoCommunities } from './helpers/datasets.js';

function world(users = 60, items = 40) {
  const ds = twoCommunities('/tmp/scalable', users, items, 10, [6, 8]);
  const rng = new Rng(5);
  const mk = (rows: number, w: number) => new Tensor(Float32Array.from({ length: rows * w }, () => rng.normal()), [rows, w]);
  return { ds, text: { usrPrf: mk(users, 12), itmPrf: mk(items, 12), usrInt: mk(users, 16), itmInt: mk(items, 16) } };
}

const stats = (ds: ReturnType<typeof world>['ds']) => ({ users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length });

describe('scalable mode', () => {
  it('the batch grows so that an epoch has at most max_batches steps; reference mode keeps the config batch', () => {
    const { ds } = world();
    const base = resolveConfig({ model: 'lightgcn', stats: stats(ds), sets: ['train.batch_size=16'] }).config;
    expect(effectiveBatchSize(base, 1_000_000)).toBe(16);
    const scal = resolveConfig({ model: 'lightgcn', stats: stats(ds), sets: ['train.batch_size=16', 'train.mode=scalable', 'train.max_batches=32'] }).config;
    expect(effectiveBatchSize(scal, 1_000_000)).toBe(31250);
    expect(effectiveBatchSize(scal, 100)).toBe(16);
    const steps = new PairSampler(ds.trainPairs, ds.train).epoch(new Rng(1), effectiveBatchSize({ ...scal, train: { ...scal.train, max_batches: 4 } }, ds.trainPairs.user.length)).length;
    expect(steps).toBeLessThanOrEqual(4);
  });

  it('the auto defaults choose scalable from a million training interactions, and say so', () => {
    const small = resolveConfig({ model: 'lightgcn', stats: { users: 1000, items: 1000, train: 999_999 } });
    expect(small.config.train.mode).toBeUndefined();
    const big = resolveConfig({ model: 'lightgcn', stats: { users: 100_000, items: 50_000, train: 1_000_000 } });
    expect(big.config.train.mode).toBe('scalable');
    expect(big.defaults.reasons.join('\n')).toMatch(/train\.mode scalable/);
    const paper = resolveConfig({ model: 'lightgcn', stats: { users: 11000, items: 9332, train: 120464 } });
    expect(paper.config.train.mode).toBeUndefined();
  });

  it('sampleBatch: distinct triples of the batch, in batch order', () => {
    const b = { ancs: Int32Array.from({ length: 50 }, (_, i) => i), poss: Int32Array.from({ length: 50 }, (_, i) => 100 + i), negs: Int32Array.from({ length: 50 }, (_, i) => 200 + i) };
    const s = sampleBatch(b, 12, new Rng(3));
    expect(s.ancs.length).toBe(12);
    expect(new Set(s.ancs).size).toBe(12);
    for (let i = 0; i < 12; i++) {
      expect(s.poss[i]).toBe(s.ancs[i]! + 100);
      expect(s.negs[i]).toBe(s.ancs[i]! + 200);
      if (i) expect(s.ancs[i]!).toBeGreaterThan(s.ancs[i - 1]!);
    }
  });

  it('in-batch contrast: the users tower holds exactly the batch\'s users (no padding) and equals an explicit InfoNCE over them', () => {
    const rng = new Rng(7);
    const usr = new Tensor(Float32Array.from({ length: 30 * 8 }, () => rng.normal()), [30, 8]);
    const itm = new Tensor(Float32Array.from({ length: 20 * 8 }, () => rng.normal()), [20, 8]);
    const mlp = new MLP(new ParamStore(), 'm', [8, 6, 4], rng);
    const batch = { ancs: Int32Array.of(3, 7, 3, 11, 29), poss: Int32Array.of(1, 2, 3, 4, 5), negs: Int32Array.of(6, 7, 8, 9, 10) };
    const t = towerRows(mlp, usr, itm, batch, false, userPool(batch.ancs, 30, null, new Rng(1)));
    expect(t.users.rows).toBe(4); // users 3, 7, 11, 29
    const all = mlp.forward(usr);
    for (let i = 0; i < batch.ancs.length; i++) {
      const row = t.users.data.subarray(t.ancIdx[i]! * 4, t.ancIdx[i]! * 4 + 4);
      const ref = all.data.subarray(batch.ancs[i]! * 4, batch.ancs[i]! * 4 + 4);
      for (let c = 0; c < 4; c++) expect(row[c]).toBeCloseTo(ref[c]!, 6);
    }
    const anc = new Tensor(Float32Array.from({ length: 5 * 4 }, () => rng.normal()), [5, 4]);
    const pos = new Tensor(Float32Array.from({ length: 5 * 4 }, () => rng.normal()), [5, 4]);
    const neg = new Tensor(Float32Array.from({ length: 5 * 4 }, () => rng.normal()), [5, 4]);
    const got = pairwiseAlignment(anc, pos, neg, t, batch, 0.2, 0.5).item();
    const pool = gatherRows(all, Int32Array.of(3, 7, 11, 29));
    const posY = gatherRows(t.items, t.posIdx);
    const negY = gatherRows(t.items, t.negIdx);
    const want = scale(sumScalars([infoNCE(anc, gatherRows(all, batch.ancs), pool, 0.2), infoNCE(pos, posY, posY, 0.2), infoNCE(neg, negY, negY, 0.2)]), 0.5 / 5).item();
    expect(got).toBeCloseTo(want, 5);
  });

  it('user pool: every user when there are few (the reference contrast), else the batch\'s users plus distinct uniform draws', () => {
    const ancs = Int32Array.of(7, 3, 7, 11);
    const all = userPool(ancs, 20, 64, new Rng(1));
    expect(Array.from(all.users)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(Array.from(all.ancIdx)).toEqual([7, 3, 7, 11]);
    expect(Array.from(all.batchUsers)).toEqual([7, 3, 11]);
    expect(Array.from(all.batchRows)).toEqual([7, 3, 11]);
    const some = userPool(ancs, 1000, 50, new Rng(2));
    expect(some.users.length).toBe(50);
    expect(new Set(some.users).size).toBe(50);
    expect(Array.from(some.users.subarray(0, 3))).toEqual([7, 3, 11]);
    for (let i = 0; i < ancs.length; i++) expect(some.users[some.ancIdx[i]!]).toBe(ancs[i]);
    for (const v of some.users) expect(v).toBeLessThan(1000);
    const inBatch = userPool(ancs, 1000, null, new Rng(2));
    expect(Array.from(inBatch.users)).toEqual([7, 3, 11]);
    expect(resolveConfig({ model: 'lightgcn_int', stats: { users: 100, items: 100, train: 1000 }, sets: ['train.mode=scalable'] }).config.train.user_pool).toBeUndefined();
    const tm = (sets: string[]) => trainingMode(resolveConfig({ model: 'lightgcn_int', stats: { users: 100, items: 100, train: 1000 }, sets }).config);
    expect(tm(['train.mode=scalable']).userPool).toBeNull();
    expect(tm(['train.mode=scalable', 'train.user_pool=16384']).userPool).toBe(16_384);
  });

  it('with a sample as large as the batch, LightGCN\'s loss and gradients are the reference ones', () => {
    const { ds } = world();
    const cfgRef = resolveConfig({ model: 'lightgcn', stats: stats(ds), sets: ['train.batch_size=64'] }).config;
    const cfgScal = { ...cfgRef, train: { ...cfgRef.train, mode: 'scalable' as const, sample_size: 64 } };
    const adj = buildNormalizedAdjacency(ds.train);
    const batch = new PairSampler(ds.trainPairs, ds.train).epoch(new Rng(2), 64)[0]!;
    const run = (cfg: typeof cfgRef) => {
      const m = createModel(cfg, adj, new Rng(4)) as ComposedModel;
      const tape = new Tape();
      const r = withTape(tape, () => m.calcLoss(batch, new Rng(9)));
      tape.backward(r.total);
      return { loss: r.total.item(), grad: Float32Array.from(m.params.get('user_embeds').grad!) };
    };
    const a = run(cfgRef);
    const b = run(cfgScal);
    expect(b.loss).toBe(a.loss);
    expect(b.grad).toEqual(a.grad);
  });

  it('interaction intents of a sample computed on its neighbourhood equal the full computation\'s rows', () => {
    const { ds, text } = world();
    const { config } = resolveConfig({ model: 'lightgcn_int', stats: stats(ds), sets: ['model.intent_num=4'] });
    const m = createModel(config, buildNormalizedAdjacency(ds.train), new Rng(4), text) as ComposedModel;
    const al = m.alignments[0] as IntentAlignment;
    const out = noGrad(() => m.backbone.forwardTrain(new Rng(1), m.backbone.inputEmbeddings(), { ancs: Int32Array.of(0), poss: Int32Array.of(0), negs: Int32Array.of(1) }).intent);
    const U = ds.numUsers;
    const nodes = Int32Array.of(3, 17, U + 2, U + 30, 41);
    const full = noGrad(() => al.interactionIntents(out, U));
    const { R, row } = noGrad(() => al.subgraphIntents(out, U, nodes));
    const d = full.cols;
    for (const v of nodes) {
      for (let c = 0; c < d; c++) expect(R.data[row(v) * d + c]).toBeCloseTo(full.data[v * d + c]!, 6);
    }
  });

  it('neighbour sampling: at most fanout distinct edges of each node\'s own row, all when the degree fits, uniform over many draws', () => {
    // node 0 has 10 edges, node 1 has 3, node 2 none
    const indptr = Int32Array.of(0, 10, 13, 13);
    const rnd = new Rng(11);
    const counts = new Array(10).fill(0);
    const draws = 4000;
    for (let t = 0; t < draws; t++) {
      const { ptr, pos } = neighbourSample(indptr, Int32Array.of(0, 1, 2), 4, rnd);
      expect(Array.from(ptr)).toEqual([0, 4, 7, 7]);
      const mine = Array.from(pos.subarray(0, 4));
      expect(new Set(mine).size).toBe(4);
      for (let i = 1; i < 4; i++) expect(mine[i]!).toBeGreaterThan(mine[i - 1]!);
      for (const e of mine) counts[e]++;
      expect(Array.from(pos.subarray(4, 7))).toEqual([10, 11, 12]);
    }
    // each edge is drawn with probability 4/10: expected 1600 of 4000, sd ~31
    for (const c of counts) expect(Math.abs(c - 1600)).toBeLessThan(160);
    expect(Array.from(neighbourSample(indptr, Int32Array.of(1, 0), null).pos)).toEqual([10, 11, 12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('interaction intents with a fanout: the exact rows when the fanout covers every degree; otherwise each row aggregates only sampled neighbours', () => {
    const { ds, text } = world();
    const { config } = resolveConfig({ model: 'lightgcn_int', stats: stats(ds), sets: ['model.intent_num=4'] });
    const adj = buildNormalizedAdjacency(ds.train);
    const m = createModel(config, adj, new Rng(4), text) as ComposedModel;
    const al = m.alignments[0] as IntentAlignment;
    const out = noGrad(() => m.backbone.forwardTrain(new Rng(1), m.backbone.inputEmbeddings(), { ancs: Int32Array.of(0), poss: Int32Array.of(0), negs: Int32Array.of(1) }).intent);
    const U = ds.numUsers;
    const nodes = Int32Array.of(3, 17, U + 2, U + 30, 41);
    const full = noGrad(() => al.interactionIntents(out, U));
    const big = noGrad(() => al.subgraphIntents(out, U, nodes, 1000, new Rng(2)));
    const d = full.cols;
    for (const v of nodes) for (let c = 0; c < d; c++) expect(big.R.data[big.row(v) * d + c]).toBeCloseTo(full.data[v * d + c]!, 6);
    // fanout 2: an item's row is a convex combination (per layer) of two of its users' layer rows,
    // so it differs from the full row, and is finite
    const small = noGrad(() => al.subgraphIntents(out, U, nodes, 2, new Rng(2)));
    const item = U + 2;
    let diff = 0;
    for (let c = 0; c < d; c++) {
      expect(Number.isFinite(small.R.data[small.row(item) * d + c]!)).toBe(true);
      diff += Math.abs(small.R.data[small.row(item) * d + c]! - full.data[item * d + c]!);
    }
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('train.intent_fanout: default 32 in scalable mode, 0 means every edge, reference mode ignores it', () => {
    const { ds } = world();
    const cfg = (sets: string[]) => trainingMode(resolveConfig({ model: 'lightgcn_int', stats: stats(ds), sets }).config);
    expect(cfg(['train.mode=scalable']).intentFanout).toBe(32);
    expect(cfg(['train.mode=scalable', 'train.intent_fanout=0']).intentFanout).toBeNull();
    expect(cfg(['train.mode=scalable', 'train.intent_fanout=8']).intentFanout).toBe(8);
    expect(cfg(['train.intent_fanout=8']).intentFanout).toBeNull();
    expect(() => cfg(['train.intent_fanout=-1'])).toThrow(/intent_fanout/);
  });

  it('float16 text kept as float16 (HalfRows) trains exactly like the same values as float32, in both modes', () => {
    const { ds, text } = world();
    // float16-representable values, as float32 tensors and as float16 tables
    const f32: Record<string, Tensor> = {};
    const f16: Record<string, HalfRows> = {};
    for (const [k, t] of Object.entries(text)) {
      const enc = encodeFloat16(t.data);
      f32[k] = new Tensor(decodeFloat16(enc.bits), t.shape);
      f16[k] = new HalfRows(enc.bits, t.rows, t.cols);
    }
    const h = f16.usrInt!;
    expect(Array.from(h.gather(Int32Array.of(5, 0, 5)))).toEqual([...f32.usrInt!.data.subarray(5 * 16, 6 * 16), ...f32.usrInt!.data.subarray(0, 16), ...f32.usrInt!.data.subarray(5 * 16, 6 * 16)]);
    for (const mode of ['scalable', 'reference']) {
      for (const [model, extra] of [['lightgcn_int', ['model.intent_num=4', 'model.kd_int_weight_2=0.1', 'model.kd_int_weight_3=0.1']], ['lightgcn_gene', []]] as const) {
        const { config } = resolveConfig({ model, stats: stats(ds), sets: [`train.mode=${mode}`, 'train.sample_size=24', 'train.batch_size=128', ...extra] });
        const a = train({ config, dataset: ds, text: f32, epochs: 2 });
        const b = train({ config, dataset: ds, text: f16, epochs: 2 });
        expect(b.lastLosses).toEqual(a.lastLosses);
        expect(b.test).toEqual(a.test);
      }
    }
  });

  it('loadTrainingText keeps a float16 .npy as float16 only when asked, and rejects Inf like the float32 reader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-half-'));
    const vals = Float32Array.from({ length: 6 * 4 }, (_, i) => (i - 7) / 8);
    writeNpy(join(dir, 'usr_int.npy'), [6, 4], vals, { dtype: 'float16' });
    writeNpy(join(dir, 'itm_int.npy'), [3, 4], vals.subarray(0, 12), { dtype: 'float32' });
    const kept = loadTrainingText(dir, 6, 3, ['usrInt', 'itmInt'], { keepFloat16: true });
    expect(kept.usrInt).toBeInstanceOf(HalfRows);
    expect(kept.itmInt).toBeInstanceOf(Tensor);
    expect(Array.from(denseText(kept.usrInt!).data)).toEqual(Array.from(vals));
    expect(loadTrainingText(dir, 6, 3, ['usrInt'], {}).usrInt).toBeInstanceOf(Tensor);
    expect(() => loadTrainingText(dir, 7, 3, ['usrInt'], { keepFloat16: true })).toThrow(/6 rows but the dataset has 7/);
    const bad = vals.slice();
    bad[9] = Infinity;
    writeNpy(join(dir, 'usr_int.npy'), [6, 4], bad, { dtype: 'float16' });
    expect(() => loadTrainingText(dir, 6, 3, ['usrInt'], { keepFloat16: true })).toThrow(/row 2 column 1 is Infinity/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('validation during training on a fixed sample of users (scalable default 50,000), final figures on every user', () => {
    const split = { rows: 6, cols: 4, indptr: Int32Array.of(0, 2, 2, 3, 5, 5, 6), indices: Int32Array.of(0, 3, 1, 0, 2, 3) };
    expect(sampleSplitUsers(split, 4, 1)).toBe(split); // 4 users have items: nothing to drop
    const s = sampleSplitUsers(split, 2, 1);
    const kept = [0, 1, 2, 3, 4, 5].filter((u) => s.indptr[u + 1]! > s.indptr[u]!);
    expect(kept.length).toBe(2);
    for (const u of kept) expect(Array.from(s.indices.subarray(s.indptr[u]!, s.indptr[u + 1]!))).toEqual(Array.from(split.indices.subarray(split.indptr[u]!, split.indptr[u + 1]!)));
    expect(sampleSplitUsers(split, 2, 1)).toEqual(s); // drawn from the seed alone
    const { ds } = world();
    const mode = (sets: string[]) => trainingMode(resolveConfig({ model: 'lightgcn', stats: stats(ds), sets }).config);
    expect(mode(['train.mode=scalable']).validUsers).toBe(50_000);
    expect(mode(['train.mode=scalable', 'train.valid_users=0']).validUsers).toBeNull();
    expect(mode([]).validUsers).toBeNull();
    // a run validating on 10 of the 60 users: its final valid figures are still over every user
    const { config } = resolveConfig({ model: 'lightgcn', stats: stats(ds), sets: ['train.mode=scalable', 'train.valid_users=10', 'train.epoch=3', 'train.test_step=1'] });
    const logs: string[] = [];
    const r = train({ config, dataset: ds, log: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/validation during training on 10 users drawn once/);
    const full = train({ config: { ...config, train: { ...config.train, valid_users: 0 } }, dataset: ds });
    expect(r.history.evals[0]!.metrics).not.toEqual(full.history.evals[0]!.metrics);
    // the final figures: the kept weights ranked over every user with validation items
    expect(r.valid).toEqual(evaluateSplit(r.model, ds, ds.valid, config, new Rng(0)));
  });

  it('the default alignment sample shrinks with the text width (tower work per step bounded); an explicit sample_size wins', () => {
    expect([64, 384, 512, 640, 768, 1024, 1536, 3072, 8192].map(defaultSampleSize)).toEqual([4096, 4096, 4096, 2048, 1024, 1024, 256, 256, 256]);
    const { ds } = world();
    const cfg = resolveConfig({ model: 'lightgcn_int', stats: stats(ds), sets: ['train.mode=scalable'] }).config;
    expect(trainingMode(cfg, 3072).sampleSize).toBe(256);
    expect(trainingMode({ ...cfg, train: { ...cfg.train, sample_size: 2000 } }, 3072).sampleSize).toBe(2000);
    const wide = { usrInt: Tensor.zeros([ds.numUsers, 3072]), itmInt: Tensor.zeros([ds.numItems, 3072]), usrPrf: Tensor.zeros([ds.numUsers, 8]), itmPrf: Tensor.zeros([ds.numItems, 8]) };
    expect((createModel(cfg, buildNormalizedAdjacency(ds.train), new Rng(1), wide) as ComposedModel).sampleSize).toBe(256);
  });

  it('the auto evaluation block: 1024 users unless users x items scores pass 256 MiB', () => {
    expect(resolveConfig({ model: 'lightgcn', stats: { users: 5000, items: 60_000, train: 100_000 } }).config.test.batch_size).toBe(1024);
    const big = resolveConfig({ model: 'lightgcn', stats: { users: 1_000_000, items: 500_000, train: 10_000_000 } });
    expect(big.config.test.batch_size).toBe(128);
    expect(big.defaults.reasons.join('\n')).toMatch(/test\.batch_size 128/);
  });

  it('IRLLRec (PA, TA, ITM) and RLMRec-Gen train in scalable mode on a sample smaller than the batch', () => {
    const { ds, text } = world();
    for (const [model, extra] of [
      ['lightgcn_int', ['model.intent_num=4', 'model.kd_int_weight_2=0.1', 'model.kd_int_weight_3=0.1']],
      ['lightgcn_int', ['model.intent_num=4', 'model.kd_int_weight_2=0.1', 'model.kd_int_weight_3=0.1', 'train.ta_uniform=true']],
      ['lightgcn_gene', []], ['sgl_plus', []],
    ] as const) {
      const { config } = resolveConfig({ model, stats: stats(ds), sets: ['train.mode=scalable', 'train.sample_size=24', 'train.batch_size=128', ...extra] });
      const r = train({ config, dataset: ds, text, epochs: 3 });
      for (const v of Object.values(r.lastLosses)) expect(Number.isFinite(v)).toBe(true);
      expect(r.test['recall@20']).toBeGreaterThan(0);
    }
  });
});
