/**
 * Re-scoring a saved run under the protocol training used (`irllrec evaluate`): full ranking over
 * all items with the training items masked, the evaluated users being those with at least one
 * item in the split, the config's evaluation batch size, and the same scoring path as the trainer
 * (`evaluateSplit` in src/train/trainer.ts): for models whose reference evaluation is stochastic
 * (BIGCF's scoring noise) the embeddings are recomputed, with fresh noise, for every batch.
 *
 * Deterministic models reproduce summary.json's metrics exactly. For a stochastic model the noise
 * is drawn from the evaluation random stream saved in the run's checkpoint (checkpoint/state.json,
 * its state after the last epoch), replaying the final validation pass before the test pass as
 * training did, so summary.json's numbers are reproduced too; without a checkpoint the stream
 * starts from the seed and the numbers vary with the draw.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { CsrPattern } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import { flattenMetrics, REPORT_METRICS, type MetricName } from '../eval/index.js';
import type { RecModel } from '../models/types.js';
import type { LoadedRun } from './open.js';
import { checkpointDir, readJson } from '../train/checkpoint.js';
import { rankSplit, type TrainState } from '../train/trainer.js';
import { Rng } from '../util/rng.js';

export type EvalSplit = 'valid' | 'test';

export interface EvaluateRunOptions {
  split?: EvalSplit;
  /** Cut-offs (default: the run's config test.k). */
  ks?: number[];
  /** Metrics (default: every metric the evaluation reports, REPORT_METRICS). */
  metrics?: readonly MetricName[];
}

export interface RunEvaluation {
  model: string;
  dataset: string;
  split: EvalSplit;
  /** Evaluated users (at least one item in the split). */
  users: number;
  items: number;
  ks: number[];
  metrics: MetricName[];
  /** "recall@20" -> value, every metric at every k. */
  values: Record<string, number>;
  protocol: string;
  /** Stochastic scoring: where its noise came from (null for deterministic models). */
  noise: null | 'checkpoint' | 'seed';
  /** summary.json's metrics for this split, when it has them. */
  reference: Record<string, number> | null;
  /** Every metric in both `values` and `reference` is identical (null without a reference). */
  matchesSummary: boolean | null;
}

/** The metrics a report shows. */
export function reportMetrics(): MetricName[] {
  return [...REPORT_METRICS];
}

/** One evaluation pass, the trainer's own (rankSplit), with a metric list and cut-offs. */
export function scoreSplit(
  model: RecModel, ds: Dataset, split: CsrPattern, cfg: Config, rng: Rng, ks: number[], metrics: readonly MetricName[],
): { users: number; values: Record<string, number> } {
  const r = rankSplit(model, ds, split, cfg, rng, metrics, ks);
  return { users: r.users, values: flattenMetrics(r) };
}

/** Evaluates a loaded run on one split (see the module doc). */
export function evaluateRun(run: LoadedRun, o: EvaluateRunOptions = {}): RunEvaluation {
  const split = o.split ?? 'test';
  const cfg = run.config;
  const ds = run.dataset;
  const ks = o.ks ? [...o.ks] : [...cfg.test.k];
  // the config's own metric list (if it has one) first, then the report's
  const configured = (cfg.test as { metrics?: MetricName[] }).metrics ?? [];
  const metrics = [...new Set([...(o.metrics ?? reportMetrics()), ...configured])];
  const net = run.net;
  let rng = new Rng(cfg.train.seed);
  let noise: RunEvaluation['noise'] = null;
  if (net.stochasticScoring) {
    noise = 'seed';
    const cp = checkpointDir(run.dir);
    if (cp) {
      try {
        const st = readJson<TrainState>(join(cp, 'state.json'));
        rng = Rng.fromState(st.rng.eval, st.rng.evalSpare);
        noise = 'checkpoint';
        // training evaluated validation once more before the test split, drawing from this stream
        if (split === 'test') scoreSplit(net, ds, ds.valid, cfg, rng, [...cfg.test.k], ['recall', 'ndcg']);
      } catch {
        rng = new Rng(cfg.train.seed);
        noise = 'seed';
      }
    }
  }
  const { users, values } = scoreSplit(net, ds, split === 'valid' ? ds.valid : ds.test, cfg, rng, ks, metrics);
  const summary = run.summary?.[split];
  const reference = summary && typeof summary === 'object' ? (summary as Record<string, number>) : null;
  let matchesSummary: boolean | null = null;
  if (reference) {
    const common = Object.keys(reference).filter((key) => key in values);
    matchesSummary = common.length ? common.every((key) => values[key] === reference[key]) : null;
  }
  return {
    model: run.model,
    dataset: ds.name,
    split,
    users,
    items: ds.numItems,
    ks,
    metrics,
    values,
    protocol: `full ranking over all ${ds.numItems} items, training items masked, users with at least one ${split} item`,
    noise,
    reference,
    matchesSummary,
  };
}
