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
}
