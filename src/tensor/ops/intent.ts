/**
 * Intent-aware aggregation on a fixed edge list (the training graph, both directions, CSR order
 * by head): edge weights from the cosine of the heads' and tails' intent vectors, row-normalised
 * (D^-1 alpha, the DCCF "adaptive mask"), and propagation with those learnable weights.
 */
import { alloc, allocCopy, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, record } from '../tensor.js';
import { normalizeBackward, normalizeRows } from './normalize.js';

export interface EdgeList {
  /** Number of head nodes (rows). */
  rows: number;
  indptr: Int32Array;
  /** Tail of each edge (CSR order). */
  indices: Int32Array;
  /** Head of each edge. */
  rowOf: Int32Array;
}

/**
 * w_e = alpha_e / sum_{e' from the same head} alpha_e', alpha_e = (1 + cos(v_head, v_tail)) / 2,
 * cos via F.normalize (eps 1e-12). A head whose alphas sum to 0 gets weights 0 (the reference's
 * nan_to_num of 1/0).
 */
export function intentEdgeWeights(v: Tensor, edges: EdgeList): Tensor {
  const k = getKernels();
  const [n, d] = [v.shape[0]!, v.shape[1]!];
  if (n !== edges.rows) throw new RangeError(`intentEdgeWeights: ${n} node vectors for ${edges.rows} nodes`);
  const EPS = 1e-12;
  const { y: nv, s: norms } = normalizeRows(v.data, n, d, EPS, 'clamp');
  const { indptr, indices } = edges;
  const nnz = indices.length;
  // cosines of every edge's two ends (one kernel pass), then alpha and the row normalisation
  const alpha = allocUninit(nnz);
  k.sddmm(n, d, indptr, indices, nv, nv, 0, alpha);
  const w = allocUninit(nnz);
  const dinv = new Float64Array(n);
  for (let h = 0; h < n; h++) {
    let s = 0;
    const e0 = indptr[h]!;
    const e1 = indptr[h + 1]!;
    for (let e = e0; e < e1; e++) {
      const a = Math.fround((alpha[e]! + 1) / 2);
      alpha[e] = a;
      s += a;
    }
    const di = s > 0 ? 1 / Math.fround(s) : 0;
    dinv[h] = di;
    for (let e = e0; e < e1; e++) w[e] = di * alpha[e]!;
  }
  return record(new Tensor(w, [nnz]), [v], (g) => {
    // w_e = alpha_e * di, di = 1/sum(alpha): dalpha_e = di * (g_e - sum_e' g_e' w_e'), and
    // alpha = (1 + cos) / 2; then d cos_e flows to both ends' normalised vectors
    const da = allocUninit(nnz);
    for (let h = 0; h < n; h++) {
      const e0 = indptr[h]!;
      const e1 = indptr[h + 1]!;
      const di = dinv[h]!;
      if (di === 0) {
        for (let e = e0; e < e1; e++) da[e] = 0;
        continue;
      }
      let gw = 0;
      for (let e = e0; e < e1; e++) gw += g[e]! * w[e]!;
      for (let e = e0; e < e1; e++) da[e] = (di * (g[e]! - gw)) / 2;
    }
    // gn = D nv + D^T nv with D the edge matrix holding da
    const gn = allocUninit(n * d);
    k.spmm(n, d, indptr, indices, da, nv, 0, gn);
    k.spmmT(n, n, d, indptr, indices, da, nv, 1, gn);
    normalizeBackward(gn, nv, norms, n, d, EPS, 'clamp');
    accGrad(v, 1, gn);
  });
}

/** Y = W X with W sparse (the edge list) and its values a tensor: dX = W^T dY, dw_e = dY_h . X_t. */
export function spmmValues(edges: EdgeList, w: Tensor, x: Tensor): Tensor {
  const k = getKernels();
  const d = x.shape[1]!;
  const n = edges.rows;
  const out = alloc(n * d);
  k.spmm(n, d, edges.indptr, edges.indices, w.data, x.data, 0, out);
  return record(new Tensor(out, [n, d]), [w, x], (g) => {
    if (x.requiresGrad) k.spmmT(n, x.shape[0]!, d, edges.indptr, edges.indices, w.data, g, 1, x.gradBuffer());
    // dw_e = dY_head . X_tail for every edge
    if (w.requiresGrad) k.sddmm(n, d, edges.indptr, edges.indices, g, x.data, 1, w.gradBuffer());
  });
}

/**
 * Replaces the rows `seeds` of x by a learnable token row: x * m + token * (1 - m), m the 0/1
 * row mask (RLMRec-Gen's node masking).
 */
export function maskRows(x: Tensor, seeds: Int32Array, token: Tensor): Tensor {
  const [n, d] = [x.shape[0]!, x.shape[1]!];
  if (token.size !== d) throw new RangeError(`maskRows: token has ${token.size} entries, rows have ${d}`);
  const masked = new Uint8Array(n);
  for (const s of seeds) {
    if (s < 0 || s >= n) throw new RangeError(`maskRows: seed ${s} out of range [0, ${n})`);
    masked[s] = 1;
  }
  const out = allocCopy(x.data);
  for (let r = 0; r < n; r++) if (masked[r]) out.set(token.data, r * d);
  return record(new Tensor(out, x.shape), [x, token], (g) => {
    if (x.requiresGrad) {
      const gx = x.gradBuffer();
      for (let r = 0; r < n; r++) if (!masked[r]) for (let c = 0; c < d; c++) gx[r * d + c]! += g[r * d + c]!;
    }
    if (token.requiresGrad) {
      const gt = token.gradBuffer();
      for (let r = 0; r < n; r++) if (masked[r]) for (let c = 0; c < d; c++) gt[c]! += g[r * d + c]!;
    }
  });
}
