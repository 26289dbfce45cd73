/**
 * RLMRec-Gen (Ren et al., WWW 2024): a random fraction of all nodes has its layer-0 embedding
 * replaced by a learnable mask token; an MLP reconstructs the masked nodes' profile vectors from
 * their final embeddings (recon_loss, the reference's ssl_con_loss over the masked set).
 */
import { MLP } from '../../nn/mlp.js';
import type { ParamStore } from '../../nn/params.js';
import { gatherRows, leakyRelu, linear, maskRows, scale, sslConLoss } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import { allocUninit } from '../../tensor/arena.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import { gatherText, type TextMatrix } from '../../data/text-rows.js';
import type { AlignContext, Alignment, TrainingText } from './types.js';
import type { Backbone } from '../backbones/types.js';
import type { TextTowers } from '../types.js';
import { defineAlignment, lightgcnFallback, PROBABILITY, TEMPERATURE, WEIGHT } from '../descriptor.js';

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
  private readonly usr: TextMatrix;
  private readonly itm: TextMatrix;
  private seeds: Int32Array | null = null;

  constructor(text: TrainingText, readonly cfg: MaskedReconstructionConfig) {
    if (!text.usrPrf || !text.itmPrf) throw new Error('rlmrec-gen needs user and item profile vectors');
    this.usr = text.usrPrf;
    this.itm = text.itmPrf;
  }

  /** Profile row of node id (users, then items) into out at row i, without concatenating the two tables. */
  private prfRowInto(node: number, out: Float32Array, i: number): void {
    const U = this.usr.rows;
    const one = Int32Array.of(node < U ? node : node - U);
    gatherText(node < U ? this.usr : this.itm, one, out.subarray(i * this.usr.cols, (i + 1) * this.usr.cols));
  }

  register(params: ParamStore, rng: Rng, _backbone?: Backbone): void {
    const d = this.cfg.embeddingSize;
    const dp = this.usr.cols;
    this.maskToken = params.add('masker.mask_token', Tensor.zeros([1, d]));
    this.mlp = new MLP(params, 'mlp', [d, MLP.hidden(dp, d), dp], rng);
  }

  /** Scalable mode's bound on the masked nodes (the reconstruction contrasts them pairwise). */
  private sampleSize: number | null = null;

  private drawSeeds(n: number, rnd: RandomSource): Int32Array {
    const m = Math.max(Math.floor(n * this.cfg.maskRatio), 1);
    return rnd.choice(n, this.sampleSize === null ? m : Math.min(m, this.sampleSize));
  }

  /**
   * Masks max(floor(N * ratio), 1) distinct nodes (drawn like np.random.choice); scalable mode masks
   * at most `sampleSize` of them.
   */
  transformInput(input: Tensor, rnd: RandomSource, sampleSize: number | null = null): Tensor {
    this.sampleSize = sampleSize;
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
    // the MLP's last hidden layer goes to the loss too: its scores re-associate through it
    const hidden = leakyRelu(this.mlp.pre(gatherRows(ctx.out.all, seeds)), 0.01);
    const enc = linear(hidden, this.mlp.w2, this.mlp.b2);
    const dp = this.usr.cols;
    // a recycled step buffer: a fresh 18 MB array per batch costs more than filling it
    const target = new Tensor(allocUninit(seeds.length * dp), [seeds.length, dp]);
    for (let i = 0; i < seeds.length; i++) this.prfRowInto(seeds[i]!, target.data, i);
    const factors = { hidden: hidden.data, weight: this.mlp.w2.data, bias: this.mlp.b2.data, h: hidden.cols };
    return [['recon_loss', scale(sslConLoss(enc, target, this.cfg.reTemperature, factors), this.cfg.reconWeight)]];
  }

  textTowers(): TextTowers {
    return { recon: this.mlp };
  }
}

const KEYS = {
  mask_ratio: PROBABILITY,
  recon_weight: { ...WEIGHT, search: { log: [1e-3, 0.3] } },
  re_temperature: TEMPERATURE,
} as const;

const gen = (mask_ratio: number, recon_weight: number, re_temperature: number) => ({ mask_ratio, recon_weight, re_temperature });

/** The official `<backbone>_gene` values (rows laid over the backbone's). */
const OFFICIAL = {
  lightgcn: {
    amazon: { layer_num: 2, reg_weight: 1e-7, ...gen(0.15, 0.1, 0.5) },
    yelp: { layer_num: 2, reg_weight: 1e-7, ...gen(0.05, 0.01, 0.1) },
    movie: gen(0.15, 0.05, 0.2),
  },
  sgl: {
    amazon: gen(0.2, 0.1, 0.2),
    yelp: { reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, ...gen(0.15, 0.1, 0.2) },
    movie: { cl_temperature: 0.2, ...gen(0.2, 0.05, 0.2) },
  },
  simgcl: { amazon: gen(0.05, 0.1, 0.2), yelp: gen(0.01, 0.01, 0.05), movie: gen(0.6, 0.01, 0.2) },
  dccf: { amazon: gen(0.05, 0.1, 0.2), yelp: gen(0.05, 0.01, 0.1), movie: gen(0.1, 0.01, 0.2) },
  bigcf: { amazon: gen(0.6, 0.02, 0.1), yelp: gen(0.2, 0.05, 0.1), movie: gen(0.2, 0.01, 0.5) },
};

export const RLMREC_GEN = defineAlignment({
  name: 'rlmrec-gen',
  suffix: '_gene',
  keys: KEYS,
  defaults: lightgcnFallback(OFFICIAL, KEYS),
  text: ['usrPrf', 'itmPrf'],
  create: ({ text, model: m, backbone }) => new MaskedReconstruction(text, {
    maskRatio: m.mask_ratio, reconWeight: m.recon_weight, reTemperature: m.re_temperature, embeddingSize: m.embedding_size,
    maskInput: backbone !== 'bigcf', // the reference's BIGCF_gene draws its mask after the forward and discards it
  }),
});
