/**
 * The generic trainer, following the official protocol (SSLRec/RLMRec trainer):
 * - each epoch: fresh negatives, shuffled batches, loss -> backward -> Adam step per batch;
 * - validate after epochs with epoch % test_step == 0 on Recall@max(k) (the last k), keep the
 *   best weights on strict improvement, stop after `patience` evaluations without improvement;
 * - restore the best weights, evaluate validation once more and the test split once.
 * With a fixed epoch count (`epochs`), it trains exactly that many epochs (no early stopping) and
 * evaluates the final weights, like the peer harness's --epochs.
 */
import type { Config } from '../config/schema.js';
import { buildNormalizedAdjacency } from '../data/graph.js';
import type { Dataset } from '../data/dataset.js';
import { PairSampler } from '../data/sampler.js';
import { evaluateFullRanking, flattenMetrics } from '../eval/index.js';
import type { CsrPattern } from '../data/csr.js';
import { getKernels } from '../kernels/index.js';
import { createModel } from '../models/registry.js';
import type { RecModel } from '../models/types.js';
import type { TextVectors } from '../models/alignment/types.js';
import { Adam } from '../nn/adam.js';
import { Tape, withTape } from '../tensor/tensor.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../util/rng.js';

export interface EpochLog {
  epoch: number;
  seconds: number;
  losses: Record<string, number>;
}

export interface EvalLog {
  epoch: number;
  split: 'valid' | 'test';
  seconds: number;
  metrics: Record<string, number>;
}

export interface TrainOptions {
  config: Config;
  dataset: Dataset;
  /** Text vectors for alignment plug-ins. */
  text?: TextVectors;
  /** Train exactly this many epochs (no early stopping) instead of the official protocol. */
  epochs?: number;
  log?: (line: string) => void;
  onEpoch?: (e: EpochLog) => void;
  onEval?: (e: EvalLog) => void;
}

export interface TrainResult {
  model: RecModel;
  epochsRun: number;
  bestEpoch: number;
  trainSecondsPerEpoch: number;
  evalSeconds: number;
  valid: Record<string, number>;
  test: Record<string, number>;
  lastLosses: Record<string, number>;
  history: { epochs: EpochLog[]; evals: EvalLog[] };
}

export function evaluateSplit(model: RecModel, ds: Dataset, split: CsrPattern, cfg: Config, rng: Rng): Record<string, number> {
  const emb = model.scoringEmbeddings(rng);
  const r = evaluateFullRanking({
    kernels: getKernels(),
    userEmb: emb.user,
    itemEmb: emb.item,
    dim: emb.dim,
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    trainMask: ds.train,
    groundTruth: split,
    ks: cfg.test.k,
    batchSize: cfg.test.batch_size,
  });
  return flattenMetrics(r);
}

export function train(opts: TrainOptions): TrainResult {
  const { config: cfg, dataset: ds } = opts;
  const log = opts.log ?? (() => {});
  const rng = new Rng(cfg.train.seed);
  const adj = buildNormalizedAdjacency(ds.train);
  const model = createModel(cfg, adj, rng.fork(), opts.text);
  const adam = new Adam(model.params.trainable(), { lr: cfg.optimizer.lr });
  const sampler = new PairSampler(ds.trainPairs, ds.train);
  const trainRng = rng.fork();
  const evalRng = rng.fork();
  const kMax = `recall@${cfg.test.k[cfg.test.k.length - 1]}`;
  const fixed = opts.epochs !== undefined;
  const maxEpochs = opts.epochs ?? cfg.train.epoch;

  const history: TrainResult['history'] = { epochs: [], evals: [] };
  let best = -Infinity;
  let bestEpoch = -1;
  let bestState: Map<string, Float32Array> | null = null;
  let patience = 0;
  let trainSeconds = 0;
  let epochsRun = 0;
  let lastLosses: Record<string, number> = {};

  for (let epoch = 0; epoch < maxEpochs; epoch++) {
    const t0 = performance.now();
    const batches = sampler.epoch(trainRng, cfg.train.batch_size);
    const sums: Record<string, number> = {};
    const bar = new Progress(`epoch ${epoch}`, batches.length);
    batches.forEach((batch, bi) => {
      const tape = new Tape();
      model.params.zeroGrad();
      const { total, parts } = withTape(tape, () => model.calcLoss(batch, trainRng));
      if (!Number.isFinite(total.item())) {
        throw new Error(`epoch ${epoch} batch ${bi}: the loss is ${total.item()} (terms ${JSON.stringify(parts)}); lower the learning rate or check the inputs`);
      }
      tape.backward(total);
      adam.step();
      sums.loss = (sums.loss ?? 0) + total.item();
      for (const [k, v] of Object.entries(parts)) sums[k] = (sums[k] ?? 0) + v;
      bar.tick(bi + 1, `loss ${(sums.loss / (bi + 1)).toFixed(4)}`);
    });
    bar.done();
    const seconds = (performance.now() - t0) / 1000;
    trainSeconds += seconds;
    epochsRun++;
    const losses: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) losses[k] = v / batches.length;
    lastLosses = losses;
    const e: EpochLog = { epoch, seconds, losses };
    history.epochs.push(e);
    opts.onEpoch?.(e);
    log(`epoch ${epoch} ${Object.entries(losses).map(([k, v]) => `${k} ${v.toPrecision(5)}`).join(' ')} ${seconds.toFixed(2)}s`);

    if (!fixed && epoch % cfg.train.test_step === 0) {
      const t1 = performance.now();
      const metrics = evaluateSplit(model, ds, ds.valid, cfg, evalRng);
      const ev: EvalLog = { epoch, split: 'valid', seconds: (performance.now() - t1) / 1000, metrics };
      history.evals.push(ev);
      opts.onEval?.(ev);
      const score = metrics[kMax]!;
      const improved = score > best;
      if (improved) {
        best = score;
        bestEpoch = epoch;
        bestState = model.params.snapshot();
        patience = 0;
      } else patience++;
      log(`valid epoch ${epoch} ${fmt(metrics)} ${ev.seconds.toFixed(2)}s${improved ? ' (best)' : ` (patience ${patience}/${cfg.train.patience})`}`);
      if (patience >= cfg.train.patience) break;
    }
  }
  if (fixed) bestEpoch = epochsRun - 1;
  else if (bestState) model.params.load(bestState, 'best weights');

  const t2 = performance.now();
  const valid = evaluateSplit(model, ds, ds.valid, cfg, evalRng);
  const validSeconds = (performance.now() - t2) / 1000;
  history.evals.push({ epoch: bestEpoch, split: 'valid', seconds: validSeconds, metrics: valid });
  const t3 = performance.now();
  const test = evaluateSplit(model, ds, ds.test, cfg, evalRng);
  const evalSeconds = (performance.now() - t3) / 1000;
  history.evals.push({ epoch: bestEpoch, split: 'test', seconds: evalSeconds, metrics: test });
  log(`best epoch ${bestEpoch} valid ${fmt(valid)}`);
  log(`test ${fmt(test)} ${evalSeconds.toFixed(2)}s`);
  return {
    model, epochsRun, bestEpoch, trainSecondsPerEpoch: epochsRun ? trainSeconds / epochsRun : 0, evalSeconds,
    valid, test, lastLosses, history,
  };
}

function fmt(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ');
}
