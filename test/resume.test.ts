/**
 * Exact resume and atomic checkpoints: a run killed with SIGKILL (at the end of an epoch, or in
 * the middle of writing a checkpoint) and resumed with --resume ends with the same losses and
 * metrics as an uninterrupted run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/util/safetensors.js';
import { repoRoot } from './shared.js';
import { splitsDataset, writeTextVectors } from './helpers/datasets.js';

const cli = join(repoRoot, 'dist', 'cli', 'main.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, IRLLREC_NO_PROGRESS: '1', ...env } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const dataset = (): string => splitsDataset('irllrec-resume-');

/** dir plus text vectors, so the IRLLRec path (teacher, noise draws, RNG spare normals) is covered too. */
function withText(dir: string): string {
  writeTextVectors(dir, { users: 60, items: 40, profileDim: 10, intentDim: 14, value: (i, w) => Math.cos(i * 0.13 + w) });
  return dir;
}

const common = ['--set', 'train.batch_size=64', '--set', 'train.test_step=1', '--set', 'train.patience=3', '--json'];

describe('resume', () => {
  for (const [label, model, extra] of [
    ['lightgcn, official protocol', 'lightgcn', [] as string[]],
    ['lightgcn_int (teacher, noise), fixed epochs', 'lightgcn_int', ['--epochs', '6', '--set', 'model.intent_num=4', '--set', 'model.kd_int_weight_2=0.1', '--set', 'model.kd_int_weight_3=0.1']],
  ] as const) {
    it(`${label}: killed after epoch 2, resumed, same result as uninterrupted`, async () => {
      const data = withText(dataset());
      const base = mkdtempSync(join(tmpdir(), 'irllrec-runs-'));
      const args = ['train', '--data', data, '--model', model, ...common, ...extra];
      const full = run([...args, '--out', join(base, 'full')]);
      expect(full.code, full.stderr).toBe(0);
      const killed = run([...args, '--out', join(base, 'cut')], { IRLLREC_FAULT: 'checkpoint-done:3' });
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.stdout).toBe('');
      const state = JSON.parse(readFileSync(join(base, 'cut', 'checkpoint', 'state.json'), 'utf8'));
      expect(state.nextEpoch).toBe(3);
      const resumed = run(['train', '--resume', join(base, 'cut'), '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/resuming .* at epoch 3/);
      const a = JSON.parse(full.stdout);
      const b = JSON.parse(resumed.stdout);
      expect(b.epochs_run).toBe(a.epochs_run);
      expect(b.best_epoch).toBe(a.best_epoch);
      expect(b.losses).toEqual(a.losses);
      expect(b.valid).toEqual(a.valid);
      expect(b.test).toEqual(a.test);
      const wa = readSafetensors(join(base, 'full', 'checkpoint', 'weights.safetensors')).tensors;
      const wb = readSafetensors(join(base, 'cut', 'checkpoint', 'weights.safetensors')).tensors;
      for (const k of Object.keys(wa)) expect(Buffer.from(wb[k]!.data.buffer).equals(Buffer.from(wa[k]!.data.buffer))).toBe(true);
    });
  }

  it('a kill in the middle of writing a checkpoint leaves the previous one usable (atomic writes)', () => {
    const data = dataset();
    const base = mkdtempSync(join(tmpdir(), 'irllrec-atomic-'));
    const args = ['train', '--data', data, '--epochs', '4', ...common];
    const full = run([...args, '--out', join(base, 'full')]);
    expect(full.code, full.stderr).toBe(0);
    for (const fault of ['checkpoint-file:5', 'checkpoint-swap:2']) {
      const dir = join(base, fault.replace(':', '-'));
      const killed = run([...args, '--out', dir], { IRLLREC_FAULT: fault });
      expect(killed.signal).toBe('SIGKILL');
      // the half-written checkpoint never replaced a complete one
      const names = readdirSync(dir);
      expect(names.some((n) => n.startsWith('.checkpoint.tmp'))).toBe(true);
      const resumed = run(['train', '--resume', dir, '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(JSON.parse(resumed.stdout).test).toEqual(JSON.parse(full.stdout).test);
      expect(existsSync(join(dir, 'summary.json'))).toBe(true);
      expect(readdirSync(dir).filter((n) => n.startsWith('.checkpoint')).length).toBe(0);
    }
  });

  it('--resume of something that is not a run, or with other options, is a clear error', () => {
    const r = run(['train', '--resume', mkdtempSync(join(tmpdir(), 'x-'))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a run directory/);
    const r2 = run(['train', '--resume', '/tmp', '--epochs', '3']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/do not combine/);
  });
});
