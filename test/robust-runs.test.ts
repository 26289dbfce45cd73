/**
 * Damaged and interrupted run directories. From one good tiny run, a fuzz-style table of damaged
 * copies (safetensors offsets, truncations, headers, dtypes; config/run/state/history JSON; state
 * fields; missing files; flipped bytes under the checksums): `train --resume` and `recommend --run`
 * each answer exit 2 with one stderr line naming the file (no stack trace) and leave the directory
 * byte-identical. Also: a run killed before its first checkpoint restarts with the same command, one
 * with a checkpoint continues with it, other settings are refused; a diverging run never replaces a
 * good checkpoint; Ctrl-C prints how to continue and exits 130.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load.js';
import { ConfigError } from '../src/config/schema.js';
import { loadDataset } from '../src/data/dataset.js';
import { verifyRunFiles } from '../src/run/verify.js';
import { RunError } from '../src/serve/errors.js';
import { openRun } from '../src/serve/run.js';
import { CheckpointError } from '../src/train/checkpoint.js';
import { train } from '../src/train/trainer.js';
import { readSafetensors } from '../src/util/safetensors.js';
import { repoRoot } from './shared.js';
import { splitsDataset } from './helpers/datasets.js';
import { pool } from './helpers/pool.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [cli, ...args], { env: { ...process.env, IRLLREC_NO_PROGRESS: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

const dataset = (): string => splitsDataset('irllrec-robust-data-');

/** Every path under dir with the SHA-256 of its content (directories as such). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) {
        out[r] = 'dir';
        walk(r);
      } else out[r] = createHash('sha256').update(readFileSync(join(dir, r))).digest('hex');
    }
  };
  walk('');
  return out;
}

/** Rewrites a safetensors file's JSON header (the data section is kept as it is). */
function editHeader(file: string, edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void): void {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  edit(h);
  const hb = Buffer.from(JSON.stringify(h), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeFileSync(file, Buffer.concat([len, hb, buf.subarray(8 + n)]));
}

/** The tensors of a header in data order. */
const byOffset = (h: Record<string, { data_offsets: number[] }>) =>
  Object.keys(h).filter((k) => k !== '__metadata__').sort((a, b) => h[a]!.data_offsets[0]! - h[b]!.data_offsets[0]!);

const headerLength = (file: string) => Number(readFileSync(file).readBigUInt64LE(0));

function editJson(file: string, edit: (v: Record<string, unknown>) => void): void {
  const v = JSON.parse(readFileSync(file, 'utf8'));
  edit(v);
  writeFileSync(file, JSON.stringify(v));
}

function truncateTo(file: string, at: (size: number) => number): void {
  truncateSync(file, at(statSync(file).size));
}

/** Flips the lowest bit of one byte (a float's lowest mantissa bit: still a finite number). */
function flipByte(file: string, at: (size: number) => number): void {
  const b = readFileSync(file);
  b[at(b.length)]! ^= 1;
  writeFileSync(file, b);
}

const M = 'model.safetensors';
/** Files `train --resume` writes again (it may do without them). */
const RESUME_REWRITES = ['model.safetensors', 'history.json', 'summary.json'];
const CW = 'checkpoint/weights.safetensors';
const ST = 'checkpoint/state.json';

/**
 * name -> [damage, what the one error line must name]. Every damage is checked in process (openRun,
 * and the resume verification); the issue's examples (names without "~") also through the CLI:
 * `train --resume` and `recommend --run` (each CLI start costs ~0.3 s of CPU).
 */
const DAMAGES: Record<string, [(dir: string) => void, RegExp]> = {
  'model: negative data_offsets': [(d) => editHeader(join(d, M), (h) => {
    const first = h[byOffset(h)[0]!]!;
    first.data_offsets = [first.data_offsets[0]! - 16, first.data_offsets[1]! - 16];
  }), /model\.safetensors.*data_offsets/],
  '~model: overlapping data_offsets': [(d) => editHeader(join(d, M), (h) => {
    const second = h[byOffset(h)[1]!]!;
    second.data_offsets = [second.data_offsets[0]! - 4, second.data_offsets[1]! - 4];
  }), /model\.safetensors.*overlap/],
  '~model: data_offsets past the end': [(d) => editHeader(join(d, M), (h) => {
    const last = h[byOffset(h).at(-1)!]!;
    last.data_offsets = [last.data_offsets[0]! + 8, last.data_offsets[1]! + 8];
  }), /model\.safetensors.*data_offsets/],
  '~model: shape does not match the span': [(d) => editHeader(join(d, M), (h) => {
    const t = h[byOffset(h)[0]!]!;
    t.shape = [t.shape[0]! + 1, t.shape[1]!];
  }), /model\.safetensors.*shape/],
  'model: dtype I32': [(d) => editHeader(join(d, M), (h) => { h[byOffset(h)[0]!]!.dtype = 'I32'; }), /model\.safetensors.*dtype I32/],
  '~model: unknown dtype': [(d) => editHeader(join(d, M), (h) => { h[byOffset(h)[0]!]!.dtype = 'Q7'; }), /model\.safetensors.*unknown dtype "Q7"/],
  'model: header is not JSON': [(d) => {
    const f = join(d, M);
    const b = readFileSync(f);
    b.write('#!x', 8 + 1);
    writeFileSync(f, b);
  }, /model\.safetensors.*not JSON/],
  '~model: header length beyond the file': [(d) => {
    const f = join(d, M);
    const b = readFileSync(f);
    b.writeBigUInt64LE(BigInt(b.length * 4), 0);
    writeFileSync(f, b);
  }, /model\.safetensors.*header length/],
  'model: truncated to 5 bytes': [(d) => truncateTo(join(d, M), () => 5), /model\.safetensors.*truncated/],
  '~model: truncated in the header': [(d) => truncateTo(join(d, M), () => 8 + Math.floor(headerLength(join(d, M)) / 2)), /model\.safetensors.*truncated/],
  'model: truncated in the data': [(d) => truncateTo(join(d, M), () => 8 + headerLength(join(d, M)) + 10), /model\.safetensors.*truncated/],
  'model: one flipped byte in the weights (checksum)': [(d) => flipByte(join(d, M), (n) => n - 64), /model\.safetensors.*SHA-256/],
  '~checkpoint weights: negative data_offsets': [(d) => editHeader(join(d, CW), (h) => {
    const first = h[byOffset(h)[0]!]!;
    first.data_offsets = [-8, first.data_offsets[1]!];
  }), /checkpoint\/weights\.safetensors.*data_offsets/],
  'checkpoint weights: one flipped byte (checksum)': [(d) => flipByte(join(d, CW), (n) => n - 64), /checkpoint\/weights\.safetensors.*SHA-256/],
  'checkpoint: optimizer.safetensors missing': [(d) => rmSync(join(d, 'checkpoint', 'optimizer.safetensors')), /checkpoint\/optimizer\.safetensors is missing/],
  '~checkpoint: state.json missing': [(d) => rmSync(join(d, ST)), /checkpoint\/state\.json is missing/],
  'state.json truncated': [(d) => truncateTo(join(d, ST), (n) => Math.floor(n / 2)), /state\.json: not valid JSON/],
  'state.json malformed (a list)': [(d) => writeFileSync(join(d, ST), '[1, 2]\n'), /state\.json: expected a JSON object/],
  'state: nextEpoch -5': [(d) => editJson(join(d, ST), (v) => { v.nextEpoch = -5; }), /state\.json: nextEpoch must be/],
  'state: nextEpoch "abc"': [(d) => editJson(join(d, ST), (v) => { v.nextEpoch = 'abc'; }), /state\.json: nextEpoch must be/],
  '~state: nextEpoch past the budget': [(d) => editJson(join(d, ST), (v) => { v.nextEpoch = 99; }), /state\.json: nextEpoch must be/],
  'state: adamSteps []': [(d) => editJson(join(d, ST), (v) => { v.adamSteps = []; }), /state\.json: adamSteps has 0 entries/],
  '~state: adamSteps [-1, 2.5]': [(d) => editJson(join(d, ST), (v) => { v.adamSteps = [-1, 2.5]; }), /state\.json: adamSteps must be/],
  'state: rng.train [1]': [(d) => editJson(join(d, ST), (v) => { (v.rng as Record<string, unknown>).train = [1]; }), /state\.json: rng\.train must be/],
  '~state: history cut short': [(d) => editJson(join(d, ST), (v) => { (v.history as { epochs: unknown[] }).epochs.pop(); }), /state\.json: history\.epochs has/],
  '~state: one byte changed in a value (checksum)': [(d) => {
    const f = join(d, ST);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/"trainSeconds":(\d)/, (_m, x) => `"trainSeconds":${(Number(x) + 1) % 10}`));
  }, /state\.json.*SHA-256/],
  'config.json truncated': [(d) => truncateTo(join(d, 'config.json'), (n) => Math.floor(n / 2)), /config\.json: not valid JSON/],
  'config.json malformed': [(d) => writeFileSync(join(d, 'config.json'), '{"model": 5}\n'), /config\.json: the model section/],
  '~config.json: a key missing': [(d) => editJson(join(d, 'config.json'), (v) => { delete (v.model as Record<string, unknown>).layer_num; }), /config\.json: model\.layer_num is missing/],
  '~config.json: lr changed (checksum)': [(d) => editJson(join(d, 'config.json'), (v) => { (v.optimizer as Record<string, unknown>).lr = 0.5; }), /config\.json.*(SHA-256|bytes)/],
  'run.json truncated': [(d) => truncateTo(join(d, 'run.json'), (n) => Math.floor(n / 2)), /run\.json: not valid JSON/],
  'run.json malformed': [(d) => writeFileSync(join(d, 'run.json'), '{"data": 42}\n'), /run\.json: data must be/],
  '~summary.json empty': [(d) => writeFileSync(join(d, 'summary.json'), ''), /summary\.json: empty/],
  '~manifest.json malformed': [(d) => writeFileSync(join(d, 'manifest.json'), '{"version": 1, "files": {"model.safetensors": {"bytes": -1}}}'), /manifest\.json: files\.model\.safetensors/],
  '~data copy: one flipped byte': [(d) => flipByte(join(d, 'data', 'train.tsv'), (n) => n - 2), /data\/train\.tsv.*SHA-256/],
};

