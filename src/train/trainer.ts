/**
 * The generic trainer, following the official protocol (SSLRec/RLMRec trainer):
 * - each epoch: fresh negatives, shuffled batches, loss -> backward -> Adam step per batch;
 * - validate after epochs with epoch % test_step == 0 on `train.valid_metric` (default: the
 *   official Recall@max(k), the last k), keep the
 *   best weights on strict improvement, stop after `patience` evaluations without improvement;
 * - restore the best weights, evaluate validation once more and the test split once.
 * With a fixed epoch count (`epochs`), it trains exactly that many epochs (no early stopping) and
 * evaluates the final weights, like the peer harness's --epochs.
 *
 * With `runDir`, a checkpoint is written after every epoch; `resume` continues from it exactly
 * (same losses and metrics as an uninterrupted run).
 */
import { trainingMode, validMetric, type Config } from '../config/schema.js';
import type { CsrPattern } from '../data/csr.js';
import type { Dataset } from '../data/dataset.js';
import { buildNormalizedAdjacency } from '../data/graph.js';
import { PairSampler } from '../data/sampler.js';
import {
  DEFAULT_METRICS, evaluateFullRanking, flattenMetrics, REPORT_METRICS, SparsityAccumulator, type FullRankingOptions, type MetricName,
  type MetricResult, type SparsityResult,
} from '../eval/index.js';
import { getKernels } from '../kernels/index.js';
import type { TrainingText } from '../data/text-rows.js';
import { createModel, textWidth } from '../models/registry.js';
import type { RecModel } from '../models/types.js';
import { Adam } from '../nn/adam.js';
import { Tape, withTape } from '../tensor/tensor.js';
import { Arena, withArena } from '../tensor/arena.js';
import { Progress } from '../util/progress.js';
import { Rng, type RngState } from '../util/rng.js';
import { ConfigError } from '../config/schema.js';
import { checkpointTensors, inspectCheckpoint, modelParams } from './checkpoint-verify.js';
import { CheckpointError, checkpointDir, tensorsFile, writeCheckpoint } from './checkpoint.js';

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
  text?: TrainingText;
  /** Train exactly this many epochs (no early stopping) instead of the official protocol. */
  epochs?: number;
  /** Write a checkpoint here after every epoch. */
  runDir?: string;
  /** Continue from the checkpoint in runDir. */
  resume?: boolean;
  /**
   * Pause (checkpoint, no final evaluation) once this many epochs have run in total, unless the run
   * stopped earlier; a later call with `resume` continues it exactly. Used by `tune` (successive
   * halving trains the survivors of a rung further).
   */
  pauseAtEpoch?: number;
  log?: (line: string) => void;
  onEpoch?: (e: EpochLog) => void;
  onEval?: (e: EvalLog) => void;
}

export interface TrainResult {
  model: RecModel;
  /** True when the run stopped at `pauseAtEpoch` (valid/test then hold the best validation so far only). */
  paused: boolean;
  /** The best value of the validation metric so far (-Infinity before the first validation). */
  bestValid: number;
  epochsRun: number;
  bestEpoch: number;
  trainSecondsPerEpoch: number;
  evalSeconds: number;
  valid: Record<string, number>;
  test: Record<string, number>;
  /**
   * The test metrics by user activity (quintiles of the users' training interactions; see
   * eval/sparsity.ts), from the same ranking pass as `test`; absent for a paused run.
   */
  testSparsity?: SparsityResult;
  lastLosses: Record<string, number>;
  history: { epochs: EpochLog[]; evals: EvalLog[] };
}

/** What state.json holds (plus the tensors in weights/best/optimizer.safetensors). */
export interface TrainState {
  version: 1;
  model: string;
  dataset: { name: string; users: number; items: number; train: number };
  fixedEpochs: number | null;
  nextEpoch: number;
  epochsRun: number;
  best: number | null;
  bestEpoch: number;
  patience: number;
  trainSeconds: number;
  lastLosses: Record<string, number>;
  history: TrainResult['history'];
  rng: { train: RngState; trainSpare: number | null; eval: RngState; evalSpare: number | null };
  adamSteps: number[];
  hasBest: boolean;
}

