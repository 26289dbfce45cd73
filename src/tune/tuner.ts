/**
 * Hyperparameter search by successive halving (Jamieson & Talwalkar 2016; the synchronous form of
 * ASHA / Hyperband's inner loop):
 *
 *   rung 0: every trial (a random draw from the space) trains `minEpochs` epochs;
 *   rung r: the best 1/eta of rung r-1 (by their best validation metric so far) continue from their
 *           checkpoint to minEpochs * eta^r epochs;
 *   last rung: the survivors train to the end under the early-stopping protocol and are tested.
 *
 * Trials run one after another in this process (the kernels use every core already). Each trial is
 * an ordinary trainer run directory under `trials/`, so pausing and continuing is the trainer's own
 * exact checkpoint/resume; `tune.json` records every finished (trial, rung) atomically. A killed
 * search started again with the same command continues: finished rungs are not redone, and a trial
 * interrupted inside a rung continues from its last epoch checkpoint.
 *
 * No JavaScript library covers this (Optuna and Ray Tune are Python); the algorithm is small and
 * its state must live beside our checkpoints, so it is written here.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { applyOverrides, ConfigError, validate, validMetric, type Config } from '../config/schema.js';
import type { Dataset } from '../data/dataset.js';
import type { TextVectors } from '../data/text-types.js';
import { train } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { Rng } from '../util/rng.js';
import { sample, type SearchSpace } from './space.js';

export interface TuneOptions {
  /** The resolved base config (defaults, config file, --set): every trial starts from it. */
  base: Config;
  space: SearchSpace;
  dataset: Dataset;
  text?: TextVectors;
  trials: number;
  /** Keep the best 1/eta of a rung (default 3). */
  eta?: number;
  /** Epochs of the first rung (default: test_step + 1, i.e. two validations). */
  minEpochs?: number;
  /** Seed of the draws (the trials' own training seed is the base config's train.seed). */
  seed?: number;
  /** The search directory: tune.json, trials/, results.md, best.yaml. */
  dir: string;
  /** Identifies the search (data, model, text) so a resumed search is the same search. */
  identity: Record<string, unknown>;
  log?: (line: string) => void;
}

export interface RungResult {
  /** Epochs the trial had run at the end of this rung. */
  epochs: number;
  /** Best validation metric so far. */
  valid: number;
  bestEpoch: number;
  /** The trial stopped by itself (early stopping) within this rung: it cannot train further. */
  finished: boolean;
  seconds: number;
  /** Test metrics (only for trials that finished). */
  test?: Record<string, number>;
  validMetrics?: Record<string, number>;
}

export interface Trial {
  id: number;
  params: Record<string, unknown>;
  rungs: RungResult[];
  error?: string;
}

export interface TuneState {
  version: 1;
  identity: Record<string, unknown>;
  metric: string;
  space: SearchSpace;
  eta: number;
  /** Epoch budget per rung; the last is null (train to the end). */
  budgets: (number | null)[];
  trials: Trial[];
  best: number | null;
}

export interface TuneResult {
  state: TuneState;
  best: Trial;
  bestConfig: Config;
}

export const TUNE_FILES = { state: 'tune.json', table: 'results.md', best: 'best.yaml', trials: 'trials' } as const;

function trialDir(dir: string, id: number): string {
  return join(dir, TUNE_FILES.trials, String(id).padStart(3, '0'));
}

function score(t: Trial, rung: number): number {
  const r = t.rungs[rung];
  return t.error || !r || !Number.isFinite(r.valid) ? -Infinity : r.valid;
}

/** Rung budgets: minEpochs * eta^r for every rung but the last, which runs to the end. */
export function rungBudgets(trials: number, eta: number, minEpochs: number): (number | null)[] {
  let rungs = 1;
  for (let n = trials; n >= eta; n = Math.ceil(n / eta)) rungs++;
  const b: (number | null)[] = [];
  for (let r = 0; r < rungs - 1; r++) b.push(minEpochs * eta ** r);
  b.push(null);
  return b;
}

