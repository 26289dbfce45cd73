/**
 * `irllrec compare`: a grid of models (official names and IRLLRec ablation presets, ./ablations.ts)
 * trained over several seeds on one dataset, then every metric's mean and Student-t confidence
 * interval per model, and each model's paired difference to a baseline model with its p-values
 * (eval/stats.ts), overall and by user activity (eval/sparsity.ts). docs/compare.md documents it.
 *
 * Resumable. The output directory holds:
 *
 *   grid.json                      what the grid is (models, seeds, options, the data's and the text
 *                                  vectors' fingerprints); a rerun with another grid is refused
 *                                  (or, with `force`, the results that no longer match are removed)
 *   results/<model>/seed-<s>.json  one file per finished (model, seed), written atomically when the
 *                                  run has finished: a run with its file is never trained again
 *   runs/<model>-seed-<s>/         the run in progress: the trainer's checkpoint after every epoch, so
 *                                  a run killed mid-way continues from its last epoch (exactly); it
 *                                  is removed once the run's result is written, unless `keepRuns`
 *                                  (then it is a full run directory: report, serve, evaluate)
 *   compare.json, compare.md       the statistics over what has finished, written after every run
 *
 * Runs go seed by seed (every model for the first seed, then the next), so an interrupted grid has
 * complete pairs early. Every run is independent: the trainer builds a fresh model and a fresh
 * random generator from the run's own config (train.seed = the seed); the data and text vectors
 * are shared read-only.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveConfig } from '../config/load.js';
import { trainingMode, validMetric, type Config } from '../config/schema.js';
import { csrNnz } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import { loadTrainingText, type TextKind, type TrainingText } from '../data/text-rows.js';
import { findTextFile } from '../data/text-vectors.js';
import { meanCi, pairedTest, type MeanCi, type PairedTest, type SparsityResult } from '../eval/index.js';
import { getKernels } from '../kernels/index.js';
import { requiredText } from '../models/registry.js';
import { finishRun, startRun } from '../run/write.js';
import { RUN_FILES } from '../run/layout.js';
import { sha256File } from '../run/snapshot.js';
import { CheckpointError, checkpointDir } from '../train/checkpoint.js';
import { trainAsync, type TrainOptions, type TrainPhase, type TrainResult } from '../train/trainer.js';
import { outputProblem, writeFileAtomic } from '../util/atomic.js';
import { firstDifference } from '../util/json-diff.js';
import { UsageError, UserError } from '../util/errors.js';
import { parseGridEntry, type GridEntry } from './ablations.js';

/** A comparison directory that cannot be used as asked (another grid, a damaged file). */
export class CompareError extends UserError {}

export const COMPARE_FILES = { grid: 'grid.json', results: 'results', runs: 'runs', json: 'compare.json', table: 'compare.md' } as const;

/** `dataset` and `epochs` as for the trainer (every run trains on that dataset, for that many epochs when set). */
export interface CompareOptions extends Pick<TrainOptions, 'dataset' | 'epochs'> {
  /** Where the text vectors are (default: the dataset directory). */
  textDir?: string;
  /** Grid names: models and `-preset` ablations (./ablations.ts). */
  models: string[];
  seeds: number[];
  /** The model the others are compared with (a grid name; default the first). */
  baseline?: string;
  /** Shared by every run (as for train): config file, --set, --preset, --mode. */
  configFile?: string;
  sets?: string[];
  preset?: string;
  mode?: string;
  /** The comparison directory. */
  out: string;
  /** Use a directory holding another grid: keep the results that match this grid, remove the rest. */
  force?: boolean;
  /** Train at most this many runs in this call (then report what is there). */
  maxRuns?: number;
  /** Keep every run as a full run directory (model, summary, data copy) under runs/. */
  keepRuns?: boolean;
  /** Confidence level of the intervals (default 0.95). */
  level?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** The trainer's own lines (every epoch); default: none. */
  trainLog?: (line: string) => void;
  /** Where each run is (for an interrupt message). */
  onPhase?: (where: { model: string; seed: number; phase: TrainPhase }) => void;
}

