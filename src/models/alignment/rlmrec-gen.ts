/**
 * RLMRec-Gen (Ren et al., WWW 2024): a random fraction of all nodes has its layer-0 embedding
 * replaced by a learnable mask token; an MLP reconstructs the masked nodes' profile vectors from
 * their final embeddings (recon_loss, the reference's ssl_con_loss over the masked set).
 */
import { MLP } from '../../nn/mlp.js';
import type { ParamStore } from '../../nn/params.js';
import { gatherRows, maskRows, scale, sslConLoss } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import type { AlignContext, Alignment, TextVectors } from './types.js';
import type { Backbone } from '../backbones/types.js';

export interface MaskedReconstructionConfig {
  maskRatio: number;
  reconWeight: number;
  reTemperature: number;
  embeddingSize: number;
  /**
   * Mask the layer-0 input before the forward (true). BIGCF_gene's reference draws the mask only
   * after the forward and discards it, so the seeds merely pick the nodes to reconstruct (false).
   */
  maskInput?: boolean;
}

export class MaskedReconstruction implements Alignment {
  readonly kind = 'rlmrec-gen';
  maskToken!: Tensor;
  mlp!: MLP;
  private readonly prf: Tensor;
  private seeds: Int32Array | null = null;

  constructor(text: TextVectors, readonly cfg: MaskedReconstructionConfig) {
    if (!text.usrPrf || !text.itmPrf) throw new Error('rlmrec-gen needs user and item profile vectors');
    const dp = text.usrPrf.cols;
    const data = new Float32Array((text.usrPrf.rows + text.itmPrf.rows) * dp);
    data.set(text.usrPrf.data, 0);
    data.set(text.itmPrf.data, text.usrPrf.size);
    this.prf = new Tensor(data, [text.usrPrf.rows + text.itmPrf.rows, dp]);
  }

  register(params: ParamStore, rng: Rng, _backbone?: Backbone): void {
    const d = this.cfg.embeddingSize;
    const dp = this.prf.cols;
    this.maskToken = params.add('masker.mask_token', Tensor.zeros([1, d]));
    this.mlp = new MLP(params, 'mlp', [d, MLP.hidden(dp, d), dp], rng);
  }

  private drawSeeds(n: number, rnd: RandomSource): Int32Array {
    return rnd.choice(n, Math.max(Math.floor(n * this.cfg.maskRatio), 1));
  }

  /** Masks max(floor(N * ratio), 1) distinct nodes (drawn like np.random.choice). */
  transformInput(input: Tensor, rnd: RandomSource): Tensor {
    if (this.cfg.maskInput === false) return input;
    this.seeds = this.drawSeeds(input.rows, rnd);
    return maskRows(input, this.seeds, this.maskToken);
  }

  terms(ctx: AlignContext): [string, Tensor][] {
    if (this.cfg.maskInput === false) this.seeds = this.drawSeeds(ctx.out.all.rows, ctx.rnd);
    const seeds = this.seeds;
    if (!seeds) throw new Error('rlmrec-gen: terms() before transformInput()');
    this.seeds = null;
    if (this.cfg.reconWeight === 0) return [['recon_loss', new Tensor(Float32Array.of(0), [])]];
    const enc = this.mlp.forward(gatherRows(ctx.out.all, seeds));
    const target = new Tensor(new Float32Array(seeds.length * this.prf.cols), [seeds.length, this.prf.cols]);
    for (let i = 0; i < seeds.length; i++) {
      target.data.set(this.prf.data.subarray(seeds[i]! * this.prf.cols, (seeds[i]! + 1) * this.prf.cols), i * this.prf.cols);
    }
    return [['recon_loss', scale(sslConLoss(enc, target, this.cfg.reTemperature), this.cfg.reconWeight)]];
  }
}
