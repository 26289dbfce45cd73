/**
 * Robustness against bad input, fuzz style: each class of hostile or broken input is GENERATED here
 * and fed to the built CLI (`node dist/cli/main.js train ...`, built by `npm run build:ts`). Every
 * one must be refused with exit code 2, exactly one line on stderr naming the file or the key, no
 * stack trace, nothing written at --out, and (for the declared-size cases) a peak RSS under 200 MB.
 * In-process checks cover the same readers and the config schema directly.
 *
 * Classes: declared sizes trusted (pickled `_shape` 2^31-1, TSV id 2147483646, .npy shape 1e9 x 1e9,
 * `model.embedding_size=1e9`), opcode floods (8 MiB of EMPTY_LIST / MEMOIZE), nesting (.npy header
 * 60,000 lists deep), config holes (`__proto__`, `constructor`, `prototype` from --set, YAML, JSON;
 * lr=1e30; test.k=1000000; k > items; memory budget), duplicated rows.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/models/registry.js'; // installs the model catalog config/ reads
import { resolveConfig } from '../src/config/load.js';
import { defaultConfig, MODEL_DEFAULTS, SECTIONS, autoTraining } from '../src/config/defaults.js';
import { applyOverrides, checkConfigAgainstData, ConfigError, flatten, parseValue, validate, type AlignName } from '../src/config/schema.js';
import { loadDataset } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { readNpy } from '../src/data/formats/numpy.js';
import { loadPickle } from '../src/data/formats/pickle.js';
import { parseInteractionsTsv } from '../src/data/formats/tsv.js';
import { isUserFacing, UserError } from '../src/util/errors.js';
import { checkAlloc, memoryBudget, parseByteSize } from '../src/util/limits.js';
import { repoRoot } from './shared.js';
import { expectDataError } from './helpers/expect.js';
import { pool } from './helpers/pool.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');
const FIX = join(repoRoot, 'test', 'fixtures', 'formats');
const tmp = mkdtempSync(join(tmpdir(), 'irllrec-robust-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const RSS_LIMIT_KB = 200 * 1024;

// ---------------------------------------------------------------------------------------------
// generators

let seq = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${seq++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** 30 users x 20 items, 4 train / 1 valid / 1 test item per user. */
function tinyTsv(dir = fresh('tiny'), extra: Partial<Record<'train' | 'valid' | 'test', string[]>> = {}): string {
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < 30; u++) {
    for (let k = 0; k < 6; k++) lines[k < 4 ? 'train' : k === 4 ? 'valid' : 'test']!.push(`${u}\t${(u * 7 + k * 3) % 20}`);
  }
  for (const s of ['train', 'valid', 'test'] as const) {
    writeFileSync(join(dir, `${s}.tsv`), `user\titem\n${[...lines[s]!, ...(extra[s] ?? [])].join('\n')}\n`);
  }
  return dir;
}

/** The small COO fixture (3 x 5, 4 entries) with its `_shape` replaced by (rows, cols) as BININTs. */
function cooWithShape(rows: number, cols: number): Buffer {
  const src = readFileSync(join(FIX, 'coo_coords_i8_f4_scipy2x_p4.pkl'));
  const at = src.indexOf(Buffer.from([0x4b, 3, 0x4b, 5, 0x86]));
  if (at < 0) throw new Error('fixture layout changed');
  const shape = Buffer.alloc(11);
  shape[0] = 0x4a;
  shape.writeInt32LE(rows, 1);
  shape[5] = 0x4a;
  shape.writeInt32LE(cols, 6);
  shape[10] = 0x86;
  return Buffer.concat([src.subarray(0, at), shape, src.subarray(at + 5)]);
}

function pickleDir(name: string, bytes: Buffer): string {
  const d = fresh(name);
  for (const f of ['trn_mat.pkl', 'val_mat.pkl', 'tst_mat.pkl']) writeFileSync(join(d, f), bytes);
  return d;
}

