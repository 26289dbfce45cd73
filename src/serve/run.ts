/**
 * Opening a run directory (what `irllrec train --out DIR` wrote): the resolved config, run.json
 * (where the dataset and text vectors are), model.safetensors (the evaluated model), history and
 * summary. The model is rebuilt exactly as training built it and its parameters loaded by name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validate, type Config } from '../config/schema.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { buildNormalizedAdjacency } from '../data/graph.js';
import { loadTextVectors } from '../data/text-vectors.js';
import type { TextVectors } from '../models/alignment/types.js';
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
  /** Dataset directory, when it moved since training (default: run.json's). */
  data?: string;
  /** Text-vector directory (default: run.json's, else the dataset directory). */
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
  for (const f of ['config.json', 'run.json']) {
    if (!existsSync(join(dir, f))) throw new RunError(`${dirArg}: not a run directory (no ${f}); create one with "irllrec train --data DIR --out ${dirArg}"`);
  }
  let config: Config;
  try {
    config = validate(readJson<Config>(join(dir, 'config.json')), join(dir, 'config.json'));
  } catch (e) {
    throw new RunError((e as Error).message);
  }
  const meta = readJson<RunMeta>(join(dir, 'run.json'));
  if (typeof meta?.data !== 'string') throw new RunError(`${join(dir, 'run.json')}: expected {"data": "<dataset dir>", ...}`);
  const opt = <T>(f: string): T | null => (existsSync(join(dir, f)) ? readJson<T>(join(dir, f)) : null);
  return {
    dir,
    config,
    meta,
    model: officialName(config.model.name, config.model.align),
    summary: opt<Record<string, unknown>>('summary.json'),
    history: opt<RunHistory>('history.json'),
  };
}

/** Rebuilds the trained model of a run directory. */
export function openRun(dirArg: string, o: OpenRunOptions = {}): LoadedRun {
  const info = readRunInfo(dirArg);
  const weights = join(info.dir, 'model.safetensors');
  if (!existsSync(weights)) {
    throw new RunError(`${dirArg}: no model.safetensors (the run has not finished; continue it with "irllrec train --resume ${dirArg}")`);
  }
  const dataDir = o.data ? resolve(o.data) : info.meta.data;
  if (!existsSync(dataDir)) {
    throw new RunError(`${dirArg}: its dataset ${dataDir} is gone; pass the dataset's new location (--data DIR, or {data} to Recommender.open)`);
  }
  const dataset = loadDataset(dataDir);
  const need = requiredText(info.config.model.align);
  const textDir = o.textDir ? resolve(o.textDir) : (info.meta.textDir ?? dataset.dir);
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
  return { ...info, dataset, text, textDir, net, weightsMeta: metadata };
}