/**
 * Full-ranking evaluation of a split (the one path training, `evaluate` and tests share). `metrics`
 * defaults to every metric the report shows; the per-epoch validation asks only for recall, ndcg and
 * the validation metric. `ks` defaults to the config's.
 */
export function rankSplit(
  model: RecModel, ds: Dataset, split: CsrPattern, cfg: Config, rng: Rng,
  metrics: readonly MetricName[] = REPORT_METRICS, ks: number[] = cfg.test.k, onUser?: FullRankingOptions['onUser'],
): MetricResult {
  const k = getKernels();
  const common = {
    kernels: k, numUsers: ds.numUsers, numItems: ds.numItems, trainMask: ds.train, groundTruth: split,
    ks, batchSize: cfg.test.batch_size, metrics, onUser,
  };
  if (model.stochasticScoring) {
    // The reference recomputes the (noisy) embeddings for every test batch.
    const scoreBlock = (users: Int32Array, out: Float32Array) => {
      const emb = model.scoringEmbeddings(rng);
      const ue = new Float32Array(users.length * emb.dim);
      k.gatherRows(emb.dim, emb.user, users, ue);
      k.gemm(false, true, users.length, ds.numItems, emb.dim, 1, ue, emb.dim, emb.item, emb.dim, 0, out, ds.numItems);
    };
    return evaluateFullRanking({ ...common, scoreBlock });
  }
  const emb = model.scoringEmbeddings(rng);
  return evaluateFullRanking({ ...common, userEmb: emb.user, itemEmb: emb.item, dim: emb.dim });
}

/**
 * The batch size training uses: the config's, grown in scalable mode so that an epoch has at most
 * `train.max_batches` steps (each step propagates the whole graph, so the step count, not the batch,
 * must stay bounded for an epoch's cost to grow linearly with the data).
 */
export function effectiveBatchSize(cfg: Config, trainInteractions: number): number {
  const tm = trainingMode(cfg);
  return Math.max(cfg.train.batch_size, Math.ceil(trainInteractions / tm.maxBatches));
}

/** rankSplit's metrics as `{"recall@20": ...}`. */
export function evaluateSplit(
  model: RecModel, ds: Dataset, split: CsrPattern, cfg: Config, rng: Rng, metrics: readonly MetricName[] = REPORT_METRICS,
): Record<string, number> {
  return flattenMetrics(rankSplit(model, ds, split, cfg, rng, metrics));
}

function datasetId(ds: Dataset): TrainState['dataset'] {
  return { name: ds.name, users: ds.numUsers, items: ds.numItems, train: ds.train.indptr[ds.numUsers]! };
}

/** Where a training run is, between two steps (what an interrupt can report). */
export type TrainPhase = { epoch: number } | { final: true };