export function tune(o: TuneOptions): TuneResult {
  const log = o.log ?? (() => {});
  const eta = o.eta ?? 3;
  const minEpochs = o.minEpochs ?? o.base.train.test_step + 1;
  const metric = validMetric(o.base).key;
  const statePath = join(o.dir, TUNE_FILES.state);
  let state: TuneState;
  if (existsSync(statePath)) {
    let prev: TuneState;
    try {
      prev = JSON.parse(readFileSync(statePath, 'utf8')) as TuneState;
    } catch (e) {
      throw new ConfigError(`${statePath}: not valid JSON (${(e as Error).message})`);
    }
    const same = JSON.stringify({ i: prev.identity, s: prev.space, e: prev.eta, n: prev.trials?.length, m: prev.metric }) ===
      JSON.stringify({ i: o.identity, s: o.space, e: eta, n: o.trials, m: metric });
    if (!same) throw new ConfigError(`${o.dir} holds another search (different data, model, space, trial count or metric): choose another --out`);
    state = prev;
    const done = state.trials.reduce((n, t) => n + t.rungs.length, 0);
    log(`continuing the search in ${o.dir}: ${done} trial rungs already done`);
  } else {
    const rng = new Rng(o.seed ?? 0);
    const trials: Trial[] = [];
    for (let i = 0; i < o.trials; i++) {
      const params = sample(o.space, rng);
      // every draw must make a valid config (cross-key relations too) before anything trains
      validate(applyOverrides(o.base, params, `trial ${i}`), `trial ${i}`);
      trials.push({ id: i, params, rungs: [] });
    }
    state = { version: 1, identity: o.identity, metric, space: o.space, eta, budgets: rungBudgets(o.trials, eta, minEpochs), trials, best: null };
    writeFileAtomic(statePath, `${JSON.stringify(state, null, 1)}\n`);
  }
  const save = () => writeFileAtomic(statePath, `${JSON.stringify(state, null, 1)}\n`);

  let alive = state.trials.slice();
  for (let r = 0; r < state.budgets.length; r++) {
    const budget = state.budgets[r]!;
    log(`rung ${r}: ${alive.length} trial${alive.length === 1 ? '' : 's'}, ${budget === null ? 'to the end (early stopping), then tested' : `up to ${budget} epochs`}`);
    for (const t of alive) {
      if (t.rungs[r] || t.error) continue;
      const prev = t.rungs[r - 1];
      if (prev?.finished) {
        t.rungs[r] = { ...prev, seconds: 0 };
        save();
        continue;
      }
      const dir = trialDir(o.dir, t.id);
      const resume = existsSync(join(dir, 'checkpoint', 'state.json'));
      if (!resume) rmSync(dir, { recursive: true, force: true });
      const config = applyOverrides(o.base, t.params, `trial ${t.id}`);
      const t0 = performance.now();
      try {
        const res = train({
          config, dataset: o.dataset, text: o.text, runDir: dir, resume, pauseAtEpoch: budget ?? undefined,
          log: (s) => { if (s.startsWith('resuming')) log(`  trial ${t.id}: ${s}`); },
        });
        t.rungs[r] = {
          epochs: res.epochsRun, valid: res.bestValid, bestEpoch: res.bestEpoch, finished: !res.paused,
          seconds: (performance.now() - t0) / 1000,
          ...(res.paused ? {} : { test: res.test, validMetrics: res.valid }),
        };
      } catch (e) {
        t.error = (e as Error).message.split('\n')[0];
      }
      save();
      const rr = t.rungs[r];
      log(`  trial ${t.id} ${fmtParams(t.params)}: ${t.error ? `failed (${t.error})` : `${metric} ${rr!.valid.toFixed(4)} after ${rr!.epochs} epochs${rr!.finished ? ' (finished)' : ''}, ${rr!.seconds.toFixed(1)}s`}`);
    }
    if (r < state.budgets.length - 1) {
      const keep = Math.max(1, Math.ceil(alive.length / eta));
      alive = alive.filter((t) => !t.error).sort((a, b) => score(b, r) - score(a, r) || a.id - b.id).slice(0, keep);
    }
  }
  const last = state.budgets.length - 1;
  const ranked = state.trials.filter((t) => t.rungs[last] && !t.error).sort((a, b) => score(b, last) - score(a, last) || a.id - b.id);
  if (ranked.length === 0) throw new ConfigError(`every trial failed (first error: ${state.trials.find((t) => t.error)?.error ?? 'none'})`);
  const best = ranked[0]!;
  state.best = best.id;
  save();
  const bestConfig = applyOverrides(o.base, best.params, 'best trial');
  writeFileAtomic(join(o.dir, TUNE_FILES.best), `# irllrec tune: best of ${state.trials.length} trials on ${metric} (trial ${best.id}); use with: irllrec train --config THIS_FILE\n${toYaml(bestConfig)}`);
  writeFileAtomic(join(o.dir, TUNE_FILES.table), resultsTable(state));
  return { state, best, bestConfig };
}

function fmtParams(p: Record<string, unknown>): string {
  return Object.entries(p).map(([k, v]) => `${k.split('.').pop()}=${v}`).join(' ');
}

/** Markdown table: every trial, its settings, the rung it reached, its validation (and test) metric. */
export function resultsTable(state: TuneState): string {
  const keys = Object.keys(state.space);
  const testKey = state.metric.startsWith('recall@') ? state.metric : `recall@${state.metric.split('@')[1]}`;
  const extra = testKey === state.metric ? [] : [testKey];
  const head = ['trial', ...keys.map((k) => k.split('.').pop()!), 'rung', 'epochs', `valid ${state.metric}`, ...[state.metric, ...extra].map((m) => `test ${m}`), 'seconds'];
  const rows = state.trials
    .map((t) => ({ t, r: t.rungs.length - 1 }))
    .sort((a, b) => b.r - a.r || score(b.t, b.r) - score(a.t, a.r) || a.t.id - b.t.id)
    .map(({ t, r }) => {
      const rr = t.rungs[r];
      const secs = t.rungs.reduce((s, x) => s + x.seconds, 0);
      return [
        `${t.id}${state.best === t.id ? ' (best)' : ''}`, ...keys.map((k) => String(t.params[k])), String(r),
        rr ? String(rr.epochs) : '-', t.error ? `failed: ${t.error}` : rr ? rr.valid.toFixed(4) : '-',
        ...[state.metric, ...extra].map((m) => (rr?.test?.[m] !== undefined ? rr.test[m]!.toFixed(4) : '-')), secs.toFixed(1),
      ];
    });
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return `${[line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')}\n`;
}
