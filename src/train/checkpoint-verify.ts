/**
 * Verifying a training checkpoint (and the files and manifests it shares with run directories)
 * before anything is loaded: checkpoint/state.json field by field, each safetensors file's structure
 * and values, the files consistent with each other and with the model, and the SHA-256 checksums
 * of manifest.json. The trainer uses it to resume; run/verify.ts builds the run directory's checks
 * on it. Every function takes the error class to throw, so each caller reports in its own terms.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { decodeSafetensors, parseSafetensorsHeader, SafetensorsError, type NamedArray, type SafetensorsHeader } from '../util/safetensors.js';
import { CheckpointError, locateCheckpoint, MANIFEST_FILE, MANIFEST_VERSION, type FileDigest, type FileManifest } from './checkpoint.js';
import type { TrainState } from './trainer.js';

export type ErrorClass = new (message: string) => Error;

export const show = (v: unknown): string => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
export const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

// ---------------------------------------------------------------------------------------------
// files

/** The bytes of a file; a missing or unreadable file is an error naming it. */
export function readBytes(file: string, E: ErrorClass): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new E(`${file} is missing`);
    throw new E(`${file}: cannot read it (${code ?? oneLine((e as Error).message)})`);
  }
}

/** A JSON file, parsed; malformed or truncated JSON is an error naming the file. */
export function readJsonFile(file: string, E: ErrorClass, bytes?: Buffer): unknown {
  const buf = bytes ?? readBytes(file, E);
  if (buf.length === 0) throw new E(`${file}: empty (truncated?)`);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new E(`${file}: not valid JSON (${oneLine((e as Error).message).slice(0, 160)}; truncated or edited?)`);
  }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads `dir/manifest.json` (null when there is none: a run or checkpoint of an older irllrec). */
export function readManifest(dir: string, E: ErrorClass): FileManifest | null {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return null;
  const m = readJsonFile(file, E);
  if (!isObject(m) || !isObject(m.files)) throw new E(`${file}: expected {"version": ${MANIFEST_VERSION}, "files": {...}}`);
  if (m.version !== MANIFEST_VERSION) throw new E(`${file}: version ${show(m.version)}, expected ${MANIFEST_VERSION} (written by another irllrec?)`);
  for (const [name, d] of Object.entries(m.files)) {
    if (!name || name.startsWith('/') || name.includes('\\') || name.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw new E(`${file}: "${name}" is not a path inside the directory`);
    }
    if (!isObject(d) || !isCount(d.bytes) || typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256)) {
      throw new E(`${file}: files.${name} must be {"bytes": <size>, "sha256": <64 hex digits>}, got ${show(d)}`);
    }
  }
  return m as unknown as FileManifest;
}

/**
 * Checks files against the manifest of their directory: each listed file must have the recorded
 * size and SHA-256. `bytes` supplies files already read; `missingOk` names listed files that may be
 * absent (outputs a resume writes again).
 */
export function checkManifest(
  dir: string, manifest: FileManifest, E: ErrorClass, o: { bytes?: Map<string, Buffer>; missingOk?: readonly string[] } = {},
): void {
  const mf = join(dir, MANIFEST_FILE);
  for (const [name, d] of Object.entries(manifest.files)) {
    const file = join(dir, name);
    let buf = o.bytes?.get(name);
    if (!buf) {
      if (!existsSync(file)) {
        if (o.missingOk?.includes(name)) continue;
        throw new E(`${file} is missing (${mf} lists it)`);
      }
      buf = readBytes(file, E);
    }
    if (buf.length !== d.bytes) throw new E(`${file}: ${buf.length} bytes, ${mf} recorded ${d.bytes} at save (truncated or changed since)`);
    if (sha256(buf) !== d.sha256) throw new E(`${file}: its SHA-256 differs from the one ${mf} recorded at save (the file was changed or damaged since)`);
  }
}