/** What a finished run leaves: results/<model>/seed-<s>.json. */
export interface RunRecord {
  version: 1;
  model: string;
  trained_model: string;
  ablations: string[];
  seed: number;
  /** Digest of everything that determines the run (config, data, text, epochs). */
  identity: string;
  config: Config;
  epochs_run: number;
  best_epoch: number;
  /** Sum of the epochs' training seconds (includes the part before a resume). */
  train_seconds: number;
  /** The final test evaluation's seconds. */
  eval_seconds: number;
  /** Wall-clock seconds of the call that finished the run (loading, training, evaluations). */
  wall_seconds: number;
  /** Whether the call that finished it continued from a checkpoint. */
  resumed: boolean;
  valid: Record<string, number>;
  test: Record<string, number>;
  sparsity: SparsityResult | null;
  finished_at: string;
}

export interface GridState {
  version: 1;
  models: string[];
  seeds: number[];
  options: { config_file: string | null; config_file_sha256: string | null; sets: string[]; preset: string | null; mode: string | null; epochs: number | null };
  data: DataFingerprint;
  text: Record<string, { file: string; bytes: number; sha256: string }>;
}

export interface DataFingerprint {
  dir: string;
  name: string;
  users: number;
  items: number;
  train: number;
  valid: number;
  test: number;
  /** SHA-256 of the three splits' CSR arrays. */
  sha256: string;
}

export interface MetricStat extends MeanCi {
  /** The values, in the order of `seeds`. */
  values: number[];
}

export interface BucketStats {
  bucket: number;
  min: number;
  max: number;
  users: number;
  test: Record<string, MetricStat>;
  vs_baseline: Record<string, PairedTest> | null;
}

export interface ModelStats {
  model: string;
  trained_model: string;
  ablations: string[];
  overlay: string[];
  /** Seeds with a finished run, ascending. */
  seeds: number[];
  test: Record<string, MetricStat>;
  valid: Record<string, MetricStat>;
  wall_seconds: MetricStat;
  train_seconds: MetricStat;
  epochs_run: MetricStat;
  /** Paired over the seeds both have (null for the baseline itself). */
  vs_baseline: { seeds: number[]; test: Record<string, PairedTest>; valid: Record<string, PairedTest> } | null;
  sparsity: BucketStats[];
}

export interface CompareReport {
  version: 1;
  dataset: DataFingerprint;
  models: string[];
  seeds: number[];
  baseline: string;
  level: number;
  protocol: string;
  kernels: string;
  /** The metrics of the tables (recall and NDCG at every k); the JSON keeps every test metric. */
  metrics: string[];
  runs_total: number;
  runs_done: number;
  complete: boolean;
  /** "model seed s" of every run not finished yet. */
  missing: string[];
  stats: ModelStats[];
  runs: RunRecord[];
  statistics: string;
}

