/**
 * Verifying a run directory before it is used (resume, serving, evaluation, reports). Everything is
 * checked before anything is loaded or written, and a damaged directory is refused with one line
 * naming the file and the field, without changing a byte of it:
 *
 * - config.json and run.json: JSON objects with every field the run needs, of the right type;
 * - model.safetensors and the checkpoint's tensors: the safetensors structure (header within the
 *   file, offsets non-negative, within the data, non-overlapping and covering it, known dtypes,
 *   shape x dtype size = the bytes spanned), float32, finite values, and names and shapes equal to
 *   the model's parameters (once the model is built);
 * - checkpoint/state.json: every field by type and range (epochs, patience, RNG states, Adam step
 *   counts against the optimizer's tensors, history);
 * - checksums: manifest.json (the run's top-level files) and checkpoint/manifest.json record the
 *   size and SHA-256 of each file at save; a file that differs is refused. Runs written before
 *   manifests existed are verified by structure only.
 *
 * Every function takes the error class to throw (CheckpointError for `train --resume`, RunError for
 * opening a run), so each caller reports in its own terms.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig, hasDefaults, SECTIONS } from '../config/defaults.js';
import { CONFIG_KEYS, validate, type Config } from '../config/schema.js';
import type { AlignName } from '../config/schema.js';
import { CheckpointError, locateCheckpoint, MANIFEST_FILE, MANIFEST_VERSION, type FileDigest, type FileManifest } from '../train/checkpoint.js';
import type { TrainState } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { decodeSafetensors, parseSafetensorsHeader, SafetensorsError, type NamedArray, type SafetensorsHeader } from '../util/safetensors.js';
import { RunError } from './errors.js';
import { RUN_DATA_FILES, RUN_FILES } from './layout.js';
import { readRunData, type RunData } from './snapshot.js';

export type ErrorClass = new (message: string) => Error;

/** run.json: where the run was started from (for --resume). */
export interface RunMetaFile {
  data: string;
  textDir: string | null;
  epochs: number | null;
}

/** The top-level files of a run that training writes at the end (a resume writes them again). */
export const RUN_OUTPUTS = [RUN_FILES.model, RUN_FILES.history, RUN_FILES.summary] as const;
/** The data copy's own manifest (it holds the checksums of the copy's files). */
export const RUN_DATA_MANIFEST = `${RUN_FILES.data}/${RUN_DATA_FILES.manifest}`;
/** What a run manifest covers at the start of a run (the outputs come at the end). */
export const RUN_START_FILES = [RUN_FILES.config, RUN_FILES.meta, RUN_DATA_MANIFEST] as const;
/** Everything the run manifest covers (a run may lack its data copy: runs of an older irllrec). */
export const RUN_MANIFEST_FILES = [...RUN_START_FILES, ...RUN_OUTPUTS] as const;

/** Model keys the models read with a fallback (older configs may lack them). */
const OPTIONAL_MODEL_KEYS = new Set(['teacher_shortcut', 'teacher_resync_every']);

