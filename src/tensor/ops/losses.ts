/** Fused ranking loss: one pass forward, one pass backward, no intermediate tensors. */
import { getKernels } from '../../kernels/index.js';
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
  const k = getKernels();
  const coef = new Float64Array(B);
  const loss = k.bprForward(B, d, anc.data, pos.data, neg.data, coef);
  return record(new Tensor(Float32Array.of(loss / B), []), [anc, pos, neg], (g) => {
    k.bprBackward(
      B, d, anc.data, pos.data, neg.data, coef, g[0]!,
      anc.requiresGrad ? anc.gradBuffer() : null,
      pos.requiresGrad ? pos.gradBuffer() : null,
      neg.requiresGrad ? neg.gradBuffer() : null,
    );
  });
}