/** Writes `dir/manifest.json` for the given files of dir that exist (atomically). */
export function writeManifest(dir: string, names: readonly string[]): void {
  const files: Record<string, FileDigest> = {};
  for (const n of names) {
    const f = join(dir, n);
    if (!existsSync(f)) continue;
    const buf = readFileSync(f);
    files[n] = { bytes: buf.length, sha256: sha256(buf) };
  }
  const m: FileManifest = { version: MANIFEST_VERSION, files };
  writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(m, null, 1)}\n`);
}

// ---------------------------------------------------------------------------------------------
// state.json

export interface StateLimits {
  /** config.json's train.epoch (the epoch budget unless the state's fixedEpochs says otherwise). */
  configEpochs: number;
  /** config.json's train.patience. */
  patience: number;
}

/** checkpoint/state.json, field by field (types, integer ranges, consistency). */
export function checkTrainState(v: unknown, file: string, lim: StateLimits, E: ErrorClass): TrainState {
  const bad = (field: string, what: string, got: unknown) => new E(`${file}: ${field} must be ${what}, got ${show(got)}`);
  if (!isObject(v)) throw new E(`${file}: expected a JSON object (the training state)`);
  if (v.version !== 1) throw bad('version', '1', v.version);
  if (typeof v.model !== 'string' || !v.model) throw bad('model', 'a model name', v.model);
  const ds = v.dataset;
  if (!isObject(ds) || typeof ds.name !== 'string' || !isCount(ds.users) || !isCount(ds.items) || !isCount(ds.train)) {
    throw bad('dataset', '{name, users, items, train} with counts', ds);
  }
  if (v.fixedEpochs !== null && !(isCount(v.fixedEpochs) && v.fixedEpochs >= 1)) throw bad('fixedEpochs', 'null or a positive integer', v.fixedEpochs);
  const maxEpochs = (v.fixedEpochs as number | null) ?? lim.configEpochs;
  if (!isCount(v.nextEpoch) || v.nextEpoch > maxEpochs) throw bad('nextEpoch', `an integer in [0, ${maxEpochs}]`, v.nextEpoch);
  if (!isCount(v.epochsRun) || v.epochsRun > v.nextEpoch) throw bad('epochsRun', `an integer in [0, nextEpoch = ${v.nextEpoch}]`, v.epochsRun);
  if (!Number.isSafeInteger(v.bestEpoch) || (v.bestEpoch as number) < -1 || (v.bestEpoch as number) >= Math.max(v.nextEpoch, 0)) {
    throw bad('bestEpoch', `-1 or an integer in [0, nextEpoch = ${v.nextEpoch})`, v.bestEpoch);
  }
  if (v.best !== null && !isFiniteNumber(v.best)) throw bad('best', 'null or a finite number', v.best);
  if (typeof v.hasBest !== 'boolean') throw bad('hasBest', 'true or false', v.hasBest);
  if ((v.best === null) !== (v.bestEpoch === -1)) throw new E(`${file}: best is ${show(v.best)} but bestEpoch is ${show(v.bestEpoch)} (one is set without the other)`);
  if (v.hasBest !== (v.bestEpoch !== -1)) throw new E(`${file}: hasBest is ${v.hasBest} but bestEpoch is ${show(v.bestEpoch)}`);
  if (!isCount(v.patience) || v.patience > lim.patience) throw bad('patience', `an integer in [0, train.patience = ${lim.patience}]`, v.patience);
  if (!isFiniteNumber(v.trainSeconds) || v.trainSeconds < 0) throw bad('trainSeconds', 'a non-negative number', v.trainSeconds);
  // (a NaN term is written as null by JSON)
  const losses = (field: string, x: unknown) => {
    if (!isObject(x) || !Object.values(x).every((y) => y === null || isFiniteNumber(y))) throw bad(field, 'an object of numbers', x);
  };
  losses('lastLosses', v.lastLosses);
  const h = v.history;
  if (!isObject(h) || !Array.isArray(h.epochs) || !Array.isArray(h.evals)) throw bad('history', '{epochs: [...], evals: [...]}', h);
  h.epochs.forEach((e, i) => {
    if (!isObject(e) || !isCount(e.epoch) || !isFiniteNumber(e.seconds) || e.seconds < 0) throw bad(`history.epochs[${i}]`, '{epoch, seconds, losses}', e);
    losses(`history.epochs[${i}].losses`, e.losses);
  });
  if (h.epochs.length !== v.epochsRun) throw new E(`${file}: history.epochs has ${h.epochs.length} entries, epochsRun is ${v.epochsRun}`);
  h.evals.forEach((e, i) => {
    if (!isObject(e) || !isCount(e.epoch) || (e.split !== 'valid' && e.split !== 'test') || !isFiniteNumber(e.seconds) || e.seconds < 0 || !isObject(e.metrics)) {
      throw bad(`history.evals[${i}]`, '{epoch, split, seconds, metrics}', e);
    }
    // metrics may be NaN in memory, which JSON writes as null
    if (!Object.values(e.metrics).every((x) => x === null || isFiniteNumber(x))) throw bad(`history.evals[${i}].metrics`, 'an object of numbers', e.metrics);
  });
  const rng = v.rng;
  if (!isObject(rng)) throw bad('rng', '{train, trainSpare, eval, evalSpare}', rng);
  for (const k of ['train', 'eval'] as const) {
    const w = rng[k];
    if (!Array.isArray(w) || w.length !== 4 || !w.every((x) => isCount(x) && x <= 0xffffffff) || w.every((x) => x === 0)) {
      throw bad(`rng.${k}`, 'four unsigned 32-bit integers, not all zero', w);
    }
    const spare = rng[`${k}Spare`];
    if (spare !== null && !isFiniteNumber(spare)) throw bad(`rng.${k}Spare`, 'null or a finite number', spare);
  }
  if (!Array.isArray(v.adamSteps) || !v.adamSteps.every(isCount)) throw bad('adamSteps', 'a list of non-negative integers', v.adamSteps);
  return v as unknown as TrainState;
}

// ---------------------------------------------------------------------------------------------
// safetensors

/** A safetensors file's checked header (float32 tensors only); errors name the file and tensor. */
export function checkSafetensors(file: string, buf: Buffer, E: ErrorClass): SafetensorsHeader {
  let h: SafetensorsHeader;
  try {
    h = parseSafetensorsHeader(buf, file);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new E(e.message);
    throw e;
  }
  for (const [name, t] of Object.entries(h.tensors)) {
    if (t.dtype !== 'F32') throw new E(`${file}: tensor "${name}" has dtype ${t.dtype}; irllrec writes and reads F32 only`);
  }
  return h;
}

/** Decodes a checked safetensors file and refuses non-finite values (`nonNegative`: also negative ones). */
export function decodeChecked(file: string, buf: Buffer, E: ErrorClass, o: { nonNegative?: (name: string) => boolean } = {}): Record<string, NamedArray> {
  let tensors: Record<string, NamedArray>;
  try {
    tensors = decodeSafetensors(buf, file).tensors;
  } catch (e) {
    if (e instanceof SafetensorsError) throw new E(e.message);
    throw e;
  }
  for (const [name, t] of Object.entries(tensors)) {
    const d = t.data;
    const nonNeg = o.nonNegative?.(name) ?? false;
    for (let i = 0; i < d.length; i++) {
      const x = d[i]!;
      if (!Number.isFinite(x) || (nonNeg && x < 0)) throw new E(`${file}: tensor "${name}" holds ${x} at index ${i} (damaged, or saved from a diverged run)`);
    }
  }
  return tensors;
}

/**
 * Tensor names and shapes equal to what is expected (extra, missing or reshaped tensors are
 * refused); `ref` names what they are compared with, `hint` ends the message.
 */
export function checkTensorShapes(
  file: string, h: SafetensorsHeader, expected: readonly (readonly [string, readonly number[]])[], E: ErrorClass, ref = 'the model', hint = '',
): void {
  const want = new Map(expected.map(([n, s]) => [n, s]));
  for (const [name, shape] of want) {
    const t = h.tensors[name];
    if (!t) throw new E(`${file}: tensor "${name}" is missing (${ref} has it)${hint}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new E(`${file}: tensor "${name}" has shape [${t.shape.join(', ')}], ${ref} has [${shape.join(', ')}]${hint}`);
    }
  }
  for (const name of Object.keys(h.tensors)) if (!want.has(name)) throw new E(`${file}: tensor "${name}" is not in ${ref}${hint}`);
}