/** PROTO 4, then `size - 3` copies of `op` (after an optional prefix), then STOP. */
function flood(op: number, size: number, prefix: number[] = []): Buffer {
  const b = Buffer.alloc(size, op);
  b[0] = 0x80;
  b[1] = 4;
  Buffer.from(prefix).copy(b, 2);
  b[size - 1] = 0x2e;
  return b;
}

/** An .npy (format 2.0) with this header dict text and body. */
function npy(header: string, body: Buffer): Buffer {
  const pre = 12;
  const h = header + ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(pre + h.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 0);
  head[6] = 2;
  head.writeUInt32LE(h.length, 8);
  head.write(h, pre, 'latin1');
  return Buffer.concat([head, body]);
}

/** A TSV dataset with profile vectors usr_prf.npy / itm_prf.npy holding `bytes` (for --align rlmrec-con). */
function withTextVectors(name: string, bytes: Buffer): string {
  const d = tinyTsv(fresh(name));
  writeFileSync(join(d, 'usr_prf.npy'), bytes);
  writeFileSync(join(d, 'itm_prf.npy'), bytes);
  return d;
}

const deepShapeHeader = (depth: number) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${'['.repeat(depth)}${']'.repeat(depth)}, }`;

// ---------------------------------------------------------------------------------------------
// running the CLI (several at a time: each is mostly node start-up)

interface Result { code: number | null; stdout: string; stderr: string; rssKb: number | null }

const rssHook = join(tmp, 'rss-hook.cjs');
writeFileSync(rssHook, `process.on('exit', () => { const f = process.env.IRLLREC_TEST_RSS_FILE; if (f) require('fs').writeFileSync(f, String(process.resourceUsage().maxRSS)); });\n`);

function runCli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build:ts" first`);
  const rssFile = join(tmp, `rss-${seq++}.txt`);
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--require', rssHook, cli, ...args], {
      env: { ...process.env, IRLLREC_NO_PROGRESS: '1', IRLLREC_TEST_RSS_FILE: rssFile, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const rssKb = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) : null;
      resolveRun({ code, stdout, stderr, rssKb });
    });
  });
}

interface Case {
  name: string;
  /** Arguments after `train` (without --out). */
  args: string[];
  /** The one stderr line must match (it names the file or the key). */
  names: RegExp;
  /** A declared-size case: the child's peak RSS must stay under 200 MB. */
  rss?: boolean;
  env?: Record<string, string>;
}

