/**
 * AlphaRec (Sheng et al., "Language Representations Can be What Recommenders Need", ICLR 2025) as
 * the official IRLLRec code runs it (`encoder/models/general_cf/alpharec.py`, `alpharec.yml`):
 *
 * - No ID embeddings. Layer 0 is a trainable MLP (Linear -> LeakyReLU(0.01) -> Linear, PyTorch's
 *   default nn.Linear init) applied to frozen language vectors: an item's is its profile embedding
 *   (`itmprf_embeds`); a user's is the mean of the profile embeddings of the items the user
 *   interacted with in training (a zero vector for a user without any). The users' own profile
 *   embeddings are not used.
 * - The MLP's hidden width is int(m * text width), m chosen by `lm_model`: 8 for bert/roberta,
 *   1/2 for text-embedding-ada-002/v3/v3_shuffle, 9/32 otherwise.
 * - LightGCN propagation on Â, combined by the **mean** of E^(0..L) (LightGCN here sums);
 *   edge dropout only when keep_rate < 1 (official default 1.0: none).
 * - Loss: `ssm_loss`, a sampled softmax with temperature tau over cosine similarities (rows
 *   L2-normalised) of the anchor with its positive and its k negatives, averaged over the batch,
 *   plus `reg_loss` = reg_weight * sum ||W||^2 over the MLP (the reference adds it to the total but
 *   leaves it out of its `losses` dict). No BPR term.
 * - Scores are plain dot products of the final (not normalised) embeddings.
 *
 * The official `cal_loss` needs `negs` as [B, k] (its `permute(0, 2, 1)` crashes on the trainer's
 * one-negative [B] vector); here a batch carries B * k negatives row-major (`PairSampler` with k
 * PairBatch with negs.length a multiple of B; k = 1 is the trainer's ordinary batch).
 */
import type { NormalizedAdjacency } from '../../data/graph.js';
import { edgeDropoutGraph } from '../../data/graph.js';
import { negCountOf, type PairBatch } from '../../data/sampler.js';
import { linearBias, linearWeight } from '../../nn/init.js';
import type { ParamStore } from '../../nn/params.js';
import { denseText } from '../../data/text-rows.js';
import { defineBackbone, PROBABILITY, TEMPERATURE } from '../descriptor.js';
import { sampledSoftmaxLoss } from '../../tensor/ops/alpharec-ops.js';
import { gatherRows, l2NormalizeRows, leakyRelu, linear, propagateSum, scale, type CsrMatrix } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import { GraphBackbone } from './base.js';
import { makeOutput, type Backbone, type BackboneOutput, type TrainForward } from './types.js';

export interface AlphaRecConfig {
  embeddingSize: number;
  layerNum: number;
  /** Edge keep rate during training (1: no edge dropout, the official default). */
  keepRate: number;
  /** Temperature of the sampled softmax. */
  tau: number;
  /** Name of the language model behind the vectors; sets the MLP's hidden width. */
  lmModel: string;
  /** Negatives the sampler draws per triple (default 1). */
  negNum?: number;
}

/** The official hidden-width multipliers by `lm_model` (any other name: 9/32). */
export const ALPHAREC_LM_MULTIPLIERS: Readonly<Record<string, number>> = {
  bert: 8,
  roberta: 8,
  'text-embedding-ada-002': 1 / 2,
  v3: 1 / 2,
  v3_shuffle: 1 / 2,
};

/** The MLP's hidden width: int(multiplier * text width) (Python's int() truncates). */
export function alphaRecHidden(textWidth: number, lmModel: string): number {
  const m = Object.hasOwn(ALPHAREC_LM_MULTIPLIERS, lmModel) ? ALPHAREC_LM_MULTIPLIERS[lmModel]! : 9 / 32;
  const h = Math.trunc(m * textWidth);
  if (h < 1) throw new RangeError(`alpharec: text vectors of width ${textWidth} give an MLP hidden width of ${h} (lm_model ${lmModel})`);
  return h;
}

/**
 * Layer-0 language vectors of every node (users then items), [n, width]: user u's row is the mean
 * of the item profile rows of u's training items (zero without any), item rows are the profiles.
 */
export function alphaRecInputVectors(adj: NormalizedAdjacency, itmPrf: Tensor): Float32Array {
  const U = adj.numUsers;
  const I = adj.numItems;
  if (itmPrf.shape.length !== 2 || itmPrf.rows !== I) {
    throw new RangeError(`alpharec: item profile embeddings have shape [${itmPrf.shape.join(', ')}], expected [${I}, width]`);
  }
  const w = itmPrf.cols;
  const out = new Float32Array((U + I) * w);
  const acc = new Float64Array(w);
  const { indptr, indices } = adj.csr;
  for (let u = 0; u < U; u++) {
    acc.fill(0);
    const s = indptr[u]!;
    const e = indptr[u + 1]!;
    for (let p = s; p < e; p++) {
      const o = (indices[p]! - U) * w;
      for (let c = 0; c < w; c++) acc[c]! += itmPrf.data[o + c]!;
    }
    const cnt = Math.max(1, e - s);
    for (let c = 0; c < w; c++) out[u * w + c] = acc[c]! / cnt;
  }
  out.set(itmPrf.data, U * w);
  return out;
}

