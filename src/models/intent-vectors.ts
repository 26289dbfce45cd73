/** Intent vectors from learnable prototypes, shared by IRLLRec, DCCF and BIGCF. */
import { concatRows, matmul, sliceRows, softmaxRows } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';

/** ê = softmax(E C) C^T per side: users (rows < numUsers) with C_U, items with C_I. */
export function intentVectors(e: Tensor, numUsers: number, cu: Tensor, ci: Tensor): Tensor {
  const iv = (x: Tensor, c: Tensor) => matmul(softmaxRows(matmul(x, c)), c, false, true);
  return concatRows([iv(sliceRows(e, 0, numUsers), cu), iv(sliceRows(e, numUsers, e.rows), ci)]);
}
