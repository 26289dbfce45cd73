/**
 * `irllrec report`: one self-contained HTML page (inline CSS, SVG and a few lines of JS; a
 * Content-Security-Policy that forbids every network fetch) about one or more runs:
 * 1. the runs (model, dataset, protocol, epochs, speed);
 * 2. test metrics side by side, like the paper's table (best per column bold, runner-up
 *    underlined, improvement of the best over the runner-up), with the non-graph baselines
 *    (most-popular, item-kNN, EASE) fitted once per distinct dataset on the run's own data copy
 *    (RUN/data/) as extra rows, and the best model's margin over the best baseline;
 * 3. test recall and NDCG by user-activity bucket (quintiles of training interactions), a table and
 *    a line chart per dataset (from summary.json's `sparsity`);
 * 4. training curves, one chart per loss term, a line per run;
 * 5. validation metrics over epochs (best epoch marked);
 * 6. for models with intent prototypes, a 2-D map (PCA of the normalised item embeddings) of the
 *    items coloured by their dominant intent, each intent drawn at the centroid of the items it dominates;
 * 7. example explanations: recommendations for a few users with the intents and text behind them.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BASELINE_LABELS, BASELINES, fitAndEvaluateBaselines, type BaselineName, type BaselineRunResult } from '../baselines/index.js';
import type { Dataset } from '../data/dataset.js';
import { higherIsBetter, METRIC_NAMES, type MetricName } from '../eval/metrics.js';
import { RUN_DATA_FILES } from '../run/layout.js';
import { loadRunDataset, readRunData, type RunData } from '../run/snapshot.js';
import { openRun, readRunInfo, type RunInfo } from '../run/open.js';
import { Recommender, type Explanation, type IntentShare } from '../serve/recommender.js';
import { normalizeRows } from '../serve/ranker.js';
import { fsReason, outputProblem, writeFileAtomic } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';
import { barChart, esc, fmt, lineChart, PALETTE, scatter, type Bar, type Marker, type ScatterPoint, type Series } from './svg.js';

export interface ReportOptions {
  runs: string[];
  out: string;
  title?: string;
  /** example users per run (default 3) */
  examples?: number;
  /**
   * Baselines fitted on each distinct dataset of the runs (from the runs' own data copies) and
   * shown beside them: default all of BASELINES; false or [] for none.
   */
  baselines?: readonly BaselineName[] | false;
  /** Warnings: a model that could not be loaded, a baseline that could not be fitted. */
  log?: (s: string) => void;
  /** Progress lines (the baselines being fitted). */
  progress?: (s: string) => void;
}

export interface ReportRun {
  label: string;
  info: RunInfo;
  rec: Recommender | null;
  /** why the model could not be loaded (curves and tables still work) */
  recError?: string;
  /** The identity of the run's data copy (RUN/data/: a digest of its splits); null or absent without one. */
  dataId?: string | null;
  /** Why the run has no usable data copy (shown where baselines are skipped). */
  dataNote?: string;
}

/** The baselines of one dataset (one data copy identity). */
export interface DataBaselines {
  /** The dataset's name (the data copy's). */
  dataset: string;
  users: number;
  items: number;
  results: BaselineRunResult[];
  /** Skipped or failed baselines, one line each. */
  notes: string[];
}

/** What renderReport shows about baselines. */
export interface ReportBaselines {
  /** false: not asked for (--no-baselines). */
  enabled: boolean;
  /** By data identity (ReportRun.dataId). */
  byData: Map<string, DataBaselines>;
}

/** EASE is fitted for a report only up to this many items (its dense items x items matrix). */
export const REPORT_EASE_MAX_ITEMS = 20_000;
/** The metrics beyond recall/NDCG the report shows at the largest K (a compact table when the main one lacks them). */
const EXTRA_METRICS: readonly MetricName[] = ['hit', 'mrr', 'map', 'coverage', 'gini'];

const METRIC_ORDER = (k: string) => {
  const [name, at] = k.split('@');
  return `${name === 'recall' ? 0 : name === 'ndcg' ? 1 : 2}${name}${String(Number(at ?? 0)).padStart(5, '0')}`;
};

function uniqueLabels(dirs: string[]): string[] {
  const base = dirs.map((d) => basename(d));
  return base.map((b, i) => (base.indexOf(b) !== i || base.lastIndexOf(b) !== i ? `${b} (${i + 1})` : b));
}

