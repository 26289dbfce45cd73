/**
 * Defaults chosen from the data (never the folder name), the validation-metric choice, and `tune`
 * (successive halving: results, best config reproducible with train --config, kill and continue).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { autoTraining, chooseDefaults, PAPER_DATASETS } from '../src/config/defaults.js';
import { resolveConfig } from '../src/config/load.js';
import { ConfigError } from '../src/config/schema.js';
import { assemble } from '../src/data/dataset.js';
import { checkSpace, defaultSpace } from '../src/tune/space.js';
import { rungBudgets, tune } from '../src/tune/tuner.js';
import { train } from '../src/train/trainer.js';

const tmp = mkdtempSync(join(tmpdir(), 'irllrec-tune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 60 users x 40 items, two taste groups, random 3:1:1 split per user. */
function tiny() {
  const parts = [0, 1, 2].map(() => ({ user: [] as number[], item: [] as number[] }));
  for (let u = 0; u < 60; u++) {
    const base = u % 2 ? 0 : 20;
    for (let k = 0; k < 10; k++) {
      const i = base + ((u * 3 + k * 7) % 20);
      const s = k < 6 ? 0 : k < 8 ? 1 : 2;
      parts[s]!.user.push(u);
      parts[s]!.item.push(i);
    }
  }
  return assemble(join(tmp, 'movie'), 'memory', 60, 40, parts.map((p) => ({ user: Int32Array.from(p.user), item: Int32Array.from(p.item) })), ['a', 'b', 'c']);
}