const show = (v: unknown): string => {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

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
// config.json and run.json

/** A stored config (config.json of a run): every section and key the model needs, validated. */
export function checkStoredConfig(v: unknown, file: string, E: ErrorClass): Config {
  if (!isObject(v)) throw new E(`${file}: expected a JSON object with model, optimizer, train and test sections`);
  for (const sec of ['model', 'optimizer', 'train', 'test']) {
    if (!isObject(v[sec])) throw new E(`${file}: the ${sec} section is missing or not an object`);
  }
  const required = ['model.name', 'model.align', 'optimizer.lr', 'train.epoch', 'train.batch_size', 'train.test_step', 'train.patience', 'train.seed', 'test.k', 'test.batch_size'];
  for (const key of required) {
    const [sec, field] = key.split('.') as [string, string];
    if ((v[sec] as Record<string, unknown>)[field] === undefined) throw new E(`${file}: ${key} is missing`);
  }
  const model = v.model as Record<string, unknown>;
  if (typeof model.name !== 'string' || typeof model.align !== 'string' || !hasDefaults(model.name, model.align as AlignName)) {
    throw new E(`${file}: model.name ${show(model.name)} with model.align ${show(model.align)} is not a model this irllrec knows`);
  }
  // the keys every section's defaults give this model (what the model reads)
  const keySets = SECTIONS.map((s) => new Set(Object.keys(defaultConfig(model.name as string, model.align as AlignName, s).model)));
  for (const key of keySets[0]!) {
    if (OPTIONAL_MODEL_KEYS.has(key) || !keySets.every((k) => k.has(key)) || !CONFIG_KEYS[`model.${key}`]) continue;
    if (model[key] === undefined) throw new E(`${file}: model.${key} is missing`);
  }
  try {
    return validate(v as unknown as Config, file);
  } catch (e) {
    throw new E(oneLine((e as Error).message));
  }
}

export function checkRunMeta(v: unknown, file: string, E: ErrorClass): RunMetaFile {
  if (!isObject(v)) throw new E(`${file}: expected {"data": "<dataset dir>", "textDir": ..., "epochs": ...}`);
  if (typeof v.data !== 'string' || v.data === '') throw new E(`${file}: data must be the dataset directory (a string), got ${show(v.data)}`);
  if (v.textDir !== undefined && v.textDir !== null && (typeof v.textDir !== 'string' || v.textDir === '')) throw new E(`${file}: textDir must be a directory or null, got ${show(v.textDir)}`);
  if (v.epochs !== undefined && v.epochs !== null && !(isCount(v.epochs) && v.epochs >= 1)) throw new E(`${file}: epochs must be a positive integer or null, got ${show(v.epochs)}`);
  return { ...v, data: v.data, textDir: (v.textDir as string | null | undefined) ?? null, epochs: (v.epochs as number | null | undefined) ?? null };
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

// ---------------------------------------------------------------------------------------------
// the run directory

export interface RunCheck {
  dir: string;
  config: Config;
  meta: RunMetaFile;
  /** model.safetensors' checked header (null when the run has not finished). */
  model: { header: SafetensorsHeader; bytes: Buffer } | null;
  summary: Record<string, unknown> | null;
  history: { epochs: unknown[]; evals: unknown[] } | null;
  checkpoint: CheckpointCheck | null;
  /** The run manifest (null for runs of an older irllrec). */
  manifest: FileManifest | null;
  /** The run's own data copy, verified (null when it has none, or when it was not asked for). */
  runData: RunData | null;
}

/**
 * Verifies a run directory without the model or the dataset: config.json, run.json, history.json,
 * summary.json, model.safetensors (structure), the checkpoint (see inspectCheckpoint) and the
 * checksums of manifest.json, and with `dataCopy` the run's data copy (sizes and checksums).
 * `resume`: the outputs a resume writes again (model, history, summary) may be missing even where
 * the manifest lists them. `label` is how messages name the directory (as the user typed it).
 */
export function verifyRunFiles(dir: string, E: ErrorClass, o: { resume?: boolean; label?: string; dataCopy?: boolean } = {}): RunCheck {
  const label = o.label ?? dir;
  if (!existsSync(dir)) throw new E(`${label}: run directory not found`);
  if (!statSync(dir).isDirectory()) throw new E(`${label}: not a directory`);
  for (const f of [RUN_FILES.config, RUN_FILES.meta]) {
    if (!existsSync(join(dir, f))) throw new E(`${label}: not a run directory (no ${f}); create one with "irllrec train --data DIR --out ${label}"`);
  }
  const bytes = new Map<string, Buffer>();
  const read = (f: string) => {
    const buf = readBytes(join(dir, f), E);
    bytes.set(f, buf);
    return buf;
  };
  const configFile = join(dir, RUN_FILES.config);
  const config = checkStoredConfig(readJsonFile(configFile, E, read(RUN_FILES.config)), configFile, E);
  const metaFile = join(dir, RUN_FILES.meta);
  const meta = checkRunMeta(readJsonFile(metaFile, E, read(RUN_FILES.meta)), metaFile, E);
  let summary: RunCheck['summary'] = null;
  if (existsSync(join(dir, RUN_FILES.summary))) {
    const f = join(dir, RUN_FILES.summary);
    const v = readJsonFile(f, E, read(RUN_FILES.summary));
    if (!isObject(v)) throw new E(`${f}: expected a JSON object (the run's summary)`);
    summary = v;
  }
  let history: RunCheck['history'] = null;
  if (existsSync(join(dir, RUN_FILES.history))) {
    const f = join(dir, RUN_FILES.history);
    const v = readJsonFile(f, E, read(RUN_FILES.history));
    if (!isObject(v) || !Array.isArray(v.epochs) || !Array.isArray(v.evals)) throw new E(`${f}: expected {"epochs": [...], "evals": [...]}`);
    history = v as RunCheck['history'];
  }
  let model: RunCheck['model'] = null;
  if (existsSync(join(dir, RUN_FILES.model))) {
    const buf = read(RUN_FILES.model);
    model = { header: checkSafetensors(join(dir, RUN_FILES.model), buf, E), bytes: buf };
  }
  const manifest = readManifest(dir, E);
  // a run without its data copy still opens (from run.json's dataset), as runs of an older irllrec do
  if (manifest) checkManifest(dir, manifest, E, { bytes, missingOk: o.resume ? [...RUN_OUTPUTS, RUN_DATA_MANIFEST] : [RUN_DATA_MANIFEST] });
  const checkpoint = inspectCheckpoint(dir, { configEpochs: config.train.epoch, patience: config.train.patience }, E);
  if (checkpoint) {
    const fixed = checkpoint.state.fixedEpochs;
    if (fixed !== meta.epochs) {
      throw new E(`${join(checkpoint.dir, 'state.json')}: fixedEpochs is ${show(fixed)}, ${metaFile} says epochs ${show(meta.epochs)}`);
    }
  }
  let runData: RunData | null = null;
  if (o.dataCopy) {
    try {
      runData = readRunData(dir);
    } catch (e) {
      if (e instanceof RunError) throw new E(e.message);
      throw e;
    }
  }
  return { dir, config, meta, model, summary, history, checkpoint, manifest, runData };
}

/** model.safetensors against the model's parameters, decoded (finite values). */
export function runModelTensors(dir: string, check: NonNullable<RunCheck['model']>, params: readonly ModelParam[], E: ErrorClass): { tensors: Record<string, Float32Array>; metadata: Record<string, string> } {
  const file = join(dir, RUN_FILES.model);
  checkTensorShapes(file, check.header, params.map((p) => [p.name, p.shape] as const), E, 'the model', ' (was the dataset or config changed since training?)');
  const t = decodeChecked(file, check.bytes, E);
  return { tensors: Object.fromEntries(Object.entries(t).map(([k, x]) => [k, x.data])), metadata: check.header.metadata };
}

/** The parameters of a model as ModelParam (name, shape, trainable). */
export function modelParams(entries: readonly [string, { shape: readonly number[]; requiresGrad: boolean }][]): ModelParam[] {
  return entries.map(([name, t]) => ({ name, shape: [...t.shape], trainable: t.requiresGrad }));
}
