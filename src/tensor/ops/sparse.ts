/** Sparse x dense propagation (graph convolution) and its gradient. */
import { alloc, allocCopy, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, record, recordMulti } from '../tensor.js';

/** A CSR matrix; `transposed` (same entries, CSR of S^T) makes the backward a plain spmm. */
export interface CsrMatrix {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
  transposed?: CsrMatrix;
}

/** Y = S @ X; dX = S^T @ dY. */
export function spmm(S: CsrMatrix, x: Tensor): Tensor {
  const k = getKernels();
  if (x.shape.length !== 2 || x.shape[0] !== S.cols) {
    throw new RangeError(`spmm: sparse matrix is ${S.rows}x${S.cols} but dense input has shape [${x.shape.join(', ')}]`);
  }
  const n = x.shape[1]!;
  const out = allocUninit(S.rows * n);
  k.spmm(S.rows, n, S.indptr, S.indices, S.values, x.data, 0, out);
  return record(new Tensor(out, [S.rows, n]), [x], (g) => {
    const { buf: gx, beta } = x.gradInto();
    const T = S.transposed;
    if (T) k.spmm(T.rows, n, T.indptr, T.indices, T.values, g, beta, gx);
    else k.spmmT(S.rows, S.cols, n, S.indptr, S.indices, S.values, g, beta, gx);
  });
}

/**
 * LightGCN propagation as one op: layers E_l = S E_{l-1} (l = 1..L) and their sum
 * E_0 + E_1 + ... + E_L, with the sum accumulated inside each SpMM (no separate passes).
 * Backward: G_L = g + dE_L and G_l = S^T G_{l+1} + (dE_l + g), dE_0 += S^T G_1 + g, with the
 * bias folded into the SpMM. Same float operations, in the same order, as spmm + addN.
 */
export function propagateSum(S: CsrMatrix, x0: Tensor, numLayers: number): { layers: Tensor[]; sum: Tensor } {
  const k = getKernels();
  if (x0.shape.length !== 2 || x0.shape[0] !== S.cols || S.rows !== S.cols) {
    throw new RangeError(`propagateSum: sparse matrix is ${S.rows}x${S.cols} but dense input has shape [${x0.shape.join(', ')}]`);
  }
  const n = x0.shape[1]!;
  const sumBuf = allocCopy(x0.data);
  const layers = [x0];
  for (let l = 1; l <= numLayers; l++) {
    const out = allocUninit(S.rows * n);
    k.spmm(S.rows, n, S.indptr, S.indices, S.values, layers[l - 1]!.data, 0, out, null, sumBuf);
    layers.push(new Tensor(out, [S.rows, n]));
  }
  const sum = new Tensor(sumBuf, x0.shape);
  const outs = [sum, ...layers.slice(1)];
  recordMulti(outs, [x0], () => {
    const T = S.transposed;
    const rows = S.rows;
    const g = sum.grad;
    if (numLayers === 0) {
      // sum = x0 (a copy): its gradient is x0's
      if (g && x0.requiresGrad) accGrad(x0, 1, g);
      return;
    }
    // G_{l+1} for the next step down; starts as G_L
    let upper: Float32Array | null = layers[numLayers]!.grad;
    if (g) {
      if (upper) k.axpy(upper.length, 1, g, upper);
      else upper = g;
    }
    for (let l = numLayers - 1; l >= 0; l--) {
      const t = layers[l]!;
      if (l === 0 && !t.requiresGrad) break;
      let dst: Float32Array;
      let beta: number;
      if (l === 0) {
        const gi = t.gradInto();
        dst = gi.buf;
        beta = gi.beta;
      } else if (t.grad) {
        dst = t.grad;
        beta = 1;
      } else {
        dst = t.grad = allocUninit(rows * n);
        beta = 0;
      }
      if (!upper) {
        // no gradient reaches the layers above: only the sum's own gradient flows here
        if (g) k.axpby(dst.length, 1, g, beta, dst);
        else if (beta === 0) dst.fill(0);
      } else if (T) {
        k.spmm(T.rows, n, T.indptr, T.indices, T.values, upper, beta, dst, g);
      } else {
        if (g) k.axpby(dst.length, 1, g, beta, dst);
        else if (beta === 0) dst.fill(0);
        k.spmmT(S.rows, S.cols, n, S.indptr, S.indices, S.values, upper, 1, dst);
      }
      upper = dst;
    }
  });
  return { layers, sum };
}
