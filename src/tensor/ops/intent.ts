/**
 * Intent-aware aggregation on a fixed edge list (the training graph, both directions, CSR order
 * by head): edge weights from the cosine of the heads' and tails' intent vectors, row-normalised
 * (D^-1 alpha, the DCCF "adaptive mask"), and propagation with those learnable weights.
 */
import { alloc, allocCopy } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, record } from '../tensor.js';

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
  const [n, d] = [v.shape[0]!, v.shape[1]!];
  if (n !== edges.rows) throw new RangeError(`intentEdgeWeights: ${n} node vectors for ${edges.rows} nodes`);
  const EPS = 1e-12;
  const nv = alloc(n * d);
  const norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let ss = 0;
    for (let c = 0; c < d; c++) ss += v.data[r * d + c]! * v.data[r * d + c]!;
    const nrm = Math.sqrt(ss);
    norms[r] = nrm;
    const inv = 1 / Math.max(nrm, EPS);
    for (let c = 0; c < d; c++) nv[r * d + c] = v.data[r * d + c]! * inv;
  }
  const { indptr, indices } = edges;
  const nnz = indices.length;
  const alpha = alloc(nnz);
  const w = alloc(nnz);
  const dinv = alloc(n);
  for (let h = 0; h < n; h++) {
    let s = 0;
    for (let e = indptr[h]!; e < indptr[h + 1]!; e++) {
      const t = indices[e]!;
      let dot = 0;
      for (let c = 0; c < d; c++) dot += nv[h * d + c]! * nv[t * d + c]!;
      const a = Math.fround((dot + 1) / 2);
      alpha[e] = a;
      s += a;
    }
    const di = s > 0 ? 1 / Math.fround(s) : 0;
    dinv[h] = di;
    for (let e = indptr[h]!; e < indptr[h + 1]!; e++) w[e] = dinv[h]! * alpha[e]!;
  }
  return record(new Tensor(w, [nnz]), [v], (g) => {
    const gn = new Float64Array(n * d);
    for (let h = 0; h < n; h++) {
      const s = indptr[h]!;
      const e1 = indptr[h + 1]!;
      const di = dinv[h]!;
      if (di === 0) continue;
      // w_e = alpha_e * di, di = 1/sum(alpha): dalpha_e = di * (g_e - sum_e' g_e' w_e')
      let gw = 0;
      for (let e = s; e < e1; e++) gw += g[e]! * w[e]!;
      for (let e = s; e < e1; e++) {
        const da = di * (g[e]! - gw) / 2; // alpha = (1 + cos) / 2
        const t = indices[e]!;
        for (let c = 0; c < d; c++) {
          gn[h * d + c]! += da * nv[t * d + c]!;
          gn[t * d + c]! += da * nv[h * d + c]!;
        }
      }
    }
    const gv = v.gradBuffer();
    for (let r = 0; r < n; r++) {
      const o = r * d;
      if (!(norms[r]! > EPS)) {
        for (let c = 0; c < d; c++) gv[o + c]! += gn[o + c]! / EPS;
        continue;
      }
      let dot = 0;
      for (let c = 0; c < d; c++) dot += gn[o + c]! * nv[o + c]!;
      const inv = 1 / norms[r]!;
      for (let c = 0; c < d; c++) gv[o + c]! += (gn[o + c]! - nv[o + c]! * dot) * inv;
    }
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
    if (w.requiresGrad) {
      const gw = w.gradBuffer();
      const { rowOf, indices } = edges;
      for (let e = 0; e < indices.length; e++) {
        const h = rowOf[e]! * d;
        const t = indices[e]! * d;
        let s = 0;
        for (let c = 0; c < d; c++) s += g[h + c]! * x.data[t + c]!;
        gw[e]! += s;
      }
    }
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