// ---------------------------------------------------------------------------------------------
// the checkpoint

export interface CheckpointCheck {
  dir: string;
  state: TrainState;
  /** The raw bytes of the checkpoint's safetensors files (checked headers), by file name. */
  bytes: Map<string, Buffer>;
  headers: { weights: SafetensorsHeader; optimizer: SafetensorsHeader; best: SafetensorsHeader | null };
  /** Names of the parameters the optimizer holds moments for (Adam's order). */
  trainable: string[];
}

/**
 * The run's checkpoint, verified without the model: files present, state.json by field, each
 * safetensors file's structure, the files consistent with each other (optimizer moments for a
 * subset of the weights with their shapes, one Adam step count per moment pair, best weights shaped
 * like the weights), and the checksums of checkpoint/manifest.json. Null when the run has none.
 */
export function inspectCheckpoint(runDir: string, lim: StateLimits, E: ErrorClass): CheckpointCheck | null {
  let dir: string | null;
  try {
    dir = locateCheckpoint(runDir);
  } catch (e) {
    if (e instanceof CheckpointError) throw new E(e.message);
    throw e;
  }
  if (!dir) return null;
  const stateFile = join(dir, 'state.json');
  const stateBytes = readBytes(stateFile, E);
  const state = checkTrainState(readJsonFile(stateFile, E, stateBytes), stateFile, lim, E);
  const bytes = new Map<string, Buffer>([['state.json', stateBytes]]);
  const read = (name: string) => {
    const buf = readBytes(join(dir!, name), E);
    bytes.set(name, buf);
    return checkSafetensors(join(dir!, name), buf, E);
  };
  const weights = read('weights.safetensors');
  const optimizer = read('optimizer.safetensors');
  const bestFile = join(dir, 'best.safetensors');
  let best: SafetensorsHeader | null = null;
  if (state.hasBest) best = read('best.safetensors');
  else if (existsSync(bestFile)) throw new E(`${bestFile}: present, but ${stateFile} says there are no best weights (hasBest false)`);
  // consistency between the files
  const wf = join(dir, 'weights.safetensors');
  const of = join(dir, 'optimizer.safetensors');
  const shapeOf = (n: string) => weights.tensors[n]!.shape;
  const trainable = Object.keys(optimizer.tensors).filter((n) => n.startsWith('m.')).map((n) => n.slice(2));
  for (const name of Object.keys(optimizer.tensors)) {
    const m = /^([mv])\.(.+)$/.exec(name);
    if (!m) throw new E(`${of}: tensor "${name}" is not an Adam moment (m.<param> or v.<param>)`);
    const p = m[2]!;
    if (!weights.tensors[p]) throw new E(`${of}: tensor "${name}" is for "${p}", which ${wf} does not hold`);
    if (!optimizer.tensors[`${m[1] === 'm' ? 'v' : 'm'}.${p}`]) throw new E(`${of}: tensor "${name}" has no ${m[1] === 'm' ? 'v' : 'm'}.${p} beside it`);
    const s = optimizer.tensors[name]!.shape;
    if (s.join(',') !== shapeOf(p).join(',')) throw new E(`${of}: tensor "${name}" has shape [${s.join(', ')}], "${p}" in ${wf} has [${shapeOf(p).join(', ')}]`);
  }
  if (state.adamSteps.length !== trainable.length) {
    throw new E(`${stateFile}: adamSteps has ${state.adamSteps.length} entries, ${of} holds moments for ${trainable.length} parameters`);
  }
  if (best) checkTensorShapes(bestFile, best, Object.entries(weights.tensors).map(([n, t]) => [n, t.shape] as const), E, wf);
  // checksums (files of a checkpoint written before manifests existed: structure only)
  const manifest = readManifest(dir, E);
  if (manifest) {
    for (const name of bytes.keys()) {
      if (!manifest.files[name]) throw new E(`${join(dir, name)}: not listed in ${join(dir, MANIFEST_FILE)} (the checkpoint was changed after it was saved)`);
    }
    checkManifest(dir, manifest, E, { bytes });
  }
  return { dir, state, bytes, headers: { weights, optimizer, best }, trainable };
}

