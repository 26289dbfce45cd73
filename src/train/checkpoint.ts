/**
 * Run checkpoints: one directory `checkpoint/` in the run directory holds everything needed to
 * continue exactly: weights (safetensors, loadable from Python as-is), the best weights so far,
 * the optimizer's moments, and state.json (epoch, best metric, patience, RNG states, history).
 * A checkpoint is written into a fresh temporary directory and swapped in with renames, so a
 * killed process leaves either the previous checkpoint or the new one, never a mix. Its last file,
 * manifest.json, records the size and SHA-256 of every other file, so a checkpoint damaged or
 * changed afterwards is refused on resume (see src/run/verify.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crashPoint } from '../util/fault.js';
import { encodeSafetensors, readSafetensors, type NamedArray } from '../util/safetensors.js';
import { UserError } from '../util/errors.js';

/** A run directory or checkpoint that cannot be used (the CLI reports it and exits 2). */
export class CheckpointError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointFiles {
  [name: string]: Uint8Array | string;
}

/** The checksum file of a checkpoint (and of a run directory's top-level files). */
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_VERSION = 1;

export interface FileDigest {
  bytes: number;
  sha256: string;
}

/** manifest.json: every file of a directory written at save, with its size and SHA-256. */
export interface FileManifest {
  version: number;
  files: Record<string, FileDigest>;
}

export function digest(data: Uint8Array | string): FileDigest {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { bytes: buf.byteLength, sha256: createHash('sha256').update(buf).digest('hex') };
}

export function manifestText(files: Record<string, FileDigest>): string {
  const m: FileManifest = { version: MANIFEST_VERSION, files };
  return `${JSON.stringify(m, null, 1)}\n`;
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
  const digests: Record<string, FileDigest> = {};
  for (const [name, data] of Object.entries(files)) {
    writeDurable(join(tmp, name), data);
    digests[name] = digest(data);
    crashPoint('checkpoint-file');
  }
  // last: without it (a checkpoint of an older irllrec) only the structure can be verified
  writeDurable(join(tmp, MANIFEST_FILE), manifestText(digests));
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

/**
 * The checkpoint directory of a run, or null when it has none. Unlike checkpointDir, a
 * `checkpoint/` that lacks its state.json is damage, not absence: the renames put complete
 * directories in place, so only a deleted file leaves one like that (CheckpointError).
 * `.checkpoint.old` is used only when `checkpoint/` is absent (a crash between the two renames).
 */
export function locateCheckpoint(runDir: string): string | null {
  for (const name of ['checkpoint', '.checkpoint.old']) {
    const dir = join(runDir, name);
    if (!existsSync(dir)) continue;
    if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dir}: expected the checkpoint directory, found a file`);
    if (!existsSync(join(dir, 'state.json'))) throw new CheckpointError(`${join(dir, 'state.json')} is missing (a damaged checkpoint; restore the run directory from a copy, or delete ${dir} to start the run again)`);
    return dir;
  }
  return null;
}

export function tensorsFile(t: Record<string, NamedArray>, meta: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors(t, meta);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export { readSafetensors };