function runsTable(runs: ReportRun[]): string {
  const rows = runs.map((r, i) => {
    const s = r.info.summary ?? {};
    const h = r.info.history;
    return `<tr><td><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.label)}</td><td>${esc(r.info.model)}</td><td>${esc(s.dataset ?? basename(r.info.meta.data))}</td>` +
      `<td>${esc(s.epochs_run ?? h?.epochs.length ?? '')}</td><td>${esc(s.best_epoch ?? '')}</td><td>${s.train_seconds_per_epoch !== undefined ? esc(fmt(Number(s.train_seconds_per_epoch))) : ''}</td>` +
      `<td class="small">${esc(s.protocol ?? '')}</td><td class="small">${esc(s.kernels ?? '')}</td></tr>`;
  });
  return `<table class="sortable"><thead><tr><th>run</th><th>model</th><th>dataset</th><th>epochs</th><th>best epoch</th><th>s / epoch</th><th>protocol</th><th>kernels</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * The identity of a run's data copy: a digest of the dataset's size and its splits' SHA-256 (sizes
 * and the source directory for copies written before checksums). Two runs trained on the same
 * splits have the same identity wherever their directories are.
 */
export function runDataIdentity(d: RunData): string {
  const m = d.manifest;
  const sp = RUN_DATA_FILES.splits;
  const parts = [String(m.dataset.users), String(m.dataset.items), ...[sp.train, sp.valid, sp.test].map((f) => m.sha256?.[f] ?? `${m.files[f]}@${m.dataset.source}`)];
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

const datasetName = (r: ReportRun) => String(r.info.summary?.dataset ?? basename(r.info.meta.data));
const hasTest = (r: ReportRun) => !!r.info.summary && typeof r.info.summary.test === 'object' && !!r.info.summary.test && !Array.isArray(r.info.summary.test);
const testOf = (r: ReportRun) => (hasTest(r) ? (r.info.summary!.test as Record<string, unknown>) : {});
const metricName = (key: string) => key.split('@')[0]!.toLowerCase();
const metricK = (key: string) => Number(key.split('@')[1]);
const isKnownMetric = (key: string) => (METRIC_NAMES as readonly string[]).includes(metricName(key)) && Number.isInteger(metricK(key));
const better = (key: string) => !isKnownMetric(key) || higherIsBetter(metricName(key) as MetricName);

/** One table of the comparison: runs of one dataset (one data copy, where the runs have one). */
export interface DataGroup {
  title: string;
  dataId: string | null;
  runs: ReportRun[];
}

/**
 * Runs grouped by dataset: by name (summary.dataset), split further by data copy identity when
 * runs of one name were trained on different splits. Runs without a copy join their name's group
 * when that name has one identity at most, else they form their own group.
 */
export function groupRuns(runs: ReportRun[]): DataGroup[] {
  const byName = new Map<string, ReportRun[]>();
  for (const r of runs) byName.set(datasetName(r), [...(byName.get(datasetName(r)) ?? []), r]);
  const groups: DataGroup[] = [];
  for (const [name, rs] of byName) {
    const ids = [...new Set(rs.map((r) => r.dataId ?? null).filter((x): x is string => x !== null))];
    if (ids.length <= 1) {
      groups.push({ title: name, dataId: ids[0] ?? null, runs: rs });
      continue;
    }
    for (const id of ids) groups.push({ title: `${name} (splits ${id.slice(0, 8)})`, dataId: id, runs: rs.filter((r) => r.dataId === id) });
    const none = rs.filter((r) => !r.dataId);
    if (none.length) groups.push({ title: `${name} (no data copy)`, dataId: null, runs: none });
  }
  return groups;
}

interface Row {
  label: string;
  sub: string;
  baseline: boolean;
  color?: string;
  values: Record<string, unknown>;
  /** tooltip of the name cell */
  title?: string;
}

/** A baseline's hyper-parameters and times, e.g. "Item-kNN: neighbours 100, shrink 10; fit 0.2s, eval 0.1s". */
function baselineDetails(x: BaselineRunResult): string {
  const params = Object.entries(x.params).map(([k, v]) => `${k === 'lambda' ? 'λ' : k} ${v}`).join(', ');
  return `${BASELINE_LABELS[x.model]}${params ? `: ${params}` : ''}; fit ${x.fit_seconds}s, eval ${x.eval_seconds}s`;
}

const num = (row: Row, m: string) => {
  const v = row.values[m];
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
};

/** Relative advantage of a over b in the metric's direction (positive: a is better); NaN when undefined. */
function advantage(key: string, a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return (better(key) ? a - b : b - a) / Math.abs(b);
}

const pct = (x: number, sign = false) => (Number.isFinite(x) ? `${sign && x > 0 ? '+' : x < 0 ? '−' : ''}${(Math.abs(x) * 100).toFixed(2)}%` : '–');

function metricTable(title: string, rows: Row[], metrics: string[], cls = 'cmp sortable'): string {
  const head = `<tr><th>${esc(title)}</th>${metrics.map((m) => `<th>${esc(m.replace('recall', 'Recall').replace('ndcg', 'NDCG'))}</th>`).join('')}</tr>`;
  // best first in each column's direction (gini: lower is better)
  const rank = new Map<string, number[]>();
  for (const m of metrics) rank.set(m, [...new Set(rows.map((r) => num(r, m)).filter(Number.isFinite))].sort((a, b) => (better(m) ? b - a : a - b)));
  const body = rows.map((r) => {
    const title = r.title ? ` title="${esc(r.title)}"` : '';
    const name = r.baseline
      ? `<td class="name"${title}><i>${esc(r.label)}</i> <span class="small">${esc(r.sub)}</span></td>`
      : `<td class="name"${title}>${r.color ? `<span class="sw" style="background:${r.color}"></span>` : ''}${esc(r.label)} <span class="small">${esc(r.sub)}</span></td>`;
    return `<tr${r.baseline ? ' class="baseline"' : ''}>${name}${metrics.map((m) => {
      const v = num(r, m);
      const order = rank.get(m)!;
      const cls = rows.length > 1 && v === order[0] ? 'best' : rows.length > 2 && v === order[1] ? 'second' : '';
      return `<td class="num ${cls}">${Number.isFinite(v) ? v.toFixed(4) : '–'}</td>`;
    }).join('')}</tr>`;
  });
  if (rows.length > 1) {
    body.push(`<tr class="improv"><td>Improv. (best vs runner-up)</td>${metrics.map((m) => {
      const o = rank.get(m)!;
      return `<td class="num">${o.length > 1 && o[1]! > 0 ? pct(advantage(m, o[0]!, o[1]!)) : '–'}</td>`;
    }).join('')}</tr>`);
  }
  const models = rows.filter((r) => !r.baseline);
  const bases = rows.filter((r) => r.baseline);
  if (models.length && bases.length) {
    const best = (rs: Row[], m: string) => {
      const v = rs.map((r) => num(r, m)).filter(Number.isFinite);
      return v.length ? (better(m) ? Math.max(...v) : Math.min(...v)) : NaN;
    };
    body.push(`<tr class="improv vsbase"><td>Best model vs best baseline</td>${metrics.map((m) => {
      const a = advantage(m, best(models, m), best(bases, m));
      return `<td class="num ${a > 0 ? 'pos' : a < 0 ? 'neg' : ''}">${pct(a, true)}</td>`;
    }).join('')}</tr>`);
  }
  return `<div class="tw"><table class="${cls}"><thead>${head}</thead><tbody>${body.join('')}</tbody></table></div>`;
}

function comparisonTable(runs: ReportRun[], bl?: ReportBaselines): string {
  const withTest = runs.filter(hasTest);
  const groups = groupRuns(runs);
  const baselinesOf = (g: DataGroup) => (g.dataId && bl?.enabled ? bl.byData.get(g.dataId) : undefined);
  if (!withTest.length && !groups.some((g) => baselinesOf(g)?.results.length)) return '<p class="note">No run has test metrics (summary.json) yet.</p>';
  // the columns every table shows: the runs' test metrics (recall and NDCG at every K first)
  const order = (a: string, b: string) => (METRIC_ORDER(a) < METRIC_ORDER(b) ? -1 : 1);
  let metrics = [...new Set(withTest.flatMap((r) => Object.keys(testOf(r))))].sort(order);
  if (!metrics.length) metrics = [...new Set(groups.flatMap((g) => (baselinesOf(g)?.results ?? []).flatMap((b) => Object.keys(b.test))))].filter((m) => ['recall', 'ndcg'].includes(metricName(m))).sort(order);
  const parts: string[] = [];
  for (const g of groups) {
    const runRows: Row[] = g.runs.filter(hasTest).map((r) => ({ label: r.label, sub: r.info.model, baseline: false, color: PALETTE[runs.indexOf(r) % PALETTE.length], values: testOf(r) }));
    const b = baselinesOf(g);
    const baseRows: Row[] = (b?.results ?? []).map((x) => ({ label: BASELINE_LABELS[x.model], sub: 'baseline', baseline: true, values: x.test, title: baselineDetails(x) }));
    const rows = [...runRows, ...baseRows];
    if (!rows.length) continue;
    const block: string[] = [metricTable(g.title, rows, metrics)];
    // hit, mrr, map, coverage, gini at the largest K, where the main table lacks them
    const ks = [...new Set([...metrics, ...baseRows.flatMap((r) => Object.keys(r.values))].map(metricK).filter(Number.isInteger))];
    if (ks.length) {
      const K = Math.max(...ks);
      const extra = EXTRA_METRICS.map((m) => `${m}@${K}`).filter((m) => !metrics.includes(m));
      if (extra.length && rows.some((r) => extra.some((m) => Number.isFinite(num(r, m))))) {
        block.push(`<div class="small">Beyond recall and NDCG, at K = ${K} (gini: lower is more even; '–': not in the run's summary.json, runs of an older irllrec)</div>${metricTable(g.title, rows, extra)}`);
      }
      // the answer at a glance: recall and NDCG at the largest K, models against baselines
      if (baseRows.length) {
        const charts = ['recall', 'ndcg'].map((name) => {
          const m = `${name}@${K}`;
          const bars: Bar[] = rows.map((r) => ({ label: r.label, value: num(r, m), color: r.baseline ? '#9a9a9a' : r.color ?? PALETTE[0]!, muted: r.baseline, title: `${r.label} (${r.sub}): ${m} ${Number.isFinite(num(r, m)) ? num(r, m).toFixed(4) : '–'}` }));
          return bars.some((x) => Number.isFinite(x.value)) ? barChart({ title: `${g.title}: test ${m}`, bars }) : '';
        }).join('');
        if (charts) block.push(`<div class="charts">${charts}</div>`);
      }
    }
    // why some baselines are missing
    const notes: string[] = [];
    if (bl?.enabled) {
      if (b?.results.length) notes.push(`Baselines on ${b.dataset} (${b.users.toLocaleString('en-US')} users, ${b.items.toLocaleString('en-US')} items): ${b.results.map(baselineDetails).join('; ')}.`);
      if (b) notes.push(...b.notes);
      else {
        const why = [...new Set(g.runs.map((r) => r.dataNote).filter((x): x is string => !!x))];
        notes.push(`No baselines for ${g.title}: ${why.length ? why.join('; ') : 'no run of it has a data copy (RUN/data/)'}.`);
      }
      const noCopy = g.dataId ? g.runs.filter((r) => !r.dataId).map((r) => r.label) : [];
      if (noCopy.length && b) notes.push(`${noCopy.join(', ')}: no data copy of its own; the baselines are those of the other runs' copy of ${g.title}.`);
    }
    if (notes.length) block.push(`<p class="note">${notes.map(esc).join(' ')}</p>`);
    parts.push(block.join(''));
  }
  const foot = !bl || bl.enabled
    ? '<p class="note">Baselines (<i>italic</i>, "baseline"): non-graph models fitted on the training split of the run\'s own data copy (RUN/data/) and evaluated with the same protocol; EASE\'s λ chosen on validation. "Best model vs best baseline": the relative margin of the best run over the best baseline (+: a model wins).</p>'
    : '<p class="note">Baselines were not fitted (--no-baselines).</p>';
  return parts.join('') + (bl ? foot : '');
}

