/**
 * Run checkpoints: one directory `checkpoint/` in the run directory holds everything needed to
 * continue exactly: weights (safetensors, loadable from Python as-is), the best weights so far,
 * the optimizer's moments, and state.json (epoch, best metric, patience, RNG states, history).
 * A checkpoint is written into a fresh temporary directory and swapped in with renames, so a
 * killed process leaves either the previous checkpoint or the new one, never a mix.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crashPoint } from '../util/fault.js';
import { encodeSafetensors, readSafetensors, type NamedArray } from '../util/safetensors.js';

/** A run directory or checkpoint that cannot be used (the CLI reports it and exits 2). */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointFiles {
  [name: string]: Uint8Array | string;
}

function writeDurable(path: string, data: Uint8Array | string): void {
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeCheckpoint(runDir: string, files: CheckpointFiles): void {
  mkdirSync(runDir, { recursive: true });
  const final = join(runDir, 'checkpoint');
  const tmp = join(runDir, `.checkpoint.tmp-${process.pid}`);
  const old = join(runDir, '.checkpoint.old');
  // half-written checkpoints of killed processes
  for (const n of readdirSync(runDir)) if (n.startsWith('.checkpoint.tmp-')) rmSync(join(runDir, n), { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [name, data] of Object.entries(files)) {
    writeDurable(join(tmp, name), data);
    crashPoint('checkpoint-file');
  }
  // Keep a complete checkpoint on disk at every instant: the current one moves aside only
  // when there is one (after a crash between the renames, .checkpoint.old is the only copy).
  if (existsSync(final)) {
    rmSync(old, { recursive: true, force: true });
    renameSync(final, old);
  }
  crashPoint('checkpoint-swap');
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
  crashPoint('checkpoint-done');
}

/** The checkpoint directory to resume from (recovering from a crash between the two renames). */
export function checkpointDir(runDir: string): string | null {
  const final = join(runDir, 'checkpoint');
  if (existsSync(join(final, 'state.json'))) return final;
  const old = join(runDir, '.checkpoint.old');
  if (existsSync(join(old, 'state.json'))) return old;
  return null;
}

export function tensorsFile(t: Record<string, NamedArray>, meta: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors(t, meta);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export { readSafetensors };
