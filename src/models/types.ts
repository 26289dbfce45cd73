/**
 * What every model offers the generic trainer: named parameters, a loss made of named terms,
 * and the final embeddings used for scoring.
 */
import type { PairBatch } from '../data/sampler.js';
import type { MLP } from '../nn/mlp.js';
import type { ParamStore } from '../nn/params.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RandomSource } from '../util/rng.js';
import type { Backbone } from './backbones/types.js';

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
  /** Negatives per training triple the model's loss reads (default 1). */
  readonly negativesPerTriple?: number;
  /**
   * True when every scoring call draws fresh randomness (BIGCF's reference evaluation): the
   * evaluator then calls scoringEmbeddings once per user batch, as the reference does.
   */
  readonly stochasticScoring?: boolean;
}

/** The trained text towers of an alignment (cold start from text, explanations); which exist depends on it. */
export interface TextTowers {
  /** Profile vector -> embedding space (RLMRec-Con, IRLLRec). */
  profile?: MLP;
  /** Intent vector -> embedding space (IRLLRec). */
  intent?: MLP;
  /** Embedding -> profile space (RLMRec-Gen's reconstruction). */
  recon?: MLP;
}

/** Intent prototypes: C_U and C_I, d x K each (column k = prototype k). */
export interface IntentPrototypes {
  user: Tensor;
  item: Tensor;
}

/** What serving (src/serve/) reads of a trained model, knowing none of its classes. */
export interface ServableModel {
  readonly backbone: Backbone;
  /** The alignment's text towers; null without text alignment. */
  textTowers(): TextTowers | null;
  /** The prototypes the model's intents use (the alignment's, else the backbone's); null when it has none. */
  intentPrototypes(): IntentPrototypes | null;
}