interface RunSparsity {
  buckets: { bucket: number; min: number; max: number; users: number; metrics: Record<string, number> }[];
}

/** A run's test metrics by user activity (summary.json's `sparsity`, written since issue 14), or null. */
function sparsityOf(r: ReportRun): RunSparsity | null {
  const s = r.info.summary?.sparsity as RunSparsity | undefined;
  if (!s || typeof s !== 'object' || !Array.isArray(s.buckets) || !s.buckets.length) return null;
  const ok = s.buckets.every((b) => b && typeof b === 'object' && Number.isInteger(b.bucket) && typeof b.metrics === 'object' && b.metrics !== null);
  return ok ? s : null;
}

/**
 * Test recall and NDCG at the largest K by user-activity bucket (quintiles of the users'
 * training interactions; eval/sparsity.ts): per dataset, a table (runs x buckets) and a line chart.
 */
function sparsitySection(runs: ReportRun[]): string {
  const parts: string[] = [];
  for (const g of groupRuns(runs)) {
    const rs = g.runs.filter((r) => sparsityOf(r));
    if (!rs.length) continue;
    const first = sparsityOf(rs[0]!)!;
    const keys = [...new Set(rs.flatMap((r) => sparsityOf(r)!.buckets.flatMap((b) => Object.keys(b.metrics))))];
    const ks = keys.map(metricK).filter(Number.isInteger);
    if (!ks.length) continue;
    const K = Math.max(...ks);
    const col = (b: RunSparsity['buckets'][number]) => `Q${b.bucket}: ${b.min === b.max ? b.min : `${b.min}–${b.max}`} (${b.users} users)`;
    const cols = first.buckets.map(col);
    const tables: string[] = [];
    const charts: string[] = [];
    for (const name of ['recall', 'ndcg']) {
      const m = `${name}@${K}`;
      const rows: Row[] = rs.map((r) => {
        const sp = sparsityOf(r)!;
        const values: Record<string, unknown> = {};
        first.buckets.forEach((fb, i) => { values[cols[i]!] = sp.buckets.find((b) => b.bucket === fb.bucket)?.metrics[m]; });
        return { label: r.label, sub: r.info.model, baseline: false, color: PALETTE[runs.indexOf(r) % PALETTE.length], values };
      });
      tables.push(`<div class="small">test ${esc(m)} by bucket of users (bucket: its range of training interactions and its number of test users)</div>${metricTable(`${g.title}: ${m.replace('recall', 'Recall').replace('ndcg', 'NDCG')}`, rows, cols, 'cmp sortable activity')}`);
      charts.push(lineChart({
        title: `${g.title}: test ${m} by user activity`, xLabel: 'activity bucket (Q1: fewest training interactions)', xName: 'bucket',
        xTick: (x) => `Q${x}`,
        series: rs.map((r) => ({
          name: r.label, color: PALETTE[runs.indexOf(r) % PALETTE.length]!,
          points: sparsityOf(r)!.buckets.filter((b) => Number.isFinite(b.metrics[m])).map((b) => [b.bucket, b.metrics[m]!] as [number, number]),
        })),
      }));
    }
    parts.push(`${tables.join('')}<div class="charts">${charts.join('')}</div>`);
  }
  if (!parts.length) return '<p class="note">No run has test metrics by user activity (the summary.json of runs trained before irllrec recorded them).</p>';
  return `${parts.join('')}<p class="note">The evaluated users in buckets by their number of training interactions (quintiles; users with the same count share a bucket), with each run's mean test metric per bucket: how a model does for sparse users (Q1) against active ones.</p>`;
}

