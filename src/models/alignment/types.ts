/** Alignment plug-ins: extra parameters and named loss terms on top of any backbone. */
import type { PairBatch } from '../../data/sampler.js';
import type { ParamStore } from '../../nn/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import type { Backbone, BackboneOutput } from '../backbones/types.js';
import type { IntentPrototypes, TextTowers } from '../types.js';

export interface AlignContext {
  batch: PairBatch;
  rnd: RandomSource;
  backbone: Backbone;
  out: BackboneOutput;
  /** The backbone view that feeds interaction intents. */
  intentOut: BackboneOutput;
  /** Interaction intents computed by the backbone itself (DCCF), if any. */
  intents?: Tensor;
  /** Final embeddings picked for the batch (anchors, positives, negatives). */
  anc: Tensor;
  pos: Tensor;
  neg: Tensor;
  /**
   * Scalable mode: `batch` is a bounded sample of the step's triples, and contrast within its users
   * and items (not every user or node), so a step costs no more than the sample.
   */
  scalable?: boolean;
  /** Scalable mode: neighbours per node drawn for the sample's interaction intents (null: all). */
  intentFanout?: number | null;
  /** Scalable mode: users the user-side contrast uses as negatives (null: the batch's users only). */
  userPool?: number | null;
  /** Scalable mode: TA/ITM on uniformly drawn nodes instead of the sample's. */
  taUniform?: boolean;
}

export interface Alignment {
  readonly kind: string;
  register(params: ParamStore, rng: Rng, backbone: Backbone): void;
  /**
   * May replace the layer-0 input before the backbone forward (RLMRec-Gen's masking). `sampleSize`
   * (scalable mode) bounds how many nodes a step may touch beyond the graph propagation.
   */
  transformInput?(input: Tensor, rnd: RandomSource, sampleSize?: number | null): Tensor;
  /** Called at the start of every training epoch. */
  beginEpoch?(): void;
  /** Named loss terms, in the order the reference adds them. */
  terms(ctx: AlignContext): [string, Tensor][];
  /** Serving: the text towers it trained (absent: none). */
  textTowers?(): TextTowers;
  /** Serving: the intent prototypes its intents use (absent or null: none of its own). */
  intentPrototypes?(): IntentPrototypes | null;
}

export type { TrainingText } from '../../data/text-rows.js';
export type { TextVectors } from '../../data/text-types.js';
