/**
 * The text-tower MLP of RLMRec/IRLLRec: Linear(in -> hidden) -> LeakyReLU(0.01) -> Linear(hidden
 * -> out), parameters named like PyTorch's nn.Sequential (`<prefix>.0.weight`, `<prefix>.2.bias`)
 * so checkpoints and fixtures line up. Weights Xavier-uniform, biases nn.Linear's default.
 */
import { leakyRelu, linear } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../util/rng.js';
import { linearBias, xavierUniform } from './init.js';
import type { ParamStore } from './params.js';

export class MLP {
  readonly w0: Tensor;
  readonly b0: Tensor;
  readonly w2: Tensor;
  readonly b2: Tensor;

  constructor(params: ParamStore, readonly prefix: string, readonly dims: [number, number, number], rng: Rng, trainable = true) {
    const [din, hid, dout] = dims;
    this.w0 = params.add(`${prefix}.0.weight`, xavierUniform([hid, din], rng), trainable);
    this.b0 = params.add(`${prefix}.0.bias`, linearBias(hid, din, rng), trainable);
    this.w2 = params.add(`${prefix}.2.weight`, xavierUniform([dout, hid], rng), trainable);
    this.b2 = params.add(`${prefix}.2.bias`, linearBias(dout, hid, rng), trainable);
  }

  /** The hidden width the reference uses: (in + out) // 2. */
  static hidden(din: number, dout: number): number {
    return Math.floor((din + dout) / 2);
  }

  /** First layer's pre-activation (x W0^T + b0). */
  pre(x: Tensor): Tensor {
    return linear(x, this.w0, this.b0);
  }

  /** Output from a first-layer pre-activation. */
  head(pre: Tensor): Tensor {
    return linear(leakyRelu(pre, 0.01), this.w2, this.b2);
  }

  forward(x: Tensor): Tensor {
    return this.head(this.pre(x));
  }

  tensors(): Tensor[] {
    return [this.w0, this.b0, this.w2, this.b2];
  }
}
