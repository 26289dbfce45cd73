/**
 * Opening a run directory (what `irllrec train --out DIR` wrote, see src/run/layout.ts): the
 * resolved config, run.json (where the dataset and text vectors were), model.safetensors (the
 * evaluated model), history and summary. The model is rebuilt exactly as training built it and its
 * parameters loaded by name.
 *
 * The data come from the run's own copy (RUN/data/, written by `irllrec train`), so a run directory
 * copied anywhere opens without its dataset. Runs without a copy (made before copies existed) read
 * the dataset directory recorded in run.json; `data` (--data DIR) reads that directory instead of
 * either, as before.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validate, type Config } from '../config/schema.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { buildNormalizedAdjacency } from '../data/graph.js';
import { loadTextVectors } from '../data/text-vectors.js';
import type { TextVectors } from '../models/alignment/types.js';
import { RUN_FILES } from '../run/layout.js';
import { loadRunDataset, readRunData, type RunData } from '../run/snapshot.js';
import type { ComposedModel } from '../models/composed.js';
import { createModel, officialName, requiredText } from '../models/registry.js';
import { Rng } from '../util/rng.js';
import { readSafetensors } from '../util/safetensors.js';
import { RunError } from './errors.js';

export interface RunMeta {
  data: string;
  textDir: string | null;
  epochs: number | null;
}

export interface RunHistory {
  epochs: { epoch: number; seconds: number; losses: Record<string, number> }[];
  evals: { epoch: number; split: 'valid' | 'test'; seconds: number; metrics: Record<string, number> }[];
}

/** The light part of a run: files only, no dataset or model (enough for curves and tables). */
export interface RunInfo {
  dir: string;
  config: Config;
  meta: RunMeta;
  /** Official model name (lightgcn_int, ...). */
  model: string;
  summary: Record<string, unknown> | null;
  history: RunHistory | null;
}

export interface OpenRunOptions {
  /**
   * Read the dataset from this directory instead of the run's own copy (RUN/data/) or, for runs
   * without one, the directory recorded in run.json.
   */
  data?: string;
  /** Text-vector directory (default: the run's copy; with `data` or without a copy, run.json's, else the dataset directory). */
  textDir?: string;
}

export interface LoadedRun extends RunInfo {
  dataset: Dataset;
  text: TextVectors;
  textDir: string;
  model: string;
  net: ComposedModel;
  /** Metadata stored in model.safetensors (model, best_epoch). */
  weightsMeta: Record<string, string>;
  /** The run's own data copy the dataset came from; null when it came from a dataset directory. */
  runData: RunData | null;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new RunError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

export function readRunInfo(dirArg: string): RunInfo {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new RunError(`${dirArg}: run directory not found`);
  for (const f of [RUN_FILES.config, RUN_FILES.meta]) {
    if (!existsSync(join(dir, f))) throw new RunError(`${dirArg}: not a run directory (no ${f}); create one with "irllrec train --data DIR --out ${dirArg}"`);
  }
  let config: Config;
  try {
    config = validate(readJson<Config>(join(dir, RUN_FILES.config)), join(dir, RUN_FILES.config));
  } catch (e) {
    throw new RunError((e as Error).message);
  }
  const meta = readJson<RunMeta>(join(dir, RUN_FILES.meta));
  if (typeof meta?.data !== 'string') throw new RunError(`${join(dir, RUN_FILES.meta)}: expected {"data": "<dataset dir>", ...}`);
  const opt = <T>(f: string): T | null => (existsSync(join(dir, f)) ? readJson<T>(join(dir, f)) : null);
  return {
    dir,
    config,
    meta,
    model: officialName(config.model.name, config.model.align),
    summary: opt<Record<string, unknown>>(RUN_FILES.summary),
    history: opt<RunHistory>(RUN_FILES.history),
  };
}

/** Rebuilds the trained model of a run directory. */
export function openRun(dirArg: string, o: OpenRunOptions = {}): LoadedRun {
  const info = readRunInfo(dirArg);
  const weights = join(info.dir, RUN_FILES.model);
  if (!existsSync(weights)) {
    throw new RunError(`${dirArg}: no ${RUN_FILES.model} (the run has not finished; continue it with "irllrec train --resume ${dirArg}")`);
  }
  const runData = o.data ? null : readRunData(info.dir);
  let dataset: Dataset;
  let textDir: string;
  if (runData) {
    dataset = loadRunDataset(runData);
    textDir = o.textDir ? resolve(o.textDir) : runData.dir;
  } else {
    const dataDir = o.data ? resolve(o.data) : info.meta.data;
    if (!existsSync(dataDir)) {
      throw new RunError(`${dirArg}: its dataset ${dataDir} is gone and the run holds no copy of it (no ${RUN_FILES.data}/: trained before runs were self-contained); pass the dataset's new location (--data DIR, or {data} to Recommender.open)`);
    }
    dataset = loadDataset(dataDir);
    textDir = o.textDir ? resolve(o.textDir) : (info.meta.textDir ?? dataset.dir);
  }
  const need = requiredText(info.config.model.align);
  const text = need.length ? loadTextVectors(textDir, dataset.numUsers, dataset.numItems, need) : {};
  const adj = buildNormalizedAdjacency(dataset.train);
  const net = createModel(info.config, adj, new Rng(info.config.train.seed), text) as ComposedModel;
  const { tensors, metadata } = readSafetensors(weights);
  const values: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(tensors)) values[k] = t.data;
  try {
    net.params.load(values, weights);
  } catch (e) {
    throw new RunError(`${(e as Error).message} (was the dataset or config changed since training?)`);
  }
  return { ...info, dataset, text, textDir, net, weightsMeta: metadata, runData };
}