function lossCharts(runs: ReportRun[]): string {
  const names = [...new Set(runs.flatMap((r) => (r.info.history?.epochs ?? []).flatMap((e) => Object.keys(e.losses))))];
  if (!names.length) return '<p class="note">No training history (history.json) in these runs.</p>';
  names.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0));
  return names.map((n) => {
    const series: Series[] = runs.map((r, i) => ({
      name: r.label,
      color: PALETTE[i % PALETTE.length]!,
      points: (r.info.history?.epochs ?? []).filter((e) => n in e.losses).map((e) => [e.epoch, e.losses[n]!] as [number, number]),
    })).filter((s) => s.points.length);
    return lineChart({ title: n === 'loss' ? 'total loss' : n, series, xLabel: 'epoch' });
  }).join('');
}

function validCharts(runs: ReportRun[]): string {
  const evals = (r: ReportRun) => (r.info.history?.evals ?? []).filter((e) => e.split === 'valid');
  const metrics = [...new Set(runs.flatMap((r) => evals(r).flatMap((e) => Object.keys(e.metrics))))].sort((a, b) => (METRIC_ORDER(a) < METRIC_ORDER(b) ? -1 : 1));
  if (!metrics.length) return '<p class="note">No validation evaluations recorded.</p>';
  return metrics.map((m) => lineChart({
    title: `validation ${m}`,
    xLabel: 'epoch',
    series: runs.map((r, i) => ({
      name: r.label,
      color: PALETTE[i % PALETTE.length]!,
      points: evals(r).filter((e) => m in e.metrics).map((e) => [e.epoch, e.metrics[m]!] as [number, number]),
      mark: typeof r.info.summary?.best_epoch === 'number' ? (r.info.summary.best_epoch as number) : undefined,
    })).filter((s) => s.points.length),
  })).join('');
}

