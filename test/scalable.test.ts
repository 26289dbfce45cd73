/**
 * Scalable training mode: each departure from the reference computation checked on a small graph
 * (docs/models.md, "Scalable mode"): the batch that grows to bound the steps per epoch, the sampled
 * sub-batch, in-batch contrast for the text towers, interaction intents on the sample's neighbourhood, and
 * the reference path left untouched.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load.js';
import { assemble } from '../src/data/dataset.js';
import { buildNormalizedAdjacency } from '../src/data/graph.js';
import { PairSampler } from '../src/data/sampler.js';
import { pairwiseAlignment, towerRows } from '../src/models/alignment/common.js';
import { sampleBatch, type ComposedModel } from '../src/models/composed.js';
import { createModel } from '../src/models/registry.js';
import { MLP } from '../src/nn/mlp.js';
import type { IntentAlignment } from '../src/models/alignment/irllrec.js';
import { ParamStore } from '../src/nn/params.js';
import { gatherRows, infoNCE, scale, sumScalars } from '../src/tensor/ops/index.js';
import { noGrad, Tensor, Tape, withTape } from '../src/tensor/tensor.js';
import { effectiveBatchSize, train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';

function world(users = 60, items = 40) {
  const parts = [0, 1, 2].map(() => ({ user: [] as number[], item: [] as number[] }));
  for (let u = 0; u < users; u++) {
    const base = u % 2 ? 0 : items / 2;
    for (let k = 0; k < 10; k++) {
      const s = k < 6 ? 0 : k < 8 ? 1 : 2;
      parts[s]!.user.push(u);
      parts[s]!.item.push(base + ((u * 3 + k * 7) % (items / 2)));
    }
  }
  const ds = assemble('/tmp/scalable', 'memory', users, items, parts.map((p) => ({ user: Int32Array.from(p.user), item: Int32Array.from(p.item) })), ['a', 'b', 'c']);
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
    const t = towerRows(mlp, usr, itm, batch, false, true);
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

  it('IRLLRec (PA, TA, ITM) and RLMRec-Gen train in scalable mode on a sample smaller than the batch', () => {
    const { ds, text } = world();
    for (const [model, extra] of [['lightgcn_int', ['model.intent_num=4', 'model.kd_int_weight_2=0.1', 'model.kd_int_weight_3=0.1']], ['lightgcn_gene', []], ['sgl_plus', []]] as const) {
      const { config } = resolveConfig({ model, stats: stats(ds), sets: ['train.mode=scalable', 'train.sample_size=24', 'train.batch_size=128', ...extra] });
      const r = train({ config, dataset: ds, text, epochs: 3 });
      for (const v of Object.values(r.lastLosses)) expect(Number.isFinite(v)).toBe(true);
      expect(r.test['recall@20']).toBeGreaterThan(0);
    }
  });
});
