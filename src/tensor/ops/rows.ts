/** Row indexing: gather (index_select), concatenation and slicing of 2-D tensors. */
import { alloc, allocCopy, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, record } from '../tensor.js';

export function gatherRows(a: Tensor, idx: Int32Array): Tensor {
  const k = getKernels();
  const rows = a.rows;
  const cols = a.cols;
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    if (r < 0 || r >= rows) throw new RangeError(`gatherRows: index ${r} out of range [0, ${rows})`);
  }
  const out = allocUninit(idx.length * cols);
  k.gatherRows(cols, a.data, idx, out);
  return record(new Tensor(out, [idx.length, cols]), [a], (g) => k.scatterAddRows(cols, g, idx, a.gradBuffer()));
}

export function concatRows(xs: readonly Tensor[]): Tensor {
  const cols = xs[0]!.cols;
  let rows = 0;
  for (const x of xs) {
    if (x.cols !== cols) throw new RangeError(`concatRows: widths differ (${cols} vs ${x.cols})`);
    rows += x.rows;
  }
  const out = allocUninit(rows * cols);
  let off = 0;
  for (const x of xs) {
    out.set(x.data, off);
    off += x.size;
  }
  return record(new Tensor(out, [rows, cols]), xs, (g) => {
    const k = getKernels();
    let o = 0;
    for (const x of xs) {
      if (x.requiresGrad) accGrad(x, 1, g.subarray(o, o + x.size));
      o += x.size;
    }
  });
}

/** Rows [start, end) of a 2-D tensor (a copy). */
export function sliceRows(a: Tensor, start: number, end: number): Tensor {
  const cols = a.cols;
  if (start < 0 || end > a.rows || start > end) throw new RangeError(`sliceRows: [${start}, ${end}) out of range for ${a.rows} rows`);
  const out = allocCopy(a.data.subarray(start * cols, end * cols));
  return record(new Tensor(out, [end - start, cols]), [a], (g) => {
    const k = getKernels();
    k.axpy(g.length, 1, g, a.gradBuffer().subarray(start * cols, end * cols));
  });
}
