/**
 * LightGCN (He et al., SIGIR 2020) as the official IRLLRec code runs it: E = sum_{l=0..L} Â^l E0
 * (a sum, not a mean), edge dropout on Â during training (keep rate 0.8 by default, kept edges
 * keep their normalised weight), BPR with softplus summed then divided by the batch size, and an
 * L2 term reg_weight * sum ||W||_F^2 over every parameter.
 */
import { dropEdges, type NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import { xavierUniform } from '../../nn/init.js';
import { ParamStore } from '../../nn/params.js';
import {
  addN, concatRows, gatherRows, rowDot, scale, sliceRows, softplus, spmm, sub, sum, sumScalars, sumSquares,
  type CsrMatrix,
} from '../../tensor/ops/index.js';
import { noGrad, type Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import type { LossResult, RecModel, ScoringEmbeddings } from '../types.js';

export interface LightGCNConfig {
  embeddingSize: number;
  layerNum: number;
  regWeight: number;
  keepRate: number;
}

export class LightGCN implements RecModel {
  readonly name: string = 'lightgcn';
  readonly params = new ParamStore();
  readonly userEmbeds: Tensor;
  readonly itemEmbeds: Tensor;

  constructor(readonly adj: NormalizedAdjacency, readonly cfg: LightGCNConfig, rng: Rng) {
    const d = cfg.embeddingSize;
    this.userEmbeds = this.params.add('user_embeds', xavierUniform([adj.numUsers, d], rng));
    this.itemEmbeds = this.params.add('item_embeds', xavierUniform([adj.numItems, d], rng));
  }

  /** The propagation graph for one training forward: Â, or Â with edges dropped. */
  trainingGraph(rnd: RandomSource, keepRate = this.cfg.keepRate): CsrMatrix {
    if (keepRate === 1) return this.adj.csr;
    return dropEdges(this.adj, rnd.rand(this.adj.storageToCsr.length), keepRate);
  }

  /** Layer embeddings E^(0..L) over all nodes (users then items). */
  propagate(graph: CsrMatrix): Tensor[] {
    const layers = [concatRows([this.userEmbeds, this.itemEmbeds])];
    for (let l = 0; l < this.cfg.layerNum; l++) layers.push(spmm(graph, layers[l]!));
    return layers;
  }

  forward(graph: CsrMatrix): { user: Tensor; item: Tensor; all: Tensor } {
    const all = addN(this.propagate(graph));
    const U = this.adj.numUsers;
    return { all, user: sliceRows(all, 0, U), item: sliceRows(all, U, this.adj.n) };
  }

  calcLoss(batch: PairBatch, rnd: RandomSource): LossResult {
    const { user, item } = this.forward(this.trainingGraph(rnd));
    const anc = gatherRows(user, batch.ancs);
    const pos = gatherRows(item, batch.poss);
    const neg = gatherRows(item, batch.negs);
    const bpr = bprLoss(anc, pos, neg);
    const reg = regLoss(this.params, this.cfg.regWeight);
    const total = sumScalars([bpr, reg]);
    return { total, parts: { bpr_loss: bpr.item(), reg_loss: reg.item() } };
  }

  scoringEmbeddings(): ScoringEmbeddings {
    return noGrad(() => {
      const { user, item } = this.forward(this.adj.csr);
      return { user: user.data, item: item.data, dim: this.cfg.embeddingSize };
    });
  }
}

/** sum(softplus(neg - pos)) / batch, with pos/neg the anchor's dot products. */
export function bprLoss(anc: Tensor, pos: Tensor, neg: Tensor): Tensor {
  const diff = sub(rowDot(anc, neg), rowDot(anc, pos));
  return scale(sum(softplus(diff)), 1 / anc.rows);
}

/** reg_weight * sum over every parameter of ||W||_F^2 (the reference's reg_params). */
export function regLoss(params: ParamStore, weight: number): Tensor {
  return scale(sumScalars(params.all().map((p) => sumSquares(p))), weight);
}