/** Top-2 principal directions of rows (n x d) by power iteration with deflation. */
function pca2(X: Float32Array, n: number, d: number): { mean: Float64Array; v: Float64Array[] } {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c]! += X[r * d + c]! / n;
  const C = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < d; a++) {
      const xa = X[r * d + a]! - mean[a]!;
      for (let b = a; b < d; b++) C[a * d + b]! += xa * (X[r * d + b]! - mean[b]!);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) C[a * d + b] = C[b * d + a]!;
  const vs: Float64Array[] = [];
  for (let k = 0; k < 2; k++) {
    let v = Float64Array.from({ length: d }, (_, i) => Math.sin(i * 1.7 + k + 1));
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a]! += C[a * d + b]! * v[b]!;
      for (const u of vs) {
        let p = 0;
        for (let a = 0; a < d; a++) p += w[a]! * u[a]!;
        for (let a = 0; a < d; a++) w[a]! -= p * u[a]!;
      }
      const nrm = Math.hypot(...w) || 1;
      v = w.map((x) => x / nrm);
    }
    vs.push(v);
  }
  return { mean, v: vs };
}

function intentMap(r: ReportRun, maxPoints = 2500): string {
  const rec = r.rec;
  const m = rec?.intents;
  if (!rec || !m) return '';
  const { item, dim } = rec.embeddings();
  const n = rec.numItems;
  const X = normalizeRows(item, n, dim);
  const { mean, v } = pca2(X, n, dim);
  const proj = (i: number): [number, number] => {
    let a = 0;
    let b = 0;
    for (let c = 0; c < dim; c++) {
      const x = X[i * dim + c]! - mean[c]!;
      a += x * v[0]![c]!;
      b += x * v[1]![c]!;
    }
    return [a, b];
  };
  const K = m.K;
  const dominant = new Int32Array(n);
  const count = new Int32Array(K);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (m.itemW[i * K + k]! > m.itemW[i * K + best]!) best = k;
    dominant[i] = best;
    count[best]!++;
  }
  const topIntents = Array.from({ length: K }, (_, k) => k).filter((k) => count[k]! > 0).sort((a, b) => count[b]! - count[a]! || a - b).slice(0, 10);
  const colorOf = new Map(topIntents.map((k, j) => [k, PALETTE[j]!]));
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const pts: ScatterPoint[] = [];
  for (let i = 0; i < n; i += step) {
    const [x, y] = proj(i);
    const k = dominant[i]!;
    pts.push({ x, y, color: colorOf.get(k) ?? '#c8c8c8', r: colorOf.has(k) ? 2.6 : 1.8, title: `${rec.items.title(i) ?? rec.items.key(i)} — dominant intent I${k} (${(m.itemW[i * K + k]! * 100).toFixed(1)}%)` });
  }
  const markers: Marker[] = topIntents.map((k) => {
    let wx = 0;
    let wy = 0;
    let ws = 0;
    for (let i = 0; i < n; i++) {
      if (dominant[i] !== k) continue;
      const w = m.itemW[i * K + k]!;
      const [x, y] = proj(i);
      wx += w * x;
      wy += w * y;
      ws += w;
    }
    const label = rec.intentLabel('item', k, 3);
    return {
      x: ws > 0 ? wx / ws : 0, y: ws > 0 ? wy / ws : 0, label: `I${k}`, color: colorOf.get(k)!,
      title: `item intent I${k}: dominant for ${count[k]} items; e.g. ${label.items.map((it) => it.title ?? it.item).join(', ')}${label.terms.length ? `; terms: ${label.terms.join(', ')}` : ''}`,
    };
  });
  const legend = topIntents.map((k) => {
    const label = rec.intentLabel('item', k, 2);
    return `<li><span class="sw" style="background:${colorOf.get(k)}"></span><b>I${k}</b> (${count[k]} items) ${esc(label.terms.slice(0, 4).join(', ') || label.items.map((it) => it.title ?? it.item).join(', '))}</li>`;
  }).join('');
  return `<div class="mapbox">${scatter(pts, markers, { title: `${r.label}: items by dominant intent (PCA of normalised item embeddings; ${m.K} intents)` })}` +
    `<ul class="legend">${legend}<li><span class="sw" style="background:#c8c8c8"></span>other intents</li></ul></div>` +
    `<p class="note">Points: ${pts.length} of ${n} items${step > 1 ? ` (every ${step}th)` : ''}, coloured by the intent with the largest weight (the 10 most common intents; grey: the rest). Diamonds: each intent at the weighted centroid of the items it dominates. Intent weights: ${esc(m.source)}. Hover for names.</p>`;
}

