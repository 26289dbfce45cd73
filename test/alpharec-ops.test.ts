/**
 * AlphaRec's sampled-softmax loss (src/tensor/ops/alpharec-ops.ts): central finite differences of
 * its gradient, and its value against the official formula written out directly.
 */
import { describe, expect, it } from 'vitest';
import { sampledSoftmaxLoss } from '../src/tensor/ops/alpharec-ops.js';
import { l2NormalizeRows } from '../src/tensor/ops/index.js';
import { Tape, Tensor, withTape } from '../src/tensor/tensor.js';
import { Rng } from '../src/util/rng.js';

const rng = new Rng(11);

function randT(shape: number[]): Tensor {
  const t = Tensor.zeros(shape, true);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.float() * 2 - 1;
  return t;
}

/** The official formula: mean_b -log(exp(s/tau) / (exp(s/tau) + sum_j exp(t_j/tau))), in float64. */
function official(a: Tensor, p: Tensor, n: Tensor, tau: number): number {
  const B = a.rows;
  const d = a.cols;
  const k = n.rows / B;
  const dot = (x: Float32Array, i: number, y: Float32Array, j: number) => {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[i * d + c]! * y[j * d + c]!;
    return s;
  };
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const num = Math.exp(dot(a.data, b, p.data, b) / tau);
    let den = num;
    for (let j = 0; j < k; j++) den += Math.exp(dot(a.data, b, n.data, b * k + j) / tau);
    loss += -Math.log(num / den);
  }
  return loss / B;
}

function gradCheck(inputs: Tensor[], f: () => Tensor, h = 1e-3, tol = 2e-3): number {
  for (const x of inputs) x.grad = null;
  const tape = new Tape();
  const out = withTape(tape, f);
  tape.backward(out);
  let checked = 0;
  for (const [k, x] of inputs.entries()) {
    const g = x.grad ?? new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const old = x.data[i]!;
      x.data[i] = old + h;
      const fp = f().item();
      x.data[i] = old - h;
      const fm = f().item();
      x.data[i] = old;
      const num = (fp - fm) / (2 * h);
      expect(Math.abs(num - g[i]!) / Math.max(1, Math.abs(num)), `input ${k} element ${i}: analytic ${g[i]} vs numeric ${num}`).toBeLessThan(tol);
      checked++;
    }
  }
  return checked;
}

describe('sampledSoftmaxLoss (AlphaRec ssm_loss)', () => {
  for (const k of [1, 4]) {
    it(`matches the official formula and its finite differences (k = ${k})`, () => {
      const B = 5;
      const d = 6;
      for (const tau of [0.15, 1]) {
        const a = randT([B, d]);
        const p = randT([B, d]);
        const n = randT([B * k, d]);
        expect(sampledSoftmaxLoss(a, p, n, tau).item()).toBeCloseTo(official(a, p, n, tau), 5);
        // through the row normalisation, as the model uses it (cosine similarities)
        const f = () => sampledSoftmaxLoss(l2NormalizeRows(a), l2NormalizeRows(p), l2NormalizeRows(n), tau);
        expect(gradCheck([a, p, n], f)).toBe((2 * B + B * k) * d);
        // on raw inputs too (larger logits)
        expect(gradCheck([a, p, n], () => sampledSoftmaxLoss(a, p, n, tau))).toBe((2 * B + B * k) * d);
      }
    });
  }

  it('computes gradients only for the inputs that require them', () => {
    const a = randT([2, 3]);
    const p = randT([2, 3]);
    const n = new Tensor(Float32Array.from(randT([4, 3]).data), [4, 3], false);
    const tape = new Tape();
    const out = withTape(tape, () => sampledSoftmaxLoss(a, p, n, 0.5));
    tape.backward(out);
    expect(a.grad).not.toBeNull();
    expect(p.grad).not.toBeNull();
    expect(n.grad).toBeNull();
  });

  it('stays finite where the reference would overflow, and refuses bad shapes', () => {
    const one = () => new Tensor(Float32Array.of(1, 0), [1, 2], true);
    const v = sampledSoftmaxLoss(one(), one(), new Tensor(Float32Array.of(1, 0, 0, 1), [2, 2]), 0.001).item();
    expect(v).toBeCloseTo(Math.log(2), 6);
    expect(() => sampledSoftmaxLoss(randT([2, 3]), randT([2, 3]), randT([3, 3]), 0.1)).toThrow(/k >= 1/);
    expect(() => sampledSoftmaxLoss(randT([2, 3]), randT([2, 4]), randT([2, 3]), 0.1)).toThrow(/do not fit/);
    expect(() => sampledSoftmaxLoss(randT([2, 3]), randT([2, 3]), randT([2, 3]), 0)).toThrow(/tau/);
  });
});
