/**
 * Simple, strong non-graph baselines (MostPop, ItemKNN, EASE), trained on the training split and
 * evaluated with exactly the protocol of the graph models: full ranking over all items, training
 * items masked, metrics of ../eval/metrics.ts. See docs/baselines.md.
 */
import type { Dataset } from '../data/dataset.js';
import { flattenMetrics, REPORT_METRICS, type MetricName } from '../eval/metrics.js';
import { evaluateFullRanking } from '../eval/ranking.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { Ease, type EaseOptions } from './ease.js';
import { ItemKnn, type ItemKnnOptions } from './itemknn.js';
import { MostPop } from './mostpop.js';
import type { Baseline } from './types.js';

export { type Baseline, type BaselineLog, BaselineLimitError, transposePattern } from './types.js';
export { MostPop } from './mostpop.js';
export { ItemKnn, ITEMKNN_DEFAULTS, itemKnnSimilarity, type ItemKnnOptions, type SparseSimilarity } from './itemknn.js';
export {
  Ease, EASE_DEFAULTS, EASE_LAMBDA_GRID, easeWeightsDirect, easeWeightsWoodbury, gramLower,
  type EaseOptions, type EaseSolver,
} from './ease.js';
export {
  choleskyInPlace, invertLowerInPlace, lowerGramInPlace, spdInverseInPlace, spdInverse64,
  NotPositiveDefiniteError, DEFAULT_BLOCK, type LinalgOptions,
} from './linalg.js';

/** The baseline names, in the order the CLI runs them by default. */
export const BASELINES = ['mostpop', 'itemknn', 'ease'] as const;
export type BaselineName = (typeof BASELINES)[number];

/** Options of every baseline (each reads its own). */
export interface BaselineOptions {
  itemknn?: ItemKnnOptions;
  ease?: EaseOptions;
}

export function isBaselineName(name: string): name is BaselineName {
  return (BASELINES as readonly string[]).includes(name);
}

/** A new, unfitted baseline. Throws for an unknown name. */
export function createBaseline(name: string, opts: BaselineOptions = {}): Baseline {
  switch (name) {
    case 'mostpop':
      return new MostPop();
    case 'itemknn':
      return new ItemKnn(opts.itemknn);
    case 'ease':
      return new Ease(opts.ease);
    default:
      throw new Error(`unknown baseline '${name}' (known: ${BASELINES.join(', ')})`);
  }
}

export interface EvaluateBaselineOptions {
  kernels?: Kernels;
  /** Users per score block (default 1024). */
  batchSize?: number;
}

/**
 * Metrics of a fitted baseline on the validation or test split, full ranking over all items with
 * the training items masked (evaluateFullRanking): `{"recall@20": ..., "ndcg@20": ...}`
 * (flattenMetrics order). Default metrics: recall and ndcg.
 */
export function evaluateBaseline(
  b: Baseline, ds: Dataset, split: 'valid' | 'test', ks: number[], metrics?: readonly MetricName[], opts: EvaluateBaselineOptions = {},
): Record<string, number> {
  if (split !== 'valid' && split !== 'test') throw new Error(`evaluateBaseline: split must be 'valid' or 'test', got '${String(split)}'`);
  const r = evaluateFullRanking({
    kernels: opts.kernels ?? getKernels(),
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    batchSize: opts.batchSize,
    scoreBlock: (users, out) => b.scoreBlock(users, out),
    trainMask: ds.train,
    groundTruth: ds[split],
    ks,
    metrics,
  });
  return flattenMetrics(r);
}

/** One baseline's fit and evaluation (what `irllrec baselines`, the demo and the report show). */
export interface BaselineRunResult {
  model: BaselineName;
  params: Record<string, number>;
  fit_seconds: number;
  eval_seconds: number;
  valid: Record<string, number>;
  test: Record<string, number>;
}

/** The label a comparison table shows for a baseline. */
export const BASELINE_LABELS: Record<BaselineName, string> = { mostpop: 'Most popular', itemknn: 'Item-kNN', ease: 'EASE' };

function secs(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

/**
 * Fits each baseline on the training split and evaluates valid and test (every metric in `metrics`,
 * default REPORT_METRICS). Limits are checked for all of them before any is fitted.
 */
export function fitAndEvaluateBaselines(
  ds: Dataset, names: readonly BaselineName[], ks: number[],
  o: { opts?: BaselineOptions; metrics?: readonly MetricName[]; kernels?: Kernels; log?: (line: string) => void } = {},
): BaselineRunResult[] {
  const log = o.log ?? (() => {});
  const kernels = o.kernels ?? getKernels();
  const metrics = [...(o.metrics ?? REPORT_METRICS)];
  const baselines = names.map((m) => createBaseline(m, o.opts));
  for (const b of baselines) b.check(ds);
  const K = Math.max(...ks);
  return baselines.map((b) => {
    log(`[${b.name}] fitting on the training split`);
    let t = performance.now();
    b.fit(ds, (s) => log(`  ${s}`));
    const fitSeconds = secs(t);
    t = performance.now();
    const valid = evaluateBaseline(b, ds, 'valid', ks, metrics, { kernels });
    const test = evaluateBaseline(b, ds, 'test', ks, metrics, { kernels });
    const evalSeconds = secs(t);
    const params = b.params();
    log(`[${b.name}] fit ${fitSeconds}s, eval ${evalSeconds}s; valid recall@${K} ${valid[`recall@${K}`]!.toFixed(4)}, test recall@${K} ${test[`recall@${K}`]!.toFixed(4)} ndcg@${K} ${test[`ndcg@${K}`]!.toFixed(4)} (${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ') || '-'})`);
    return { model: b.name as BaselineName, params, fit_seconds: fitSeconds, eval_seconds: evalSeconds, valid, test };
  });
}
