/**
 * Interaction intents of a trained model, for explanations and the report's intent map.
 *
 * Models with intent prototypes (IRLLRec on any backbone, DCCF, BIGCF) hold K user prototypes and
 * K item prototypes (columns of C_U, C_I, each a vector in the embedding space). An entity's
 * intent weights are w = softmax(e C), the weights the model itself computes during propagation:
 * averaged over the propagation layers l < L (E^(l), as IRLLRec and DCCF use them), or from the
 * final embeddings for BIGCF. The intent vector is ê = C w.
 *
 * Decomposition used by `explain` (IntentMixer): the user's final embedding written as a
 * non-negative mixture of the user prototypes, e_u = sum_k a_k c_k + r_u (a >= 0, least squares),
 * splits the score exactly:
 *   score = e_u . e_i = sum_k a_k (c_k . e_i) + r_u . e_i,
 * so intent k contributes a_k (c_k . e_i), the contributions and the `residual` r_u . e_i add up to
 * the score, and `fit` = 1 - |r_u|^2 / |e_u|^2 says how much of the user the intents describe. The
 * item side is the same with the item prototypes and e_u. (The softmax weights alone do not explain
 * the score: they are nearly flat over 128 prototypes and their mixture ê_u is a small part of
 * e_u; `lift` = w K is still reported beside each weight.) The agreement cos(ê_u, ê_i) is what
 * IRLLRec turns into the edge weight (1 + cos) / 2 of a (user, item) pair.
 */
import type { Kernels } from '../kernels/types.js';
import type { BackboneOutput } from '../models/backbones/types.js';
import type { ServableModel } from '../models/types.js';
import { noGrad } from '../tensor/tensor.js';

export interface IntentModel {
  K: number;
  dim: number;
  /** Prototypes as rows: K x dim (row k = c_k). */
  userProto: Float32Array;
  itemProto: Float32Array;
  /** numUsers x K and numItems x K intent weights (rows sum to 1). */
  userW: Float32Array;
  itemW: Float32Array;
  /** How the weights were computed. */
  source: string;
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

/** Rows per block of the weights' softmax (bounded scratch: 65,536 x K, not items x K). */
const INTENT_BLOCK_ROWS = 65_536;

/**
 * The model's prototypes and every user's and item's intent weights, or null when it has none.
 * `evalOut`: the backbone's forwardEval() when the caller already has it (serving computes the
 * scoring embeddings from the same forward), else it is computed here.
 */
export function computeIntents(net: ServableModel, kernels: Kernels, evalOut?: BackboneOutput): IntentModel | null {
  const proto = net.intentPrototypes();
  if (!proto) return null;
  const d = net.backbone.dim;
  const K = proto.user.cols;
  const U = net.backbone.adj.numUsers;
  const I = net.backbone.adj.numItems;
  return noGrad(() => {
    const out = evalOut ?? net.backbone.forwardEval();
    const fromFinal = net.backbone.intentsFromFinal ?? false;
    const layers = fromFinal ? [out.all] : out.layers.slice(0, Math.max(1, net.backbone.layerNum));
    const userW = new Float32Array(U * K);
    const itemW = new Float32Array(I * K);
    const tmp = new Float32Array(Math.min(INTENT_BLOCK_ROWS, Math.max(U, I)) * K);
    // w += softmax(E C) / layers for rows [0, n) of E, a block of rows at a time (each row's
    // product, softmax and sum are its own: the same numbers as one pass over all rows)
    const addWeights = (E: Float32Array, n: number, C: Float32Array, W: Float32Array) => {
      for (let s = 0; s < n; s += INTENT_BLOCK_ROWS) {
        const b = Math.min(INTENT_BLOCK_ROWS, n - s);
        const t = tmp.subarray(0, b * K);
        kernels.gemm(false, false, b, K, d, 1, E.subarray(s * d, (s + b) * d), d, C, K, 0, t, K);
        kernels.softmaxRows(b, K, t, t);
        kernels.axpy(b * K, 1 / layers.length, t, W.subarray(s * K, (s + b) * K));
      }
    };
    for (const e of layers) {
      const all = e.data;
      addWeights(all.subarray(0, U * d), U, proto.user.data, userW);
      addWeights(all.subarray(U * d, (U + I) * d), I, proto.item.data, itemW);
    }
    return {
      K, dim: d,
      userProto: transpose(proto.user.data, d, K),
      itemProto: transpose(proto.item.data, d, K),
      userW, itemW,
      source: fromFinal ? `softmax(E C) on the final embeddings (${net.backbone.kind.toUpperCase()})` : `softmax(E^(l) C) averaged over layers 0..${layers.length - 1}`,
    };
  });
}

export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += a[ao + c]! * b[bo + c]!;
  return s;
}