export interface CompareResult {
  report: CompareReport;
  /** Runs trained (finished) in this call. */
  trained: number;
  /** Runs found finished. */
  reused: number;
  markdown: string;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');


/** The data's identity: sizes and a digest of the splits (not of where they are stored). */
export function dataFingerprint(ds: Dataset): DataFingerprint {
  const h = createHash('sha256');
  h.update(`${ds.numUsers} ${ds.numItems}\n`);
  for (const m of [ds.train, ds.valid, ds.test]) {
    h.update(new Uint8Array(m.indptr.buffer, m.indptr.byteOffset, m.indptr.byteLength));
    h.update(new Uint8Array(m.indices.buffer, m.indices.byteOffset, m.indices.byteLength));
  }
  return { dir: ds.dir, name: ds.name, users: ds.numUsers, items: ds.numItems, train: csrNnz(ds.train), valid: csrNnz(ds.valid), test: csrNnz(ds.test), sha256: h.digest('hex') };
}

/** "1,2,3" -> [1,2,3]; "5" -> [1..5] (a count); "3-7" -> [3..7]. */
export function parseSeeds(s: string): number[] {
  const t = s.trim();
  const int = (x: string) => {
    if (!/^\d+$/.test(x.trim())) throw new UsageError(`--seeds ${s}: expected a count (5), a list (1,2,3) or a range (1-5) of integers >= 0`);
    return Number(x.trim());
  };
  let seeds: number[];
  if (t.includes(',')) seeds = t.split(',').filter((x) => x.trim() !== '').map(int);
  else if (/^\d+\s*-\s*\d+$/.test(t)) {
    const [a, b] = t.split('-').map(int) as [number, number];
    if (b < a) throw new UsageError(`--seeds ${s}: the range ends before it starts`);
    if (b - a >= 1000) throw new UsageError(`--seeds ${s}: at most 1000 seeds`);
    seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
  } else {
    const n = int(t);
    if (n < 1 || n > 1000) throw new UsageError(`--seeds ${s}: a count must be 1..1000`);
    seeds = Array.from({ length: n }, (_, i) => i + 1);
  }
  if (!seeds.length) throw new UsageError(`--seeds ${s}: no seed`);
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds ${s}: a seed is listed twice`);
  if (seeds.some((x) => x > Number.MAX_SAFE_INTEGER)) throw new UsageError(`--seeds ${s}: too large`);
  return seeds;
}


/** A directory-safe form of a grid name (grid names are [a-z0-9_-] already). */
const slug = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, '_');
export const resultFile = (out: string, model: string, seed: number) => join(out, COMPARE_FILES.results, slug(model), `seed-${seed}.json`);
/** A run's directory: flat, so that `irllrec report --run` labels it by its name ("lightgcn_int-seed-1"). */
export const runDirOf = (out: string, model: string, seed: number) => join(out, COMPARE_FILES.runs, `${slug(model)}-seed-${seed}`);

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CompareError(`${path}: not readable JSON (${(e as Error).message.split('\n')[0]}); delete it to train that run again`);
  }
}

interface Planned {
  entry: GridEntry;
  seed: number;
  config: Config;
  identity: string;
  need: TextKind[];
}

/** The summary.json of a kept run (the fields `irllrec train` writes). */
function runSummary(config: Config, ds: Dataset, r: TrainResult, fixedEpochs: boolean, model: string): Record<string, unknown> {
  return {
    model, backbone: config.model.name, align: config.model.align, dataset: ds.name,
    protocol: protocolOf(config, fixedEpochs ? r.epochsRun : null),
    kernels: getKernels().info, seed: config.train.seed, epochs_run: r.epochsRun, best_epoch: r.bestEpoch,
    train_seconds_per_epoch: Math.round(r.trainSecondsPerEpoch * 1e4) / 1e4, eval_seconds: Math.round(r.evalSeconds * 1e4) / 1e4,
    losses: r.lastLosses, valid: r.valid, test: r.test,
    ...(r.testSparsity ? { sparsity: { split: 'test', ...r.testSparsity } } : {}),
  };
}

function protocolOf(config: Config, fixedEpochs: number | null): string {
  return fixedEpochs !== null
    ? `fixed ${fixedEpochs} epochs, final weights, full ranking with training items masked`
    : `validate every ${config.train.test_step} epochs on ${validMetric(config).key}, patience ${config.train.patience}, best weights, full ranking with training items masked`;
}

/**
 * Trains what is missing of the grid (at most `maxRuns` runs) and returns the statistics over
 * every finished run; compare.json and compare.md are written after every run.
 */
export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const log = o.log ?? (() => {});
  const ds = o.dataset;
  const level = o.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new UsageError(`confidence level must be in (0, 1), got ${level}`);
  if (!o.models.length) throw new UsageError('--models: no model given');
  if (!o.seeds.length) throw new UsageError('--seeds: no seed given');
  const entries = o.models.map(parseGridEntry);
  const names = entries.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`--models: ${dup} is listed twice`);
  const baseline = o.baseline === undefined ? names[0]! : parseGridEntry(o.baseline).name;
  if (!names.includes(baseline)) throw new UsageError(`--baseline ${o.baseline}: not one of the grid's models (${names.join(', ')})`);
  const problem = outputProblem(o.out, 'dir', { inside: true });
  if (problem) throw new UsageError(`--out ${o.out}: cannot write there: ${problem}`);

  // every run's config, resolved and checked before anything is trained or written
  const stats = { users: ds.numUsers, items: ds.numItems, train: csrNnz(ds.train) };
  const textDir = o.textDir ?? ds.dir;
  const sharedSets = [...(o.sets ?? []), ...(o.mode !== undefined ? [`train.mode=${o.mode}`] : [])];
  const data = dataFingerprint(ds);
  const allNeed = [...new Set(entries.flatMap((e) => requiredText(e.align, e.backbone)))];
  const text: GridState['text'] = {};
  for (const k of allNeed) {
    const f = findTextFile(textDir, k);
    // a missing file is reported by the loader below, with its usual message
    if (f) text[k] = { file: basename(f), bytes: statSync(f).size, sha256: sha256File(f) };
  }
  const planned: Planned[] = [];
  for (const seed of o.seeds) {
    for (const entry of entries) {
      let config: Config;
      try {
        config = resolveConfig({ model: entry.model, stats, preset: o.preset, configFile: o.configFile, sets: [...sharedSets, ...entry.sets], seed }).config;
      } catch (e) {
        if (e instanceof UserError) throw new UsageError(`${entry.name}: ${e.message}`);
        throw e;
      }
      const need = requiredText(entry.align, entry.backbone);
      const identity = sha256(JSON.stringify({ config, data: data.sha256, text: need.map((k) => text[k]?.sha256 ?? null), epochs: o.epochs ?? null }));
      planned.push({ entry, seed, config, identity, need });
    }
  }
  const grid: GridState = {
    version: 1, models: names, seeds: o.seeds.slice(),
    options: {
      config_file: o.configFile ?? null, config_file_sha256: o.configFile ? sha256File(o.configFile) : null,
      sets: sharedSets, preset: o.preset ?? null, mode: o.mode ?? null, epochs: o.epochs ?? null,
    },
    data, text,
  };

  // the directory: a new grid, the same grid, or (refused without force) another one
  const gridPath = join(o.out, COMPARE_FILES.grid);
  const byKey = new Map(planned.map((p) => [`${p.entry.name}\u0000${p.seed}`, p]));
  if (existsSync(gridPath)) {
    const stored = readJson(gridPath) as GridState;
    // where the data lives and its folder's name are not part of it (a moved or renamed dataset
    // directory with the same splits is the same data)
    const where = (g: GridState) => ({ ...g, data: { ...g.data, dir: undefined, name: undefined } });
    const diff = firstDifference(where(stored), where(grid));
    if (diff && !o.force) {
      throw new CompareError(`${o.out} holds another comparison (${diff}): run the same command as before to continue it, choose another --out, or pass --force to keep only the results that match this grid`);
    }
    if (diff) {
      const removed = pruneResults(o.out, byKey);
      log(`--force: ${o.out} held another comparison (${diff}); removed ${removed} result${removed === 1 ? '' : 's'} that do not match this grid`);
    }
  } else if (existsSync(join(o.out, COMPARE_FILES.results))) {
    throw new CompareError(`${o.out} has results/ but no ${COMPARE_FILES.grid}: not a comparison directory written by irllrec compare; choose another --out`);
  }
  writeFileAtomic(gridPath, `${JSON.stringify(grid, null, 1)}\n`);

  // what is finished
  const records = new Map<string, RunRecord>();
  for (const p of planned) {
    const f = resultFile(o.out, p.entry.name, p.seed);
    if (!existsSync(f)) continue;
    const r = readJson(f) as RunRecord;
    if (r.identity !== p.identity) {
      if (!o.force) throw new CompareError(`${f}: the run was made with other settings than this grid's (config, data or text changed): delete it, or pass --force to train it again`);
      rmSync(f, { force: true });
      continue;
    }
    records.set(`${p.entry.name}\u0000${p.seed}`, r);
  }
  const reused = records.size;
  const todo = planned.filter((p) => !records.has(`${p.entry.name}\u0000${p.seed}`));
  log(`compare ${names.join(', ')} over seed${o.seeds.length > 1 ? 's' : ''} ${o.seeds.join(', ')} on ${ds.name}: ${planned.length} runs, ${reused} finished before, ${todo.length} to train (baseline ${baseline}; directory ${o.out})`);

  // text vectors: loaded once (float16 kept as such for scalable runs, as train does)
  const textCache = new Map<boolean, TrainingText>();
  const textFor = (p: Planned): TrainingText => {
    if (!p.need.length) return {};
    const keep = trainingMode(p.config).mode === 'scalable';
    let t = textCache.get(keep);
    if (!t) {
      t = loadTrainingText(textDir, ds.numUsers, ds.numItems, allNeed, { keepFloat16: keep });
      textCache.set(keep, t);
    }
    return Object.fromEntries(p.need.map((k) => [k, t![k]])) as TrainingText;
  };

  const write = () => {
    const report = buildReport({ planned, records, names, seeds: o.seeds, baseline, level, data, epochs: o.epochs ?? null });
    const markdown = renderMarkdown(report);
    writeFileAtomic(join(o.out, COMPARE_FILES.json), `${JSON.stringify(report, null, 1)}\n`);
    writeFileAtomic(join(o.out, COMPARE_FILES.table), markdown);
    return { report, markdown };
  };

  let trained = 0;
  const limit = o.maxRuns ?? Infinity;
  for (const p of todo) {
    if (trained >= limit) break;
    const { entry, seed, config } = p;
    const n = records.size + 1;
    const dir = runDirOf(o.out, entry.name, seed);
    const cp = checkpointDir(dir);
    const resume = cp !== null && existsSync(join(cp, 'state.json'));
    if (!resume) rmSync(dir, { recursive: true, force: true });
    const t = textFor(p);
    const meta = { data: ds.dir, textDir: p.need.length ? textDir : null, epochs: o.epochs ?? null };
    const ctx = { dataset: ds, text: t, meta, log: o.trainLog ?? (() => {}) };
    if (o.keepRuns && !existsSync(join(dir, RUN_FILES.meta))) startRun(dir, config, ctx);
    log(`[${n}/${planned.length}] ${entry.name} seed ${seed}: ${resume ? 'continuing from its checkpoint' : 'training'}${entry.sets.length ? ` (${entry.sets.join(', ')})` : ''}`);
    const t0 = performance.now();
    const run = (again: boolean) => trainAsync(
      { config, dataset: ds, text: t, epochs: o.epochs, runDir: dir, resume: again, log: o.trainLog },
      { onPhase: (phase) => o.onPhase?.({ model: entry.name, seed, phase }) },
    );
    let res: TrainResult;
    try {
      try {
        res = await run(resume);
      } catch (e) {
        if (!(resume && e instanceof CheckpointError)) throw e;
        // a checkpoint the trainer refuses (damaged, or of other settings): the run starts over
        log(`[${n}/${planned.length}] ${entry.name} seed ${seed}: its checkpoint cannot be continued (${e.message}); training it from the start`);
        rmSync(join(dir, 'checkpoint'), { recursive: true, force: true });
        rmSync(join(dir, '.checkpoint.old'), { recursive: true, force: true });
        res = await run(false);
      }
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`${entry.name} seed ${seed}: ${e.message}`);
      throw e;
    }
    const wall = (performance.now() - t0) / 1000;
    if (o.keepRuns) finishRun(dir, res, runSummary(config, ds, res, o.epochs !== undefined, entry.model), ctx);
    const rec: RunRecord = {
      version: 1, model: entry.name, trained_model: entry.model, ablations: entry.ablations, seed, identity: p.identity, config,
      epochs_run: res.epochsRun, best_epoch: res.bestEpoch,
      train_seconds: round(res.history.epochs.reduce((a, e) => a + e.seconds, 0)), eval_seconds: round(res.evalSeconds),
      wall_seconds: round(wall), resumed: resume, valid: res.valid, test: res.test, sparsity: res.testSparsity ?? null,
      finished_at: new Date().toISOString(),
    };
    writeFileAtomic(resultFile(o.out, entry.name, seed), `${JSON.stringify(rec, null, 1)}\n`);
    records.set(`${entry.name}\u0000${seed}`, rec);
    trained++;
    // the checkpoint is only needed until the result is written
    if (o.keepRuns) rmSync(join(dir, 'checkpoint'), { recursive: true, force: true });
    else rmSync(dir, { recursive: true, force: true });
    const k = Math.max(...config.test.k);
    log(`[${n}/${planned.length}] ${entry.name} seed ${seed}: test recall@${k} ${fmt4(res.test[`recall@${k}`])} ndcg@${k} ${fmt4(res.test[`ndcg@${k}`])}, ${res.epochsRun} epochs, ${wall.toFixed(1)}s`);
    write();
  }
  // tidy: empty per-model folders under runs/
  removeEmptyDirs(join(o.out, COMPARE_FILES.runs));
  const { report, markdown } = write();
  if (!report.complete) {
    log(`${report.runs_total - report.runs_done} run${report.runs_total - report.runs_done === 1 ? '' : 's'} still to train${o.maxRuns !== undefined ? ` (--max-runs ${o.maxRuns})` : ''}: run the same command again to continue`);
  }
  return { report, trained, reused, markdown };
}

