/** `irllrec train`: train a model on a dataset directory with the official protocol. */
import { join, resolve } from 'node:path';
import { resolveConfig } from '../config/load.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { csrNnz } from '../data/csr.js';
import { getKernels } from '../kernels/index.js';
import { train, type TrainResult } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Config } from '../config/schema.js';
import { UsageError } from './errors.js';
import { loadTextVectors } from '../data/text-vectors.js';
import { officialName, requiredText } from '../models/registry.js';

export interface TrainCliOptions {
  data: string;
  model: string;
  align?: string;
  textDir?: string;
  config?: string;
  set?: string[];
  epochs?: string;
  seed?: string;
  out?: string;
  json?: boolean;
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
      : `validate every ${config.train.test_step} epochs on recall@${config.test.k.at(-1)}, patience ${config.train.patience}, best weights, full ranking with training items masked`,
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

export function logDataset(ds: Dataset, log: (s: string) => void): void {
  log(`dataset ${ds.name} (${ds.format}): ${ds.numUsers} users, ${ds.numItems} items, train ${csrNnz(ds.train)} / valid ${csrNnz(ds.valid)} / test ${csrNnz(ds.test)} interactions`);
}

export async function trainCommand(o: TrainCliOptions): Promise<void> {
  const epochs = parseIntOption('--epochs', o.epochs, 1);
  const seed = parseIntOption('--seed', o.seed, 0);
  const ds = loadDataset(o.data);
  const { config, section } = resolveConfig({ model: o.model, align: o.align, datasetName: ds.name, configFile: o.config, sets: o.set, seed });
  const need = requiredText(config.model.align);
  const text = need.length ? loadTextVectors(o.textDir ?? ds.dir, ds.numUsers, ds.numItems, need) : {};
  const log = (s: string) => process.stderr.write(`${s}\n`);
  logDataset(ds, log);
  for (const k of need) log(`text ${k}: ${text[k]!.rows} x ${text[k]!.cols}`);
  log(`model ${officialName(config.model.name, config.model.align)} (defaults: ${section}), kernels ${getKernels().info}`);
  const result = train({ config, dataset: ds, text, epochs, log });
  const out = summary(config, ds, result, epochs !== undefined);
  if (o.out) {
    const dir = resolve(o.out);
    writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    writeFileAtomic(join(dir, 'history.json'), `${JSON.stringify(result.history)}\n`);
    writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(out, null, 2)}\n`);
    log(`wrote ${dir}`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}