function buildCases(): Case[] {
  const yamlProto = join(fresh('cfg'), 'proto.yaml');
  writeFileSync(yamlProto, '__proto__:\n  polluted: 1\nmodel:\n  embedding_size: 8\n');
  const yamlPrototype = join(fresh('cfg'), 'prototype.yaml');
  writeFileSync(yamlPrototype, 'prototype: 1\n');
  const jsonProto = join(fresh('cfg'), 'proto.json');
  writeFileSync(jsonProto, '{"__proto__": {"embedding_size": 8}, "optimizer": {"lr": 0.001}}');
  const jsonCtor = join(fresh('cfg'), 'ctor.json');
  writeFileSync(jsonCtor, '{"constructor": {"name": "x"}}');
  const tiny = tinyTsv();

  const hugeIdDir = fresh('hugeid');
  writeFileSync(join(hugeIdDir, 'train.tsv'), 'user\titem\n0\t0\n2147483646\t1\n1\t1\n');
  writeFileSync(join(hugeIdDir, 'valid.tsv'), 'user\titem\n0\t1\n');
  writeFileSync(join(hugeIdDir, 'test.tsv'), 'user\titem\n1\t0\n');
  const hugeItemDir = tinyTsv(fresh('hugeitem'), { test: ['3\t2147483646'] });

  return [
    // 1. declared sizes
    { name: 'pickled coo _shape 2^31-1 square', args: ['--data', pickleDir('shape', cooWithShape(0x7fffffff, 0x7fffffff))], names: /trn_mat\.pkl: .*_shape \(2147483647, 2147483647\)/, rss: true },
    { name: 'TSV user id 2147483646 in a 3-line file', args: ['--data', hugeIdDir], names: /train\.tsv:3: field "user" = 2147483646 .*dense 0-based/, rss: true },
    { name: 'TSV item id 2147483646 in test.tsv', args: ['--data', hugeItemDir], names: /test\.tsv:32: field "item" = 2147483646/, rss: true },
    { name: '.npy shape (1e9, 1e9) with an 80-byte body', args: ['--data', withTextVectors('npy-shape', npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }`, Buffer.alloc(80))), '--align', 'rlmrec-con'], names: /usr_prf\.npy: truncated \.npy data: 80 bytes, expected 4\.00e\+18 for shape \(1000000000, 1000000000\)/, rss: true },
    { name: '--set model.embedding_size=1000000000', args: ['--data', tiny, '--set', 'model.embedding_size=1000000000'], names: /model\.embedding_size must be a positive integer at most 4096/, rss: true },
    { name: 'embedding tables over the memory budget', args: ['--data', tiny, '--set', 'model.embedding_size=4096'], env: { IRLLREC_MEMORY_BUDGET: '1M' }, names: /^irllrec: error: model\.embedding_size=4096: .*memory budget of 1\.0 MiB/, rss: true },
    { name: 'IRLLREC_MEMORY_BUDGET not a size', args: ['--data', tiny], env: { IRLLREC_MEMORY_BUDGET: 'lots' }, names: /IRLLREC_MEMORY_BUDGET="lots"/ },
    // opcode floods
    { name: '8 MiB pickle of EMPTY_LIST opcodes', args: ['--data', pickleDir('flood-list', flood(0x5d, 8 << 20))], names: /trn_mat\.pkl: corrupt or unsupported pickle: the opcodes build more than/, rss: true },
    { name: '8 MiB pickle of MEMOIZE opcodes', args: ['--data', pickleDir('flood-memo', flood(0x94, 8 << 20, [0x5d]))], names: /trn_mat\.pkl: corrupt or unsupported pickle: the opcodes build more than/, rss: true },
    // 2. nesting
    { name: '.npy header nesting 60,000 lists', args: ['--data', withTextVectors('npy-deep', npy(deepShapeHeader(60000), Buffer.alloc(0))), '--align', 'rlmrec-con'], names: /usr_prf\.npy: bad \.npy header: nested deeper than 32 levels/, rss: true },
    // 3. config holes
    { name: '--set __proto__=1', args: ['--data', tiny, '--set', '__proto__=1'], names: /--set __proto__: unknown config key __proto__/ },
    { name: 'YAML key __proto__', args: ['--data', tiny, '--config', yamlProto], names: /proto\.yaml: unknown config key __proto__/ },
    { name: 'YAML key prototype', args: ['--data', tiny, '--config', yamlPrototype], names: /prototype\.yaml: unknown config key prototype/ },
    { name: 'JSON key __proto__', args: ['--data', tiny, '--config', jsonProto], names: /proto\.json: unknown config key __proto__/ },
    { name: 'JSON key constructor', args: ['--data', tiny, '--config', jsonCtor], names: /ctor\.json: unknown config key constructor/ },
    { name: '--set optimizer.lr=1e30', args: ['--data', tiny, '--set', 'optimizer.lr=1e30'], names: /optimizer\.lr must be a finite positive number at most 10, got 1e\+30/ },
    { name: '--set test.k=1000000', args: ['--data', tiny, '--set', 'test.k=1000000'], names: /test\.k must be .* each at most 10000/ },
    { name: 'test.k=5,10,25 on 20 items', args: ['--data', tiny, '--set', 'test.k=5,10,25'], names: /test\.k: k=25 is more than the dataset's 20 items/ },
  ];
}

describe('the CLI refuses bad input: exit 2, one line naming the file or key, nothing written', () => {
  const cases = buildCases();
  const results = new Map<string, Result & { out: string }>();
  beforeAll(async () => {
    const rs = await pool(cases.map((c) => async () => {
      const out = join(fresh('out'), 'run');
      return { ...(await runCli(['train', ...c.args, '--out', out, '--json', '--epochs', '1'], c.env)), out };
    }), 3);
    cases.forEach((c, i) => results.set(c.name, rs[i]!));
  }, 120_000);

  for (const c of cases) {
    it(c.name, () => {
      const r = results.get(c.name)!;
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toContain('    at ');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^irllrec: error: /);
      expect(lines[0]).toMatch(c.names);
      expect(r.stdout).toBe('');
      expect(existsSync(r.out), `${r.out} was written`).toBe(false);
      if (c.rss) {
        expect(r.rssKb, 'the RSS hook did not report').not.toBeNull();
        expect(r.rssKb!, `peak RSS ${Math.round(r.rssKb! / 1024)} MB`).toBeLessThan(RSS_LIMIT_KB);
      }
    });
  }

  it('test.k beyond the items of a run resumed from an edited config.json is refused before training (needs the checkConfigAgainstData call in src/cli/train.ts)', async () => {
    const data = tinyTsv();
    const run = fresh('resume');
    const config = resolveConfig({ model: 'lightgcn', stats: { users: 30, items: 20, train: 120 } }).config;
    writeFileSync(join(run, 'config.json'), JSON.stringify({ ...config, test: { ...config.test, k: [5, 10, 25] } }));
    writeFileSync(join(run, 'run.json'), JSON.stringify({ data, textDir: null, epochs: 1 }));
    const r = await runCli(['train', '--resume', run]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toContain('    at ');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/test\.k: k=25 is more than the dataset's 20 items/);
    expect(existsSync(join(run, 'checkpoint'))).toBe(false);
  });
});

describe('duplicated rows are trained on once, and counted as trained on', () => {
  it('in-process: trainPairs drop later repeats in file order; warnings name the file and count', () => {
    const dir = tinyTsv(fresh('dup'), { train: ['0\t0', '0\t0', '1\t7'], test: ['2\t14'] });
    const ds = loadDataset(dir);
    expect(ds.trainPairs.user.length).toBe(120);
    expect(ds.train.indptr[ds.numUsers]).toBe(120);
    expect(ds.warnings).toContain('train.tsv: 3 duplicate rows ignored (each (user, item) pair counts once)');
    // (2, 14) is a training pair of user 2: reported, kept
    expect(ds.warnings!.some((w) => w.startsWith('test.tsv: 1 (user, item) pair is also in train.tsv'))).toBe(true);
    expect(ds.test.indptr[3]! - ds.test.indptr[2]!).toBe(2);
    // the first occurrences, in file order
    expect([...ds.trainPairs.user.subarray(0, 8)]).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    const clean = loadDataset(tinyTsv());
    expect(clean.warnings).toEqual([]);
  });

  it('CLI: the log counts what is trained on and warns once (the warning line needs the logDataset change in src/cli/train.ts)', async () => {
    const dir = tinyTsv(fresh('dup-cli'), { train: ['0\t0', '0\t0', '1\t7'] });
    const r = await runCli(['train', '--data', dir, '--epochs', '1', '--set', 'train.batch_size=64']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/train 120 \/ valid 30 \/ test 30 interactions/);
    expect(r.stderr.match(/train\.tsv: 3 duplicate rows ignored/g)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// in-process: readers

describe('pickle VM: floods and amplification are refused early, never a crash', () => {
  const floods: [string, number, number[]][] = [
    ['EMPTY_LIST', 0x5d, []], ['EMPTY_DICT', 0x7d, []], ['EMPTY_TUPLE', 0x29, []], ['MARK', 0x28, []],
    ['NONE', 0x4e, []], ['DUP', 0x32, [0x5d]], ['MEMOIZE', 0x94, [0x5d]], ['TUPLE1', 0x85, [0x4e]],
  ];
  for (const [name, op, prefix] of floods) {
    it(`${name} x 2.5M`, () => {
      const e = expectDataError(() => loadPickle(flood(op, (5 << 20) / 2, prefix), 'f.pkl'));
      expect(e.message).toMatch(/^f\.pkl: (corrupt or unsupported pickle|truncated pickle)/);
    });
  }

  it('a tuple nested 1M deep used as a dict key: no recursion, no blow-up', () => {
    // EMPTY_DICT, NONE, TUPLE1 x N, NONE, SETITEM, STOP
    const n = 1 << 20;
    const b = Buffer.alloc(n + 8, 0x85);
    b.set([0x80, 4, 0x7d, 0x4e], 0);
    b.set([0x4e, 0x73, 0x2e], n + 5);
    const e = expectDataError(() => loadPickle(b, 'deep.pkl'));
    expect(e.message).toMatch(/deep\.pkl: corrupt or unsupported pickle: the opcodes build more than/);
    const small = Buffer.from([0x80, 4, 0x7d, 0x4e, ...new Array(20000).fill(0x85), 0x4e, 0x73, 0x2e]);
    expect(loadPickle(small, 'ok.pkl')).toMatchObject({ kind: 'dict' });
  });

  it('a memoised payload copied over and over (bytearray) is refused in proportion to the file', () => {
    // b'x' * 65536 memoised, then (GLOBAL builtins.bytearray, BINGET 0, TUPLE1, REDUCE, POP) x 20000
    const payload = [0x42, 0, 0, 1, 0, ...new Array(65536).fill(0x78), 0x94, 0x30];
    const glob = [0x63, ...Buffer.from('builtins\nbytearray\n')];
    const call = [...glob, 0x68, 0, 0x85, 0x52, 0x30];
    const body: number[] = [0x80, 4, ...payload];
    for (let i = 0; i < 20000; i++) body.push(...call);
    body.push(0x4e, 0x2e);
    const e = expectDataError(() => loadPickle(Buffer.from(body), 'amp.pkl'));
    expect(e.message).toMatch(/out of proportion to the \d+-byte file/);
  });

  it('LONG4 of 4 MiB is refused without quadratic work', () => {
    const len = 4 << 20;
    const b = Buffer.alloc(len + 8);
    b.set([0x80, 4, 0x8b], 0);
    b.writeInt32LE(len, 3);
    b[len + 7] = 0x2e;
    expect(expectDataError(() => loadPickle(b, 'long.pkl')).message).toMatch(/LONG4 integer of 4194304 bytes/);
  });
});

describe('.npy and TSV readers', () => {
  it('.npy header nesting: 60,000 levels refused by depth, a real header still reads', () => {
    const p = join(fresh('npy'), 'deep.npy');
    writeFileSync(p, npy(deepShapeHeader(60000), Buffer.alloc(0)));
    expect(expectDataError(() => readNpy(p)).message).toMatch(/deep\.npy: bad \.npy header: nested deeper than 32 levels/);
    expect(readNpy(join(FIX, 'f32_2x3.npy')).shape).toEqual([2, 3]);
  });

  it('.npy: a __proto__ key in the header is an ordinary key', () => {
    const p = join(fresh('npy'), 'proto.npy');
    writeFileSync(p, npy(`{'__proto__': {'descr': '<f4', 'fortran_order': False, 'shape': (1,)}, }`, Buffer.alloc(4)));
    expect(expectDataError(() => readNpy(p)).message).toMatch(/unsupported \.npy dtype undefined/);
    expect(({} as Record<string, unknown>)['descr']).toBeUndefined();
  });

  it('TSV ids: far beyond the data refused with file:line, sparse-but-sane ids accepted', () => {
    expect(expectDataError(() => parseInteractionsTsv('0\t0\n5\t2147483646\n', 'x.tsv', { maxId: 1000 })).message)
      .toBe('x.tsv:2: field "item" = 2147483646 is far beyond the data (at most 1000)');
    // 500000 users for 3 interactions is within the 2^20 floor of the rule
    const d = fresh('sparse');
    writeFileSync(join(d, 'train.tsv'), 'user\titem\n0\t0\n500000\t3\n');
    writeFileSync(join(d, 'valid.tsv'), 'user\titem\n');
    writeFileSync(join(d, 'test.tsv'), 'user\titem\n7\t1\n');
    const ds = loadDataset(d);
    expect([ds.numUsers, ds.numItems]).toEqual([500001, 4]);
  });
});

// ---------------------------------------------------------------------------------------------
// in-process: config

describe('config schema', () => {
  const base = () => resolveConfig({ model: 'lightgcn' }).config;

  it('__proto__, constructor, prototype are unknown keys everywhere, and nothing is polluted', () => {
    for (const k of ['__proto__', 'constructor', 'prototype', 'model.__proto__', 'model.constructor', 'toString', 'hasOwnProperty']) {
      expect(() => parseValue(k, '1')).toThrow(ConfigError);
      expect(() => applyOverrides(base(), JSON.parse(`{${JSON.stringify(k)}: 1}`), 'x')).toThrow(/unknown config key|not a parameter/);
    }
    expect(() => flatten(JSON.parse('{"__proto__": {"lr": 1}}'), 'f.json')).toThrow(/f\.json: unknown config key __proto__/);
    expect(() => flatten(JSON.parse('{"optimizer": {"__proto__": {"lr": 1}}}'), 'f.json')).toThrow(/unknown config key optimizer\.__proto__/);
    expect(() => flatten(JSON.parse('{"constructor": {"name": "x"}}'), 'f.json')).toThrow(/unknown config key constructor/);
    expect(() => validate(JSON.parse(`{"__proto__": {}, ${JSON.stringify(base()).slice(1)}`) as never, 'c.json')).toThrow(/c\.json: unknown config key __proto__/);
    expect(() => resolveConfig({ sets: ['__proto__=1'] })).toThrow(/unknown config key __proto__/);
    expect((Object.prototype as Record<string, unknown>)['undefined']).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('a config.json with a missing section or key is a ConfigError, not a TypeError', () => {
    const c = base() as unknown as Record<string, unknown>;
    const { optimizer: _o, ...noOpt } = c;
    expect(() => validate(noOpt as never, 'c.json')).toThrow(/c\.json: optimizer\.lr is missing/);
    expect(() => validate({ ...c, train: 5 } as never, 'c.json')).toThrow(/c\.json: train must be an object/);
    expect(() => validate(null as never, 'c.json')).toThrow(ConfigError);
  });

  it('ranges: refused out of range, at the bounds accepted', () => {
    const ok: [string, unknown][] = [['optimizer.lr', 10], ['model.embedding_size', 4096], ['model.layer_num', 10], ['train.batch_size', 1e6],
      ['test.batch_size', 1e6], ['test.k', [1, 10000]], ['model.reg_weight', 1e6], ['model.keep_rate', 1]];
    for (const [k, v] of ok) expect(() => applyOverrides(base(), { [k]: v }, 'x')).not.toThrow();
    const bad: [string, unknown][] = [['optimizer.lr', 1e30], ['optimizer.lr', 0], ['optimizer.lr', Infinity], ['model.embedding_size', 4097],
      ['model.layer_num', 11], ['train.batch_size', 1e6 + 1], ['test.batch_size', 2e6], ['test.k', [10001]], ['test.k', []],
      ['test.k', Array.from({ length: 65 }, (_, i) => i + 1)], ['model.reg_weight', 1e7], ['train.epoch', 1e7], ['train.seed', 2 ** 60]];
    for (const [k, v] of bad) expect(() => applyOverrides(base(), { [k]: v }, 'x'), `${k}=${JSON.stringify(v)}`).toThrow(ConfigError);
  });

  it('every official default (backbone x alignment x section, and the auto rules) is within the bounds', () => {
    let n = 0;
    for (const [backbone, aligns] of Object.entries(MODEL_DEFAULTS)) {
      for (const align of Object.keys(aligns) as AlignName[]) {
        for (const section of SECTIONS) {
          const cfg = defaultConfig(backbone, align, section);
          expect(() => validate(cfg), `${backbone} ${align} ${section}`).not.toThrow();
          expect(() => validate(applyOverrides(cfg, autoTraining({ users: 50, items: 40, train: 300 }).sets, 'auto'))).not.toThrow();
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(60);
  });

  it('checkConfigAgainstData: k <= items and the model within the memory budget, naming the key', () => {
    const cfg = base();
    expect(() => checkConfigAgainstData(cfg, { users: 11000, items: 9332, train: 100000 })).not.toThrow();
    expect(() => checkConfigAgainstData(cfg, { users: 30, items: 19, train: 120 })).toThrow(/^test\.k: k=20 is more than the dataset's 19 items/);
    const wide = applyOverrides(cfg, { 'model.embedding_size': 4096 }, 'x');
    expect(() => checkConfigAgainstData(wide, { users: 2_000_000, items: 1_000_000, train: 5e7 })).toThrow(/^model\.embedding_size=4096: .*more than the memory budget/);
    const evalHeavy = applyOverrides(cfg, { 'test.batch_size': 1_000_000 }, 'x');
    expect(() => checkConfigAgainstData(evalHeavy, { users: 1_000_000, items: 1_000_000, train: 5e6 })).toThrow(/^test\.batch_size=1000000: /);
    // the paper's largest dataset at a wide embedding fits the default budget
    expect(() => checkConfigAgainstData(applyOverrides(cfg, { 'model.embedding_size': 256 }, 'x'), { users: 16994, items: 9370, train: 300000 })).not.toThrow();
  });
});

describe('memory budget and the one error path', () => {
  it('parses sizes and reads IRLLREC_MEMORY_BUDGET', () => {
    expect(parseByteSize('4G')).toBe(4 * 2 ** 30);
    expect(parseByteSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1.5g')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('4000000000')).toBe(4e9);
    expect(parseByteSize('lots')).toBeNull();
    expect(parseByteSize('-1G')).toBeNull();
    const saved = process.env.IRLLREC_MEMORY_BUDGET;
    try {
      delete process.env.IRLLREC_MEMORY_BUDGET;
      expect(memoryBudget()).toBeLessThanOrEqual(8 * 2 ** 30);
      process.env.IRLLREC_MEMORY_BUDGET = '2M';
      expect(memoryBudget()).toBe(2 * 2 ** 20);
      expect(() => checkAlloc(3 * 2 ** 20, 'a table', 'x.bin')).toThrow(/^x\.bin: a table would need 3\.0 MiB, more than the memory budget of 2\.0 MiB/);
      expect(() => checkAlloc(NaN, 'a table', 'x.bin')).toThrow(UserError);
      expect(() => checkAlloc(1024, 'a table', 'x.bin')).not.toThrow();
      process.env.IRLLREC_MEMORY_BUDGET = 'nope';
      expect(() => memoryBudget()).toThrow(UserError);
    } finally {
      if (saved === undefined) delete process.env.IRLLREC_MEMORY_BUDGET;
      else process.env.IRLLREC_MEMORY_BUDGET = saved;
    }
  });

  it('every user-facing error class is a UserError; internal errors are not', async () => {
    const { CheckpointError } = await import('../src/train/checkpoint.js');
    const { RunError, NotFoundError, InvalidArgumentError, UnavailableError } = await import('../src/serve/errors.js');
    const { SafetensorsError } = await import('../src/util/safetensors.js');
    const { MemoryLimitError } = await import('../src/util/limits.js');
    const { BaselineLimitError } = await import('../src/baselines/types.js');
    const { UsageError } = await import('../src/cli/errors.js');
    const { LlmError } = await import('../src/text/llm.js');
    const { UnknownModelError } = await import('../src/models/registry.js');
    const { WorldParamError } = await import('../src/synth/world.js');
    for (const e of [new DataError('f', 'x'), new ConfigError('x'), new UsageError('x'), new CheckpointError('x'), new RunError('x'),
      new NotFoundError('x'), new InvalidArgumentError('x'), new UnavailableError('x'), new SafetensorsError('f', 'x'), new BaselineLimitError('x'),
      new MemoryLimitError('x'), new LlmError('x', null, false), new UnknownModelError('x'), new WorldParamError('x')]) {
      expect(e, e.name).toBeInstanceOf(UserError);
      expect(isUserFacing(e), e.name).toBe(true);
    }
    for (const e of [new Error('x'), new RangeError('Array buffer allocation failed'), new TypeError('x')]) expect(isUserFacing(e)).toBe(false);
  });
});
