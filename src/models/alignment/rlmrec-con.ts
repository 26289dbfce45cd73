/**
 * RLMRec-Con (Ren et al., WWW 2024): a profile MLP maps each user's and item's LLM profile
 * vector into the embedding space, and an InfoNCE term (kd_loss) aligns it with the backbone's
 * final embeddings: anchors against all users' profiles, positives/negatives in batch.
 */
import { MLP } from '../../nn/mlp.js';
import type { ParamStore } from '../../nn/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../util/rng.js';
import type { TextMatrix } from '../../data/text-rows.js';
import type { AlignContext, Alignment, TrainingText } from './types.js';
import type { Backbone } from '../backbones/types.js';
import type { TextTowers } from '../types.js';
import { defineAlignment, lightgcnFallback, TEMPERATURE, WEIGHT } from '../descriptor.js';
import { pairwiseAlignment, towerRows, userPool, ZERO } from './common.js';

export interface ProfileContrastConfig {
  kdWeight: number;
  kdTemperature: number;
  embeddingSize: number;
}

export class ProfileContrast implements Alignment {
  readonly kind = 'rlmrec-con';
  mlp!: MLP;
  private readonly usr: TextMatrix;
  private readonly itm: TextMatrix;

  constructor(text: TrainingText, readonly cfg: ProfileContrastConfig) {
    if (!text.usrPrf || !text.itmPrf) throw new Error('rlmrec-con needs user and item profile vectors');
    this.usr = text.usrPrf;
    this.itm = text.itmPrf;
  }

  register(params: ParamStore, rng: Rng, _backbone?: Backbone): void {
    const din = this.usr.cols;
    const d = this.cfg.embeddingSize;
    this.mlp = new MLP(params, 'mlp', [din, MLP.hidden(din, d), d], rng);
  }

  terms(ctx: AlignContext): [string, Tensor][] {
    if (this.cfg.kdWeight === 0) return [['kd_loss', ZERO()]];
    const pool = ctx.scalable ? userPool(ctx.batch.ancs, this.usr.rows, ctx.userPool ?? null, ctx.rnd) : null;
    const tower = towerRows(this.mlp, this.usr, this.itm, ctx.batch, false, pool);
    return [['kd_loss', pairwiseAlignment(ctx.anc, ctx.pos, ctx.neg, tower, ctx.batch, this.cfg.kdTemperature, this.cfg.kdWeight)]];
  }

  textTowers(): TextTowers {
    return { profile: this.mlp };
  }
}

/** The profile contrast's keys (IRLLRec keeps the term, with the same keys). */
export const PROFILE_KEYS = {
  kd_weight: { ...WEIGHT, search: { log: [1e-3, 0.1] } },
  kd_temperature: TEMPERATURE,
} as const;

const kd = (kd_weight: number, kd_temperature: number) => ({ kd_weight, kd_temperature });

/** The official `<backbone>_plus` values (rows laid over the backbone's; SGL's yelp section keeps its amazon cl values). */
const OFFICIAL = {
  lightgcn: { amazon: { reg_weight: 1e-7, ...kd(1e-2, 0.2) }, yelp: { reg_weight: 1e-7, ...kd(1e-2, 0.2) }, movie: kd(1e-3, 0.2) },
  sgl: { amazon: kd(1e-2, 0.5), yelp: { reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, ...kd(1e-2, 1.0) }, movie: kd(1e-2, 0.5) },
  simgcl: { amazon: kd(1e-2, 0.2), yelp: kd(1e-2, 0.1), movie: kd(1e-2, 0.2) },
  dccf: { amazon: kd(1e-2, 0.5), yelp: kd(1e-2, 0.2), movie: kd(1e-2, 0.1) },
  bigcf: { amazon: kd(1e-2, 0.2), yelp: { cl_weight: 0.04, ...kd(1e-2, 0.2) }, movie: kd(1e-2, 0.2) },
};

export const RLMREC_CON = defineAlignment({
  name: 'rlmrec-con',
  suffix: '_plus',
  keys: PROFILE_KEYS,
  defaults: lightgcnFallback(OFFICIAL, PROFILE_KEYS),
  text: ['usrPrf', 'itmPrf'],
  create: ({ text, model: m }) => new ProfileContrast(text, { kdWeight: m.kd_weight, kdTemperature: m.kd_temperature, embeddingSize: m.embedding_size }),
});
