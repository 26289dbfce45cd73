/**
 * `irllrec train`: train a model on a dataset directory with the official protocol.
 *
 * A run directory (--out RUN) killed at any moment continues or restarts with the same command:
 * - `train --resume RUN` continues from the last checkpoint exactly; a run killed before its first
 *   checkpoint starts again from the beginning with its stored settings;
 * - the original command (`train --data D ... --out RUN`) again does the same when the settings it
 *   resolves to equal the stored ones (config.json and run.json); with other settings it refuses
 *   and says how to proceed; a finished run is never overwritten.
 * The run directory is verified first (src/run/verify.ts): a damaged one is refused, one line
 * naming the file and field, before anything is written. Ctrl-C prints where training stopped and
 * how to continue, and exits 130 (the checkpoint of the last finished epoch is complete).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../config/load.js';
import type { DataStats } from '../config/defaults.js';
import { checkConfigAgainstData, trainingMode, validMetric, type Config } from '../config/schema.js';
import { csrNnz } from '../data/csr.js';
import { loadDataset, type Dataset } from '../data/dataset.js';
import { HalfRows, loadTrainingText } from '../data/text-rows.js';
import { getKernels } from '../kernels/index.js';
import { officialName, requiredText } from '../models/registry.js';
import { CheckpointError } from '../train/checkpoint.js';
import { trainAsync, type TrainPhase, type TrainResult } from '../train/trainer.js';
import { RUN_FILES } from '../run/layout.js';
import { verifyRunFiles, type RunCheck, type RunMetaFile } from '../run/verify.js';
import { finishRun, startRun } from '../run/write.js';
import { UsageError } from './errors.js';
import type { ModelCliOptions } from './options.js';
import { firstDifference } from '../util/json-diff.js';

export interface TrainCliOptions extends ModelCliOptions {
  epochs?: string;
  seed?: string;
  mode?: string;
  resume?: string;
}

/** What a run directory records about how it was started (for --resume). */
type RunMeta = RunMetaFile;

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
    // the test metrics by user activity (quintiles of training interactions; eval/sparsity.ts)
    ...(r.testSparsity ? { sparsity: { split: 'test', ...r.testSparsity } } : {}),
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
  for (const w of ds.warnings ?? []) log(`warning: ${w}`);
}

/** A path as a shell word (quoted when it needs to be), for the hints. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}


type OutPlan = { kind: 'new' } | { kind: 'restart' } | { kind: 'continue'; epoch: number };

/**
 * What `train --data ... --out RUN` does with a RUN that already holds a run: restart one killed
 * before its first checkpoint, or continue one with a checkpoint, when the settings are the stored
 * ones; refuse otherwise (and refuse a damaged or finished run). Reads only.
 */
function planOut(runDir: string, label: string, config: Config, meta: RunMeta): OutPlan {
  if (!existsSync(join(runDir, RUN_FILES.meta))) return { kind: 'new' };
  const check = verifyRunFiles(runDir, CheckpointError, { resume: true, label, dataCopy: true });
  const cp = check.checkpoint;
  const q = shellWord(label);
  if (check.summary && check.model) {
    throw new UsageError(`${label} already holds a finished run: choose another --out (or delete ${label} to train it again)`);
  }
  const diff = firstDifference(check.config, config) ?? firstDifference({ ...check.meta }, { ...meta });
  if (cp) {
    if (diff) throw new UsageError(`${label} holds an interrupted run at epoch ${cp.state.nextEpoch}, started with other settings (${diff}): continue it with --resume ${q}, or choose another --out`);
    return { kind: 'continue', epoch: cp.state.nextEpoch };
  }
  if (check.model) throw new UsageError(`${label} holds a model but no checkpoint and no summary: choose another --out (or delete ${label} to train it again)`);
  if (diff) throw new UsageError(`${label} holds a run interrupted before its first checkpoint, started with other settings (${diff}): start that one again with --resume ${q}, or choose another --out (or delete ${label})`);
  return { kind: 'restart' };
}