function removeEmptyDirs(dir: string): void {
  if (!existsSync(dir)) return;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory() && readdirSync(p).length === 0) rmSync(p, { recursive: true, force: true });
  }
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
}

/** --force: removes result files (and run directories) outside the new grid or made with other settings. */
function pruneResults(out: string, byKey: Map<string, Planned>): number {
  let removed = 0;
  const resDir = join(out, COMPARE_FILES.results);
  if (existsSync(resDir)) {
    for (const m of readdirSync(resDir)) {
      const md = join(resDir, m);
      if (!statSync(md).isDirectory()) continue;
      for (const f of readdirSync(md)) {
        const s = /^seed-(\d+)\.json$/.exec(f);
        const p = s ? [...byKey.values()].find((x) => slug(x.entry.name) === m && x.seed === Number(s[1])) : undefined;
        let keep = false;
        if (p) {
          try {
            keep = (JSON.parse(readFileSync(join(md, f), 'utf8')) as RunRecord).identity === p.identity;
          } catch {
            keep = false;
          }
        }
        if (!keep) {
          rmSync(join(md, f), { force: true });
          removed++;
        }
      }
    }
    removeEmptyDirs(resDir);
    mkdirSync(resDir, { recursive: true });
  }
  // runs in progress were started under the other grid: they start over
  rmSync(join(out, COMPARE_FILES.runs), { recursive: true, force: true });
  return removed;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
const fmt4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

/** Metric keys in report order: recall, then ndcg, then the rest; by k within a metric. */
function metricOrder(a: string, b: string): number {
  const rank = (k: string) => {
    const [m, at] = k.split('@');
    const i = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum', 'coverage', 'gini'].indexOf(m!);
    return (i < 0 ? 99 : i) * 1e6 + Number(at ?? 0);
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

const STATISTICS = 'mean and Student-t confidence interval over seeds (sample sd, n - 1 degrees of freedom); differences paired by seed: '
  + 'paired t-test (two-sided), exact sign-flip (randomisation) test and exact Wilcoxon signed-rank test (zero differences dropped, average ranks for ties), both two-sided; no correction for multiple comparisons';

interface BuildInput {
  planned: Planned[];
  records: Map<string, RunRecord>;
  names: string[];
  seeds: number[];
  baseline: string;
  level: number;
  data: DataFingerprint;
  epochs: number | null;
}

function statOf(values: number[], level: number): MetricStat {
  return { ...meanCi(values, level), values };
}

/** The statistics over the finished runs (see CompareReport). */
export function buildReport(b: BuildInput): CompareReport {
  const { records, names, seeds, baseline, level } = b;
  const key = (m: string, s: number) => `${m}\u0000${s}`;
  const runsOf = (m: string) => seeds.map((s) => records.get(key(m, s))).filter((r): r is RunRecord => !!r);
  const done = [...records.values()];
  const allTest = [...new Set(done.flatMap((r) => Object.keys(r.test)))].sort(metricOrder);
  const allValid = [...new Set(done.flatMap((r) => Object.keys(r.valid)))].sort(metricOrder);
  const tableMetrics = allTest.filter((k) => /^(recall|ndcg)@/.test(k));
  const base = runsOf(baseline);
  const baseBySeed = new Map(base.map((r) => [r.seed, r]));
  const stats: ModelStats[] = names.map((m) => {
    const rs = runsOf(m);
    const first = b.planned.find((p) => p.entry.name === m)!.entry;
    const across = (vals: (r: RunRecord) => number | undefined) => statOf(rs.map(vals).map((x) => (x === undefined ? NaN : x)), level);
    const test = Object.fromEntries(allTest.map((k) => [k, across((r) => r.test[k])]));
    const valid = Object.fromEntries(allValid.map((k) => [k, across((r) => r.valid[k])]));
    let vs: ModelStats['vs_baseline'] = null;
    const paired = rs.filter((r) => baseBySeed.has(r.seed));
    if (m !== baseline) {
      const pt = (keys: string[], split: 'test' | 'valid') => Object.fromEntries(keys.map((k) => [k, pairedTest(
        paired.map((r) => r[split][k] ?? NaN), paired.map((r) => baseBySeed.get(r.seed)![split][k] ?? NaN), level,
      )]));
      vs = { seeds: paired.map((r) => r.seed), test: pt(allTest, 'test'), valid: pt(allValid, 'valid') };
    }
    // by user activity: the buckets are the data's (the same for every run)
    const buckets = rs.find((r) => r.sparsity)?.sparsity?.buckets ?? [];
    const sparsity: BucketStats[] = buckets.map((bk) => {
      const bkOf = (r: RunRecord) => r.sparsity?.buckets.find((x) => x.bucket === bk.bucket);
      const keys = Object.keys(bk.metrics).sort(metricOrder);
      const t = Object.fromEntries(keys.map((k) => [k, statOf(rs.map((r) => bkOf(r)?.metrics[k] ?? NaN), level)]));
      let v: Record<string, PairedTest> | null = null;
      if (m !== baseline) {
        v = Object.fromEntries(keys.map((k) => [k, pairedTest(
          paired.map((r) => bkOf(r)?.metrics[k] ?? NaN),
          paired.map((r) => baseBySeed.get(r.seed)!.sparsity?.buckets.find((x) => x.bucket === bk.bucket)?.metrics[k] ?? NaN), level,
        )]));
      }
      return { bucket: bk.bucket, min: bk.min, max: bk.max, users: bk.users, test: t, vs_baseline: v };
    });
    return {
      model: m, trained_model: first.model, ablations: first.ablations, overlay: first.sets, seeds: rs.map((r) => r.seed), test, valid,
      wall_seconds: across((r) => r.wall_seconds), train_seconds: across((r) => r.train_seconds), epochs_run: across((r) => r.epochs_run),
      vs_baseline: vs, sparsity,
    };
  });
  const missing = b.planned.filter((p) => !records.has(key(p.entry.name, p.seed))).map((p) => `${p.entry.name} seed ${p.seed}`);
  const cfg = b.planned[0]!.config;
  return {
    version: 1, dataset: b.data, models: names, seeds, baseline, level,
    protocol: protocolOf(cfg, b.epochs), kernels: getKernels().info,
    metrics: tableMetrics, runs_total: b.planned.length, runs_done: b.planned.length - missing.length, complete: missing.length === 0, missing,
    stats,
    runs: b.planned.map((p) => records.get(key(p.entry.name, p.seed))).filter((r): r is RunRecord => !!r),
    statistics: STATISTICS,
  };
}

// ---- Markdown ----

const cap = (k: string) => k.replace(/^recall/, 'Recall').replace(/^ndcg/, 'NDCG');
const f4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4));
const signed = (x: number) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x).toFixed(4)}`;
export function fmtP(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '–';
  if (p === 0) return '0';
  if (p < 0.001) return p.toExponential(1);
  return String(Number(p.toPrecision(3)));
}

/** "0.1234 ± 0.0021" (± the half-width of the interval), or the mean alone for one seed. */
export function fmtCi(s: MeanCi): string {
  if (!s.n || !Number.isFinite(s.mean)) return '–';
  return s.half_width === null ? f4(s.mean) : `${f4(s.mean)} ± ${f4(s.half_width)}`;
}

/** Seconds: "12.3 ± 0.4". */
function fmtSeconds(s: MeanCi): string {
  if (!s.n || !Number.isFinite(s.mean)) return '–';
  return s.half_width === null ? s.mean.toFixed(1) : `${s.mean.toFixed(1)} ± ${s.half_width.toFixed(1)}`;
}

/** "+0.0040 (+3.2%) p=0.012 [0.0625, 0.0625]": mean difference, relative, paired-t p, [sign-flip p, Wilcoxon p]. */
export function fmtDiff(t: PairedTest): string {
  if (!t.n || !Number.isFinite(t.mean_diff)) return '–';
  const rel = t.relative === null ? '' : ` (${t.relative > 0 ? '+' : t.relative < 0 ? '−' : '±'}${Math.abs(t.relative * 100).toFixed(1)}%)`;
  return `${signed(t.mean_diff)}${rel} p=${fmtP(t.p_t)} [${fmtP(t.p_sign_flip)}, ${fmtP(t.p_wilcoxon)}]`;
}

function table(head: string[], rows: string[][]): string {
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export function renderMarkdown(r: CompareReport): string {
  const pct = Math.round(r.level * 100);
  const out: string[] = [];
  out.push(`# irllrec compare: ${r.dataset.name}`);
  out.push('');
  out.push(`${r.dataset.users} users, ${r.dataset.items} items (train ${r.dataset.train} / valid ${r.dataset.valid} / test ${r.dataset.test} interactions); ${r.protocol}.`);
  out.push(`${r.runs_done} of ${r.runs_total} runs finished (${r.models.length} model${r.models.length === 1 ? '' : 's'} x seeds ${r.seeds.join(', ')})${r.complete ? '' : `; still to train: ${r.missing.join(', ')}`}.`);
  out.push(`Cells: mean ± half-width of the ${pct}% confidence interval (Student t over seeds; the mean alone with one seed).`);
  out.push('');
  out.push('## Test');
  out.push('');
  const ms = r.metrics;
  out.push(table(['model', 'seeds', ...ms.map(cap), 'epochs', 'wall s / run'], r.stats.map((s) => [
    s.model === r.baseline ? `${s.model} (baseline)` : s.model, String(s.seeds.length), ...ms.map((k) => fmtCi(s.test[k]!)),
    s.seeds.length ? String(Math.round(s.epochs_run.mean * 10) / 10) : '–', fmtSeconds(s.wall_seconds),
  ])));
  out.push('');
  const others = r.stats.filter((s) => s.vs_baseline);
  if (others.length) {
    out.push(`## Difference to ${r.baseline} (test, paired by seed)`);
    out.push('');
    out.push('Cells: mean difference (relative to the baseline), p of the paired t-test, [p of the exact sign-flip test, p of the exact Wilcoxon signed-rank test]; two-sided.');
    out.push('');
    out.push(table(['model', 'pairs', ...ms.map(cap)], others.map((s) => [s.model, String(s.vs_baseline!.seeds.length), ...ms.map((k) => fmtDiff(s.vs_baseline!.test[k]!))])));
    out.push('');
  }
  const vms = [...new Set(r.stats.flatMap((s) => Object.keys(s.valid)))].filter((k) => /^(recall|ndcg)@/.test(k)).sort(metricOrder);
  if (vms.length && r.stats.some((s) => s.seeds.length)) {
    out.push('## Validation');
    out.push('');
    out.push(table(['model', 'seeds', ...vms.map(cap)], r.stats.map((s) => [s.model, String(s.seeds.length), ...vms.map((k) => (s.valid[k] ? fmtCi(s.valid[k]!) : '–'))])));
    out.push('');
  }
  // by user activity, at the largest k
  const withBuckets = r.stats.find((s) => s.sparsity.length);
  if (withBuckets) {
    const K = Math.max(...r.metrics.map((k) => Number(k.split('@')[1])).filter(Number.isFinite));
    const bks = withBuckets.sparsity;
    const head = ['model', ...bks.map((b) => `Q${b.bucket}: ${b.min === b.max ? b.min : `${b.min}–${b.max}`} (${b.users} users)`)];
    out.push(`## Test by user activity (quintiles of training interactions per user)`);
    out.push('');
    out.push('Columns: bucket, its range of training interactions and its number of test users (the buckets are the data\'s, the same for every model).');
    for (const metric of [`recall@${K}`, `ndcg@${K}`]) {
      out.push('');
      out.push(`${cap(metric)}:`);
      out.push('');
      out.push(table(head, r.stats.map((s) => [s.model === r.baseline ? `${s.model} (baseline)` : s.model, ...bks.map((b) => {
        const x = s.sparsity.find((y) => y.bucket === b.bucket)?.test[metric];
        return x ? fmtCi(x) : '–';
      })])));
      if (others.length) {
        out.push('');
        out.push(`${cap(metric)}, difference to ${r.baseline}:`);
        out.push('');
        out.push(table(head, others.map((s) => [s.model, ...bks.map((b) => {
          const x = s.sparsity.find((y) => y.bucket === b.bucket)?.vs_baseline?.[metric];
          return x ? fmtDiff(x) : '–';
        })])));
      }
    }
    out.push('');
  }
  if (r.runs.length) {
    const K = Math.max(...r.metrics.map((k) => Number(k.split('@')[1])).filter(Number.isFinite));
    out.push('## Runs');
    out.push('');
    out.push(table(['model', 'seed', `Recall@${K}`, `NDCG@${K}`, 'epochs', 'best epoch', 'train s', 'wall s'], r.runs.map((x) => [
      x.model, String(x.seed), f4(x.test[`recall@${K}`]), f4(x.test[`ndcg@${K}`]), String(x.epochs_run), String(x.best_epoch), x.train_seconds.toFixed(1), `${x.wall_seconds.toFixed(1)}${x.resumed ? ' (resumed)' : ''}`,
    ])));
    out.push('');
  }
  out.push(`Statistics: ${r.statistics}. Kernels: ${r.kernels}.`);
  out.push('');
  return out.join('\n');
}
