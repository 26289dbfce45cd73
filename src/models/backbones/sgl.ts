/**
 * SGL (Wu et al., SIGIR 2021) with edge-drop augmentation, as the official code runs it: three
 * forwards per batch (two independently edge-dropped views, one on the full graph); BPR on the
 * full graph; cl_loss = cl_weight / B * [NCE(v1_anc, v2_anc, v2_users) + NCE(v1_pos, v2_pos,
 * v2_items) + NCE(v1_neg, v2_neg, v2_items)]. IRLLRec's interaction intents come from view 2.
 */
import type { NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import { gatherRows, infoNCE, scale, sumScalars } from '../../tensor/ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { RandomSource } from '../../util/rng.js';
import { LightGCNBackbone, type LightGCNConfig } from './lightgcn.js';
import type { BackboneOutput, TrainForward } from './types.js';
import { CL_KEYS, defineBackbone, PROBABILITY } from '../descriptor.js';

export interface ViewContrastConfig {
  clWeight: number;
  clTemperature: number;
}

/** cl_weight / B * sum of InfoNCE between two views (anchors vs all users, items vs all items). */
export function viewContrast(v1: BackboneOutput, v2: BackboneOutput, batch: PairBatch, cfg: ViewContrastConfig, negTerm: boolean): Tensor {
  const t = cfg.clTemperature;
  const terms = [
    infoNCE(gatherRows(v1.user, batch.ancs), gatherRows(v2.user, batch.ancs), v2.user, t),
    infoNCE(gatherRows(v1.item, batch.poss), gatherRows(v2.item, batch.poss), v2.item, t),
  ];
  if (negTerm) terms.push(infoNCE(gatherRows(v1.item, batch.negs), gatherRows(v2.item, batch.negs), v2.item, t));
  return scale(sumScalars(terms), cfg.clWeight / batch.ancs.length);
}

export class SGLBackbone extends LightGCNBackbone {
  override readonly kind = 'sgl';

  constructor(adj: NormalizedAdjacency, cfg: LightGCNConfig, readonly cl: ViewContrastConfig) {
    super(adj, cfg);
  }

  override forwardTrain(rnd: RandomSource, input: Tensor, batch: PairBatch): TrainForward {
    const v1 = this.propagate(this.trainingGraph(rnd), input);
    const v2 = this.propagate(this.trainingGraph(rnd), input);
    const main = this.propagate(this.adj.csr, input);
    const terms: [string, Tensor][] = this.cl.clWeight === 0 ? [] : [['cl_loss', viewContrast(v1, v2, batch, this.cl, true)]];
    return { main, intent: v2, terms };
  }
}

export const SGL = defineBackbone({
  name: 'sgl',
  keys: { ...CL_KEYS, keep_rate: PROBABILITY },
  defaults: {
    amazon: { layer_num: 3, reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, keep_rate: 0.8 },
    yelp: { layer_num: 3, reg_weight: 1e-6, cl_weight: 1e-3, cl_temperature: 0.1, keep_rate: 0.8 },
    movie: { layer_num: 3, reg_weight: 1e-6, cl_weight: 1e-2, cl_temperature: 0.1, keep_rate: 0.8 },
  },
  views: 3,
  create: ({ adj, model: m }) => new SGLBackbone(
    adj, { embeddingSize: m.embedding_size, layerNum: m.layer_num, keepRate: m.keep_rate }, { clWeight: m.cl_weight, clTemperature: m.cl_temperature },
  ),
});