export interface ModelParam {
  name: string;
  shape: readonly number[];
  trainable: boolean;
}

/** The verified checkpoint's tensors, checked against the model's parameters, decoded. */
export interface CheckpointTensors {
  weights: Map<string, Float32Array>;
  best: Map<string, Float32Array> | null;
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * Checks a verified checkpoint against the model: names and shapes of every tensor, the trainable
 * parameters in the optimizer, one Adam step count each.
 */
export function checkCheckpointShapes(cp: CheckpointCheck, params: readonly ModelParam[], E: ErrorClass): void {
  const hint = ' (a checkpoint of another model or config?)';
  const all = params.map((p) => [p.name, p.shape] as const);
  const trainable = params.filter((p) => p.trainable);
  const wf = join(cp.dir, 'weights.safetensors');
  checkTensorShapes(wf, cp.headers.weights, all, E, 'the model', hint);
  if (cp.headers.best) checkTensorShapes(join(cp.dir, 'best.safetensors'), cp.headers.best, all, E, 'the model', hint);
  const moments = trainable.flatMap((p) => [[`m.${p.name}`, p.shape] as const, [`v.${p.name}`, p.shape] as const]);
  checkTensorShapes(join(cp.dir, 'optimizer.safetensors'), cp.headers.optimizer, moments, E, 'the model\'s optimizer', hint);
  if (cp.state.adamSteps.length !== trainable.length) {
    throw new E(`${join(cp.dir, 'state.json')}: adamSteps has ${cp.state.adamSteps.length} entries, the model has ${trainable.length} trainable parameters`);
  }
}

/**
 * Checks a verified checkpoint against the model (checkCheckpointShapes) and decodes its tensors
 * (finite values, second moments non-negative). Nothing is loaded into the model here.
 */
export function checkpointTensors(cp: CheckpointCheck, params: readonly ModelParam[], E: ErrorClass): CheckpointTensors {
  checkCheckpointShapes(cp, params, E);
  const trainable = params.filter((p) => p.trainable);
  const wf = join(cp.dir, 'weights.safetensors');
  const map = (t: Record<string, NamedArray>) => new Map(Object.entries(t).map(([k, x]) => [k, x.data]));
  const weights = map(decodeChecked(wf, cp.bytes.get('weights.safetensors')!, E));
  const best = cp.headers.best ? map(decodeChecked(join(cp.dir, 'best.safetensors'), cp.bytes.get('best.safetensors')!, E)) : null;
  const opt = decodeChecked(join(cp.dir, 'optimizer.safetensors'), cp.bytes.get('optimizer.safetensors')!, E, { nonNegative: (n) => n.startsWith('v.') });
  return {
    weights, best,
    m: trainable.map((p) => opt[`m.${p.name}`]!.data),
    v: trainable.map((p) => opt[`v.${p.name}`]!.data),
  };
}

/** The parameters of a model as ModelParam (name, shape, trainable). */
export function modelParams(entries: readonly [string, { shape: readonly number[]; requiresGrad: boolean }][]): ModelParam[] {
  return entries.map(([name, t]) => ({ name, shape: [...t.shape], trainable: t.requiresGrad }));
}
