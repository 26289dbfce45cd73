/** Row-wise softmax, log-softmax and log-sum-exp, with gradients. */
import { alloc } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, record } from '../tensor.js';

function dims(a: Tensor): [number, number] {
  if (a.shape.length !== 2) throw new RangeError(`expected a 2-D tensor, got [${a.shape.join(', ')}]`);
  return [a.shape[0]!, a.shape[1]!];
}

/** y = softmax(x) per row; dx = y * (g - sum(g*y)). */
export function softmaxRows(a: Tensor): Tensor {
  const [rows, cols] = dims(a);
  const y = alloc(a.size);
  getKernels().softmaxRows(rows, cols, a.data, y);
  return record(new Tensor(y, a.shape), [a], (g) => getKernels().softmaxRowsBackward(rows, cols, y, g, a.gradBuffer()));
}

/** out[r] = log(sum_c exp(x[r,c])); dx = g[r] * softmax(x)[r,c]. */
export function logSumExpRows(a: Tensor): Tensor {
  const [rows, cols] = dims(a);
  const k = getKernels();
  const out = alloc(rows);
  k.logSumExpRows(rows, cols, a.data, out);
  return record(new Tensor(out, [rows]), [a], (g) => {
    const p = alloc(a.size);
    k.softmaxRows(rows, cols, a.data, p);
    const ga = a.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const gr = g[r]!;
      for (let c = 0; c < cols; c++) ga[o + c]! += gr * p[o + c]!;
    }
  });
}

/** y = x - logsumexp(x) per row; dx = g - softmax(x) * sum(g). */
export function logSoftmaxRows(a: Tensor): Tensor {
  const [rows, cols] = dims(a);
  const k = getKernels();
  const lse = alloc(rows);
  k.logSumExpRows(rows, cols, a.data, lse);
  const y = alloc(a.size);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) y[o + c] = a.data[o + c]! - lse[r]!;
  }
  return record(new Tensor(y, a.shape), [a], (g) => {
    const ga = a.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += g[o + c]!;
      for (let c = 0; c < cols; c++) ga[o + c]! += g[o + c]! - Math.exp(y[o + c]!) * s;
    }
  });
}

/**
 * y = x / max(||x||, eps) per row (F.normalize). Gradient where ||x|| > eps:
 * dx = (g - y * (g . y)) / ||x||; where clamped: dx = g / eps.
 */
export function l2NormalizeRows(a: Tensor, eps = 1e-12): Tensor {
  const [rows, cols] = dims(a);
  const k = getKernels();
  const y = alloc(a.size);
  const norms = alloc(rows);
  k.l2NormalizeRows(rows, cols, a.data, eps, y, norms);
  return record(new Tensor(y, a.shape), [a], (g) => {
    const ga = a.gradBuffer();
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const n = norms[r]!;
      if (n > eps) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += g[o + c]! * y[o + c]!;
        for (let c = 0; c < cols; c++) ga[o + c]! += (g[o + c]! - y[o + c]! * s) / n;
      } else {
        for (let c = 0; c < cols; c++) ga[o + c]! += g[o + c]! / eps;
      }
    }
  });
}
