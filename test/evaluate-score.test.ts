/**
 * `irllrec evaluate` (re-scoring a saved run under the training protocol: summary.json's metrics
 * come back exactly, also for BIGCF's noisy reference scoring) and `Recommender.score` /
 * `irllrec score` (pair scores equal to recommend's), with their errors.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { evaluateRun, reportMetrics } from '../src/run/evaluate.js';
import { InvalidArgumentError, NotFoundError } from '../src/serve/errors.js';
import { Recommender } from '../src/serve/recommender.js';
import { openRun } from '../src/serve/run.js';
import { repoRoot } from './shared.js';
import { splitsDataset, withQuietStderr } from './helpers/datasets.js';

const U = 48;
const I = 30;

function dataset(): string {
  const dir = splitsDataset('irllrec-evalscore-', { users: U, perUser: 8, splitAt: [5, 6], item: (u, k) => (u * 5 + k * 7 + (u % 3)) % I });
  writeFileSync(join(dir, 'users.tsv'), `id\tkey\n${Array.from({ length: U }, (_, u) => `${u}\tU${u}`).join('\n')}\n`);
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\ttitle\n${Array.from({ length: I }, (_, i) => `${i}\tI,${i}\tItem ${i}`).join('\n')}\n`);
  return dir;
}

async function train(data: string, model: string, out: string, sets: string[]): Promise<string> {
  await withQuietStderr(() => trainCommand({ data, model, out, set: ['train.batch_size=64', 'train.test_step=1', 'train.patience=2', 'train.epoch=4', 'test.batch_size=16', ...sets] }));
  return out;
}

const distEval = join(repoRoot, 'dist', 'cli', 'evaluate-commands.js');
let harness: string;
const cli = (args: string[]) => {
  const r = spawnSync(process.execPath, [harness, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

let data: string;
let runLgn: string;
let runBigcf: string;
let rec: Recommender;

beforeAll(async () => {
  data = dataset();
  const base = mkdtempSync(join(tmpdir(), 'irllrec-evalscore-runs-'));
  // early stopping (best weights restored), so evaluate must score the saved best model
  runLgn = await train(data, 'lightgcn', join(base, 'lightgcn'), []);
  runBigcf = await train(data, 'bigcf', join(base, 'bigcf'), ['model.intent_num=8', 'model.eval_noise=true']);
  rec = await Recommender.open(runLgn);
  harness = join(mkdtempSync(join(tmpdir(), 'irllrec-evalscore-cli-')), 'cli.mjs');
  writeFileSync(harness, `import { Command } from ${JSON.stringify(join(repoRoot, 'node_modules', 'commander', 'index.js'))};
import { registerEvaluateCommands } from ${JSON.stringify(distEval)};
const program = new Command();
registerEvaluateCommands(program);
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
await program.parseAsync(process.argv);
`);
}, 120_000);

const summaryOf = (run: string) => JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { test: Record<string, number>; valid: Record<string, number> };

describe('evaluate', () => {
  it('reproduces summary.json exactly (test and valid), with every reported metric', () => {
    const s = summaryOf(runLgn);
    const loaded = openRun(runLgn);
    const t = evaluateRun(loaded);
    expect(t.noise).toBeNull();
    for (const [k, v] of Object.entries(s.test)) expect([k, t.values[k]]).toEqual([k, v]);
    expect(t.matchesSummary).toBe(true);
    expect(t.metrics).toEqual(reportMetrics());
    for (const m of reportMetrics()) for (const k of [5, 10, 20]) expect(t.values[`${m}@${k}`]).toEqual(expect.any(Number));
    const v = evaluateRun(loaded, { split: 'valid' });
    for (const [k, x] of Object.entries(s.valid)) expect([k, v.values[k]]).toEqual([k, x]);
    expect(v.matchesSummary).toBe(true);
    const other = evaluateRun(loaded, { ks: [1, 3] });
    expect(Object.keys(other.values)).toContain('recall@3');
    expect(other.matchesSummary).toBeNull();
  });

  it('BIGCF (noisy reference scoring): the checkpoint\'s evaluation stream reproduces summary.json', () => {
    const s = summaryOf(runBigcf);
    const loaded = openRun(runBigcf);
    expect(loaded.net.stochasticScoring).toBe(true);
    const t = evaluateRun(loaded);
    expect(t.noise).toBe('checkpoint');
    for (const [k, v] of Object.entries(s.test)) expect([k, t.values[k]]).toEqual([k, v]);
    const v = evaluateRun(openRun(runBigcf), { split: 'valid' });
    for (const [k, x] of Object.entries(s.valid)) expect([k, v.values[k]]).toEqual([k, x]);
    // without the checkpoint the noise is drawn from the seed (and the numbers are another draw)
    const copy = join(mkdtempSync(join(tmpdir(), 'irllrec-evalscore-nockpt-')), 'run');
    cpSync(runBigcf, copy, { recursive: true });
    rmSync(join(copy, 'checkpoint'), { recursive: true });
    expect(evaluateRun(openRun(copy)).noise).toBe('seed');
  });

  it('CLI: table and --json; bad options are one line with exit 2', (ctx) => {
    if (!existsSync(distEval)) {
      ctx.skip();
      return;
    }
    const j = cli(['evaluate', '--run', runLgn, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const r = JSON.parse(j.stdout);
    expect(r.matchesSummary).toBe(true);
    expect(r.values['recall@20']).toBe(summaryOf(runLgn).test['recall@20']);
    const t = cli(['evaluate', '--run', runLgn, '--split', 'valid', '--k', '2,4']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^lightgcn on irllrec-evalscore-\w+, valid split: \d+ users/);
    expect(t.stdout).toMatch(/\nmetric\s+@2\s+@4\n/);
    expect(t.stdout).toMatch(/\nrecall\s+\d\.\d{4}\s+\d\.\d{4}\n/);
    expect(t.stdout).toMatch(/\ngini\s+/);
    for (const [args, msg] of [
      [['evaluate'], /--run DIR is required/],
      [['evaluate', '--run', runLgn, '--split', 'train'], /--split must be test or valid/],
      [['evaluate', '--run', runLgn, '--k', '5,x'], /--k must be a comma-separated list/],
      [['evaluate', '--run', runLgn, '--k', '500'], /--k must be at most the number of items \(30\)/],
      [['evaluate', '--run', runLgn, '--metrics', 'recall,foo'], /unknown metric "foo"/],
      [['evaluate', '--run', join(tmpdir(), 'no-such-run')], /run directory not found/],
    ] as const) {
      const e = cli([...args]);
      expect([args.join(' '), e.code]).toEqual([args.join(' '), 2]);
      expect(e.stderr).toMatch(msg);
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('score', () => {
  it('equals the scores recommend returns, for every user and item', () => {
    const users = rec.users.allKeys();
    const all = rec.recommend(users, { k: I, excludeSeen: false });
    const pairs = all.flatMap((r) => r.items.map((it) => [r.user, it.item] as [string, string]));
    const scores = rec.score(pairs);
    expect(scores).toHaveLength(U * I);
    let n = 0;
    for (const r of all) for (const it of r.items) expect(scores[n++]).toEqual({ user: r.user, item: it.item, score: it.score });
    // {user, item} objects, numbers for index ids, any order
    expect(rec.score([{ user: 'U3', item: 'I,4' }, { user: 'U0', item: 'I,4' }]).map((x) => x.score))
      .toEqual([all[3]!.items.find((x) => x.item === 'I,4')!.score, all[0]!.items.find((x) => x.item === 'I,4')!.score]);
    expect(rec.score([])).toEqual([]);
  });

  it('unknown ids are NotFoundError naming them; malformed pairs are InvalidArgumentError', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      throw new Error('no error');
    };
    const e = err(() => rec.score([['U1', 'I,1'], ['ghost', 'I,2'], ['U2', 'nope']])) as NotFoundError;
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.message).toBe('unknown user: "ghost"');
    expect(e.ids).toEqual(['ghost']);
    const e2 = err(() => rec.score([['U1', 'nope'], ['U2', 'nada']])) as NotFoundError;
    expect(e2.message).toBe('unknown items: "nope", "nada"');
    expect(err(() => rec.score([['U1']] as never))).toBeInstanceOf(InvalidArgumentError);
    expect(err(() => rec.score('U1' as never))).toBeInstanceOf(InvalidArgumentError);
  });

  it('CLI: TSV with a header, CSV with quotes, --json; errors are one line with exit 2', (ctx) => {
    if (!existsSync(distEval)) {
      ctx.skip();
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-pairs-'));
    const tsv = join(dir, 'pairs.tsv');
    writeFileSync(tsv, 'user\titem\trating\nU1\tI,2\t5\n\nU7\tI,0\t3\r\nU1\tI,29\n');
    const want = rec.score([['U1', 'I,2'], ['U7', 'I,0'], ['U1', 'I,29']]);
    const t = cli(['score', '--run', runLgn, '--pairs', tsv]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toBe(`user\titem\tscore\n${want.map((s) => `${s.user}\t${s.item}\t${s.score}`).join('\n')}\n`);
    const csv = join(dir, 'pairs.csv');
    writeFileSync(csv, 'U1,"I,2"\nU7,"I,0"\nU1,"I,29"\n');
    const j = cli(['score', '--run', runLgn, '--pairs', csv, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual({ model: 'lightgcn', scores: want });
    const ghost = join(dir, 'ghost.tsv');
    writeFileSync(ghost, 'U1\tI,2\nghost\tI,3\n');
    const badLine = join(dir, 'bad.tsv');
    writeFileSync(badLine, 'U1\tI,2\nU2\n');
    for (const [args, msg] of [
      [['score', '--run', runLgn], /--pairs FILE is required/],
      [['score', '--run', runLgn, '--pairs', join(dir, 'missing.tsv')], /--pairs .*missing\.tsv: file not found/],
      [['score', '--run', runLgn, '--pairs', ghost], /ghost\.tsv:2: unknown user "ghost"/],
      [['score', '--run', runLgn, '--pairs', badLine], /bad\.tsv:2: expected user<TAB>item/],
      [['score', '--pairs', tsv], /--run DIR is required/],
    ] as const) {
      const e = cli([...args]);
      expect([args.join(' '), e.code]).toEqual([args.join(' '), 2]);
      expect(e.stderr).toMatch(msg);
      expect(e.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
