/**
 * Row L2 normalisation as the contrastive losses and the intent edge weights use it, forward and
 * the in-place gradient through it (helpers for fused ops, not ops themselves).
 */
import { allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';

/** Row normalisation x / s with s = sqrt(eps + |x|^2) (sqrtEps) or max(|x|, eps) (clamp). */
export function normalizeRows(x: Float32Array, rows: number, d: number, eps: number, mode: 'sqrtEps' | 'clamp') {
  const y = allocUninit(rows * d);
  const s = new Float64Array(rows);
  if (mode === 'clamp') {
    // F.normalize: the kernel's x / max(|x|, eps), with s = |x| unclamped
    const norms = new Float32Array(rows);
    getKernels().l2NormalizeRows(rows, d, x, eps, y, norms);
    for (let r = 0; r < rows; r++) s[r] = norms[r]!;
    return { y, s };
  }
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let c = 0; c < d; c++) ss += x[o + c]! * x[o + c]!;
    const n = Math.sqrt(eps + ss);
    s[r] = n;
    const inv = 1 / n;
    for (let c = 0; c < d; c++) y[o + c] = x[o + c]! * inv;
  }
  return { y, s };
}

/**
 * Gradient through the row normalisation, in place on g (gradient w.r.t. y, becomes gradient
 * w.r.t. x): (g - y (y.g)) / s, or g / eps where the clamp was active.
 */
export function normalizeBackward(g: Float32Array, y: Float32Array, s: Float64Array, rows: number, d: number, eps: number, mode: 'sqrtEps' | 'clamp') {
  if (rows * d >= 65536) {
    // two kernel passes: dots, then g = (-dot/s) y + (1/s) g row by row
    const k = getKernels();
    const dots = new Float32Array(rows);
    k.rowDot(rows, d, y, g, dots);
    const alpha = new Float32Array(rows);
    const beta = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const clamped = mode === 'clamp' && !(s[r]! > eps);
      beta[r] = clamped ? 1 / eps : 1 / s[r]!;
      alpha[r] = clamped ? 0 : -dots[r]! / s[r]!;
    }
    k.rowAxpby(rows, d, alpha, y, beta, g);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    if (mode === 'clamp' && !(s[r]! > eps)) {
      for (let c = 0; c < d; c++) g[o + c] = g[o + c]! / eps;
      continue;
    }
    let dot = 0;
    for (let c = 0; c < d; c++) dot += y[o + c]! * g[o + c]!;
    const inv = 1 / s[r]!;
    for (let c = 0; c < d; c++) g[o + c] = (g[o + c]! - y[o + c]! * dot) * inv;
  }
}
