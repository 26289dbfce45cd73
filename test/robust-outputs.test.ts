/**
 * Output paths are checked before any input is read: `ingest`, `report`, `export` and `embed`
 * with --out under a regular file or in a directory that cannot be written exit 2 with one line
 * naming the path and write nothing; `report --out DIR` writes DIR/report.html. Runs the compiled
 * CLI (dist/, `npm run build:ts`).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { checkOutDir } from '../src/ingest/write.js';
import { reportPath } from '../src/report/report.js';
import { outputProblem } from '../src/util/atomic.js';
import { repoRoot } from './shared.js';
import { withQuietStderr } from './helpers/datasets.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');

function run(args: string[]) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build:ts" first`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, IRLLREC_NO_PROGRESS: '1' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2 with exactly one line, `irllrec: error: ...`, matching `pattern`; no stack trace. */
function expectOneLine(r: ReturnType<typeof run>, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^irllrec: error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Every entry under dir, recursively (to show that a failed command wrote nothing). */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/**
 * A directory that refuses new entries. Tests run as root, which ignores permission bits (chmod
 * 0o555 would not stop it), so as root the directory is made immutable (chattr +i, which needs
 * CAP_LINUX_IMMUTABLE and an ext2/3/4-like file system); where that is not possible either, the
 * read-only cases are skipped (honestly: they are not tested there). As another user: chmod 0o555.
 */
function readOnlyDir(): { dir: string; undo(): void } | null {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-ro-'));
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o555);
    return { dir, undo: () => chmodSync(dir, 0o755) };
  }
  if (spawnSync('chattr', ['+i', dir]).status !== 0) return null;
  const undo = () => void spawnSync('chattr', ['-i', dir]);
  try {
    mkdirSync(join(dir, 'probe'));
    rmdirSync(join(dir, 'probe'));
    undo();
    return null; // the flag does not stop root here
  } catch {
    return { dir, undo };
  }
}

let base: string;
let file: string;
let ro: { dir: string; undo(): void } | null;
let runDir: string;

/** A small TSV dataset (30 users x 20 items) and a one-epoch LightGCN run on it (in process: faster). */
async function tinyRun(): Promise<string> {
  const data = mkdtempSync(join(tmpdir(), 'irllrec-tsv-'));
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < 30; u++) {
    for (let k = 0; k < 6; k++) lines[k < 4 ? 'train' : k === 4 ? 'valid' : 'test']!.push(`${u}\t${(u * 7 + k * 3) % 20}`);
  }
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(data, `${s}.tsv`), `user\titem\n${lines[s]!.join('\n')}\n`);
  const out = join(mkdtempSync(join(tmpdir(), 'irllrec-run-')), 'run');
  await withQuietStderr(() => trainCommand({ data, model: 'lightgcn', out, epochs: '1', set: ['train.batch_size=16'] }));
  return out;
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'irllrec-outputs-'));
  file = join(base, 'plain-file');
  writeFileSync(file, 'not a directory\n');
  ro = readOnlyDir();
  runDir = await tinyRun();
});
afterAll(() => ro?.undo());

const ML = join(repoRoot, 'data', 'movielens-latest-small');

