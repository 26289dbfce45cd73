/**
 * What every model offers the generic trainer: named parameters, a loss made of named terms,
 * and the final embeddings used for scoring.
 */
import type { PairBatch } from '../data/sampler.js';
import type { ParamStore } from '../nn/params.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RandomSource } from '../util/rng.js';

export interface LossResult {
  total: Tensor;
  /** Every loss term by name (the reference's `losses` dict names), as plain numbers. */
  parts: Record<string, number>;
}

export interface ScoringEmbeddings {
  user: Float32Array;
  item: Float32Array;
  dim: number;
}

export interface RecModel {
  readonly name: string;
  readonly params: ParamStore;
  /** Computes the loss of one batch (recording on the active tape). */
  calcLoss(batch: PairBatch, rnd: RandomSource): LossResult;
  /** Called at the start of every training epoch (e.g. to resync caches, so resume is exact). */
  beginEpoch?(): void;
  /** Final embeddings for full-ranking scores (no dropout, no gradient). */
  scoringEmbeddings(rnd?: RandomSource): ScoringEmbeddings;
  /**
   * True when every scoring call draws fresh randomness (BIGCF's reference evaluation): the
   * evaluator then calls scoringEmbeddings once per user batch, as the reference does.
   */
  readonly stochasticScoring?: boolean;
}