function bar(w: number, color: string): string {
  return `<span class="bar"><span style="width:${Math.max(1, Math.min(100, w * 100)).toFixed(1)}%;background:${color}"></span></span>`;
}

function explanationCard(e: Explanation, hit: boolean, n: number): string {
  const parts: string[] = [];
  parts.push(`<div class="card"><div class="ch"><b>${n}. ${esc(e.title ?? e.item)}</b> <span class="small">id ${esc(e.item)} · score ${e.score.toFixed(4)} · rank ${e.rank}</span>${hit ? ' <span class="hit" title="in the user\'s test split">test hit ✓</span>' : ''}</div>`);
  if (e.intents) {
    // one line per intent: the model's weight, its share of the score, its text, what it stands for
    const li = (s: IntentShare, colour: string, lead: string) =>
      `<li>${bar(s.lift / 8, colour)} <b>${s.intent}</b> ${(s.weight * 100).toFixed(2)}% (×${s.lift.toFixed(2)} uniform) · adds ${fmt(s.contribution)} (${(s.share * 100).toFixed(1)}% of the score)${s.text?.length ? ` · <i>${esc(s.text.join('; '))}</i>` : ''}<br><span class="small">${lead} ${esc(s.label.items.map((x) => x.title ?? x.item).join(', '))}${s.label.terms.length ? ` · ${esc(s.label.terms.join(', '))}` : ''}</span></li>`;
    const u = e.intents.user.map((s) => li(s, '#1f77b4', 'favours')).join('');
    const it = e.intents.item.map((s) => li(s, '#d62728', 'also')).join('');
    parts.push(`<div class="cols"><div><div class="small">user intents behind the score</div><ul>${u}</ul></div><div><div class="small">item intents</div><ul>${it}</ul></div></div>`);
    parts.push(`<div class="small">intent agreement cos(ê<sub>u</sub>, ê<sub>i</sub>) = ${e.intents.agreement.toFixed(3)}; user intents account for ${fmt(e.intents.explained)} of the score (residual ${fmt(e.intents.residual)}, they describe ${(e.intents.fit * 100).toFixed(0)}% of the user's embedding), item intents for ${fmt(e.intents.itemExplained)} (residual ${fmt(e.intents.itemResidual)})</div>`);
  }
  if (e.text) parts.push(`<div class="small">item: <i>${esc(e.text.item.intent)}</i></div>`);
  if (e.because.length) parts.push(`<div class="small">because the user liked ${esc(e.because.map((b) => b.title ?? b.item).join(', '))}</div>`);
  parts.push('</div>');
  return parts.join('');
}

