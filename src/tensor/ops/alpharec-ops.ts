/**
 * AlphaRec's training loss (the official `alpharec.py` `cal_loss`, "ssm_loss"): a sampled softmax
 * over one positive and k negatives per triple, on rows the caller has already L2-normalised.
 * Not exported from ./index.ts yet (src/tensor/ops/index.ts is a shared file); import it from here.
 */
import { getKernels } from '../../kernels/index.js';
import { Tensor, record } from '../tensor.js';

/**
 * mean_b -log( e^{s_b} / (e^{s_b} + sum_j e^{t_bj}) ), with s_b = anc_b . pos_b / tau and
 * t_bj = anc_b . neg_{b,j} / tau.
 *
 * - anc, pos: [B, d]; neg: [B * k, d], the k negatives of triple b in rows b*k .. b*k+k-1
 *   (the reference's neg_emb[B, k, d] flattened row-major); k = neg.rows / B >= 1.
 * - The reference computes the ratio numerator / denominator of exponentials in float32; here it
 *   is log-sum-exp in float64 (same value to rounding, and finite where the reference's exp would
 *   overflow, i.e. tau below about 1/88 on unit vectors).
 *
 * Gradient, with pi = softmax over (s_b, t_b1..t_bk) and c = g / (B tau):
 * d anc_b = c ((pi_0 - 1) pos_b + sum_j pi_j neg_bj), d pos_b = c (pi_0 - 1) anc_b,
 * d neg_bj = c pi_j anc_b.
 */
export function sampledSoftmaxLoss(anc: Tensor, pos: Tensor, neg: Tensor, tau: number): Tensor {
  const B = anc.rows;
  const d = anc.cols;
  if (anc.shape.length !== 2 || pos.shape.length !== 2 || neg.shape.length !== 2) {
    throw new RangeError(`sampledSoftmaxLoss: expected 2-D tensors, got [${anc.shape}], [${pos.shape}], [${neg.shape}]`);
  }
  if (pos.rows !== B || pos.cols !== d || neg.cols !== d) {
    throw new RangeError(`sampledSoftmaxLoss: shapes [${anc.shape}], [${pos.shape}], [${neg.shape}] do not fit`);
  }
  if (B === 0 || neg.rows === 0 || neg.rows % B !== 0) {
    throw new RangeError(`sampledSoftmaxLoss: ${neg.rows} negative rows for ${B} triples (need k >= 1 per triple)`);
  }
  if (!(tau > 0)) throw new RangeError(`sampledSoftmaxLoss: tau must be > 0, got ${tau}`);
  const k = neg.rows / B;
  const kern = getKernels();
  // logits[b, 0] = s_b, logits[b, 1 + j] = t_bj
  const w = k + 1;
  const dots = new Float32Array(B * w);
  const tmpP = new Float32Array(B);
  kern.rowDot(B, d, anc.data, pos.data, tmpP);
  const tmpN = new Float32Array(k);
  for (let b = 0; b < B; b++) {
    dots[b * w] = tmpP[b]!;
    // k rows of neg against the one anchor row (a [k x d] @ [d] product)
    kern.gemm(false, true, k, 1, d, 1, neg.data.subarray(b * k * d, (b + 1) * k * d), d, anc.data.subarray(b * d, (b + 1) * d), d, 0, tmpN, 1);
    for (let j = 0; j < k; j++) dots[b * w + 1 + j] = tmpN[j]!;
  }
  // pi (softmax of the logits per triple), kept for the backward
  const pi = new Float64Array(B * w);
  let total = 0;
  for (let b = 0; b < B; b++) {
    const o = b * w;
    let m = -Infinity;
    for (let j = 0; j < w; j++) m = Math.max(m, dots[o + j]! / tau);
    let z = 0;
    for (let j = 0; j < w; j++) {
      const e = Math.exp(dots[o + j]! / tau - m);
      pi[o + j] = e;
      z += e;
    }
    for (let j = 0; j < w; j++) pi[o + j]! /= z;
    total += m + Math.log(z) - dots[o]! / tau;
  }
  return record(new Tensor(Float32Array.of(total / B), []), [anc, pos, neg], (g) => {
    const c = g[0]! / (B * tau);
    const ga = anc.requiresGrad ? anc.gradBuffer() : null;
    const gp = pos.requiresGrad ? pos.gradBuffer() : null;
    const gn = neg.requiresGrad ? neg.gradBuffer() : null;
    for (let b = 0; b < B; b++) {
      const o = b * w;
      const cp = c * (pi[o]! - 1);
      const ab = b * d;
      if (ga) {
        for (let x = 0; x < d; x++) ga[ab + x]! += cp * pos.data[ab + x]!;
        for (let j = 0; j < k; j++) {
          const cn = c * pi[o + 1 + j]!;
          const nb = (b * k + j) * d;
          for (let x = 0; x < d; x++) ga[ab + x]! += cn * neg.data[nb + x]!;
        }
      }
      if (gp) for (let x = 0; x < d; x++) gp[ab + x]! += cp * anc.data[ab + x]!;
      if (gn) {
        for (let j = 0; j < k; j++) {
          const cn = c * pi[o + 1 + j]!;
          const nb = (b * k + j) * d;
          for (let x = 0; x < d; x++) gn[nb + x]! += cn * anc.data[ab + x]!;
        }
      }
    }
  });
}
