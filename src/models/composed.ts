/**
 * A model is a composition backbone x alignment plug-ins: the backbone's forward, BPR on its final
 * embeddings, the L2 term reg_weight * sum ||W||^2 over every parameter (plug-ins' and the
 * momentum teacher's included, as the reference's reg_params does), then each plug-in's terms.
 */
import type { PairBatch } from '../data/sampler.js';
import { ParamStore } from '../nn/params.js';
import { bprLoss, gatherRows, scale, sumScalars, sumSquares } from '../tensor/ops/index.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import type { RandomSource, Rng } from '../util/rng.js';
import type { Alignment } from './alignment/types.js';
import type { Backbone } from './backbones/types.js';
import type { LossResult, RecModel, ScoringEmbeddings } from './types.js';

export class ComposedModel implements RecModel {
  readonly params = new ParamStore();

  constructor(
    readonly name: string,
    readonly backbone: Backbone,
    readonly alignments: Alignment[],
    readonly regWeight: number,
    rng: Rng,
  ) {
    backbone.register(this.params, rng);
    for (const a of alignments) a.register(this.params, rng, backbone);
  }

  beginEpoch(): void {
    for (const a of this.alignments) a.beginEpoch?.();
  }

  calcLoss(batch: PairBatch, rnd: RandomSource): LossResult {
    let input = this.backbone.inputEmbeddings();
    for (const a of this.alignments) if (a.transformInput) input = a.transformInput(input, rnd);
    const fwd = this.backbone.forwardTrain(rnd, input, batch);
    const out = fwd.main;
    // pick rows straight from the full table (items follow the users), no user/item split copies
    const U = this.backbone.adj.numUsers;
    const anc = gatherRows(out.all, batch.ancs);
    const pos = gatherRows(out.all, batch.poss.map((i) => i + U));
    const neg = gatherRows(out.all, batch.negs.map((i) => i + U));
    const terms: [string, Tensor][] = [
      [this.backbone.rankLossName ?? 'bpr_loss', bprLoss(anc, pos, neg)],
      ['reg_loss', regLoss(this.params, this.regWeight)],
      ...fwd.terms,
    ];
    for (const a of this.alignments) terms.push(...a.terms({ batch, rnd, backbone: this.backbone, out, intentOut: fwd.intent, intents: fwd.intents, anc, pos, neg }));
    const total = sumScalars(terms.map(([, t]) => t));
    const parts: Record<string, number> = {};
    for (const [k, t] of terms) parts[k] = t.item();
    return { total, parts };
  }

  get stochasticScoring(): boolean {
    return this.backbone.stochasticScoring ?? false;
  }

  scoringEmbeddings(rnd?: RandomSource): ScoringEmbeddings {
    return noGrad(() => {
      const out = this.backbone.forwardEval(rnd);
      return { user: out.user.data, item: out.item.data, dim: this.backbone.dim };
    });
  }
}

/** reg_weight * sum over every parameter of ||W||_F^2 (the reference's reg_params). */
export function regLoss(params: ParamStore, weight: number): Tensor {
  return scale(sumScalars(params.all().map((p) => sumSquares(p))), weight);
}
