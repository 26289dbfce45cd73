/**
 * `irllrec synth`: planted-intent worlds load as datasets (interactions and text vectors), match
 * their synth.json, are byte-identical for a seed, carry real text signal about the intents, and
 * train.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerSynthCommand, synthCommand, synthParams } from '../src/cli/synth-command.js';
import { UsageError } from '../src/cli/errors.js';
import { resolveConfig } from '../src/config/load.js';
import { csrNnz } from '../src/data/csr.js';
import { loadDataset } from '../src/data/dataset.js';
import { readNpy } from '../src/data/formats/numpy.js';
import { loadTextVectors } from '../src/data/text-vectors.js';
import {
  buildWorld, readWorldTruth, synthesize, WORLD_DEFAULTS, type SynthManifest, type WorldParams,
} from '../src/synth/index.js';
import { train } from '../src/train/trainer.js';

const tmp = mkdtempSync(join(tmpdir(), 'irllrec-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL: WorldParams = {
  ...WORLD_DEFAULTS,
  users: 200,
  items: 150,
  interactions: 5000,
  intents: 6,
  profileDim: 16,
  intentDim: 24,
  seed: 7,
};

const quiet = { log: () => {} };

function files(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else out[`${rel}${e.name}`] = readFileSync(join(d, e.name));
    }
  };
  walk(dir, '');
  return out;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ao + k]! * b[bo + k]!;
  return s;
}

describe('synth: a small planted-intent world', () => {
  const dir = join(tmp, 'small');
  const r = synthesize(dir, SMALL, quiet);
  const manifest = JSON.parse(readFileSync(join(dir, 'synth.json'), 'utf8')) as SynthManifest;

  it('writes the dataset, text vectors, truth and manifest; counts match synth.json', () => {
    expect(Object.keys(files(dir)).sort()).toEqual(
      ['itm_int.npy', 'itm_prf.npy', 'synth.json', 'test.tsv', 'train.tsv', 'truth.json', 'usr_int.npy', 'usr_prf.npy', 'valid.tsv'],
    );
    expect(readFileSync(join(dir, 'train.tsv'), 'utf8').startsWith('user\titem\n')).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const c = manifest.counts;
    expect(c).toEqual(r.manifest.counts);
    expect(c.interactions).toBe(5000); // exact: the world is dense but targets are redistributed
    expect(c.train + c.valid + c.test).toBe(c.interactions);
    expect([c.train, c.valid, c.test]).toEqual([3000, 1000, 1000]);

    const ds = loadDataset(dir);
    expect(ds.warnings ?? []).toEqual([]); // no duplicated pairs, no pair in two splits
    expect(ds.numUsers).toBe(c.users);
    expect(ds.numItems).toBe(c.items);
    expect(c.items + c.itemsDropped).toBe(SMALL.items);
    expect([csrNnz(ds.train), csrNnz(ds.valid), csrNnz(ds.test)]).toEqual([c.train, c.valid, c.test]);
    let withTrain = 0;
    for (let u = 0; u < ds.numUsers; u++) if (ds.train.indptr[u + 1]! > ds.train.indptr[u]!) withTrain++;
    expect(withTrain).toBe(c.usersWithTrain);
    expect(c.density).toBeCloseTo(c.interactions / (c.users * c.items), 12);
    expect(c.intentDraws + c.randomDraws + c.fillDraws).toBe(c.interactions);

    const text = loadTextVectors(dir, ds.numUsers, ds.numItems, ['usrPrf', 'itmPrf', 'usrInt', 'itmInt']);
    expect(text.usrPrf!.shape).toEqual([ds.numUsers, 16]);
    expect(text.itmPrf!.shape).toEqual([ds.numItems, 16]);
    expect(text.usrInt!.shape).toEqual([ds.numUsers, 24]);
    expect(text.itmInt!.shape).toEqual([ds.numItems, 24]);
    const u0 = text.usrInt!.data;
    expect(dot(u0, 0, u0, 0, 24)).toBeCloseTo(1, 5); // rows are unit length
    expect(readNpy(join(dir, 'usr_int.npy')).descr).toBe('<f4');
  });

  it('the ground truth explains the interactions and the text carries real, noisy signal', () => {
    const ds = loadDataset(dir);
    const truth = readWorldTruth(dir);
    expect(truth.intents).toBe(SMALL.intents);
    expect(truth.users.length).toBe(ds.numUsers);
    expect(truth.items.length).toBe(ds.numItems);
    expect(truth.users.every((u) => u.intents.length === 2 && Math.abs(u.weights[0]! + u.weights[1]! - 1) < 1e-9 && u.weights[0]! >= u.weights[1]!)).toBe(true);
    // most training interactions share an intent between user and item (10% are uniform noise)
    // (a dense world: heavy users exhaust their intents' items, so less than the 90% of a sparse one)
    const sharesIntent = (u: number, i: number) => truth.items[i]!.intents.some((k) => truth.users[u]!.intents.includes(k));
    let shared = 0;
    let chance = 0;
    for (let u = 0; u < ds.numUsers; u++) {
      for (let p = ds.train.indptr[u]!; p < ds.train.indptr[u + 1]!; p++) if (sharesIntent(u, ds.train.indices[p]!)) shared++;
      for (let i = 0; i < ds.numItems; i++) if (sharesIntent(u, i)) chance++;
    }
    const share = shared / csrNnz(ds.train);
    expect(share).toBeGreaterThan(0.75);
    expect(share).toBeGreaterThan(chance / (ds.numUsers * ds.numItems) + 0.25);

    for (const [uk, ik, d] of [['usrInt', 'itmInt', 24], ['usrPrf', 'itmPrf', 16]] as const) {
      const text = loadTextVectors(dir, ds.numUsers, ds.numItems, [uk, ik]);
      const U = text[uk]!.data;
      const I = text[ik]!.data;
      let pos = 0;
      let nPos = 0;
      let rnd = 0;
      let nRnd = 0;
      let seed = 12345;
      for (let u = 0; u < ds.numUsers; u++) {
        for (let p = ds.train.indptr[u]!; p < ds.train.indptr[u + 1]!; p++) {
          pos += dot(U, u * d, I, ds.train.indices[p]! * d, d);
          nPos++;
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          rnd += dot(U, u * d, I, (seed % ds.numItems) * d, d);
          nRnd++;
        }
      }
      const mPos = pos / nPos;
      const mRnd = rnd / nRnd;
      // real signal, but noisy (far from 1); random items share an intent with the user often here (6 intents)
      expect(mPos).toBeGreaterThan(mRnd + 0.08);
      expect(mPos).toBeGreaterThan(1.5 * mRnd);
      expect(mPos).toBeLessThan(0.7);
      // all pairs by the truth: sharing an intent => clearly positive cosine; sharing none => about 0
      const sum = [0, 0];
      const cnt = [0, 0];
      for (let u = 0; u < ds.numUsers; u++) {
        for (let i = 0; i < ds.numItems; i++) {
          const g = sharesIntent(u, i) ? 1 : 0;
          sum[g]! += dot(U, u * d, I, i * d, d);
          cnt[g]!++;
        }
      }
      const none = sum[0]! / cnt[0]!;
      const some = sum[1]! / cnt[1]!;
      expect(Math.abs(none)).toBeLessThan(0.05);
      expect(some).toBeGreaterThan(none + 0.12);
    }
  });

  it('same seed => byte-identical files; another seed => other data; text flags do not move the interactions', () => {
    const again = join(tmp, 'again');
    synthesize(again, SMALL, quiet);
    const a = files(dir);
    const b = files(again);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const f of Object.keys(a)) expect(b[f]!.equals(a[f]!), f).toBe(true);

    const other = join(tmp, 'other');
    synthesize(other, { ...SMALL, seed: 8 }, quiet);
    expect(files(other)['train.tsv']!.equals(a['train.tsv']!)).toBe(false);

    const noText = join(tmp, 'notext');
    synthesize(noText, { ...SMALL, text: false, textNoise: 3, profileDim: 8 }, { ...quiet, truth: 'tsv' });
    const c = files(noText);
    expect(Object.keys(c).sort()).toEqual(['synth.json', 'test.tsv', 'train.tsv', 'truth/items.tsv', 'truth/users.tsv', 'valid.tsv']);
    for (const f of ['train.tsv', 'valid.tsv', 'test.tsv']) expect(c[f]!.equals(a[f]!), f).toBe(true);
    // the TSV ground truth reads back to the same truth as truth.json
    expect(readWorldTruth(noText)).toEqual(readWorldTruth(dir));
    expect(c['truth/users.tsv']!.toString('utf8').split('\n')[0]).toBe('user\tintents\tweights');
  });

  it('buildWorld alone: interactions grouped by user, distinct pairs, exact split counts', () => {
    const w = buildWorld({ ...SMALL, users: 50, items: 400, interactions: 1234, ratios: [8, 1, 1] });
    expect(w.user.length).toBe(1234);
    const seen = new Set<number>();
    for (let p = 0; p < w.user.length; p++) {
      if (p > 0) expect(w.user[p]!).toBeGreaterThanOrEqual(w.user[p - 1]!);
      const key = w.user[p]! * 1_000_000 + w.item[p]!;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
    const n = [0, 0, 0];
    for (const s of w.split) n[s]!++;
    expect(n).toEqual([Math.round(1234 * 0.8), Math.round(1234 * 0.1), 1234 - Math.round(1234 * 0.8) - Math.round(1234 * 0.1)]);
  });

  it('trains: lightgcn for 2 epochs, and the irllrec alignment with the text vectors', () => {
    const ds = loadDataset(dir);
    const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
    const { config } = resolveConfig({ model: 'lightgcn', stats });
    const res = train({ config, dataset: ds, epochs: 2 });
    expect(res.epochsRun).toBe(2);
    expect(res.test['recall@20']).toBeGreaterThan(0);

    const al = resolveConfig({ model: 'lightgcn', align: 'irllrec', stats }).config;
    const text = loadTextVectors(dir, ds.numUsers, ds.numItems, ['usrPrf', 'itmPrf', 'usrInt', 'itmInt']);
    const res2 = train({ config: al, dataset: ds, text, epochs: 1 });
    expect(res2.epochsRun).toBe(1);
  });

  it('float16 text vectors: the same world within float16 rounding', () => {
    const half = join(tmp, 'half');
    const p = { ...SMALL, dtype: 'float16' as const };
    synthesize(half, p, quiet);
    const ds = loadDataset(half);
    const a = loadTextVectors(half, ds.numUsers, ds.numItems, ['usrInt', 'itmPrf']);
    const b = loadTextVectors(dir, ds.numUsers, ds.numItems, ['usrInt', 'itmPrf']);
    for (const k of ['usrInt', 'itmPrf'] as const) {
      let maxErr = 0;
      for (let i = 0; i < a[k]!.data.length; i++) maxErr = Math.max(maxErr, Math.abs(a[k]!.data[i]! - b[k]!.data[i]!));
      expect(maxErr).toBeLessThan(1e-3);
    }
    expect(files(half)['train.tsv']!.equals(files(dir)['train.tsv']!)).toBe(true);
  });
});

describe('synth: command line', () => {
  it('runs through commander, refuses an existing directory without --force, replaces with it', async () => {
    const out = join(tmp, 'cli');
    const args = ['synth', '--out', out, '--users', '100', '--items', '80', '--interactions', '1e3', '--profile-dim', '8', '--intent-dim', '8', '--intents', '4', '--seed', '3', '--quiet'];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const program = new Command();
      program.exitOverride();
      registerSynthCommand(program);
      await program.parseAsync(args, { from: 'user' });
      const m = JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8')) as SynthManifest;
      expect(m.counts.interactions).toBe(1000);
      expect(m.params.seed).toBe(3);
      expect(String(write.mock.calls.at(-1)?.[0])).toMatch(/100 users, .* 1000 interactions/);
      await expect(synthCommand({ out, users: '100', items: '80', interactions: '1000', quiet: true })).rejects.toThrow(/already exists .*--force/);
      await synthCommand({ out, users: '100', items: '80', interactions: '2000', text: false, force: true, quiet: true });
      expect(JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8')).counts.interactions).toBe(2000);
      expect(readdirSync(out)).not.toContain('usr_prf.npy');
    } finally {
      write.mockRestore();
    }
    // --force never replaces a directory that is not a world
    const foreign = join(tmp, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'keep me');
    await expect(synthCommand({ out: foreign, users: '10', items: '10', interactions: '20', force: true, quiet: true })).rejects.toThrow(/not a synthetic world/);
    expect(readFileSync(join(foreign, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('bad flags are one-line UsageErrors', async () => {
    const base = { out: join(tmp, 'bad'), users: '100', items: '80', interactions: '1000' };
    const bad: [Record<string, string>, RegExp][] = [
      [{ users: 'x' }, /--users must be an integer/],
      [{ interactions: '50' }, /at least users/],
      [{ interactions: '5000' }, /more than half of users x items/],
      [{ intents: '0' }, /--intents must be an integer >= 1/],
      [{ intents: '2', intentsPerUser: '3' }, /--intents-per-user \(3\) must be at most --intents \(2\)/],
      [{ ratios: '3,1' }, /--ratios must be three/],
      [{ ratios: '0,1,1' }, /--ratios/],
      [{ textNoise: '-1' }, /--text-noise/],
      [{ popularity: 'abc' }, /--popularity/],
      [{ randomShare: '1.5' }, /--random-share/],
      [{ dtype: 'float64' }, /--dtype must be float32 or float16/],
      [{ seed: '1.5' }, /--seed must be an integer/],
      [{ profileDim: '0' }, /--profile-dim/],
    ];
    for (const [o, re] of bad) {
      const e = await synthCommand({ ...base, quiet: true, ...o }).then(() => null, (err: unknown) => err);
      expect(e, JSON.stringify(o)).toBeInstanceOf(UsageError);
      expect((e as Error).message, JSON.stringify(o)).toMatch(re);
      expect((e as Error).message).not.toMatch(/\n/);
    }
    await expect(synthCommand({ users: '1' })).rejects.toThrow(/--out DIR is required/);
    expect(synthParams({ users: '3_000', items: '2,000', interactions: '3.3e4' })).toMatchObject({ users: 3000, items: 2000, interactions: 33000 });
  });
});
