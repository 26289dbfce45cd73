/**
 * `irllrec baselines`: fit simple non-graph baselines (mostpop, itemknn, ease) on a dataset
 * directory and evaluate them on the validation and test splits with the protocol of the graph
 * models (full ranking, training items masked). Table (or --json) on stdout, progress on stderr.
 * See docs/baselines.md.
 */
import type { Command } from 'commander';
import {
  BASELINES, BaselineLimitError, fitAndEvaluateBaselines, isBaselineName, EASE_DEFAULTS, ITEMKNN_DEFAULTS,
  type BaselineName, type BaselineOptions, type BaselineRunResult,
} from '../baselines/index.js';
import { csrNnz } from '../data/csr.js';
import { loadDataset } from '../data/dataset.js';
import { getKernels } from '../kernels/index.js';
import { runCommand, UsageError } from './errors.js';

export interface BaselineCliOptions {
  data?: string;
  models?: string;
  k?: string;
  neighbours?: string;
  shrink?: string;
  easeLambda?: string;
  easeMaxItems?: string;
  json?: boolean;
}

/** "mostpop,ease" -> ['mostpop', 'ease'] (known names, no duplicates). */
export function parseModels(v: string): BaselineName[] {
  const out: BaselineName[] = [];
  for (const raw of v.split(',')) {
    const m = raw.trim().toLowerCase();
    if (!isBaselineName(m)) throw new UsageError(`--models: unknown baseline "${raw.trim()}" (known: ${BASELINES.join(', ')})`);
    if (out.includes(m)) throw new UsageError(`--models lists ${m} twice`);
    out.push(m);
  }
  return out;
}

/** "5,10,20" -> [5, 10, 20] (positive integers, no duplicates). */
export function parseKList(v: string): number[] {
  const ks: number[] = [];
  for (const raw of v.split(',')) {
    const p = raw.trim();
    if (!/^\d+$/.test(p) || Number(p) < 1) throw new UsageError(`--k must be a comma-separated list of positive integers, e.g. 5,10,20; got "${v}"`);
    if (ks.includes(Number(p))) throw new UsageError(`--k lists ${p} twice`);
    ks.push(Number(p));
  }
  return ks;
}

function parseIntAtLeast(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${v}"`);
  return Number(v);
}

function parsePositive(name: string, v: string, allowZero: boolean): number {
  const x = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(x) || x < 0 || (!allowZero && x === 0)) {
    throw new UsageError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${v}"`);
  }
  return x;
}

/** --ease-lambda: "auto" (default grid), one value, or a comma-separated grid to search on valid. */
export function parseEaseLambda(v: string | undefined): Pick<NonNullable<BaselineOptions['ease']>, 'lambda' | 'lambdaGrid'> {
  if (v === undefined || v.trim().toLowerCase() === 'auto') return { lambda: 'auto' };
  const vals = v.split(',').map((s) => parsePositive('--ease-lambda', s, false));
  if (vals.length === 1) return { lambda: vals[0] };
  return { lambda: 'auto', lambdaGrid: vals };
}

function fmtParams(p: Record<string, number>): string {
  return Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
}

export async function baselineCommand(o: BaselineCliOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (!o.data) throw new UsageError('--data DIR is required (a dataset directory: train/valid/test.tsv or trn/val/tst_mat.pkl)');
  const models = parseModels(o.models ?? BASELINES.join(','));
  const ks = parseKList(o.k ?? '5,10,20');
  const opts: BaselineOptions = {
    itemknn: {
      neighbours: parseIntAtLeast('--neighbours', o.neighbours, 1),
      shrink: o.shrink === undefined ? undefined : parsePositive('--shrink', o.shrink, true),
    },
    ease: { ...parseEaseLambda(o.easeLambda), maxItems: parseIntAtLeast('--ease-max-items', o.easeMaxItems, 1) },
  };
  const ds = loadDataset(o.data);
  if (Math.max(...ks) > ds.numItems) throw new UsageError(`--k must be at most the number of items (${ds.numItems}), got ${Math.max(...ks)}`);
  const kernels = getKernels();
  log(`dataset ${ds.name} (${ds.format}): ${ds.numUsers} users, ${ds.numItems} items, train ${csrNnz(ds.train)} / valid ${csrNnz(ds.valid)} / test ${csrNnz(ds.test)} interactions; kernels ${kernels.info}`);
  let results: BaselineRunResult[];
  try {
    results = fitAndEvaluateBaselines(ds, models, ks, { opts, kernels, log });
  } catch (e) {
    // refused up front (e.g. EASE above its item limit), before any baseline is fitted
    if (e instanceof BaselineLimitError) throw new UsageError(e.message);
    throw e;
  }
  if (o.json) {
    const out = {
      dataset: { name: ds.name, dir: ds.dir, users: ds.numUsers, items: ds.numItems, train: csrNnz(ds.train), valid: csrNnz(ds.valid), test: csrNnz(ds.test) },
      protocol: 'fit on the training split (ease with lambda auto: lambda chosen on valid recall@20); full ranking over all items with training items masked',
      ks,
      kernels: kernels.info,
      models: results,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stdout.write(`${formatTable(results, ks)}\n`);
}

/** Markdown table: test metrics at every k, valid recall/ndcg at max k, fit seconds. */
export function formatTable(results: BaselineRunResult[], ks: number[]): string {
  const K = Math.max(...ks);
  const cols = [...ks.map((k) => `recall@${k}`), ...ks.map((k) => `ndcg@${k}`)];
  const head = `| model | params | fit s | ${cols.map((c) => `test ${c}`).join(' | ')} | valid recall@${K} | valid ndcg@${K} |`;
  const sep = `|${'---|'.repeat(cols.length + 5)}`;
  const rows = results.map((r) =>
    `| ${r.model} | ${fmtParams(r.params)} | ${r.fit_seconds} | ${cols.map((c) => (r.test[c] ?? NaN).toFixed(4)).join(' | ')} | ${(r.valid[`recall@${K}`] ?? NaN).toFixed(4)} | ${(r.valid[`ndcg@${K}`] ?? NaN).toFixed(4)} |`);
  return [head, sep, ...rows].join('\n');
}

/** Registers `irllrec baselines` (main.ts calls this). */
export function registerBaselineCommand(program: Command): void {
  program
    .command('baselines')
    .description('fit non-graph baselines (mostpop, itemknn, ease) and evaluate them on valid and test with the graph models\' protocol (full ranking, training items masked)')
    .option('--data <dir>', 'dataset directory (train/valid/test.tsv or trn/val/tst_mat.pkl)')
    .option('--models <list>', `comma-separated baselines (${BASELINES.join(', ')})`, BASELINES.join(','))
    .option('--k <list>', 'cut-offs, comma-separated', '5,10,20')
    .option('--neighbours <n>', `itemknn: neighbours kept per item (default ${ITEMKNN_DEFAULTS.neighbours})`)
    .option('--shrink <x>', `itemknn: cosine shrinkage (default ${ITEMKNN_DEFAULTS.shrink})`)
    .option('--ease-lambda <x>', 'ease: "auto" (default: best valid recall@20 over a built-in grid), one value, or a comma-separated grid')
    .option('--ease-max-items <n>', `ease: refuse datasets with more items (default ${EASE_DEFAULTS.maxItems})`)
    .option('--json', 'print one JSON object on stdout instead of the table')
    .action((o: BaselineCliOptions) => runCommand(() => baselineCommand(o)));
}
