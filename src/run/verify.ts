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
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig, hasDefaults, SECTIONS } from '../config/defaults.js';
import { CONFIG_KEYS, validate, type Config } from '../config/schema.js';
import type { AlignName } from '../config/schema.js';
import { MANIFEST_FILE, type FileManifest } from '../train/checkpoint.js';
import {
  checkManifest, checkSafetensors, checkTensorShapes, decodeChecked, inspectCheckpoint, isCount, isObject, oneLine, readBytes, readJsonFile,
  readManifest, show, type CheckpointCheck, type ErrorClass, type ModelParam,
} from '../train/checkpoint-verify.js';
import type { SafetensorsHeader } from '../util/safetensors.js';
import { RunError } from './errors.js';
import { RUN_DATA_FILES, RUN_FILES } from './layout.js';
import { readRunData, type RunData } from './snapshot.js';

// checkpoint verification lives with the trainer (train/checkpoint-verify.ts); re-exported here for
// the callers that verify whole run directories
export {
  checkCheckpointShapes, checkManifest, checkpointTensors, checkTrainState, inspectCheckpoint, modelParams, readManifest, writeManifest,
  type CheckpointCheck, type CheckpointTensors, type ErrorClass, type ModelParam, type StateLimits,
} from '../train/checkpoint-verify.js';

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
// keys added after runs were first written: a stored config without them reads the default
const OPTIONAL_MODEL_KEYS = new Set(['teacher_shortcut', 'teacher_resync_every', 'intent_prototypes']);

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
