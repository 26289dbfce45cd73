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
 *
 * A run is verified before it is used (src/run/verify.ts): every file's structure, the checksums
 * recorded at save, the checkpoint's state, and the tensors' names and shapes against the rebuilt
 * model. A damaged run is refused with a RunError naming the file and the field.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validate, type Config } from '../config/schema.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { buildNormalizedAdjacency } from '../data/graph.js';
import { HalfRows, loadTrainingText, type TrainingText } from '../data/text-rows.js';
import { loadTextVectors } from '../data/text-vectors.js';
import type { TextVectors } from '../data/text-types.js';
import type { ComposedModel } from '../models/composed.js';
import { createModel, officialName, requiredText } from '../models/registry.js';
import { Rng } from '../util/rng.js';
import { RunError } from './errors.js';
import { RUN_FILES } from './layout.js';
import { loadRunDataset, type RunData } from './snapshot.js';
import { checkCheckpointShapes, modelParams, runModelTensors, verifyRunFiles, type RunCheck } from './verify.js';

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
  /**
   * How the text vectors are read (models trained with text only):
   * - 'model' (default): every kind the model trained with, as float32 (`text`, and the same
   *   tables in `textRows`), what evaluation, reports and tests have always had;
   * - 'serving': only what serving reads, the users' tables (cold start's warm-user neighbours),
   *   kept float16 in memory when the .npy is float16 (HalfRows, as scalable training keeps them);
   *   the items' tables are not read at all (1M items x 896 float32 would be 3.6 GB) and the model
   *   is built with width-0 stand-ins for them, which nothing but a training loss would touch.
   *   `text` is then empty and `textRows` holds the users' tables.
   */
  text?: 'model' | 'serving';
}

export interface LoadedRun extends RunInfo {
  dataset: Dataset;
  /** The text vectors as float32 (every kind the model trained with); empty with `text: 'serving'`. */
  text: TextVectors;
  /** The text vectors as loaded: `text`'s tables, or with `text: 'serving'` the users' tables only (float16 kept). */
  textRows: TrainingText;
  textDir: string;
  model: string;
  net: ComposedModel;
  /** Metadata stored in model.safetensors (model, best_epoch). */
  weightsMeta: Record<string, string>;
  /** The run's own data copy the dataset came from; null when it came from a dataset directory. */
  runData: RunData | null;
}

function infoOf(c: RunCheck): RunInfo {
  return {
    dir: c.dir,
    config: c.config,
    meta: c.meta,
    model: officialName(c.config.model.name, c.config.model.align),
    summary: c.summary,
    history: c.history as RunHistory | null,
  };
}

/** The light part of a run (verified: a damaged run directory is a RunError naming the file). */
export function readRunInfo(dirArg: string): RunInfo {
  return infoOf(verifyRunFiles(resolve(dirArg), RunError, { label: dirArg }));
}

/** Rebuilds the trained model of a run directory. */
export function openRun(dirArg: string, o: OpenRunOptions = {}): LoadedRun {
  const check = verifyRunFiles(resolve(dirArg), RunError, { label: dirArg, dataCopy: !o.data });
  const info = infoOf(check);
  const weights = join(info.dir, RUN_FILES.model);
  if (!check.model) {
    throw new RunError(`${dirArg}: no ${RUN_FILES.model} (the run has not finished; continue it with "irllrec train --resume ${dirArg}")`);
  }
  const runData = check.runData;
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
  const need = requiredText(info.config.model.align, info.config.model.name);
  let text: TextVectors = {};
  let textRows: TrainingText = {};
  let modelText: TrainingText = {};
  if (need.length && o.text === 'serving') {
    // users' text (cold start, explanations), and whatever the backbone itself scores from (AlphaRec's item profiles)
    const ownText = new Set(requiredText('none', info.config.model.name));
    const users = need.filter((kind) => kind.startsWith('usr') || ownText.has(kind));
    textRows = loadTrainingText(textDir, dataset.numUsers, dataset.numItems, users, { keepFloat16: true });
    modelText = { ...textRows };
    // the item tables are only ever read by a training loss: stand-ins of the right height, width 0
    for (const kind of need) if (!modelText[kind]) modelText[kind] = new HalfRows(new Uint16Array(0), dataset.numItems, 0);
  } else if (need.length) {
    text = loadTextVectors(textDir, dataset.numUsers, dataset.numItems, need);
    textRows = { ...text };
    modelText = text;
  }
  const adj = buildNormalizedAdjacency(dataset.train);
  const net = createModel(info.config, adj, new Rng(info.config.train.seed), modelText) as ComposedModel;
  // names and shapes against the rebuilt model before anything is loaded
  const params = modelParams(net.params.entries());
  if (check.checkpoint) checkCheckpointShapes(check.checkpoint, params, RunError);
  const { tensors: values, metadata } = runModelTensors(info.dir, check.model, params, RunError);
  try {
    net.params.load(values, weights);
  } catch (e) {
    throw new RunError(`${(e as Error).message} (was the dataset or config changed since training?)`);
  }
  return { ...info, dataset, text, textRows, textDir, net, weightsMeta: metadata, runData };
}
