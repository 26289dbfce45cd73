/** `irllrec train`: train a model on a dataset directory with the official protocol. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../config/load.js';
import type { DataStats } from '../config/defaults.js';
import { validate, validMetric, type Config } from '../config/schema.js';
import { csrNnz } from '../data/csr.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { loadTextVectors } from '../data/text-vectors.js';
import { getKernels } from '../kernels/index.js';
import { officialName, requiredText } from '../models/registry.js';
import { train, type TrainResult } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { writeSafetensors } from '../util/safetensors.js';
import { RUN_FILES } from '../run/layout.js';
import { ensureRunData, runDataBytes, writeRunData } from '../run/snapshot.js';
import { UsageError } from './errors.js';

export interface TrainCliOptions {
  data?: string;
  model?: string;
  align?: string;
  textDir?: string;
  config?: string;
  set?: string[];
  epochs?: string;
  seed?: string;
  preset?: string;
  out?: string;
  resume?: string;
  json?: boolean;
}

/** What a run directory records about how it was started (for --resume). */
interface RunMeta {
  data: string;
  textDir: string | null;
  epochs: number | null;
}

export function parseIntOption(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${v}"`);
  return Number(v);
}

export function summary(config: Config, ds: Dataset, r: TrainResult, fixedEpochs: boolean): Record<string, unknown> {
  return {
    model: officialName(config.model.name, config.model.align),
    backbone: config.model.name,
    align: config.model.align,
    dataset: ds.name,
    protocol: fixedEpochs
      ? `fixed ${r.epochsRun} epochs, final weights, full ranking with training items masked`
      : `validate every ${config.train.test_step} epochs on ${validMetric(config).key}, patience ${config.train.patience}, best weights, full ranking with training items masked`,
    kernels: getKernels().info,
    seed: config.train.seed,
    epochs_run: r.epochsRun,
    best_epoch: r.bestEpoch,
    train_seconds_per_epoch: round(r.trainSecondsPerEpoch),
    eval_seconds: round(r.evalSeconds),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    losses: r.lastLosses,
    valid: r.valid,
    test: r.test,
  };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** The sizes the defaults depend on. */
export function datasetStats(ds: Dataset): DataStats {
  return { users: ds.numUsers, items: ds.numItems, train: csrNnz(ds.train) };
}

export function logDataset(ds: Dataset, log: (s: string) => void): void {
  log(`dataset ${ds.name} (${ds.format}): ${ds.numUsers} users, ${ds.numItems} items, train ${csrNnz(ds.train)} / valid ${csrNnz(ds.valid)} / test ${csrNnz(ds.test)} interactions`);
}

export async function trainCommand(o: TrainCliOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  let config: Config;
  let section = '';
  let epochs: number | undefined;
  let meta: RunMeta;
  let runDir: string | undefined;
  let ds: Dataset | undefined;
  let defaultsLog: string[] = [];
  if (o.resume) {
    runDir = resolve(o.resume);
    if (o.data || o.config || o.set?.length || o.seed || o.align || o.textDir || o.epochs || o.preset) {
      throw new UsageError('--resume continues a run exactly as it was started: do not combine it with --data, --config, --set, --seed, --align, --preset, --text-dir or --epochs');
    }
    for (const f of ['run.json', 'config.json']) {
      if (!existsSync(join(runDir, f))) throw new UsageError(`${runDir}: not a run directory (no ${f})`);
    }
    meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunMeta;
    config = validate(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as Config, join(runDir, 'config.json'));
    epochs = meta.epochs ?? undefined;
  } else {
    if (!o.data) throw new UsageError('--data DIR is required (or --resume RUN)');
    epochs = parseIntOption('--epochs', o.epochs, 1);
    const seed = parseIntOption('--seed', o.seed, 0);
    meta = { data: resolve(o.data), textDir: o.textDir ? resolve(o.textDir) : null, epochs: epochs ?? null };
    // the data picks the defaults (a paper dataset by its counts, else the auto rules), so it is read first
    ds = loadDataset(meta.data);
    const r = resolveConfig({
      model: o.model, align: o.align, stats: datasetStats(ds), preset: o.preset, configFile: o.config, sets: o.set, seed,
    });
    config = r.config;
    section = ` (defaults: ${r.defaults.source === 'auto' ? 'auto rules' : r.section})`;
    defaultsLog = r.defaults.reasons;
    runDir = o.out ? resolve(o.out) : undefined;
  }
  ds ??= loadDataset(meta.data);
  const need = requiredText(config.model.align);
  const text = need.length ? loadTextVectors(meta.textDir ?? ds.dir, ds.numUsers, ds.numItems, need) : {};
  logDataset(ds, log);
  for (const line of defaultsLog) log(`defaults: ${line}`);
  for (const k of need) log(`text ${k}: ${text[k]!.rows} x ${text[k]!.cols}`);
  log(`model ${officialName(config.model.name, config.model.align)}${section}, kernels ${getKernels().info}`);
  if (runDir && !o.resume) {
    if (existsSync(join(runDir, RUN_FILES.meta))) throw new UsageError(`${runDir} already holds a run: continue it with --resume ${o.out}, or choose another --out`);
    writeFileAtomic(join(runDir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
    writeFileAtomic(join(runDir, RUN_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
    // the run's own copy of what serving and evaluation read (self-contained runs)
    const m = writeRunData(runDir, { dataset: ds, text, textDir: meta.textDir, log });
    log(`copied the data serving needs to ${join(runDir, RUN_FILES.data)} (${(runDataBytes(m) / 1048576).toFixed(1)} MiB)`);
  }
  const result = train({ config, dataset: ds, text, epochs, log, runDir, resume: Boolean(o.resume) });
  const out = summary(config, ds, result, epochs !== undefined);
  if (runDir) {
    // a run resumed from before runs were self-contained gets its data copy now
    if (ensureRunData(runDir, { dataset: ds, text, textDir: meta.textDir, log })) log(`copied the data serving needs to ${join(runDir, RUN_FILES.data)}`);
    // the model that was evaluated (best weights under the official protocol, final with --epochs)
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [n, t] of result.model.params.entries()) tensors[n] = { shape: [...t.shape], data: t.data };
    writeSafetensors(join(runDir, RUN_FILES.model), tensors, { model: result.model.name, best_epoch: String(result.bestEpoch) });
    writeFileAtomic(join(runDir, RUN_FILES.history), `${JSON.stringify(result.history)}\n`);
    writeFileAtomic(join(runDir, RUN_FILES.summary), `${JSON.stringify(out, null, 2)}\n`);
    log(`wrote ${runDir}`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}