/** Trains to the end without yielding (the library's synchronous entry point). */
export function train(opts: TrainOptions): TrainResult {
  const steps = trainSteps(opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Like train, but returns to the event loop between batches (at most every `sliceMs`), so signal
 * handlers (Ctrl-C) run while it trains. `onPhase` hears where training is at each such point;
 * nothing is being written then (checkpoints are written between two points, atomically).
 */
export async function trainAsync(opts: TrainOptions, o: { onPhase?: (p: TrainPhase) => void; sliceMs?: number } = {}): Promise<TrainResult> {
  const steps = trainSteps(opts);
  const slice = o.sliceMs ?? 50;
  let last = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    o.onPhase?.(r.value);
    if (performance.now() - last >= slice) {
      await new Promise<void>((done) => setImmediate(done));
      last = performance.now();
    }
  }
}

/** The training run as steps: it yields between batches and before each final evaluation. */
export function* trainSteps(opts: TrainOptions): Generator<TrainPhase, TrainResult, void> {
  const { config: cfg, dataset: ds } = opts;
  const log = opts.log ?? (() => {});
  const rng = new Rng(cfg.train.seed);
  const adj = buildNormalizedAdjacency(ds.train);
  const model = createModel(cfg, adj, rng.fork(), opts.text);
  const trainable = model.params.trainable();
  const adam = new Adam(trainable, { lr: cfg.optimizer.lr });
  // one negative per triple (BPR), or k for a model whose loss contrasts several (AlphaRec's neg_num)
  const negatives = model.negativesPerTriple ?? 1;
  const sampler = new PairSampler(ds.trainPairs, ds.train, negatives);
  let trainRng = rng.fork();
  let evalRng = rng.fork();
  const selection = validMetric(cfg);
  const kMax = selection.key;
  const epochMetrics = [...new Set<MetricName>([...DEFAULT_METRICS, selection.metric])];
  const fixed = opts.epochs !== undefined;
  const batchSize = effectiveBatchSize(cfg, ds.trainPairs.user.length);
  const tm = trainingMode(cfg, textWidth(opts.text ?? {}));
  // the per-epoch validation split: every user, or (scalable mode) a fixed sample of them
  const validDuring = tm.validUsers === null ? ds.valid : sampleSplitUsers(ds.valid, tm.validUsers, cfg.train.seed);
  if (tm.mode === 'scalable') {
    const vu = validDuring === ds.valid ? 'every user' : `${tm.validUsers} users drawn once (final figures: every user)`;
    log(`scalable mode: batch ${batchSize} (at most ${tm.maxBatches} steps per epoch), contrastive/alignment sample ${tm.sampleSize} triples per step, interaction intents over ${tm.intentFanout ?? 'every'} neighbours per node, validation during training on ${vu}`);
  }
  const maxEpochs = opts.epochs ?? cfg.train.epoch;

  let history: TrainResult['history'] = { epochs: [], evals: [] };
  let best = -Infinity;
  let bestEpoch = -1;
  let bestState: Map<string, Float32Array> | null = null;
  let patience = 0;
  let trainSeconds = 0;
  let epochsRun = 0;
  let startEpoch = 0;
  let lastLosses: Record<string, number> = {};

  if (opts.resume) {
    if (!opts.runDir) throw new CheckpointError('resume needs a run directory');
    // everything is verified (structure, checksums, state fields, names and shapes against this
    // model) before anything is loaded; a refused checkpoint is left as it is
    const cp = inspectCheckpoint(opts.runDir, { configEpochs: cfg.train.epoch, patience: cfg.train.patience }, CheckpointError);
    if (!cp) throw new CheckpointError(`${opts.runDir}: no checkpoint to resume from`);
    const st = cp.state;
    const id = datasetId(ds);
    if (JSON.stringify(st.dataset) !== JSON.stringify(id)) {
      throw new CheckpointError(`${opts.runDir}: the checkpoint was made on ${JSON.stringify(st.dataset)}, not on ${JSON.stringify(id)}`);
    }
    if (st.model !== model.name) throw new CheckpointError(`${opts.runDir}: the checkpoint holds ${st.model}, not ${model.name}`);
    if (st.fixedEpochs !== (opts.epochs ?? null)) {
      throw new CheckpointError(`${opts.runDir}: the run was started with --epochs ${st.fixedEpochs ?? '(official protocol)'}; resume it the same way`);
    }
    if (st.nextEpoch > maxEpochs) throw new CheckpointError(`${cp.dir}/state.json: nextEpoch ${st.nextEpoch} is past the run's ${maxEpochs} epochs`);
    const t = checkpointTensors(cp, modelParams(model.params.entries()), CheckpointError);
    model.params.load(t.weights, `${cp.dir}/weights.safetensors`);
    adam.loadState({ step: [...st.adamSteps], m: t.m, v: t.v });
    bestState = t.best;
    trainRng = Rng.fromState(st.rng.train, st.rng.trainSpare);
    evalRng = Rng.fromState(st.rng.eval, st.rng.evalSpare);
    best = st.best ?? -Infinity;
    bestEpoch = st.bestEpoch;
    patience = st.patience;
    trainSeconds = st.trainSeconds;
    epochsRun = st.epochsRun;
    startEpoch = st.nextEpoch;
    lastLosses = st.lastLosses;
    history = st.history;
    log(`resuming ${opts.runDir} at epoch ${startEpoch}`);
  }

  /** What a diverged run leaves on disk (for its error message). */
  const keptCheckpoint = () => (opts.runDir && checkpointDir(opts.runDir) ? `; ${opts.runDir} keeps the checkpoint of the last good epoch` : '');
  const save = (nextEpoch: number) => {
    if (!opts.runDir) return;
    const names = model.params.entries().map(([n]) => n);
    const tensors = (m: Map<string, Float32Array> | null) => {
      const out: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const n of names) {
        const t = model.params.get(n);
        out[n] = { shape: [...t.shape], data: m ? m.get(n)! : t.data };
      }
      return out;
    };
    const a = adam.state();
    const opt: Record<string, { shape: number[]; data: Float32Array }> = {};
    model.params.entries().filter(([, t]) => t.requiresGrad).forEach(([n, t], i) => {
      opt[`m.${n}`] = { shape: [...t.shape], data: a.m[i]! };
      opt[`v.${n}`] = { shape: [...t.shape], data: a.v[i]! };
    });
    const tr = trainRng.state();
    const ev = evalRng.state();
    const state: TrainState = {
      version: 1, model: model.name, dataset: datasetId(ds), fixedEpochs: opts.epochs ?? null, nextEpoch, epochsRun,
      best: Number.isFinite(best) ? best : null, bestEpoch, patience, trainSeconds, lastLosses, history,
      rng: { train: tr.words, trainSpare: tr.spareNormal, eval: ev.words, evalSpare: ev.spareNormal },
      adamSteps: a.step, hasBest: bestState !== null,
    };
    const files: Record<string, Uint8Array | string> = {
      'weights.safetensors': tensorsFile(tensors(null), { model: model.name }),
      'optimizer.safetensors': tensorsFile(opt),
      'state.json': `${JSON.stringify(state)}\n`,
    };
    if (bestState) files['best.safetensors'] = tensorsFile(tensors(bestState), { model: model.name, epoch: String(bestEpoch) });
    // never replace a good checkpoint with a diverged state
    const bad = model.params.entries().find(([, p]) => !allFinite(p.data)) ?? (a.m.some((x) => !allFinite(x)) || a.v.some((x) => !allFinite(x)) ? ['the optimizer state'] : null);
    if (bad) {
      const epoch = history.epochs.at(-1)?.epoch ?? nextEpoch - 1;
      throw new ConfigError(`epoch ${epoch}: ${bad[0]} became non-finite (the training diverged); lower the learning rate (--set optimizer.lr=...) or check the inputs${keptCheckpoint()}`);
    }
    writeCheckpoint(opts.runDir, files);
  };

  // op outputs and activation gradients of one step are recycled for the next
  const arena = new Arena();
  let stopped = false;
  // a run resumed at (or past) its pause point has nothing to train before pausing again
  let paused = opts.pauseAtEpoch !== undefined && startEpoch >= opts.pauseAtEpoch && startEpoch < maxEpochs;
  for (let epoch = startEpoch; epoch < maxEpochs && !stopped && !paused; epoch++) {
    const t0 = performance.now();
    model.beginEpoch?.();
    const batches = sampler.epoch(trainRng, batchSize);
    const sums: Record<string, number> = {};
    const bar = new Progress(`epoch ${epoch}`, batches.length);
    for (let bi = 0; bi < batches.length; bi++) {
      yield { epoch };
      const batch = batches[bi]!;
      const tape = new Tape();
      model.params.zeroGrad();
      const { total, parts } = withArena(arena, () => {
        const r = withTape(tape, () => model.calcLoss(batch, trainRng));
        if (!Number.isFinite(r.total.item())) {
          // a user setting (the learning rate, the loss weights) or the data; the checkpoint of the
          // last finished epoch is kept as it is
          throw new ConfigError(`epoch ${epoch} batch ${bi}: the loss is ${r.total.item()} (terms ${JSON.stringify(r.parts)}); lower the learning rate (--set optimizer.lr=...) or check the inputs${keptCheckpoint()}`);
        }
        tape.backward(r.total);
        return { total: r.total.item(), parts: r.parts };
      });
      arena.reset();
      adam.step();
      sums.loss = (sums.loss ?? 0) + total;
      for (const [k, v] of Object.entries(parts)) sums[k] = (sums[k] ?? 0) + v;
      bar.tick(bi + 1, `loss ${(sums.loss / (bi + 1)).toFixed(4)}`);
    }
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
      const metrics = evaluateSplit(model, ds, validDuring, cfg, evalRng, epochMetrics);
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
      if (patience >= cfg.train.patience) stopped = true;
    }
    save(stopped ? maxEpochs : epoch + 1);
    if (!stopped && opts.pauseAtEpoch !== undefined && epoch + 1 >= opts.pauseAtEpoch && epoch + 1 < maxEpochs) {
      paused = true;
      break;
    }
  }
  if (paused) {
    const valid = history.evals.filter((e) => e.epoch === bestEpoch && e.split === 'valid').at(-1)?.metrics ?? {};
    log(`paused after epoch ${epochsRun - 1}: best ${kMax} ${Number.isFinite(best) ? best.toFixed(4) : 'none yet'} (epoch ${bestEpoch})`);
    return {
      model, paused, bestValid: best, epochsRun, bestEpoch, trainSecondsPerEpoch: epochsRun ? trainSeconds / epochsRun : 0, evalSeconds: 0,
      valid, test: {}, lastLosses, history,
    };
  }
  if (fixed) bestEpoch = epochsRun - 1;
  else if (bestState) model.params.load(bestState, 'best weights');

  yield { final: true };
  const t2 = performance.now();
  const valid = evaluateSplit(model, ds, ds.valid, cfg, evalRng);
  const validSeconds = (performance.now() - t2) / 1000;
  yield { final: true };
  const t3 = performance.now();
  // the metrics by user activity come from the same ranking pass (per-user values, bucketed)
  const sparsity = new SparsityAccumulator(ds.train, ds.test, ds.numUsers, cfg.test.k);
  const test = flattenMetrics(rankSplit(model, ds, ds.test, cfg, evalRng, REPORT_METRICS, cfg.test.k, (u, _top, v) => sparsity.add(u, v)));
  const testSparsity = sparsity.result();
  const evalSeconds = (performance.now() - t3) / 1000;
  const finalHistory = {
    epochs: history.epochs,
    evals: [...history.evals,
      { epoch: bestEpoch, split: 'valid' as const, seconds: validSeconds, metrics: valid },
      { epoch: bestEpoch, split: 'test' as const, seconds: evalSeconds, metrics: test }],
  };
  log(`best epoch ${bestEpoch} valid ${fmt(valid)}`);
  log(`test ${fmt(test)} ${evalSeconds.toFixed(2)}s`);
  return {
    model, paused: false, bestValid: fixed ? (valid[kMax] ?? best) : best, epochsRun, bestEpoch,
    trainSecondsPerEpoch: epochsRun ? trainSeconds / epochsRun : 0, evalSeconds, valid, test, testSparsity, lastLosses, history: finalHistory,
  };
}

