/**
 * Interaction intents of a trained model, for explanations and the report's intent map.
 *
 * Models with intent prototypes (IRLLRec on any backbone, DCCF, BIGCF) hold K user prototypes and
 * K item prototypes (columns of C_U, C_I, each a vector in the embedding space). An entity's
 * intent weights are w = softmax(e C), the weights the model itself computes during propagation:
 * averaged over the propagation layers l < L (E^(l), as IRLLRec and DCCF use them), or from the
 * final embeddings for BIGCF. The intent vector is ê = C w.
 *
 * Decomposition used by `explain`: with the user's weights w_u, the uniform mixture c̄ = mean_k c_k
 * and the item's final embedding e_i,
 *   score = e_u . e_i = sum_k (w_u[k] - 1/K) (c_k . e_i) + (e_u - ê_u + c̄) . e_i,
 * so leaning on user intent k (more than the uniform 1/K) adds (w_u[k] - 1/K) (c_k . e_i); the rest
 * of the score is reported as `residual`. Softmax weights over many prototypes are often nearly
 * flat, so `lift` = w K (times the uniform weight) is reported beside each weight. The agreement cos(ê_u, ê_i) is what IRLLRec
 * turns into the edge weight (1 + cos) / 2 of a (user, item) pair.
 */
import type { Kernels } from '../kernels/types.js';
import { IntentAlignment } from '../models/alignment/irllrec.js';
import type { ComposedModel } from '../models/composed.js';
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

/** The model's prototypes and every user's and item's intent weights, or null when it has none. */
export function computeIntents(net: ComposedModel, kernels: Kernels): IntentModel | null {
  const al = net.alignments.find((a): a is IntentAlignment => a instanceof IntentAlignment);
  const proto = al ? { user: al.userIntent, item: al.itemIntent } : net.backbone.prototypes;
  if (!proto) return null;
  const d = net.backbone.dim;
  const K = proto.user.cols;
  const U = net.backbone.adj.numUsers;
  const I = net.backbone.adj.numItems;
  return noGrad(() => {
    const out = net.backbone.forwardEval();
    const bigcf = net.backbone.kind === 'bigcf';
    const layers = bigcf ? [out.all] : out.layers.slice(0, Math.max(1, net.backbone.layerNum));
    const userW = new Float32Array(U * K);
    const itemW = new Float32Array(I * K);
    const tmpU = new Float32Array(U * K);
    const tmpI = new Float32Array(I * K);
    for (const e of layers) {
      const all = e.data;
      kernels.gemm(false, false, U, K, d, 1, all.subarray(0, U * d), d, proto.user.data, K, 0, tmpU, K);
      kernels.softmaxRows(U, K, tmpU, tmpU);
      kernels.gemm(false, false, I, K, d, 1, all.subarray(U * d, (U + I) * d), d, proto.item.data, K, 0, tmpI, K);
      kernels.softmaxRows(I, K, tmpI, tmpI);
      kernels.axpy(U * K, 1 / layers.length, tmpU, userW);
      kernels.axpy(I * K, 1 / layers.length, tmpI, itemW);
    }
    return {
      K, dim: d,
      userProto: transpose(proto.user.data, d, K),
      itemProto: transpose(proto.item.data, d, K),
      userW, itemW,
      source: bigcf ? 'softmax(E C) on the final embeddings (BIGCF)' : `softmax(E^(l) C) averaged over layers 0..${layers.length - 1}`,
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
