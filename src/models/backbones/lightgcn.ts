/**
 * LightGCN (He et al., SIGIR 2020) as the official IRLLRec code runs it: E = sum_{l=0..L} Â^l E0
 * (a sum, not a mean), and edge dropout on Â during training (keep rate 0.8 by default; kept
 * edges keep their normalised weight, no rescaling).
 */
import { edgeDropoutGraph, type NormalizedAdjacency } from '../../data/graph.js';
import { xavierUniform } from '../../nn/init.js';
import type { ParamStore } from '../../nn/params.js';
import { propagateSum, type CsrMatrix } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import type { PairBatch } from '../../data/sampler.js';
import { defineBackbone, everySection, PROBABILITY } from '../descriptor.js';
import { GraphBackbone } from './base.js';
import { makeOutput, type Backbone, type BackboneOutput, type TrainForward } from './types.js';

export interface LightGCNConfig {
  embeddingSize: number;
  layerNum: number;
  keepRate: number;
}

export class LightGCNBackbone extends GraphBackbone<LightGCNConfig> implements Backbone {
  readonly kind: string = 'lightgcn';
  userEmbeds!: Tensor;
  itemEmbeds!: Tensor;
  /** Both tables as one contiguous tensor (users then items): the layer-0 input, no copy. */
  private allEmbeds!: Tensor;

  /**
   * user_embeds and item_embeds are views into one buffer (and so are their gradients), so the
   * layer-0 input is that buffer itself: no concatenation forward, no split backward.
   */
  register(params: ParamStore, rng: Rng): void {
    const d = this.cfg.embeddingSize;
    const U = this.adj.numUsers;
    const n = this.adj.n;
    const u = xavierUniform([U, d], rng);
    const i = xavierUniform([this.adj.numItems, d], rng);
    const data = new Float32Array(n * d);
    const grad = new Float32Array(n * d);
    data.set(u.data, 0);
    data.set(i.data, U * d);
    this.allEmbeds = new Tensor(data, [n, d], true);
    this.allEmbeds.persistent = true;
    this.allEmbeds.grad = grad;
    this.userEmbeds = params.add('user_embeds', new Tensor(data.subarray(0, U * d), [U, d]));
    this.itemEmbeds = params.add('item_embeds', new Tensor(data.subarray(U * d), [this.adj.numItems, d]));
    this.userEmbeds.grad = grad.subarray(0, U * d);
    this.itemEmbeds.grad = grad.subarray(U * d);
  }

  inputEmbeddings(): Tensor {
    return this.allEmbeds;
  }

  /** Â, or Â with edges dropped (one uniform draw per stored entry, in the reference's order). */
  trainingGraph(rnd: RandomSource, keepRate = this.cfg.keepRate): CsrMatrix {
    return edgeDropoutGraph(this.adj, rnd, keepRate);
  }

  propagate(graph: CsrMatrix, input: Tensor): BackboneOutput {
    const { layers, sum } = propagateSum(graph, input, this.cfg.layerNum);
    return makeOutput(sum, this.adj.numUsers, layers, graph);
  }

  forwardTrain(rnd: RandomSource, input: Tensor, _batch: PairBatch): TrainForward {
    const main = this.propagate(this.trainingGraph(rnd), input);
    return { main, intent: main, terms: [] };
  }

  forwardEval(): BackboneOutput {
    return this.propagate(this.adj.csr, this.inputEmbeddings());
  }
}

export const LIGHTGCN = defineBackbone({
  name: 'lightgcn',
  keys: { keep_rate: PROBABILITY },
  defaults: everySection({ layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8 }),
  create: ({ adj, model: m }) => new LightGCNBackbone(adj, { embeddingSize: m.embedding_size, layerNum: m.layer_num, keepRate: m.keep_rate }),
});