/**
 * The split restricted to `n` of its users with items (drawn without replacement by a generator
 * of its own, seeded from `seed`, so the training's random streams are untouched); the split
 * itself when it has no more than n such users.
 */
export function sampleSplitUsers(split: CsrPattern, n: number, seed: number): CsrPattern {
  const withItems: number[] = [];
  for (let u = 0; u < split.rows; u++) if (split.indptr[u + 1]! > split.indptr[u]!) withItems.push(u);
  if (withItems.length <= n) return split;
  const keep = new Uint8Array(split.rows);
  for (const i of new Rng(seed + 0x5eed).choice(withItems.length, n)) keep[withItems[i]!] = 1;
  const indptr = new Int32Array(split.rows + 1);
  for (let u = 0; u < split.rows; u++) indptr[u + 1] = indptr[u]! + (keep[u] ? split.indptr[u + 1]! - split.indptr[u]! : 0);
  const indices = new Int32Array(indptr[split.rows]!);
  for (let u = 0; u < split.rows; u++) if (keep[u]) indices.set(split.indices.subarray(split.indptr[u]!, split.indptr[u + 1]!), indptr[u]!);
  return { rows: split.rows, cols: split.cols, indptr, indices };
}

function allFinite(d: Float32Array): boolean {
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return false;
  return true;
}

function fmt(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ');
}
