/**
 * Simple, strong non-graph baselines (MostPop, ItemKNN, EASE), trained on the training split and
 * evaluated with exactly the protocol of the graph models: full ranking over all items, training
 * items masked, metrics of ../eval/metrics.ts. See docs/baselines.md.
 */
import type { Dataset } from '../data/dataset.js';
import { flattenMetrics, type MetricName } from '../eval/metrics.js';
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
  b: Baseline, ds: Dataset, split: 'valid' | 'test', ks: number[], metrics?: MetricName[], opts: EvaluateBaselineOptions = {},
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
