/**
 * BIGCF (Zhang et al., SIGIR 2024) as the official code runs it: LightGCN-style propagation on
 * Â (sum of layers) gives E; bilateral intents ê = softmax(E C) C^T; reparameterisation
 * E' = E + ê * eps (eps ~ N(0, 1), drawn on EVERY forward, evaluation included: the reference's
 * scores are stochastic; `evalNoise: false` gives deterministic scoring with E). Loss: mean
 * softplus BPR (named mf_loss) on E'; cl_loss = cl_weight * five ssl_con terms over the batch
 * rows (duplicates kept) of normalised E' and ê (users-users, items-items, users-items, user
 * intents, item intents); cen_loss = cen_weight * (||C_U||^2 + ||C_I||^2).
 * IRLLRec (bigcf_int) uses BIGCF's prototypes and aggregates E^(l+1) with weights from E^(l).
 */
import type { NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import { linearBias, linearWeight } from '../../nn/init.js';
import type { ParamStore } from '../../nn/params.js';
import {
  addN, concatRows, gatherRows, l2NormalizeRows, mul, scale, spmm, sslConLoss, sumScalars, sumSquares,
} from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import { intentVectors } from '../intent-vectors.js';
import { CL_KEYS, defineBackbone, FLAG, INTENT_NUM, WEIGHT } from '../descriptor.js';
import { IntentBackbone } from './base.js';
import { makeOutput, type Backbone, type BackboneOutput, type TrainForward } from './types.js';

export interface BIGCFConfig {
  embeddingSize: number;
  layerNum: number;
  intentNum: number;
  clWeight: number;
  clTemperature: number;
  cenWeight: number;
  /** Draw reparameterisation noise when scoring too (the reference's behaviour). */
  evalNoise: boolean;
  /** Register the unused logit_scale / itm_head / itm_mlp parameters of the reference's bigcf_int (they enter only the L2 term). */
  referenceItmParams?: boolean;
}

export class BIGCFBackbone extends IntentBackbone<BIGCFConfig> implements Backbone {
  readonly kind = 'bigcf';
  readonly rankLossName = 'mf_loss';
  readonly intentAggregatesNext = true;
  readonly intentsFromFinal = true;

  get stochasticScoring(): boolean {
    return this.cfg.evalNoise;
  }

  register(params: ParamStore, rng: Rng): void {
    const d = this.cfg.embeddingSize;
    this.registerTables(params, rng, 'user_embedding.weight', 'item_embedding.weight');
    if (this.cfg.referenceItmParams) {
      params.add('logit_scale', new Tensor(Float32Array.of(Math.log(1 / 0.07)), []));
      params.add('itm_head.weight', linearWeight(2, d, rng));
      params.add('itm_head.bias', linearBias(2, d, rng));
      params.add('itm_mlp.weight', linearWeight(d, 2 * d, rng));
      params.add('itm_mlp.bias', linearBias(d, 2 * d, rng));
    }
  }

  inputEmbeddings(): Tensor {
    return concatRows([this.userEmbeds, this.itemEmbeds]);
  }

  private forward(input: Tensor, rnd: RandomSource | null): { out: BackboneOutput; ehat: Tensor } {
    const U = this.adj.numUsers;
    const layers = [input];
    for (let l = 0; l < this.cfg.layerNum; l++) layers.push(spmm(this.adj.csr, layers[l]!));
    const e = addN(layers);
    const ehat = intentVectors(e, U, this.prototypes.user, this.prototypes.item);
    const all = rnd ? addN([e, mul(ehat, new Tensor(rnd.randn(e.size), e.shape))]) : e;
    return { out: makeOutput(all, U, layers, this.adj.csr), ehat };
  }

  private clLoss(all: Tensor, ehat: Tensor, batch: PairBatch): Tensor {
    const U = this.adj.numUsers;
    const items = batch.poss.map((i) => i + U);
    const t = this.cfg.clTemperature;
    const u = l2NormalizeRows(gatherRows(all, batch.ancs));
    const i = l2NormalizeRows(gatherRows(all, items));
    const ui = l2NormalizeRows(gatherRows(ehat, batch.ancs));
    const ii = l2NormalizeRows(gatherRows(ehat, items));
    const terms = [sslConLoss(u, u, t), sslConLoss(i, i, t), sslConLoss(u, i, t), sslConLoss(ui, ui, t), sslConLoss(ii, ii, t)];
    return scale(sumScalars(terms), this.cfg.clWeight);
  }

  forwardTrain(rnd: RandomSource, input: Tensor, batch: PairBatch): TrainForward {
    const { out, ehat } = this.forward(input, rnd);
    const terms: [string, Tensor][] = [];
    if (this.cfg.clWeight !== 0) terms.push(['cl_loss', this.clLoss(out.all, ehat, batch)]);
    terms.push(['cen_loss', scale(sumScalars([sumSquares(this.prototypes.user), sumSquares(this.prototypes.item)]), this.cfg.cenWeight)]);
    return { main: out, intent: out, terms };
  }

  forwardEval(rnd?: RandomSource): BackboneOutput {
    return this.forward(this.inputEmbeddings(), this.cfg.evalNoise ? (rnd ?? null) : null).out;
  }
}

/** Noise at evaluation by default, as in the reference. */
const bigcfRow = (cl_weight: number) => ({
  layer_num: 3, reg_weight: 1e-5, cl_weight, cl_temperature: 0.2, intent_num: 128, cen_weight: 1e-5, eval_noise: true,
});

export const BIGCF = defineBackbone({
  name: 'bigcf',
  keys: { ...CL_KEYS, intent_num: INTENT_NUM, cen_weight: WEIGHT, eval_noise: FLAG },
  defaults: { amazon: bigcfRow(0.05), yelp: bigcfRow(0.05), movie: bigcfRow(0.02) },
  create: ({ adj, model: m, align }) => new BIGCFBackbone(adj, {
    embeddingSize: m.embedding_size, layerNum: m.layer_num, intentNum: m.intent_num, clWeight: m.cl_weight,
    clTemperature: m.cl_temperature, cenWeight: m.cen_weight, evalNoise: m.eval_noise,
    // the reference's bigcf_int registers IRLLRec's ITM head on the model (unused; it enters the L2 term)
    referenceItmParams: align === 'irllrec',
  }),
});
