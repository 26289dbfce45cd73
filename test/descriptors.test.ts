/**
 * Self-describing variants (src/models/descriptor.ts): a backbone added in one file
 * (test/helpers/toy-backbone.ts) and registered through the public path becomes a model name with
 * its keys and defaults, trains, and serves from a run directory, alone and under an alignment;
 * registration refuses inconsistent descriptors; `model.intent_prototypes=false` runs IRLLRec
 * without intent prototypes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { resolveConfig } from '../src/config/load.js';
import { CONFIG_KEYS } from '../src/config/schema.js';
import { assemble } from '../src/data/dataset.js';
import { writeNpy } from '../src/data/formats/numpy.js';
import { buildNormalizedAdjacency } from '../src/data/graph.js';
import type { ComposedModel } from '../src/models/composed.js';
import { everySection, type BackboneDescriptor } from '../src/models/descriptor.js';
import { createModel, modelHelp, parseModelName, registerBackbone, requiredText, supportedModels } from '../src/models/registry.js';
import { Recommender } from '../src/serve/recommender.js';
import { Tensor } from '../src/tensor/tensor.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { withQuietStderr } from './helpers/datasets.js';
import { TOY } from './helpers/toy-backbone.js';

const U = 40;
const I = 30;
const tmp = mkdtempSync(join(tmpdir(), 'irllrec-descriptors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Splits, id maps and the four text vectors of a small dataset directory. */
function datasetDir(): string {
  const dir = join(tmp, 'data');
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < U; u++) {
    for (let k = 0; k < 7; k++) lines[k < 5 ? 'train' : k < 6 ? 'valid' : 'test']!.push(`${u}\t${(u * 7 + k * 3) % I}`);
  }
  mkdirSync(dir);
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(dir, `${s}.tsv`), `user\titem\n${[...new Set(lines[s])].join('\n')}\n`);
  writeFileSync(join(dir, 'users.tsv'), `id\tkey\n${Array.from({ length: U }, (_, u) => `${u}\tu${u}`).join('\n')}\n`);
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\n${Array.from({ length: I }, (_, i) => `${i}\ti${i}`).join('\n')}\n`);
  for (const [name, rows, w] of [['usr_prf', U, 10], ['itm_prf', I, 10], ['usr_int', U, 12], ['itm_int', I, 12]] as const) {
    writeNpy(join(dir, `${name}.npy`), [rows, w], Float32Array.from({ length: rows * w }, (_, i) => Math.cos(i * 0.13 + w)));
  }
  return dir;
}

/** The same data in memory, for the trainer. */
function inMemory() {
  const parts = [0, 1, 2].map(() => ({ user: [] as number[], item: [] as number[] }));
  for (let u = 0; u < U; u++) {
    for (let k = 0; k < 7; k++) {
      const p = parts[k < 5 ? 0 : k < 6 ? 1 : 2]!;
      p.user.push(u);
      p.item.push((u * 7 + k * 3) % I);
    }
  }
  const ds = assemble('/tmp/descriptors', 'memory', U, I, parts.map((p) => ({ user: Int32Array.from(p.user), item: Int32Array.from(p.item) })), ['a', 'b', 'c']);
  const rng = new Rng(3);
  const mk = (rows: number, w: number) => new Tensor(Float32Array.from({ length: rows * w }, () => rng.normal()), [rows, w]);
  return { ds, text: { usrPrf: mk(U, 10), itmPrf: mk(I, 10), usrInt: mk(U, 12), itmInt: mk(I, 12) } };
}

async function trainRun(data: string, model: string, sets: string[]): Promise<string> {
  const out = join(tmp, model);
  await withQuietStderr(() => trainCommand({ data, model, out, epochs: '2', set: ['train.batch_size=64', ...sets] }));
  return out;
}

describe('a backbone added in one file (test/helpers/toy-backbone.ts)', () => {
  let unregister: () => void;
  beforeAll(() => {
    unregister = registerBackbone(TOY);
  });
  afterAll(() => unregister());

  it('is a model name under every alignment, with its key and defaults in the config', () => {
    expect(supportedModels()).toEqual(expect.arrayContaining(['toy', 'toy_plus', 'toy_gene', 'toy_int']));
    expect(parseModelName('toy_int')).toEqual({ backbone: 'toy', align: 'irllrec' });
    expect(modelHelp()).toMatch(/\(lightgcn, sgl, simgcl, dccf, bigcf, alpharec, toy\)/);
    expect(requiredText('none', 'toy')).toEqual([]);
    expect(resolveConfig({ model: 'toy' }).config.model).toEqual({ name: 'toy', align: 'none', embedding_size: 32, layer_num: 1, reg_weight: 1e-6, toy_gain: 1 });
    // an alignment on a backbone the official code never ran it with: its generic values (those it has on LightGCN)
    const int = resolveConfig({ model: 'toy', align: 'irllrec', sets: ['model.toy_gain=2'] }).config.model;
    expect(int).toMatchObject({ toy_gain: 2, reg_weight: 1e-6, kd_weight: 1e-2, intent_num: 128, kd_int_weight: 2e-2, kd_int_weight_2: 1e-7, kd_int_weight_3: 1e-7, intent_prototypes: true });
    expect(int).not.toHaveProperty('keep_rate');
    // its key is validated, and refused for a model that does not read it
    expect(() => resolveConfig({ model: 'toy', sets: ['model.toy_gain=0'] })).toThrow(/model\.toy_gain must be a finite positive number at most 10/);
    expect(() => resolveConfig({ model: 'lightgcn', sets: ['model.toy_gain=2'] })).toThrow(/model\.toy_gain is not a parameter of lightgcn/);
  });

  it('trains and serves from a run directory: toy alone and toy_int', async () => {
    const data = datasetDir();
    for (const [model, sets] of [['toy', ['model.toy_gain=1.5']], ['toy_int', ['model.intent_num=4']]] as const) {
      const run = await trainRun(data, model, [...sets]);
      const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { test: Record<string, number> };
      expect(Object.values(summary.test).every(Number.isFinite), model).toBe(true);
      const rec = await Recommender.open(run);
      expect(rec.info).toMatchObject({ model, users: U, items: I });
      const top = rec.recommend('u3', { k: 5 }).items;
      expect(top).toHaveLength(5);
      const e = rec.explain('u3', top[0]!.item);
      expect(e.rank).toBe(1);
      // toy_int's intents are IRLLRec's prototypes; the toy alone has none
      expect(e.intents?.K ?? null).toBe(model === 'toy_int' ? 4 : null);
    }
  });

  it('leaves nothing behind when removed', () => {
    unregister();
    expect(() => parseModelName('toy')).toThrow(/unknown model "toy"/);
    expect(Object.hasOwn(CONFIG_KEYS, 'model.toy_gain')).toBe(false);
    expect(() => resolveConfig({ model: 'lightgcn', sets: ['model.toy_gain=2'] })).toThrow(/unknown config key model\.toy_gain/);
    unregister = registerBackbone(TOY); // for afterAll
  });
});

describe('registration refuses an inconsistent descriptor', () => {
  const base: BackboneDescriptor = { ...TOY, name: 'toy2' } as BackboneDescriptor;

  it('a taken name, a shared key declared differently, a reserved key, a bad name', () => {
    expect(() => registerBackbone({ ...base, name: 'lightgcn' })).toThrow(/registered already/);
    expect(() => registerBackbone({ ...base, keys: { cl_weight: { kind: 'positive' } } })).toThrow(/model\.cl_weight is declared differently/);
    expect(() => registerBackbone({ ...base, keys: { layer_num: { kind: 'posint' } } })).toThrow(/key of every model/);
    expect(() => registerBackbone({ ...base, name: 'toy_x' })).toThrow(/lower-case letters and digits/);
  });

  it('a default for a key no variant of the composition declares, or a missing one; the registry stays as it was', () => {
    expect(() => registerBackbone({ ...base, defaults: everySection({ layer_num: 1, reg_weight: 0, toy_gain: 1, nope: 1 }) })).toThrow(/toy2 \(amazon\): default for nope/);
    expect(() => registerBackbone({ ...base, defaults: everySection({ layer_num: 1, reg_weight: 0 }) })).toThrow(/toy2 \(amazon\): no default for toy_gain/);
    expect(supportedModels()).not.toContain('toy2');
  });
});

describe('model.intent_prototypes', () => {
  const trainWith = (model: string, prototypes: boolean) => {
    const { ds, text } = inMemory();
    const sets = ['model.intent_num=4', 'train.batch_size=64', `model.intent_prototypes=${prototypes}`];
    const { config } = resolveConfig({ model, sets });
    return train({ config, dataset: ds, text, epochs: 2 });
  };

  it('false: lightgcn_int trains without intent prototypes (none created, no intents to serve)', () => {
    const r = trainWith('lightgcn_int', false);
    for (const v of Object.values(r.lastLosses)) expect(Number.isFinite(v)).toBe(true);
    expect(r.lastLosses.kd_int_loss).toBeGreaterThan(0);
    expect(r.model.params.has('user_intent')).toBe(false);
    expect(r.model.params.has('item_intent')).toBe(false);
    expect((r.model as ComposedModel).intentPrototypes()).toBeNull();
    const on = trainWith('lightgcn_int', true);
    expect(on.model.params.has('user_intent')).toBe(true);
    expect((on.model as ComposedModel).intentPrototypes()).not.toBeNull();
  });

  it('false on dccf_int: IRLLRec does not read DCCF\'s prototype intents (its PA term changes), the backbone keeps its own', () => {
    const off = trainWith('dccf_int', false);
    const on = trainWith('dccf_int', true);
    expect(Number.isFinite(off.lastLosses.kd_int_loss!)).toBe(true);
    expect(off.lastLosses.kd_int_loss).not.toBe(on.lastLosses.kd_int_loss);
    expect(off.model.params.has('user_intent')).toBe(true); // DCCF's
  });

  it('a config written before the key existed reads true', () => {
    const { ds, text } = inMemory();
    const { config } = resolveConfig({ model: 'lightgcn_int', sets: ['model.intent_num=4'] });
    delete (config.model as Record<string, unknown>).intent_prototypes;
    const m = createModel(config, buildNormalizedAdjacency(ds.train), new Rng(1), text);
    expect(m.params.has('user_intent')).toBe(true);
  });
});
