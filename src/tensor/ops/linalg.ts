/** Dense products: matmul (both transposes) and linear (x @ W^T + b), with their gradients. */
import { alloc, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, record } from '../tensor.js';

function dims2(t: Tensor, what: string): [number, number] {
  if (t.shape.length !== 2) throw new RangeError(`${what}: expected a 2-D tensor, got shape [${t.shape.join(', ')}]`);
  return [t.shape[0]!, t.shape[1]!];
}

/**
 * op(a) @ op(b). transA: a is stored K x M; transB: b is stored N x K.
 * Gradients: dA = g @ op(b)^T (or its transpose), dB = op(a)^T @ g (or its transpose).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const k = getKernels();
  const [ar, ac] = dims2(a, 'matmul');
  const [br, bc] = dims2(b, 'matmul');
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const Kb = transB ? bc : br;
  const N = transB ? br : bc;
  if (K !== Kb) throw new RangeError(`matmul: inner dimensions differ (${K} vs ${Kb})`);
  const out = allocUninit(M * N);
  k.gemm(transA, transB, M, N, K, 1, a.data, ac, b.data, bc, 0, out, N);
  return record(new Tensor(out, [M, N]), [a, b], (g) => {
    if (a.requiresGrad) {
      const { buf: ga, beta } = a.gradInto();
      // a = [M,K] (not transA): dA = g[M,N] @ op(b)^T. op(b)^T is b when transB, else b^T.
      if (!transA) k.gemm(false, !transB, M, K, N, 1, g, N, b.data, bc, beta, ga, ac);
      // a stored [K,M]: dA^T = op(b) @ g^T => dA[K,M] = op(b)[K,N] @ g^T
      else k.gemm(transB, true, K, M, N, 1, b.data, bc, g, N, beta, ga, ac);
    }
    if (b.requiresGrad) {
      const { buf: gb, beta } = b.gradInto();
      // b = [K,N]: dB = op(a)^T @ g
      if (!transB) k.gemm(!transA, false, K, N, M, 1, a.data, ac, g, N, beta, gb, bc);
      // b stored [N,K]: dB = g^T @ op(a)
      else k.gemm(true, transA, N, K, M, 1, g, N, a.data, ac, beta, gb, bc);
    }
  });
}

let onesCache = new Float32Array(0);
function ones(n: number): Float32Array {
  if (onesCache.length < n) onesCache = new Float32Array(n).fill(1);
  return onesCache.subarray(0, n);
}

/** y = x @ W^T + b, with W stored [out, in] (PyTorch nn.Linear layout) and b [out]. */
export function linear(x: Tensor, W: Tensor, b?: Tensor): Tensor {
  const k = getKernels();
  const [n, din] = dims2(x, 'linear');
  const [dout, win] = dims2(W, 'linear');
  if (din !== win) throw new RangeError(`linear: input width ${din} does not match weight [${dout}, ${win}]`);
  if (b && b.size !== dout) throw new RangeError(`linear: bias has ${b.size} entries, expected ${dout}`);
  const out = allocUninit(n * dout);
  if (b) for (let r = 0; r < n; r++) out.set(b.data, r * dout);
  k.gemm(false, true, n, dout, din, 1, x.data, din, W.data, win, b ? 1 : 0, out, dout);
  const inputs = b ? [x, W, b] : [x, W];
  return record(new Tensor(out, [n, dout]), inputs, (g) => {
    if (x.requiresGrad) {
      const { buf, beta } = x.gradInto();
      k.gemm(false, false, n, din, dout, 1, g, dout, W.data, win, beta, buf, din);
    }
    if (W.requiresGrad) {
      const { buf, beta } = W.gradInto();
      k.gemm(true, false, dout, din, n, 1, g, dout, x.data, din, beta, buf, win);
    }
    // bias gradient = column sums of g, as a GEMV with a ones vector (g^T 1)
    if (b && b.requiresGrad) {
      const { buf, beta } = b.gradInto();
      k.gemm(true, false, dout, 1, n, 1, g, dout, ones(n), 1, beta, buf, 1);
    }
  });
}
