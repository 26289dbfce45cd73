/**
 * DCCF (Ren et al., SIGIR 2023) as the official code runs it. Per layer l, with E = E^(l):
 *   g = Â E;  ê = softmax(E C) C^T (user and item prototypes);
 *   gaa = G(g) E and iaa = G(ê) E, with G(v) the row-normalised (1 + cos(v_h, v_t)) / 2 edge weights;
 *   E^(l+1) = g + ê + gaa + iaa + E.
 * Final embeddings: sum over layers. cl_loss: per layer, six InfoNCE terms (g vs ê, g vs gaa, g vs
 * iaa, for the unique batch users and the unique positive items, in-set negatives), each divided
 * by the number of unique USERS (a reference quirk), times cl_weight. IRLLRec's interaction
 * intents are the layer mean of iaa; IRLLRec uses DCCF's prototypes.
 */
import { edgeListOf, type NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import type { ParamStore } from '../../nn/params.js';
import {
  addN, concatRows, gatherRows, infoNCE, intentEdgeWeights, scale, spmm, spmmValues,
  sumScalars, type EdgeList,
} from '../../tensor/ops/index.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import { intentVectors } from '../intent-vectors.js';
import { CL_KEYS, defineBackbone, INTENT_NUM } from '../descriptor.js';
import { IntentBackbone } from './base.js';
import { makeOutput, type Backbone, type BackboneOutput, type TrainForward } from './types.js';

export interface DCCFConfig {
  embeddingSize: number;
  layerNum: number;
  intentNum: number;
  clWeight: number;
  clTemperature: number;
}

interface DCCFLayers {
  out: BackboneOutput;
  gnn: Tensor[];
  int: Tensor[];
  gaa: Tensor[];
  iaa: Tensor[];
}

/** The sorted unique values (torch.unique). */
export function sortedUnique(a: Int32Array): Int32Array {
  return Int32Array.from(new Set(a)).sort();
}

export class DCCFBackbone extends IntentBackbone<DCCFConfig> implements Backbone {
  readonly kind = 'dccf';
  private readonly edges: EdgeList;

  constructor(adj: NormalizedAdjacency, cfg: DCCFConfig) {
    super(adj, cfg);
    this.edges = edgeListOf(adj);
  }

  register(params: ParamStore, rng: Rng): void {
    this.registerTables(params, rng, 'user_embeds.weight', 'item_embeds.weight');
  }

  inputEmbeddings(): Tensor {
    return concatRows([this.userEmbeds, this.itemEmbeds]);
  }

  private layers(input: Tensor): DCCFLayers {
    const U = this.adj.numUsers;
    const layers = [input];
    const r: DCCFLayers = { out: undefined as unknown as BackboneOutput, gnn: [], int: [], gaa: [], iaa: [] };
    for (let l = 0; l < this.cfg.layerNum; l++) {
      const e = layers[l]!;
      const g = spmm(this.adj.csr, e);
      const ehat = intentVectors(e, U, this.prototypes.user, this.prototypes.item);
      const gaa = spmmValues(this.edges, intentEdgeWeights(g, this.edges), e);
      const iaa = spmmValues(this.edges, intentEdgeWeights(ehat, this.edges), e);
      r.gnn.push(g);
      r.int.push(ehat);
      r.gaa.push(gaa);
      r.iaa.push(iaa);
      layers.push(addN([g, ehat, gaa, iaa, e]));
    }
    const all = addN(layers);
    r.out = makeOutput(all, U, layers, this.adj.csr);
    return r;
  }

  private clLoss(r: DCCFLayers, batch: PairBatch): Tensor {
    const U = this.adj.numUsers;
    const users = sortedUnique(batch.ancs);
    const items = sortedUnique(batch.poss).map((i) => i + U);
    const t = this.cfg.clTemperature;
    const terms: Tensor[] = [];
    for (let l = 0; l < r.gnn.length; l++) {
      for (const ids of [users, items]) {
        const g = gatherRows(r.gnn[l]!, ids);
        for (const other of [r.int[l]!, r.gaa[l]!, r.iaa[l]!]) {
          const o = gatherRows(other, ids);
          terms.push(infoNCE(g, o, o, t));
        }
      }
    }
    return scale(sumScalars(terms), this.cfg.clWeight / users.length);
  }

  forwardTrain(_rnd: RandomSource, input: Tensor, batch: PairBatch): TrainForward {
    const r = this.layers(input);
    const terms: [string, Tensor][] = this.cfg.clWeight === 0 ? [] : [['cl_loss', this.clLoss(r, batch)]];
    const intents = scale(addN(r.iaa), 1 / r.iaa.length);
    return { main: r.out, intent: r.out, terms, intents };
  }

  forwardEval(): BackboneOutput {
    return this.layers(this.inputEmbeddings()).out;
  }
}

export const DCCF = defineBackbone({
  name: 'dccf',
  keys: { ...CL_KEYS, intent_num: INTENT_NUM },
  defaults: {
    amazon: { layer_num: 2, reg_weight: 1e-4, cl_weight: 1e-3, cl_temperature: 0.1, intent_num: 128 },
    yelp: { layer_num: 2, reg_weight: 1e-4, cl_weight: 1e-3, cl_temperature: 0.1, intent_num: 128 },
    movie: { layer_num: 3, reg_weight: 1e-3, cl_weight: 1e-3, cl_temperature: 0.1, intent_num: 128 },
  },
  create: ({ adj, model: m }) => new DCCFBackbone(adj, {
    embeddingSize: m.embedding_size, layerNum: m.layer_num, intentNum: m.intent_num, clWeight: m.cl_weight, clTemperature: m.cl_temperature,
  }),
});
