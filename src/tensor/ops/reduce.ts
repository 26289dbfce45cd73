/** Reductions to scalars or per-row values, with gradients. */
import { alloc } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, record } from '../tensor.js';

export function sum(a: Tensor): Tensor {
  const k = getKernels();
  const out = new Tensor(Float32Array.of(k.sum(a.size, a.data)), []);
  return record(out, [a], (g) => {
    const ga = a.gradBuffer();
    const s = g[0]!;
    for (let i = 0; i < ga.length; i++) ga[i]! += s;
  });
}

export function mean(a: Tensor): Tensor {
  const k = getKernels();
  const n = a.size;
  const out = new Tensor(Float32Array.of(k.sum(n, a.data) / n), []);
  return record(out, [a], (g) => {
    const ga = a.gradBuffer();
    const s = g[0]! / n;
    for (let i = 0; i < ga.length; i++) ga[i]! += s;
  });
}

/** ||a||_F^2 = sum of squares (the official `W.norm(2).square()`). */
export function sumSquares(a: Tensor): Tensor {
  const k = getKernels();
  const out = new Tensor(Float32Array.of(k.sumSquares(a.size, a.data)), []);
  return record(out, [a], (g) => accGrad(a, 2 * g[0]!, a.data));
}

/** Per-row dot product of two [rows, cols] tensors -> [rows]. */
export function rowDot(a: Tensor, b: Tensor): Tensor {
  const k = getKernels();
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
    throw new RangeError(`rowDot: shapes differ ([${a.shape.join(', ')}] vs [${b.shape.join(', ')}])`);
  }
  const rows = a.shape[0]!;
  const cols = a.shape[1]!;
  const out = alloc(rows);
  k.rowDot(rows, cols, a.data, b.data, out);
  return record(new Tensor(out, [rows]), [a, b], (g) => {
    const scaleRows = (src: Float32Array, dst: Float32Array) => {
      for (let r = 0; r < rows; r++) {
        const gr = g[r]!;
        const o = r * cols;
        for (let c = 0; c < cols; c++) dst[o + c]! += gr * src[o + c]!;
      }
    };
    if (a.requiresGrad) scaleRows(b.data, a.gradBuffer());
    if (b.requiresGrad) scaleRows(a.data, b.gradBuffer());
  });
}

/** Sum of scalars (loss terms). */
export function sumScalars(xs: readonly Tensor[]): Tensor {
  let s = 0;
  for (const x of xs) s += x.item();
  const out = new Tensor(Float32Array.of(s), []);
  return record(out, xs, (g) => {
    for (const x of xs) if (x.requiresGrad) x.gradBuffer()[0]! += g[0]!;
  });
}