/** ê = sum_k w[k] c_k for one row of weights. */
export function intentVector(m: IntentModel, side: 'user' | 'item', row: number): Float32Array {
  const W = side === 'user' ? m.userW : m.itemW;
  const C = side === 'user' ? m.userProto : m.itemProto;
  const out = new Float32Array(m.dim);
  for (let k = 0; k < m.K; k++) {
    const w = W[row * m.K + k]!;
    for (let c = 0; c < m.dim; c++) out[c]! += w * C[k * m.dim + c]!;
  }
  return out;
}

/** Indices of the n largest values of a[off .. off+len) (descending, ties by lower index). */
export function topIndices(a: Float32Array | Float64Array, off: number, len: number, n: number): number[] {
  n = Math.min(n, len);
  if (n > 32) {
    const idx = Array.from({ length: len }, (_, i) => i);
    idx.sort((x, y) => a[off + y]! - a[off + x]! || x - y);
    return idx.slice(0, n);
  }
  // small n: keep a sorted list of the best n (one pass)
  const best: number[] = [];
  for (let i = 0; i < len; i++) {
    const v = a[off + i]!;
    if (best.length === n && !(v > a[off + best[n - 1]!]!)) continue;
    let p = best.length === n ? n - 1 : best.length;
    if (best.length < n) best.push(i);
    while (p > 0 && a[off + best[p - 1]!]! < v) {
      best[p] = best[p - 1]!;
      p--;
    }
    best[p] = i;
  }
  return best;
}

/**
 * Embeddings as non-negative mixtures of one side's prototypes: a >= 0 minimising
 * |e - sum_k a_k c_k|^2, by cyclic coordinate descent on the normal equations (G = C C^T, b = C e).
 * The problem is convex, so the sweeps converge to its optimum; whatever a is, the split of a score
 * into a_k (c_k . x) plus the residual (e - C^T a) . x is exact.
 */
export class IntentMixer {
  private readonly G: Float64Array;

  constructor(private readonly C: Float32Array, private readonly K: number, private readonly d: number) {
    this.G = new Float64Array(K * K);
    for (let j = 0; j < K; j++) for (let k = j; k < K; k++) this.G[j * K + k] = this.G[k * K + j] = dot(C, j * d, C, k * d, d);
  }

  /** The mixture of row e[off .. off+d): coefficients, the residual vector and the fit 1 - |r|^2/|e|^2. */
  mix(e: Float32Array, off: number, maxSweeps = 500): { a: Float64Array; residual: Float64Array; fit: number } {
    const { K, d, C, G } = this;
    const a = new Float64Array(K);
    const grad = new Float64Array(K); // G a - b, with a = 0: -b
    for (let k = 0; k < K; k++) grad[k] = -dot(C, k * d, e, off, d);
    const norm2 = dot(e, off, e, off, d);
    const tol = 1e-9 * Math.sqrt(norm2);
    for (let sweep = 0; sweep < maxSweeps; sweep++) {
      let moved = 0;
      for (let k = 0; k < K; k++) {
        const gkk = G[k * K + k]!;
        if (!(gkk > 0)) continue;
        const next = Math.max(0, a[k]! - grad[k]! / gkk);
        const delta = next - a[k]!;
        if (delta === 0) continue;
        a[k] = next;
        for (let j = 0; j < K; j++) grad[j]! += delta * G[j * K + k]!;
        moved = Math.max(moved, Math.abs(delta) * Math.sqrt(gkk));
      }
      if (moved <= tol) break;
    }
    const residual = new Float64Array(d);
    for (let c = 0; c < d; c++) residual[c] = e[off + c]!;
    for (let k = 0; k < K; k++) {
      const w = a[k]!;
      if (w !== 0) for (let c = 0; c < d; c++) residual[c]! -= w * C[k * d + c]!;
    }
    let r2 = 0;
    for (let c = 0; c < d; c++) r2 += residual[c]! * residual[c]!;
    return { a, residual, fit: norm2 > 0 ? 1 - r2 / norm2 : 0 };
  }
}