describe('damaged run directories', () => {
  let data: string;
  let good: string;
  let base: string;

  beforeAll(async () => {
    data = dataset();
    base = mkdtempSync(join(tmpdir(), 'irllrec-robust-'));
    good = join(base, 'good');
    // the official protocol (validation every epoch, best weights) for 3 epochs
    const r = await run(['train', '--data', data, '--out', good, '--set', 'train.epoch=3', '--set', 'train.test_step=1', '--set', 'train.batch_size=64']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(good, 'checkpoint', 'best.safetensors'))).toBe(true);
  }, 60_000);

  it('the good run opens and resumes (the base of every damage below)', async () => {
    expect(() => verifyRunFiles(good, Error, { dataCopy: true })).not.toThrow();
    const copy = join(base, 'good-copy');
    cpSync(good, copy, { recursive: true });
    const rec = await run(['recommend', '--run', copy, '--user', '1', '-k', '3']);
    expect(rec.code, rec.stderr).toBe(0);
    const res = await run(['train', '--resume', copy]);
    expect(res.code, res.stderr).toBe(0);
  });

  it('every damage: exit 2, one line naming the file, no stack trace, the directory unchanged', async () => {
    const cases = Object.entries(DAMAGES).filter(([name]) => !name.startsWith('~')).map(([name, [damage, names]], i) => {
      const dir = join(base, `damaged-${i}`);
      cpSync(good, dir, { recursive: true });
      damage(dir);
      return { name, names, dir, before: tree(dir) };
    });
    const jobs = cases.flatMap((c) => [
      ['train', '--resume', c.dir],
      ['recommend', '--run', c.dir, '--user', '1', '-k', '3'],
    ].map((args) => async () => ({ c, cmd: args[0]!, r: await run(args) })));
    const failures: string[] = [];
    for (const { c, cmd, r } of await pool(jobs)) {
      const lines = r.stderr.trimEnd().split('\n');
      const problems = [
        r.code !== 2 && `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`,
        lines.length !== 1 && `${lines.length} stderr lines`,
        /^\s+at /m.test(r.stderr) && 'a stack trace',
        !/^irllrec: error: /.test(r.stderr) && 'no "irllrec: error:" line',
        !c.names.test(r.stderr) && `the message does not match ${c.names}`,
        r.stdout !== '' && 'output on stdout',
      ].filter(Boolean);
      if (problems.length) failures.push(`${c.name} / ${cmd}: ${problems.join(', ')}\n    ${r.stderr.trimEnd().split('\n').join('\n    ')}`);
    }
    for (const c of cases) {
      const after = tree(c.dir);
      if (JSON.stringify(after) !== JSON.stringify(c.before)) failures.push(`${c.name}: the directory changed`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(18);
  }, 120_000);

  it('every damage, in process: openRun and the resume check refuse it naming the file, the directory unchanged', () => {
    const failures: string[] = [];
    for (const [i, [name, [damage, names]]] of Object.entries(DAMAGES).entries()) {
      const dir = join(base, `damaged-in-process-${i}`);
      cpSync(good, dir, { recursive: true });
      damage(dir);
      const before = tree(dir);
      for (const [what, fn, cls] of [
        ['openRun', () => openRun(dir), RunError],
        ['the resume check', () => verifyRunFiles(dir, CheckpointError, { resume: true, dataCopy: true }), CheckpointError],
      ] as const) {
        try {
          fn();
          failures.push(`${name} / ${what}: accepted`);
        } catch (e) {
          const m = (e as Error).message;
          if (!(e instanceof cls)) failures.push(`${name} / ${what}: threw ${(e as Error).name}: ${m}`);
          else if (!names.test(m) || m.includes('\n')) failures.push(`${name} / ${what}: "${m}" does not match ${names} on one line`);
        }
      }
      if (JSON.stringify(tree(dir)) !== JSON.stringify(before)) failures.push(`${name}: the directory changed`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('fuzz, in process: every cut (several points) and every flipped byte of every file is refused, and nothing changes', () => {
    const files = Object.entries(tree(good)).filter(([, h]) => h !== 'dir').map(([f]) => f);
    expect(files.length).toBeGreaterThanOrEqual(14);
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const cases: [string, (dir: string) => void, boolean][] = [];
    for (const f of files) {
      const size = statSync(join(good, f)).size;
      // (a manifest without its final newline is the same JSON: not damage)
      for (const at of new Set([0, 1, 7, 8, 9, Math.floor(size * 0.3), Math.floor(size * 0.7), f.endsWith('manifest.json') ? size - 2 : size - 1])) {
        if (at < size) cases.push([`${f} cut to ${at} bytes`, (d) => truncateSync(join(d, f), at), true]);
      }
      for (let k = 0; k < 4; k++) {
        const at = Math.floor(rand() * size);
        cases.push([`${f}: byte ${at} flipped`, (d) => flipByte(join(d, f), () => at), true]);
      }
      // a deleted manifest leaves a run of an older irllrec (verified by structure), and a run
      // without its data copy reads the dataset directory: both open
      if (!f.endsWith('manifest.json') && f !== 'data/dataset.json') cases.push([`${f} deleted`, (d) => rmSync(join(d, f)), !RESUME_REWRITES.includes(f)]);
    }
    const failures: string[] = [];
    const dir = join(base, 'fuzz');
    cpSync(good, dir, { recursive: true });
    const pristine = tree(dir);
    for (const [name, damage, resumeRefuses] of cases) {
      // one file damaged at a time (restored from the good run afterwards)
      damage(dir);
      const before = tree(dir);
      try {
        openRun(dir);
        failures.push(`${name}: openRun accepted it`);
      } catch (e) {
        if (!(e instanceof RunError)) failures.push(`${name}: openRun threw ${(e as Error).name}: ${(e as Error).message}`);
        else if ((e as Error).message.includes('\n')) failures.push(`${name}: a message of several lines`);
      }
      try {
        verifyRunFiles(dir, CheckpointError, { resume: true, dataCopy: true });
        if (resumeRefuses) failures.push(`${name}: the resume check accepted it`);
      } catch (e) {
        if (!(e instanceof CheckpointError)) failures.push(`${name}: the resume check threw ${(e as Error).name}: ${(e as Error).message}`);
      }
      if (JSON.stringify(tree(dir)) !== JSON.stringify(before)) failures.push(`${name}: the directory changed`);
      const f = files.find((x) => name.startsWith(x))!;
      copyFileSync(join(good, f), join(dir, f));
    }
    expect(tree(dir)).toEqual(pristine);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(cases.length).toBeGreaterThan(150);
  }, 120_000);

  it('evaluate, export and report refuse a damaged run the same way', async () => {
    const dir = join(base, 'damaged-misc');
    cpSync(good, dir, { recursive: true });
    DAMAGES['model: negative data_offsets']![0](dir);
    const before = tree(dir);
    const out = join(base, 'misc-out');
    const results = await pool([
      ['evaluate', '--run', dir],
      ['export', '--run', dir, '--format', 'npy', '--out', join(out, 'e')],
      ['report', '--run', dir, '--out', join(out, 'r.html')],
    ].map((args) => () => run(args)));
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/model\.safetensors.*data_offsets/);
    }
    expect(existsSync(out)).toBe(false);
    expect(tree(dir)).toEqual(before);
  });
});

describe('interrupted runs continue or restart with the same command', () => {
  const args = (data: string) => ['train', '--data', data, '--epochs', '3', '--set', 'train.batch_size=64', '--json'];
  let data: string;
  let base: string;
  let reference: { test: unknown; losses: unknown };

  beforeAll(async () => {
    data = dataset();
    base = mkdtempSync(join(tmpdir(), 'irllrec-robust-restart-'));
    const r = await run([...args(data), '--out', join(base, 'reference')]);
    expect(r.code, r.stderr).toBe(0);
    reference = JSON.parse(r.stdout);
  }, 60_000);

  it('killed before its first checkpoint: other settings are refused (unchanged); the same command, or --resume, starts it again', async () => {
    const dir = join(base, 'early');
    const killed = await run([...args(data), '--out', dir], { IRLLREC_FAULT: 'checkpoint-file:1' });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(dir, 'run.json')) && existsSync(join(dir, 'config.json'))).toBe(true);
    expect(existsSync(join(dir, 'checkpoint'))).toBe(false);
    const copy = join(base, 'early-copy');
    cpSync(dir, copy, { recursive: true });
    const before = tree(dir);
    const other = await run([...args(data), '--set', 'optimizer.lr=0.01', '--out', dir]);
    expect(other.code).toBe(2);
    expect(other.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/interrupted before its first checkpoint, started with other settings \(optimizer\.lr: [\d.e-]+ stored, 0\.01 now\).*--resume/);
    expect(tree(dir)).toEqual(before);
    const again = await run([...args(data), '--out', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/interrupted before its first checkpoint with these settings: starting it again/);
    expect(JSON.parse(again.stdout).test).toEqual(reference.test);
    expect(readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    const resumed = await run(['train', '--resume', copy, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/has no checkpoint yet .*starting it from the beginning/);
    expect(JSON.parse(resumed.stdout).losses).toEqual(reference.losses);
  }, 60_000);

  it('killed after a checkpoint: the same command continues it exactly; other settings are refused; a finished run is kept', async () => {
    const dir = join(base, 'late');
    const killed = await run([...args(data), '--out', dir], { IRLLREC_FAULT: 'checkpoint-done:2' });
    expect(killed.signal).toBe('SIGKILL');
    const before = tree(dir);
    const other = await run([...args(data), '--seed', '7', '--out', dir]);
    expect(other.code).toBe(2);
    expect(other.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(other.stderr).toMatch(/holds an interrupted run at epoch 2, started with other settings \(train\.seed: 2023 stored, 7 now\): continue it with --resume /);
    expect(tree(dir)).toEqual(before);
    const again = await run([...args(data), '--out', dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/holds an interrupted run at epoch 2 with these settings: continuing it/);
    expect(again.stderr).toMatch(/resuming .* at epoch 2/);
    expect(JSON.parse(again.stdout).test).toEqual(reference.test);
    expect(JSON.parse(again.stdout).losses).toEqual(reference.losses);
    const finished = tree(dir);
    const once = await run([...args(data), '--out', dir]);
    expect(once.code).toBe(2);
    expect(once.stderr).toMatch(/already holds a finished run/);
    expect(tree(dir)).toEqual(finished);
  }, 60_000);

  it('a diverging run never replaces its last good checkpoint, and says why in one line', () => {
    const ds = loadDataset(data);
    // several batches an epoch (the loss goes NaN within the epoch), and one (the weights go
    // non-finite in the epoch's last step: its checkpoint must not be written)
    for (const [batch, why] of [[64, /the loss is (NaN|Infinity)/], [100_000, /non-finite/]] as const) {
      const dir = join(base, `diverge-${batch}`);
      const cfg = resolveConfig({ model: 'lightgcn', stats: { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length }, sets: [`train.batch_size=${batch}`] }).config;
      train({ config: cfg, dataset: ds, epochs: 4, runDir: dir, pauseAtEpoch: 2 });
      const before = tree(dir);
      const hot = { ...cfg, optimizer: { lr: 1e38 } };
      let err: Error | null = null;
      try {
        train({ config: hot, dataset: ds, epochs: 4, runDir: dir, resume: true });
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toMatch(why);
      expect(err!.message).toMatch(/^epoch 2\b.*lower the learning rate.*keeps the checkpoint of the last good epoch$/);
      expect(err!.message).not.toMatch(/\n/);
      expect(tree(dir)).toEqual(before);
      for (const t of Object.values(readSafetensors(join(dir, CW)).tensors)) expect(t.data.every(Number.isFinite)).toBe(true);
    }
    // (the CLI reports this ConfigError as one line, exit 2; the config's bounds on optimizer.lr keep
    // a CLI run from diverging this way, so it is driven through the library here)
  }, 60_000);
});

describe('Ctrl-C during train', () => {
  /** Starts train, sends SIGINT once stderr matches `when`, and collects the result. */
  function interrupt(argv: string[], when: RegExp): Promise<Result> {
    return new Promise((done) => {
      const p = spawn(process.execPath, [cli, ...argv], { env: { ...process.env, IRLLREC_NO_PROGRESS: '1' } });
      let stdout = '';
      let stderr = '';
      let sent = false;
      p.stdout.on('data', (d) => { stdout += d; });
      p.stderr.on('data', (d) => {
        stderr += d;
        if (!sent && when.test(stderr)) {
          sent = true;
          p.kill('SIGINT');
        }
      });
      p.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
    });
  }

  it('prints where it stopped and how to continue, exits 130, and the checkpoint continues', async () => {
    const data = dataset();
    const dir = join(mkdtempSync(join(tmpdir(), 'irllrec-robust-sigint-')), 'run');
    const common = ['--epochs', '500', '--set', 'train.batch_size=32'];
    const r = await interrupt(['train', '--data', data, '--out', dir, ...common], /^epoch 0 /m);
    expect(r.code, r.stderr).toBe(130);
    const last = r.stderr.trimEnd().split('\n').at(-1)!;
    const m = /^irllrec: interrupted at epoch (\d+); continue with: irllrec train --resume (\S+)$/.exec(last);
    expect(m, r.stderr).not.toBeNull();
    expect(m![2]).toBe(dir);
    const epoch = Number(m![1]);
    expect(epoch).toBeGreaterThanOrEqual(1);
    // the checkpoint is the last finished epoch's, complete and verified
    const check = verifyRunFiles(dir, Error, { resume: true, dataCopy: true });
    expect(check.checkpoint?.state.nextEpoch).toBe(epoch);
    // the hint works (and a second Ctrl-C is handled the same way)
    const again = await interrupt(['train', '--resume', dir], /resuming .* at epoch \d+[\s\S]*^epoch \d+ /m);
    expect(again.stderr).toMatch(new RegExp(`resuming .* at epoch ${epoch}\\n`));
    expect(again.code, again.stderr).toBe(130);
    expect(again.stderr.trimEnd().split('\n').at(-1)).toMatch(/^irllrec: interrupted at epoch \d+; continue with: irllrec train --resume /);
    // without --out
    const bare = await interrupt(['train', '--data', data, ...common], /^epoch 0 /m);
    expect(bare.code).toBe(130);
    expect(bare.stderr.trimEnd().split('\n').at(-1)).toMatch(/^irllrec: interrupted at epoch \d+ \(no --out, nothing saved\)$/);
  }, 60_000);
});
