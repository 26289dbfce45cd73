/** What a graph backbone offers the composed model and the alignment plug-ins. */
import type { NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import type { ParamStore } from '../../nn/params.js';
import { sliceRows, type CsrMatrix } from '../../tensor/ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';

export interface BackboneOutput {
  /** Final embeddings of all nodes (users then items), used for BPR and scoring. */
  all: Tensor;
  user: Tensor;
  item: Tensor;
  /** Layer embeddings E^(0..L) (E^(0) is the possibly masked input). */
  layers: Tensor[];
  /** The propagation graph this forward used. */
  graph: CsrMatrix;
}

/** What one training forward of a backbone yields. */
export interface TrainForward {
  /** The view BPR, scoring-style terms and the alignment plug-ins use. */
  main: BackboneOutput;
  /** The view whose layers feed IRLLRec's interaction intents (SGL: the second dropped view). */
  intent: BackboneOutput;
  /** The backbone's own self-supervised terms (e.g. cl_loss), in the reference's order. */
  terms: [string, Tensor][];
  /** Interaction intents the backbone computes itself (DCCF's layer-mean iaa), if any. */
  intents?: Tensor;
}

export interface Backbone {
  readonly kind: string;
  readonly adj: NormalizedAdjacency;
  readonly dim: number;
  readonly layerNum: number;
  /** Name of the ranking term (the reference calls it mf_loss in BIGCF). */
  readonly rankLossName?: string;
  /** Negatives the sampler draws per training triple (default 1; AlphaRec's sampled softmax takes more). */
  readonly negativesPerTriple?: number;
  /** The backbone's own ranking term in place of BPR (AlphaRec's sampled softmax), named. */
  rankTerm?(out: BackboneOutput, batch: PairBatch): [string, Tensor];
  /** The backbone's own intent prototypes (DCCF, BIGCF), which IRLLRec then uses. */
  readonly prototypes?: { user: Tensor; item: Tensor };
  /** IRLLRec aggregates E^(l+1) instead of E^(l) (BIGCF_int). */
  readonly intentAggregatesNext?: boolean;
  /** Scoring draws fresh randomness on every call (BIGCF's reference evaluation). */
  readonly stochasticScoring?: boolean;
  /** Serving's intent weights come from the final embeddings, not the layers (BIGCF: its intents are softmax(E C) of the layer sum). */
  readonly intentsFromFinal?: boolean;
  /** Registers the backbone's parameters (first in the store, as the reference's modules do). */
  register(params: ParamStore, rng: Rng): void;
  /** Layer-0 embeddings of all nodes (users then items). */
  inputEmbeddings(): Tensor;
  /** Training forward (with the backbone's training-time randomness) and its own loss terms. */
  forwardTrain(rnd: RandomSource, input: Tensor, batch: PairBatch): TrainForward;
  /** Forward for scoring (deterministic unless stochasticScoring). */
  forwardEval(rnd?: RandomSource): BackboneOutput;
}

/**
 * A BackboneOutput whose user/item halves are sliced only when someone reads them (most terms
 * pick rows from `all` directly, so the copies are usually never made).
 */
export function makeOutput(all: Tensor, numUsers: number, layers: Tensor[], graph: CsrMatrix): BackboneOutput {
  let user: Tensor | null = null;
  let item: Tensor | null = null;
  return {
    all,
    layers,
    graph,
    get user() {
      return (user ??= sliceRows(all, 0, numUsers));
    },
    get item() {
      return (item ??= sliceRows(all, numUsers, all.rows));
    },
  };
}
