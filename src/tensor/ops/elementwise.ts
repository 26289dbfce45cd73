/** Elementwise ops and their gradients. */
import { alloc, allocCopy, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, record } from '../tensor.js';

function sameShape(a: Tensor, b: Tensor, op: string): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${op}: shapes differ ([${a.shape.join(', ')}] vs [${b.shape.join(', ')}])`);
  }
}

/** Sum of same-shaped tensors. */
export function addN(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new RangeError('addN: no inputs');
  const k = getKernels();
  const first = xs[0]!;
  for (const x of xs) sameShape(first, x, 'add');
  const out = allocCopy(first.data);
  for (let i = 1; i < xs.length; i++) k.axpy(out.length, 1, xs[i]!.data, out);
  return record(new Tensor(out, first.shape), xs, (g) => {
    for (const x of xs) if (x.requiresGrad) accGrad(x, 1, g);
  });
}

export function add(a: Tensor, b: Tensor): Tensor {
  return addN([a, b]);
}

/** alpha * a + beta * b. */
export function lincomb(alpha: number, a: Tensor, beta: number, b: Tensor): Tensor {
  const k = getKernels();
  sameShape(a, b, 'lincomb');
  const out = alloc(a.size);
  k.axpby(out.length, alpha, a.data, 0, out);
  k.axpy(out.length, beta, b.data, out);
  return record(new Tensor(out, a.shape), [a, b], (g) => {
    if (a.requiresGrad) accGrad(a, alpha, g);
    if (b.requiresGrad) accGrad(b, beta, g);
  });
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return lincomb(1, a, -1, b);
}

export function scale(a: Tensor, s: number): Tensor {
  const k = getKernels();
  const out = alloc(a.size);
  k.axpby(out.length, s, a.data, 0, out);
  return record(new Tensor(out, a.shape), [a], (g) => accGrad(a, s, g));
}

/** Hadamard product. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const k = getKernels();
  sameShape(a, b, 'mul');
  const out = alloc(a.size);
  k.mul(out.length, a.data, b.data, out);
  return record(new Tensor(out, a.shape), [a, b], (g) => {
    const tmp = alloc(g.length);
    if (a.requiresGrad) {
      k.mul(g.length, g, b.data, tmp);
      k.axpy(g.length, 1, tmp, a.gradBuffer());
    }
    if (b.requiresGrad) {
      k.mul(g.length, g, a.data, tmp);
      k.axpy(g.length, 1, tmp, b.gradBuffer());
    }
  });
}

/** Unary map with derivative expressed from input x and output y. */
function unary(a: Tensor, f: (x: number) => number, df: (x: number, y: number) => number): Tensor {
  const n = a.size;
  const out = alloc(n);
  const x = a.data;
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
  return record(new Tensor(out, a.shape), [a], (g) => {
    const ga = a.gradBuffer();
    for (let i = 0; i < n; i++) ga[i]! += g[i]! * df(x[i]!, out[i]!);
  });
}

/** log(1 + exp(x)), computed stably (PyTorch's threshold of 20 returns x itself). */
export function softplus(a: Tensor): Tensor {
  return unary(
    a,
    (x) => (x > 20 ? x : Math.log1p(Math.exp(x))),
    (x) => (x > 20 ? 1 : 1 / (1 + Math.exp(-x))),
  );
}

/** A kernel (not `unary`): it runs over every hidden unit of the text towers. */
export function leakyRelu(a: Tensor, slope = 0.01): Tensor {
  const k = getKernels();
  const n = a.size;
  const out = allocUninit(n);
  k.leakyRelu(n, slope, a.data, out);
  return record(new Tensor(out, a.shape), [a], (g) => {
    const { buf, beta } = a.gradInto();
    k.leakyReluBackward(n, slope, a.data, g, beta, buf);
  });
}

export function exp(a: Tensor): Tensor {
  return unary(a, Math.exp, (_x, y) => y);
}

export function log(a: Tensor): Tensor {
  return unary(a, Math.log, (x) => 1 / x);
}

export function sigmoid(a: Tensor): Tensor {
  return unary(a, (x) => 1 / (1 + Math.exp(-x)), (_x, y) => y * (1 - y));
}

export function addScalar(a: Tensor, s: number): Tensor {
  return unary(a, (x) => x + s, () => 1);
}