export class AlphaRecBackbone extends GraphBackbone<AlphaRecConfig> implements Backbone {
  readonly kind: string = 'alpharec';
  readonly rankLossName = 'ssm_loss';
  /** The frozen language vectors of every node (users then items), [n, width]. */
  readonly text: Tensor;
  readonly hidden: number;
  w0!: Tensor;
  b0!: Tensor;
  w2!: Tensor;
  b2!: Tensor;

  constructor(adj: NormalizedAdjacency, cfg: AlphaRecConfig, itmPrf: Tensor) {
    super(adj, cfg);
    this.text = new Tensor(alphaRecInputVectors(adj, itmPrf), [adj.n, itmPrf.cols]);
    this.text.persistent = true;
    this.hidden = alphaRecHidden(itmPrf.cols, cfg.lmModel);
  }

  get negativesPerTriple(): number {
    return this.cfg.negNum ?? 1;
  }

  /** `mlp.0.weight`, `mlp.0.bias`, `mlp.2.weight`, `mlp.2.bias` (nn.Sequential names, nn.Linear's default init). */
  register(params: ParamStore, rng: Rng): void {
    const din = this.text.cols;
    const h = this.hidden;
    const d = this.cfg.embeddingSize;
    this.w0 = params.add('mlp.0.weight', linearWeight(h, din, rng));
    this.b0 = params.add('mlp.0.bias', linearBias(h, din, rng));
    this.w2 = params.add('mlp.2.weight', linearWeight(d, h, rng));
    this.b2 = params.add('mlp.2.bias', linearBias(d, h, rng));
  }

  /** MLP(language vectors) for every node: computed (and recorded) on every call. */
  inputEmbeddings(): Tensor {
    return linear(leakyRelu(linear(this.text, this.w0, this.b0), 0.01), this.w2, this.b2);
  }

  /** Â, or Â with edges dropped (one uniform draw per stored entry, in the reference's order). */
  trainingGraph(rnd: RandomSource, keepRate = this.cfg.keepRate): CsrMatrix {
    return edgeDropoutGraph(this.adj, rnd, keepRate);
  }

  /** mean(E^(0), ..., E^(L)) with E^(l) = graph E^(l-1). */
  propagate(graph: CsrMatrix, input: Tensor): BackboneOutput {
    const { layers, sum } = propagateSum(graph, input, this.cfg.layerNum);
    return makeOutput(scale(sum, 1 / (this.cfg.layerNum + 1)), this.adj.numUsers, layers, graph);
  }

  forwardTrain(rnd: RandomSource, input: Tensor, _batch: PairBatch): TrainForward {
    const main = this.propagate(this.trainingGraph(rnd), input);
    return { main, intent: main, terms: [] };
  }

  forwardEval(): BackboneOutput {
    return this.propagate(this.adj.csr, this.inputEmbeddings());
  }

  /**
   * The ranking term that replaces BPR: `ssm_loss` on the batch's triples, k = negs.length / B
   * negatives each (see the module doc).
   */
  rankTerm(out: BackboneOutput, batch: PairBatch): [string, Tensor] {
    const k = negCountOf(batch);
    const U = this.adj.numUsers;
    const anc = l2NormalizeRows(gatherRows(out.all, batch.ancs));
    const pos = l2NormalizeRows(gatherRows(out.all, Int32Array.from(batch.poss, (i) => i + U)));
    const neg = l2NormalizeRows(gatherRows(out.all, Int32Array.from(batch.negs, (i) => i + U)));
    if (neg.rows !== anc.rows * k) throw new RangeError('alpharec: negatives do not match the batch');
    return [this.rankLossName, sampledSoftmaxLoss(anc, pos, neg, this.cfg.tau)];
  }
}

export const ALPHAREC = defineBackbone({
  name: 'alpharec',
  keys: {
    keep_rate: PROBABILITY,
    tau: TEMPERATURE,
    lm_model: { kind: 'string' },
    // not an official key: the released trainer draws one negative per triple (its cal_loss then
    // crashes, see the module doc); AlphaRec's own code trains with 256
    neg_num: { kind: 'posint', max: 4096 },
  },
  defaults: {
    amazon: { layer_num: 2, reg_weight: 1e-6, keep_rate: 1.0, tau: 0.15, lm_model: 'text-embedding-ada-002', neg_num: 1 },
    yelp: { layer_num: 2, reg_weight: 1e-6, keep_rate: 1.0, tau: 0.15, lm_model: 'text-embedding-ada-002', neg_num: 1 },
    // alpharec.yml has no movie section: the model-level values
    movie: { layer_num: 3, reg_weight: 1e-6, keep_rate: 1.0, tau: 0.15, lm_model: 'text-embedding-ada-002', neg_num: 1 },
  },
  // alpharec.yml's training values, where they differ from the other models' ymls
  training: { batch_size: 1024, test_step: 1, patience: 20 },
  text: ['itmPrf'],
  alignments: ['none'],
  create: ({ adj, model: m, text }) => new AlphaRecBackbone(adj, {
    embeddingSize: m.embedding_size, layerNum: m.layer_num, keepRate: m.keep_rate, tau: m.tau, lmModel: m.lm_model, negNum: m.neg_num,
  }, denseText(text.itmPrf!)),
});
