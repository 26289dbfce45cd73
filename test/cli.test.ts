/** The CLI end to end (compiled dist/, built by `npm install` / `npm ci` through `prepare`). */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetsDir, haveShared, repoRoot } from './shared.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');

function run(args: string[]) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build:ts" first`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, IRLLREC_NO_PROGRESS: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A small TSV dataset: 30 users x 20 items. */
function tinyTsvDataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-tsv-'));
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < 30; u++) {
    for (let k = 0; k < 6; k++) {
      const item = (u * 7 + k * 3) % 20;
      const split = k < 4 ? 'train' : k === 4 ? 'valid' : 'test';
      lines[split]!.push(`${u}\t${item}`);
    }
  }
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(dir, `${s}.tsv`), `user\titem\n${lines[s]!.join('\n')}\n`);
  return dir;
}

describe('irllrec train', () => {
  it('trains on TSV splits and prints the JSON summary; --out gets the run files', () => {
    const data = tinyTsvDataset();
    const out = join(mkdtempSync(join(tmpdir(), 'irllrec-out-')), 'run');
    const r = run(['train', '--data', data, '--model', 'lightgcn', '--epochs', '2', '--seed', '5', '--json', '--out', out,
      '--set', 'train.batch_size=16', '--set', 'model.layer_num=2']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    for (const k of ['model', 'dataset', 'epochs_run', 'best_epoch', 'train_seconds_per_epoch', 'eval_seconds', 'peak_rss_mb', 'valid', 'test']) {
      expect(s).toHaveProperty(k);
    }
    expect(s.epochs_run).toBe(2);
    expect(s.seed).toBe(5);
    for (const m of ['recall@5', 'recall@10', 'recall@20', 'ndcg@5', 'ndcg@10', 'ndcg@20']) expect(s.test[m]).toBeGreaterThanOrEqual(0);
    expect(r.stderr).toMatch(/epoch 0 .*bpr_loss/);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'history.json', 'summary.json']);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model.layer_num).toBe(2);
  });

  it('same seed, same numbers', () => {
    const data = tinyTsvDataset();
    const a = run(['train', '--data', data, '--epochs', '2', '--json', '--set', 'train.batch_size=16']);
    const b = run(['train', '--data', data, '--epochs', '2', '--json', '--set', 'train.batch_size=16']);
    expect(JSON.parse(a.stdout).test).toEqual(JSON.parse(b.stdout).test);
    expect(JSON.parse(a.stdout).losses).toEqual(JSON.parse(b.stdout).losses);
  });

  const expectCleanFailure = (args: string[], pattern: RegExp, outDir: string) => {
    const r = run([...args, '--out', outDir, '--json']);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(r.stdout).toBe('');
    expect(existsSync(outDir)).toBe(false);
  };

  it('a malformed .pkl: one clear error line naming the file, exit 2, nothing written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-badpkl-'));
    writeFileSync(join(dir, 'trn_mat.pkl'), Buffer.from([0x80, 0x04, 0x95, 0x10, 0x00, 0x01]));
    writeFileSync(join(dir, 'val_mat.pkl'), 'x');
    writeFileSync(join(dir, 'tst_mat.pkl'), 'x');
    expectCleanFailure(['train', '--data', dir], /trn_mat\.pkl/, join(dir, 'out'));
  });

  it.skipIf(!haveShared)('a truncated copy of a real .pkl is rejected the same way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-trunc-'));
    const src = join(datasetsDir, 'irllrec-amazon-book');
    const buf = readFileSync(join(src, 'trn_mat.pkl'));
    writeFileSync(join(dir, 'trn_mat.pkl'), buf.subarray(0, buf.length >> 1));
    copyFileSync(join(src, 'val_mat.pkl'), join(dir, 'val_mat.pkl'));
    copyFileSync(join(src, 'tst_mat.pkl'), join(dir, 'tst_mat.pkl'));
    expectCleanFailure(['train', '--data', dir], /trn_mat\.pkl/, join(dir, 'out'));
  });

  it('a TSV with a non-integer id: error names file and line, exit 2, nothing written', () => {
    const data = tinyTsvDataset();
    writeFileSync(join(data, 'valid.tsv'), 'user\titem\n0\t1\n1\tabc\n');
    expectCleanFailure(['train', '--data', data], /valid\.tsv:3/, join(data, 'out'));
  });

  it('a config with an unknown key: exit 2, nothing written', () => {
    const data = tinyTsvDataset();
    const cfg = join(data, 'cfg.yml');
    writeFileSync(cfg, 'model:\n  reg_weight: 1.0e-5\n  regweight: 3\n');
    expectCleanFailure(['train', '--data', data, '--config', cfg], /unknown config key model\.regweight/, join(data, 'out'));
    expectCleanFailure(['train', '--data', data, '--set', 'train.lr=0.1'], /unknown config key train\.lr/, join(data, 'out'));
  });

  it('a missing dataset directory and an unknown model are clear errors', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'irllrec-x-'));
    expectCleanFailure(['train', '--data', join(tmp, 'nope')], /dataset directory not found/, join(tmp, 'out'));
    expectCleanFailure(['train', '--data', tinyTsvDataset(), '--model', 'nosuch'], /unknown model "nosuch"/, join(tmp, 'out'));
  });
});
