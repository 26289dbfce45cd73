/** Sparse x dense propagation (graph convolution) and its gradient. */
import { alloc, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, record } from '../tensor.js';

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
