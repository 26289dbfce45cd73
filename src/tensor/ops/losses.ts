/** Fused ranking loss: one pass forward, one pass backward, no intermediate tensors. */
import { Tensor, record } from '../tensor.js';

/**
 * BPR as the reference computes it: sum_r softplus(a_r.n_r - a_r.p_r) / B (softplus with
 * PyTorch's threshold 20). Gradient: c_r = sigmoid(a.n - a.p) / B; da = c (n - p), dp = -c a,
 * dn = c a.
 */
export function bprLoss(anc: Tensor, pos: Tensor, neg: Tensor): Tensor {
  const B = anc.rows;
  const d = anc.cols;
  if (pos.rows !== B || neg.rows !== B || pos.cols !== d || neg.cols !== d) {
    throw new RangeError(`bprLoss: shapes [${anc.shape}], [${pos.shape}], [${neg.shape}] differ`);
  }
  const a = anc.data;
  const p = pos.data;
  const n = neg.data;
  const coef = new Float64Array(B);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const o = r * d;
    let sp = 0;
    let sn = 0;
    for (let c = 0; c < d; c++) {
      sp += a[o + c]! * p[o + c]!;
      sn += a[o + c]! * n[o + c]!;
    }
    const x = Math.fround(Math.fround(sn) - Math.fround(sp));
    loss += x > 20 ? x : Math.log1p(Math.exp(x));
    coef[r] = 1 / (1 + Math.exp(-x)) / B;
  }
  return record(new Tensor(Float32Array.of(loss / B), []), [anc, pos, neg], (g) => {
    const s = g[0]!;
    if (anc.requiresGrad) {
      const ga = anc.gradBuffer();
      for (let r = 0; r < B; r++) {
        const c = coef[r]! * s;
        const o = r * d;
        for (let k = 0; k < d; k++) ga[o + k]! += c * (n[o + k]! - p[o + k]!);
      }
    }
    if (pos.requiresGrad) {
      const gp = pos.gradBuffer();
      for (let r = 0; r < B; r++) {
        const c = coef[r]! * s;
        const o = r * d;
        for (let k = 0; k < d; k++) gp[o + k]! -= c * a[o + k]!;
      }
    }
    if (neg.requiresGrad) {
      const gn = neg.gradBuffer();
      for (let r = 0; r < B; r++) {
        const c = coef[r]! * s;
        const o = r * d;
        for (let k = 0; k < d; k++) gn[o + k]! += c * a[o + k]!;
      }
    }
  });
}