describe('ingest --out', () => {
  it('under a regular file: exit 2, one line, before the input is read, nothing written', () => {
    const before = tree(base);
    // the input does not exist: an error about --out shows the output was checked first
    expectOneLine(run(['ingest', '--format', 'movielens', '--dir', join(base, 'no-such-input'), '--out', join(file, 'ds')]), /--out .*plain-file\/ds: cannot write the dataset there: .*plain-file is not a directory/);
    expectOneLine(run(['ingest', '--format', 'movielens', '--dir', ML, '--out', file]), /exists and is not a directory/);
    expect(tree(base)).toEqual(before);
    expect(readFileSync(file, 'utf8')).toBe('not a directory\n');
  });

  it('in a directory that cannot be written: exit 2, one line, nothing written', (ctx) => {
    if (!ro) return ctx.skip();
    const before = tree(ro.dir);
    expectOneLine(run(['ingest', '--format', 'movielens', '--dir', join(base, 'no-such-input'), '--out', join(ro.dir, 'ds')]), /cannot write the dataset there: .*irllrec-ro-\w+ is not writable/);
    expect(() => checkOutDir(join(ro.dir, 'deeper', 'ds'), false)).toThrow(/irllrec-ro-\w+ is not writable/);
    expect(tree(ro.dir)).toEqual(before);
  });

  it('the library check names the problem too', () => {
    expect(() => checkOutDir(join(file, 'ds'), false)).toThrow(/cannot write the dataset there: .*plain-file is not a directory/);
    expect(() => checkOutDir(join(file, 'a', 'b', 'ds'), false)).toThrow(/plain-file is not a directory/);
    expect(() => checkOutDir(join(base, 'fresh', 'ds'), false)).not.toThrow();
    expect(existsSync(join(base, 'fresh'))).toBe(false);
    expect(outputProblem(join(base, 'x.html'), 'file')).toBeNull();
    expect(outputProblem(base, 'file')).toMatch(/is a directory/);
    expect(outputProblem(file, 'dir')).toMatch(/exists and is not a directory/);
    expect(readdirSync(base).filter((f) => f.startsWith('.irllrec-write-test'))).toEqual([]);
  });
});

describe('report --out', () => {
  it('an existing directory gets DIR/report.html', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-report-'));
    const r = run(['report', '--run', runDir, '--out', dir, '--examples', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`wrote ${join(dir, 'report.html')}`);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/);
    expect(reportPath(dir)).toBe(join(dir, 'report.html'));
    expect(reportPath(join(dir, 'new-dir') + '/')).toBe(join(dir, 'new-dir', 'report.html'));
    expect(reportPath(join(dir, 'a.html'))).toBe(join(dir, 'a.html'));
  });

  it('under a regular file or in a read-only directory: exit 2, one line, before the runs are read', () => {
    const before = tree(base);
    expectOneLine(run(['report', '--run', join(base, 'no-such-run'), '--out', join(file, 'report.html')]), /--out .*: cannot write the report there: .*plain-file is not a directory/);
    expect(tree(base)).toEqual(before);
    if (ro) {
      expect(() => reportPath(join(ro.dir, 'report.html'))).toThrow(/cannot write the report there: .*irllrec-ro-\w+ is not writable/);
      // a directory: DIR/report.html, checked before the run is read
      expectOneLine(run(['report', '--run', runDir, '--out', ro.dir]), /cannot write the report there: .*irllrec-ro-\w+ is not writable/);
      expect(tree(ro.dir)).toEqual([]);
    }
  });
});

describe('export and embed --out', () => {
  it('under a regular file, a regular file, or read-only: exit 2, one line, before the run is read', () => {
    const before = tree(base);
    expectOneLine(run(['export', '--run', join(base, 'no-such-run'), '--format', 'npy', '--out', join(file, 'x')]), /--out .*: cannot write the export there: .*plain-file is not a directory/);
    expectOneLine(run(['export', '--run', runDir, '--format', 'safetensors', '--out', file]), /plain-file exists and is not a directory/);
    expectOneLine(run(['embed', '--data', join(base, 'no-such-data'), '--out', join(file, 'vec')]), /--out .*: cannot write the vectors there: .*plain-file is not a directory/);
    expect(tree(base)).toEqual(before);
    if (ro) {
      expectOneLine(run(['export', '--run', runDir, '--format', 'npy', '--out', join(ro.dir, 'x')]), /cannot write the export there: .*irllrec-ro-\w+ is not writable/);
      expect(outputProblem(ro.dir, 'dir', { inside: true })).toMatch(/irllrec-ro-\w+ is not writable/);
      expect(tree(ro.dir)).toEqual([]);
    }
    const ok = mkdtempSync(join(tmpdir(), 'irllrec-export-'));
    const r = run(['export', '--run', runDir, '--format', 'npy', '--out', join(ok, 'npy')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(ok, 'npy'))).toContain('user_embeddings.npy');
  });
});
