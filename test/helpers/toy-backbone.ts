/**
 * A backbone added in one file, to show what a new backbone takes (test/descriptors.test.ts): one
 * descriptor (its key, its defaults per dataset section, a factory) and an encoder without
 * propagation: the final embeddings are the embedding table itself, times `model.toy_gain`.
 */
import type { NormalizedAdjacency } from '../../src/data/graph.js';
import type { PairBatch } from '../../src/data/sampler.js';
import { xavierUniform } from '../../src/nn/init.js';
import type { ParamStore } from '../../src/nn/params.js';
import { makeOutput, type Backbone, type BackboneOutput, type TrainForward } from '../../src/models/backbones/types.js';
import { defineBackbone, everySection } from '../../src/models/descriptor.js';
import { scale } from '../../src/tensor/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import type { RandomSource, Rng } from '../../src/util/rng.js';

class ToyBackbone implements Backbone {
  readonly kind = 'toy';
  /** One "layer": E and gain * E (IRLLRec aggregates interaction intents from the layers before the last). */
  readonly layerNum = 1;
  private table!: Tensor;

  constructor(readonly adj: NormalizedAdjacency, readonly dim: number, private readonly gain: number) {}

  register(params: ParamStore, rng: Rng): void {
    this.table = params.add('embeds', xavierUniform([this.adj.n, this.dim], rng));
  }

  inputEmbeddings(): Tensor {
    return this.table;
  }

  private encode(input: Tensor): BackboneOutput {
    const all = scale(input, this.gain);
    return makeOutput(all, this.adj.numUsers, [input, all], this.adj.csr);
  }

  forwardTrain(_rnd: RandomSource, input: Tensor, _batch: PairBatch): TrainForward {
    const main = this.encode(input);
    return { main, intent: main, terms: [] };
  }

  forwardEval(): BackboneOutput {
    return this.encode(this.table);
  }
}

export const TOY = defineBackbone({
  name: 'toy',
  keys: { toy_gain: { kind: 'positive', max: 10 } },
  defaults: everySection({ layer_num: 1, reg_weight: 1e-6, toy_gain: 1 }),
  create: ({ adj, model: m }) => new ToyBackbone(adj, m.embedding_size, m.toy_gain),
});