describe('defaults from the data', () => {
  it('a paper dataset is recognised by its counts and keeps its official section, unchanged', () => {
    for (const d of PAPER_DATASETS) {
      const c = chooseDefaults({ users: d.users, items: d.items, train: 100000 });
      expect(c.source).toBe('recognised');
      expect(c.section).toBe(d.section);
      expect(c.sets).toEqual({});
    }
    const { config } = resolveConfig({ model: 'lightgcn', stats: { users: 11000, items: 9332, train: 120464 } });
    expect(config.optimizer.lr).toBe(1e-3);
    expect(config.train.batch_size).toBe(4096);
  });

  it('other data gets the auto rules whatever its folder is called; a preset wins', () => {
    const ds = tiny(); // its directory is called "movie": irrelevant
    const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
    const r = resolveConfig({ model: 'lightgcn_int', stats });
    expect(r.defaults.source).toBe('auto');
    expect(r.section).toBe('amazon');
    expect(r.config.optimizer.lr).toBe(3e-3);
    expect(r.config.train.batch_size).toBe(128);
    expect(r.defaults.reasons.join('\n')).toMatch(/batch_size 128/);
    const p = resolveConfig({ model: 'lightgcn_int', stats, preset: 'movie' });
    expect(p.defaults.source).toBe('preset');
    expect(p.config.model.kd_int_weight).toBe(3e-2);
    expect(p.config.optimizer.lr).toBe(1e-3);
    expect(() => resolveConfig({ model: 'lightgcn', stats, preset: 'movielens' })).toThrow(/--preset movielens: expected one of amazon, yelp, movie/);
  });

  it('batch size rule: at least 8 steps per epoch within 128..4096', () => {
    expect(autoTraining({ users: 1, items: 1, train: 500 }).sets['train.batch_size']).toBe(128);
    expect(autoTraining({ users: 1, items: 1, train: 29148 }).sets['train.batch_size']).toBe(2048);
    expect(autoTraining({ users: 1, items: 1, train: 5_000_000 }).sets['train.batch_size']).toBe(4096);
  });

  it('learning-rate rule: 3e-3 in reference mode; in scalable mode 3e-3 x sqrt(grown batch / 4096), at most 0.03', () => {
    const lr = (train: number) => autoTraining({ users: 1, items: 1, train }).sets['optimizer.lr'];
    expect(lr(999_999)).toBe(3e-3);
    expect(lr(1_980_000)).toBe(0.0117); // batch 61,875
    expect(lr(10_000_000)).toBe(0.0262); // batch 312,500
    expect(lr(100_000_000)).toBe(0.03);
    const big = autoTraining({ users: 1, items: 1, train: 10_000_000 }).sets;
    expect([big['train.test_step'], big['train.patience']]).toEqual([1, 3]);
    expect(autoTraining({ users: 1, items: 1, train: 999_999 }).sets['train.patience']).toBeUndefined();
    expect(autoTraining({ users: 1, items: 1, train: 10_000_000 }).reasons.join('\n')).toMatch(/optimizer\.lr 0\.0262 \(scalable rule/);
  });

  it('--set overrides the auto values; a config file that names its model needs no --model', () => {
    const stats = { users: 100, items: 50, train: 1000 };
    expect(resolveConfig({ model: 'lightgcn', stats, sets: ['optimizer.lr=0.02'] }).config.optimizer.lr).toBe(0.02);
    const f = join(tmp, 'c.yaml');
    writeFileSync(f, 'model:\n  name: lightgcn\n  align: irllrec\n  layer_num: 2\n');
    const c = resolveConfig({ stats, configFile: f }).config;
    expect([c.model.name, c.model.align, c.model.layer_num]).toEqual(['lightgcn', 'irllrec', 2]);
  });
});

describe('train.valid_metric', () => {
  const stats = { users: 100, items: 50, train: 1000 };
  it('accepts an evaluated per-user metric, refuses the rest with one clear line', () => {
    expect(resolveConfig({ model: 'lightgcn', stats, sets: ['train.valid_metric=NDCG@10'] }).config.train.valid_metric).toBe('ndcg@10');
    expect(() => resolveConfig({ model: 'lightgcn', stats, sets: ['train.valid_metric=ndcg@15'] })).toThrow(/not evaluated/);
    expect(() => resolveConfig({ model: 'lightgcn', stats, sets: ['train.valid_metric=coverage@10'] })).toThrow(/catalogue-level/);
    expect(() => resolveConfig({ model: 'lightgcn', stats, sets: ['train.valid_metric=foo@10'] })).toThrow(ConfigError);
  });

  it('selects the best epoch on that metric', () => {
    const ds = tiny();
    const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
    const { config } = resolveConfig({ model: 'lightgcn', stats, sets: ['train.valid_metric=mrr@5', 'train.test_step=1', 'train.patience=3', 'train.epoch=12'] });
    const r = train({ config, dataset: ds });
    const evals = r.history.evals.filter((e) => e.split === 'valid').slice(0, -1);
    const best = Math.max(...evals.map((e) => e.metrics['mrr@5']!));
    expect(r.bestValid).toBe(best);
    expect(evals.find((e) => e.metrics['mrr@5'] === best)!.epoch).toBe(r.bestEpoch);
    expect(r.test['map@20']).toBeGreaterThanOrEqual(0);
    expect(r.test['gini@20']).toBeGreaterThan(0);
  });
});

describe('tune', () => {
  const ds = tiny();
  const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
  const base = resolveConfig({ model: 'lightgcn', stats, sets: ['train.test_step=1', 'train.patience=2', 'train.epoch=15'] }).config;
  const space = checkSpace({ 'optimizer.lr': { log: [1e-3, 5e-2] }, 'model.layer_num': { choice: [1, 2] } }, base, 'space');

  it('rung budgets: minEpochs * eta^r, the last rung to the end', () => {
    expect(rungBudgets(24, 3, 4)).toEqual([4, 12, 36, null]); // 24 -> 8 -> 3 -> 1 trials
    expect(rungBudgets(2, 3, 4)).toEqual([null]);
    expect(rungBudgets(9, 3, 2)).toEqual([2, 6, null]); // 9 -> 3 -> 1
    expect(rungBudgets(6, 3, 2)).toEqual([2, null]);
  });

  it('spaces are checked against the model: unknown keys, keys the model lacks, bad bounds', () => {
    expect(() => checkSpace({ 'model.nope': { log: [1, 2] } }, base, 'f')).toThrow(/unknown config key model.nope/);
    expect(() => checkSpace({ 'model.kd_weight': { log: [1e-3, 1e-1] } }, base, 'f')).toThrow(/not a parameter of lightgcn/);
    expect(() => checkSpace({ 'optimizer.lr': { log: [0, 1] } }, base, 'f')).toThrow(/lo > 0/);
    expect(() => checkSpace({ __proto__: { log: [1, 2] } } as unknown, base, 'f')).toThrow(/empty|unknown/);
    expect(Object.keys(defaultSpace(base))).toEqual(['optimizer.lr', 'model.embedding_size', 'model.layer_num', 'model.reg_weight']);
  });

  it('finds a best trial whose config reproduces its score with train; killed, it continues without redoing a rung', () => {
    const dir = join(tmp, 'search');
    const identity = { data: 'tiny', model: 'lightgcn' };
    const lines: string[] = [];
    // a "kill" after the third finished trial rung
    let done = 0;
    expect(() => tune({
      base, space, dataset: ds, trials: 6, minEpochs: 2, seed: 1, dir, identity,
      log: (s) => { if (/^ {2}trial \d+ .*(after|failed)/.test(s) && ++done === 3) throw new Error('killed'); },
    })).toThrow('killed');
    const r = tune({ base, space, dataset: ds, trials: 6, minEpochs: 2, seed: 1, dir, identity, log: (s) => lines.push(s) });
    expect(lines[0]).toMatch(/continuing the search/);
    // rung 0 has 6 trials; 3 were done before the kill, so only 3 rung-0 trials ran again
    const rung1At = lines.findIndex((s) => s.startsWith('rung 1'));
    expect(lines.slice(0, rung1At).filter((s) => /^ {2}trial \d+ .*after/.test(s))).toHaveLength(3);
    expect(r.state.trials.every((t) => t.rungs.length >= 1)).toBe(true);
    const last = r.best.rungs.at(-1)!;
    expect(last.finished).toBe(true);
    // the best config, through train --config, gives the same validation and test figures
    const file = join(dir, 'best.yaml');
    const again = train({ config: resolveConfig({ stats, configFile: file }).config, dataset: ds });
    expect(again.bestValid).toBe(last.valid);
    expect(again.test['recall@20']).toBe(last.test!['recall@20']);
    expect(readFileSync(join(dir, 'results.md'), 'utf8')).toMatch(/\(best\)/);
    // another search in the same directory is refused
    expect(() => tune({ base, space, dataset: ds, trials: 5, minEpochs: 2, seed: 1, dir, identity })).toThrow(/another search/);
  });
});