export async function trainCommand(o: TrainCliOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  let config: Config;
  let section = '';
  let epochs: number | undefined;
  let meta: RunMeta;
  let runDir: string | undefined;
  /** The run directory as the user typed it (for messages and hints). */
  let label = '';
  let ds: Dataset | undefined;
  let defaultsLog: string[] = [];
  /** Continue from the run's checkpoint. */
  let resume = false;
  /** Write config.json, run.json and the data copy (a new run, or one started again). */
  let fresh = false;
  let startNote: string | null = null;
  if (o.resume) {
    label = o.resume;
    runDir = resolve(o.resume);
    if (o.data || o.config || o.set?.length || o.seed || o.align || o.textDir || o.epochs || o.preset || o.mode) {
      throw new UsageError('--resume continues a run exactly as it was started: do not combine it with --data, --config, --set, --seed, --align, --preset, --mode, --text-dir or --epochs');
    }
    // everything but the checks against the model (in the trainer), before anything is read or written
    const check: RunCheck = verifyRunFiles(runDir, CheckpointError, { resume: true, label, dataCopy: true });
    meta = check.meta;
    config = check.config;
    epochs = meta.epochs ?? undefined;
    if (check.checkpoint) resume = true;
    else if (check.model) {
      throw new CheckpointError(`${label}: holds a model but no checkpoint to continue from (was ${join(label, RUN_FILES.checkpoint)} deleted?); train it again with another --out`);
    } else {
      fresh = true;
      startNote = `${label} has no checkpoint yet (interrupted before its first epoch ended): starting it from the beginning with its stored settings`;
    }
  } else {
    if (!o.data) throw new UsageError('--data DIR is required (or --resume RUN)');
    epochs = parseIntOption('--epochs', o.epochs, 1);
    const seed = parseIntOption('--seed', o.seed, 0);
    meta = { data: resolve(o.data), textDir: o.textDir ? resolve(o.textDir) : null, epochs: epochs ?? null };
    // the data picks the defaults (a paper dataset by its counts, else the auto rules), so it is read first
    ds = loadDataset(meta.data);
    const r = resolveConfig({
      model: o.model, align: o.align, stats: datasetStats(ds), preset: o.preset, configFile: o.config,
      sets: [...(o.set ?? []), ...(o.mode !== undefined ? [`train.mode=${o.mode}`] : [])], seed,
    });
    config = r.config;
    section = ` (defaults: ${r.defaults.source === 'auto' ? 'auto rules' : r.section})`;
    defaultsLog = r.defaults.reasons;
    if (o.out) {
      label = o.out;
      runDir = resolve(o.out);
      const plan = planOut(runDir, label, config, meta);
      if (plan.kind === 'continue') {
        resume = true;
        startNote = `${label} holds an interrupted run at epoch ${plan.epoch} with these settings: continuing it (as "irllrec train --resume ${shellWord(label)}" does)`;
      } else {
        fresh = true;
        if (plan.kind === 'restart') startNote = `${label} holds a run interrupted before its first checkpoint with these settings: starting it again`;
      }
    }
  }
  ds ??= loadDataset(meta.data);
  // the config against the data's size (k <= items, memory budget), before anything is read or written
  checkConfigAgainstData(config, datasetStats(ds));
  const need = requiredText(config.model.align, config.model.name);
  // scalable mode reads a sample's rows per step: float16 files stay float16 in memory (half the bytes)
  const keepFloat16 = trainingMode(config).mode === 'scalable';
  const text = need.length ? loadTrainingText(meta.textDir ?? ds.dir, ds.numUsers, ds.numItems, need, { keepFloat16 }) : {};
  logDataset(ds, log);
  for (const line of defaultsLog) log(`defaults: ${line}`);
  for (const k of need) log(`text ${k}: ${text[k]!.rows} x ${text[k]!.cols}${text[k] instanceof HalfRows ? ' (float16 in memory)' : ''}`);
  log(`model ${officialName(config.model.name, config.model.align)}${section}, kernels ${getKernels().info}`);
  if (startNote) log(startNote);
  const ctx = { dataset: ds, text, meta, log };
  if (runDir && fresh) startRun(runDir, config, ctx);
  const result = await trainInterruptibly({ config, dataset: ds, text, epochs, log, runDir, resume }, label);
  const out = summary(config, ds, result, epochs !== undefined);
  if (runDir) {
    finishRun(runDir, result, out, ctx);
    log(`wrote ${runDir}`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}

/**
 * Trains with a Ctrl-C handler: training returns to the event loop between batches (trainAsync),
 * so SIGINT is handled there, never in the middle of writing a checkpoint; it prints where training
 * stopped and how to continue, and exits 130. The checkpoint on disk is the last finished epoch's.
 */
async function trainInterruptibly(opts: Parameters<typeof trainAsync>[0], label: string): Promise<TrainResult> {
  let phase: TrainPhase | null = null;
  const onSigint = () => {
    const where = phase === null ? '' : 'final' in phase ? ' in the final evaluation' : ` at epoch ${phase.epoch}`;
    const line = opts.runDir
      ? `interrupted${where}; continue with: irllrec train --resume ${shellWord(label)}`
      : `interrupted${where} (no --out, nothing saved)`;
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}irllrec: ${line}\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await trainAsync(opts, { onPhase: (p) => { phase = p; } });
    // a Ctrl-C during the last evaluation is handled here, before the outputs are written
    await new Promise<void>((done) => setImmediate(done));
    return result;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
