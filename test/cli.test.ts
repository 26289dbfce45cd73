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
    expect(readdirSync(out).sort()).toEqual(['checkpoint', 'config.json', 'data', 'history.json', 'manifest.json', 'model.safetensors', 'run.json', 'summary.json']);
    expect(readdirSync(join(out, 'checkpoint')).sort()).toEqual(['manifest.json', 'optimizer.safetensors', 'state.json', 'weights.safetensors']);
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

describe('irllrec train with text alignment', () => {
  /** Writes .npy text vectors into dir (users x du, items x di). */
  async function writeText(dir: string, du: number, di: number, users = 30, items = 20, poison?: (name: string, a: Float32Array) => void) {
    const { writeNpy } = await import('../src/data/formats/numpy.js');
    for (const [name, rows, w] of [['usr_prf', users, du], ['itm_prf', items, du], ['usr_int', users, di], ['itm_int', items, di]] as const) {
      const a = Float32Array.from({ length: rows * w }, (_, i) => Math.sin(i * 0.37 + rows));
      poison?.(name, a);
      writeNpy(join(dir, `${name}.npy`), [rows, w], a);
    }
  }

  it('lightgcn --align irllrec (and the official alias) train and report every loss term', async () => {
    const data = tinyTsvDataset();
    await writeText(data, 12, 16);
    for (const args of [['--model', 'lightgcn', '--align', 'irllrec'], ['--model', 'lightgcn_int']]) {
      const r = run(['train', '--data', data, ...args, '--epochs', '1', '--json', '--set', 'train.batch_size=32', '--set', 'model.intent_num=4']);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.model).toBe('lightgcn_int');
      expect(Object.keys(s.losses).sort()).toEqual(['bpr_loss', 'kd_int_2_loss', 'kd_int_loss', 'kd_loss', 'loss', 'loss_itm', 'reg_loss']);
    }
    for (const [model, term] of [['lightgcn_plus', 'kd_loss'], ['lightgcn_gene', 'recon_loss']]) {
      const r = run(['train', '--data', data, '--model', model, '--epochs', '1', '--json', '--set', 'train.batch_size=32']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).losses).toHaveProperty(term);
    }
  });

  it('--text-dir points elsewhere; missing vectors are a clear error', async () => {
    const data = tinyTsvDataset();
    const textDir = mkdtempSync(join(tmpdir(), 'irllrec-text-'));
    expectCleanFailureCode(run(['train', '--data', data, '--model', 'lightgcn_plus', '--epochs', '1']), /missing user profile vectors: expected usr_prf\.npy or usr_emb_np\.pkl/);
    await writeText(textDir, 12, 16);
    const r = run(['train', '--data', data, '--model', 'lightgcn_plus', '--text-dir', textDir, '--epochs', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('bad text vectors: wrong row count, NaN, width mismatch -> exit 2, nothing written', async () => {
    const cases: [string, (d: string) => Promise<void>, RegExp][] = [
      ['rows', (d) => writeText(d, 12, 16, 29), /usr_prf\.npy: user profile vectors have 29 rows but the dataset has 30/],
      ['nan', (d) => writeText(d, 12, 16, 30, 20, (n, a) => { if (n === 'itm_int') a[17] = NaN; }), /itm_int\.npy: item intent vectors: row 1 column 1 is NaN/],
      ['width', async (d) => {
        await writeText(d, 12, 16);
        const { writeNpy } = await import('../src/data/formats/numpy.js');
        writeNpy(join(d, 'itm_prf.npy'), [20, 11], new Float32Array(220).fill(0.5));
      }, /itm_prf\.npy: item profile vectors have width 11 but user profile vectors have width 12/],
    ];
    for (const [, prepare, pattern] of cases) {
      const data = tinyTsvDataset();
      await prepare(data);
      const out = join(data, 'out');
      const r = run(['train', '--data', data, '--model', 'lightgcn_int', '--epochs', '1', '--out', out, '--json']);
      expectCleanFailureCode(r, pattern);
      expect(existsSync(out)).toBe(false);
    }
  });
});

function expectCleanFailureCode(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
}

describe('official data layout', () => {
  it('the three split pickles plus the four official text pickles train with no extra flags', () => {
    const data = join(repoRoot, 'test', 'fixtures', 'official-layout');
    for (const model of ['lightgcn_int', 'lightgcn_plus', 'lightgcn_gene']) {
      const r = run(['train', '--data', data, '--model', model, '--epochs', '1', '--json', '--set', 'train.batch_size=64']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(model === 'lightgcn_int' ? /text usrInt: 30 x 16/ : /text usrPrf: 30 x 12/);
    }
  });
});

describe('the irllrec bin', () => {
  it('is executable after the build (npx irllrec runs it directly)', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(cli).mode & 0o111).not.toBe(0);
    const r = spawnSync(cli, ['--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
