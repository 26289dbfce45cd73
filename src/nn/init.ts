/** Parameter initialisation (PyTorch's conventions: fan_in = shape[1], fan_out = shape[0]). */
import { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../util/rng.js';

/** xavier_uniform_: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform(shape: readonly [number, number], rng: Rng, name?: string, gain = 1): Tensor {
  const [fanOut, fanIn] = shape;
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  const t = Tensor.zeros(shape, true, name);
  for (let i = 0; i < t.size; i++) t.data[i] = (rng.float() * 2 - 1) * bound;
  return t;
}

/** nn.Linear's default bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function linearBias(out: number, fanIn: number, rng: Rng, name?: string): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const t = Tensor.zeros([out], true, name);
  for (let i = 0; i < out; i++) t.data[i] = (rng.float() * 2 - 1) * bound;
  return t;
}

/** nn.Linear's default weight init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform, a = sqrt(5)). */
export function linearWeight(out: number, fanIn: number, rng: Rng, name?: string): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const t = Tensor.zeros([out, fanIn], true, name);
  for (let i = 0; i < t.size; i++) t.data[i] = (rng.float() * 2 - 1) * bound;
  return t;
}
