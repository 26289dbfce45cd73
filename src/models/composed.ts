/**
 * A model is a composition backbone x alignment plug-ins: the backbone's forward, BPR on its final
 * embeddings, the L2 term reg_weight * sum ||W||^2 over every parameter (plug-ins' and the
 * momentum teacher's included, as the reference's reg_params does), then each plug-in's terms.
 */
import { negCountOf, type PairBatch } from '../data/sampler.js';
import { ParamStore } from '../nn/params.js';
import { bprLoss, gatherRows, scale, sumScalars, sumSquares } from '../tensor/ops/index.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import type { RandomSource, Rng } from '../util/rng.js';
import type { Alignment } from './alignment/types.js';
import type { Backbone } from './backbones/types.js';
import type { IntentPrototypes, LossResult, RecModel, ScoringEmbeddings, ServableModel, TextTowers } from './types.js';

export class ComposedModel implements RecModel, ServableModel {
  readonly params = new ParamStore();
  /**
   * Scalable mode (null: reference): the backbone's contrastive terms and the alignments see a
   * random sample of at most this many of the batch's triples, and the alignments contrast within
   * the sample's users and items instead of against every user or node (docs/models.md).
   */
  sampleSize: number | null = null;
  /** Scalable mode: neighbours per node for the sample's interaction intents (null: every edge). */
  intentFanout: number | null = null;
  /** Scalable mode: users the user-side contrast uses as negatives (null: the batch's users only). */
  userPool: number | null = null;
  /** Scalable mode: TA/ITM on uniformly drawn nodes instead of the sample's. */
  taUniform = false;

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
    for (const a of this.alignments) if (a.transformInput) input = a.transformInput(input, rnd, this.sampleSize);
    const scalable = this.sampleSize !== null;
    const sample = scalable && batch.ancs.length > this.sampleSize! ? sampleBatch(batch, this.sampleSize!, rnd) : batch;
    const fwd = this.backbone.forwardTrain(rnd, input, sample);
    const out = fwd.main;
    // pick rows straight from the full table (items follow the users), no user/item split copies
    const U = this.backbone.adj.numUsers;
    const pick = (b: PairBatch) => ({
      anc: gatherRows(out.all, b.ancs), pos: gatherRows(out.all, b.poss.map((i) => i + U)), neg: gatherRows(out.all, b.negs.map((i) => i + U)),
    });
    // a backbone with its own ranking term (and maybe several negatives per triple) reads the batch itself
    const full = this.backbone.rankTerm ? null : pick(batch);
    const rank: [string, Tensor] = full
      ? [this.backbone.rankLossName ?? 'bpr_loss', bprLoss(full.anc, full.pos, full.neg)]
      : this.backbone.rankTerm!(out, batch);
    const terms: [string, Tensor][] = [
      rank,
      ['reg_loss', regLoss(this.params, this.regWeight)],
      ...fwd.terms,
    ];
    const s = sample === batch && full ? full : pick(sample);
    for (const a of this.alignments) {
      terms.push(...a.terms({ batch: sample, rnd, backbone: this.backbone, out, intentOut: fwd.intent, intents: fwd.intents, ...s, scalable, intentFanout: this.intentFanout, userPool: this.userPool, taUniform: this.taUniform }));
    }
    const total = sumScalars(terms.map(([, t]) => t));
    const parts: Record<string, number> = {};
    for (const [k, t] of terms) parts[k] = t.item();
    return { total, parts };
  }

  get negativesPerTriple(): number {
    return this.backbone.negativesPerTriple ?? 1;
  }

  get stochasticScoring(): boolean {
    return this.backbone.stochasticScoring ?? false;
  }

  textTowers(): TextTowers | null {
    let towers: TextTowers | null = null;
    for (const a of this.alignments) towers = a.textTowers?.() ?? towers;
    return towers;
  }

  intentPrototypes(): IntentPrototypes | null {
    for (const a of this.alignments) {
      const p = a.intentPrototypes?.();
      if (p) return p;
    }
    return this.backbone.prototypes ?? null;
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

/** Scalable mode: `size` of the batch's triples drawn without replacement, kept in batch order. */
export function sampleBatch(batch: PairBatch, size: number, rnd: RandomSource): PairBatch {
  const pick = rnd.choice(batch.ancs.length, size).sort();
  const take = (a: Int32Array) => Int32Array.from(pick, (p) => a[p]!);
  // k negatives per triple are stored row-major (negs[p*k .. p*k+k-1]): keep each picked triple's row
  const k = negCountOf(batch);
  if (k === 1) return { ancs: take(batch.ancs), poss: take(batch.poss), negs: take(batch.negs) };
  const negs = Int32Array.from({ length: pick.length * k }, (_, q) => batch.negs[pick[Math.floor(q / k)]! * k + (q % k)]!);
  return { ancs: take(batch.ancs), poss: take(batch.poss), negs, negCount: k };
}