function examples(r: ReportRun, count: number, k = 5): string {
  const rec = r.rec;
  if (!rec || count <= 0) return '';
  const users: string[] = [];
  // users with some history and test items, spread over the id range (deterministic)
  const stride = Math.max(1, Math.floor(rec.numUsers / (count * 4)));
  for (let u = 0; u < rec.numUsers && users.length < count; u += stride) {
    const id = rec.users.key(u);
    if (rec.seenIndices(id).length >= 5 && rec.heldOutIndices(id, 'test').length > 0) users.push(id);
  }
  const blocks = users.map((id) => {
    const res = rec.recommend(id, { k });
    const test = new Set(rec.heldOutIndices(id, 'test'));
    const first = res.items[0] ? rec.explain(id, res.items[0].item) : null;
    const head = `<h4>user ${esc(id)} <span class="small">${rec.seenIndices(id).length} training items, ${test.size} test items</span></h4>` +
      (first?.text ? `<p class="small">profile: <i>${esc(first.text.user.profile)}</i><br>intent: <i>${esc(first.text.user.intent)}</i></p>` : '');
    const cards = res.items.map((it, n) => explanationCard(rec.explain(id, it.item), test.has(rec.itemIndex(it.item)), n + 1)).join('');
    return `<div class="user">${head}${cards}</div>`;
  });
  return `<h3>${esc(r.label)} <span class="small">${esc(r.info.model)}</span></h3>${blocks.join('') || '<p class="note">no user with history and test items</p>'}`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d3557;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{padding:8px 28px 40px;max-width:1400px}section{margin:22px 0}h2{border-bottom:2px solid #1d3557;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#eef2f7;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}td.second{text-decoration:underline}tr.improv td{font-style:italic;background:#f6f6f6}
tr.baseline td{font-style:italic;background:#f7f7fb;color:#333}.tw{overflow-x:auto;max-width:100%}td.name{white-space:nowrap}tr.vsbase td.pos{color:#1a7f37}tr.vsbase td.neg{color:#b42318}.chart.bars .muted text{fill:#555}
.small{font-size:12px;color:#666}.note{color:#666;font-size:12.5px}.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:10px}.chart{background:#fff;border:1px solid #e3e3e3}.chart .ct{font-weight:600;font-size:13px}
.chart .tick{font-size:10px;fill:#555}.chart .lab{font-size:11px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}
.chart .line{fill:none;stroke-width:1.8}.chart .mark{fill:none;stroke-width:2}.proto text{font-size:11px;font-weight:700}
.mapbox{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}.legend{list-style:none;padding:0;margin:0;font-size:12.5px;max-width:420px}.legend li{margin:3px 0}
.user{background:#fff;border:1px solid #e3e3e3;padding:8px 14px;margin:12px 0}.card{border-top:1px solid #eee;padding:6px 0}
.cols{display:flex;gap:24px;flex-wrap:wrap}.cols>div{flex:1;min-width:300px}.cols ul{margin:2px 0;padding-left:16px}
.bar{display:inline-block;width:60px;height:8px;background:#eee;vertical-align:middle}.bar span{display:block;height:8px}
.hit{background:#2ca02c;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}
`;

const JS = `
(function(){
  function key(td){var t=td.textContent.trim();var n=parseFloat(t);return isNaN(n)?t.toLowerCase():n;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('thead th').forEach(function(th,col){
      th.title='click to sort';
      th.addEventListener('click',function(){
        var body=table.tBodies[0];if(!body)return;
        var rows=Array.prototype.slice.call(body.rows).filter(function(r){return !r.classList.contains('improv');});
        var fixed=Array.prototype.slice.call(body.rows).filter(function(r){return r.classList.contains('improv');});
        var dir=th.getAttribute('data-dir')==='desc'?1:-1;th.setAttribute('data-dir',dir===1?'asc':'desc');
        rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);return x<y?-dir:x>y?dir:0;});
        rows.concat(fixed).forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.body.setAttribute('data-ready','1');
})();
`;

export function renderReport(runs: ReportRun[], o: { title?: string; examples?: number; baselines?: ReportBaselines } = {}): string {
  const title = o.title ?? `irllrec report: ${runs.map((r) => r.label).join(', ')}`;
  const maps = runs.map((r) => intentMap(r)).filter(Boolean);
  const noIntents = runs.filter((r) => r.rec && !r.rec.intents).map((r) => r.label);
  const failed = runs.filter((r) => !r.rec).map((r) => `${esc(r.label)}: ${esc(r.recError ?? 'not loaded')}`);
  const ex = runs.map((r) => examples(r, o.examples ?? 3)).filter(Boolean);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><p>generated ${esc(new Date().toISOString())} by irllrec · ${runs.length} run${runs.length > 1 ? 's' : ''}</p></header><main>
<section><h2>Runs</h2>${runsTable(runs)}${failed.length ? `<p class="note">Model not loaded (curves and tables only): ${failed.join('; ')}</p>` : ''}</section>
<section><h2>Test metrics</h2>${comparisonTable(runs, o.baselines)}<p class="note">Full ranking over all items with training items masked; bold: best, underlined: runner-up per column (gini: the lowest).</p></section>
<section><h2>Test metrics by user activity</h2>${sparsitySection(runs)}</section>
<section><h2>Training curves</h2><div class="charts">${lossCharts(runs)}</div></section>
<section><h2>Validation metrics over epochs</h2><div class="charts">${validCharts(runs)}</div><p class="note">Circles: the best (restored) epoch.</p></section>
<section><h2>Intent prototypes</h2>${maps.join('') || '<p class="note">None of these models has intent prototypes (IRLLRec, DCCF and BIGCF do).</p>'}${noIntents.length && maps.length ? `<p class="note">No prototypes: ${esc(noIntents.join(', '))}.</p>` : ''}</section>
<section><h2>Example explanations</h2>${ex.join('') || '<p class="note">No loadable model to explain.</p>'}</section>
</main><script>${JS}</script></body></html>
`;
}

/**
 * Where the report goes: `out` itself, or `out/report.html` when `out` is an existing directory
 * (or ends in a slash), like `cp FILE DIR`. Checked before any run is read: a parent that is a
 * file, a read-only directory, ... fail at once with one line.
 */
export function reportPath(out: string): string {
  let file = resolve(out);
  let isDir = /[\\/]$/.test(out);
  try {
    isDir ||= statSync(file).isDirectory();
  } catch {
    // not there yet: a file to create
  }
  if (isDir) file = join(file, 'report.html');
  const problem = outputProblem(file, 'file');
  if (problem) throw new UsageError(`--out ${out}: cannot write the report there: ${problem}`);
  return file;
}

/** The cut-offs the baselines are evaluated at: those of the runs' test metrics (else their config's test.k), at most the items. */
function baselineKs(runs: ReportRun[], items: number): number[] {
  const fromTest = runs.flatMap((r) => Object.keys(testOf(r)).map(metricK));
  const ks = fromTest.some(Number.isInteger) ? fromTest : runs.flatMap((r) => r.info.config.test.k);
  return [...new Set(ks.filter((k) => Number.isInteger(k) && k >= 1 && k <= items))].sort((a, b) => a - b);
}

/**
 * Fits the baselines once per distinct data copy of the runs. EASE is skipped above
 * REPORT_EASE_MAX_ITEMS items; a baseline that cannot be fitted is a note, never a failed report.
 */
export function reportBaselines(
  runs: ReportRun[], data: Map<string, () => Dataset>, names: readonly BaselineName[], o: { log?: (s: string) => void; progress?: (s: string) => void } = {},
): ReportBaselines {
  const { log, progress } = o;
  const byData = new Map<string, DataBaselines>();
  for (const [id, load] of data) {
    const mine = runs.filter((r) => r.dataId === id);
    let ds: Dataset;
    try {
      ds = load();
    } catch (e) {
      const why = (e as Error).message;
      log?.(`report: baselines skipped for ${mine.map((r) => r.label).join(', ')}: ${why}`);
      byData.set(id, { dataset: datasetName(mine[0]!), users: 0, items: 0, results: [], notes: [`Baselines skipped: the data copy could not be read (${why}).`] });
      continue;
    }
    const entry: DataBaselines = { dataset: ds.name, users: ds.numUsers, items: ds.numItems, results: [], notes: [] };
    byData.set(id, entry);
    const ks = baselineKs(mine, ds.numItems);
    if (!ks.length) {
      entry.notes.push('Baselines skipped: no cut-off K to evaluate at.');
      continue;
    }
    const todo = names.filter((n) => {
      if (n !== 'ease' || ds.numItems <= REPORT_EASE_MAX_ITEMS) return true;
      entry.notes.push(`EASE skipped: ${ds.numItems.toLocaleString('en-US')} items, more than the report's ${REPORT_EASE_MAX_ITEMS.toLocaleString('en-US')} (its dense items x items matrix); "irllrec baselines --data DIR --models ease" fits it on its own.`);
      progress?.(`report: EASE skipped on ${ds.name} (${ds.numItems} items > ${REPORT_EASE_MAX_ITEMS})`);
      return false;
    });
    if (todo.length) progress?.(`report: baselines on ${ds.name} (${ds.numUsers} users, ${ds.numItems} items; K ${ks.join(', ')}): ${todo.join(', ')}`);
    for (const name of todo) {
      try {
        entry.results.push(...fitAndEvaluateBaselines(ds, [name], ks, { log: (l) => { if (!l.startsWith(' ')) progress?.(`report:   ${l}`); } }));
      } catch (e) {
        const why = (e as Error).message.replace(/\s+/g, ' ');
        log?.(`report: ${name} not fitted: ${why}`);
        entry.notes.push(`${BASELINE_LABELS[name]} not fitted: ${why}`);
      }
    }
  }
  return { enabled: true, byData };
}

export async function writeReport(o: ReportOptions): Promise<{ out: string; runs: number; bytes: number; baselines: number }> {
  const out = reportPath(o.out);
  const dirs = o.runs.map((d) => resolve(d));
  const labels = uniqueLabels(dirs);
  const names = o.baselines === false ? [] : [...new Set(o.baselines ?? BASELINES)];
  // one dataset per distinct data copy (loaded lazily, only when baselines are asked for)
  const data = new Map<string, () => Dataset>();
  const runs: ReportRun[] = dirs.map((d, i) => {
    const info = readRunInfo(d);
    let rec: Recommender | null = null;
    let recError: string | undefined;
    let runData: RunData | null = null;
    let dataset: Dataset | null = null;
    let dataNote: string | undefined;
    try {
      const run = openRun(d);
      runData = run.runData;
      if (runData) dataset = run.dataset;
      rec = Recommender.fromRun(run, { embedder: null });
    } catch (e) {
      recError = (e as Error).message;
      o.log?.(`report: ${labels[i]}: model not loaded (${recError}); curves and tables only`);
    }
    if (!runData) {
      try {
        runData = readRunData(d);
      } catch (e) {
        dataNote = `${labels[i]}: its data copy is damaged (${(e as Error).message})`;
      }
    }
    if (!runData && !dataNote) dataNote = `${labels[i]} has no data copy (RUN/data/: trained before runs were self-contained)`;
    const dataId = runData ? runDataIdentity(runData) : null;
    if (dataId && names.length && !data.has(dataId)) {
      const rd = runData!;
      data.set(dataId, dataset ? () => dataset : () => loadRunDataset(rd));
    }
    return { label: labels[i]!, info, rec, dataId, ...(recError ? { recError } : {}), ...(dataNote ? { dataNote } : {}) };
  });
  const baselines = names.length ? reportBaselines(runs, data, names, { log: o.log, progress: o.progress }) : { enabled: false, byData: new Map<string, DataBaselines>() };
  const html = renderReport(runs, { title: o.title, examples: o.examples, baselines });
  try {
    writeFileAtomic(out, html);
  } catch (e) {
    const why = fsReason(e);
    if (why) throw new UsageError(`--out ${o.out}: could not write the report (${(e as NodeJS.ErrnoException).path ?? out} ${why})`);
    throw e;
  }
  const fitted = [...baselines.byData.values()].reduce((a, b) => a + b.results.length, 0);
  return { out, runs: runs.length, bytes: Buffer.byteLength(html), baselines: fitted };
}
