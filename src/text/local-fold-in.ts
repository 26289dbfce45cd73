/**
 * The approximate fold-in for datasets embedded before `irllrec embed` saved its fit
 * (embed.json without `local.model`): a linear map from the embedder's TF-IDF rows (./local-embed.ts,
 * rebuilt from the dataset's own texts) to the stored vectors, fitted by ridge regression
 * (conjugate gradients), rows L2-normalised. `fidelity` is the mean cosine between re-embedded
 * training texts and their stored vectors (1 = exact). Datasets embedded now carry the exact fit
 * (./local-model.ts) and never use this.
 */
import { DEFAULT_LOCAL, mulA, mulAt, tfidf, tfidfRow, type Csr } from './local-embed.js';
import { terms } from './tokenize.js';

/** A fitted fold-in map for one kind: vocabulary, idf and the ridge projection (vocab x width). */
export interface RidgeFoldIn {
  width: number;
  /** Mean cosine of re-embedded training texts against their stored vectors. */
  fidelity: number;
  embed(text: string): Float32Array;
}

/**
 * Ridge regression min ||A W - X||^2 + lambda ||W||^2 by conjugate gradients on the normal
 * equations (one CG per column, sharing the sparse products), Jacobi-preconditioned: TF-IDF
 * columns differ a lot in norm, and the preconditioner makes a few dozen iterations enough.
 */
function ridge(a: Csr, X: Float64Array, k: number, lambda: number, maxIters: number, tol = 1e-4): Float64Array {
  const cols = a.cols;
  const inv = new Float64Array(cols).fill(lambda);
  for (let p = 0; p < a.indptr[a.rows]!; p++) inv[a.indices[p]!]! += a.values[p]! ** 2;
  for (let j = 0; j < cols; j++) inv[j] = 1 / inv[j]!;
  const W = new Float64Array(cols * k);
  const R = mulAt(a, X, k); // residual of the normal equations at W = 0
  const Z = new Float64Array(cols * k);
  const rz = new Float64Array(k);
  const rr0 = new Float64Array(k);
  for (let j = 0, o = 0; j < cols; j++, o += k) {
    for (let c = 0; c < k; c++) {
      const r = R[o + c]!;
      const z = r * inv[j]!;
      Z[o + c] = z;
      rz[c]! += r * z;
      rr0[c]! += r * r;
    }
  }
  const P = Float64Array.from(Z);
  const pap = new Float64Array(k);
  const alpha = new Float64Array(k);
  const rzNew = new Float64Array(k);
  const rr = new Float64Array(k);
  for (let it = 0; it < maxIters; it++) {
    const AP = mulAt(a, mulA(a, P, k), k);
    pap.fill(0);
    for (let j = 0, o = 0; j < cols; j++, o += k) {
      for (let c = 0; c < k; c++) {
        const ap = AP[o + c]! + lambda * P[o + c]!;
        AP[o + c] = ap;
        pap[c]! += P[o + c]! * ap;
      }
    }
    for (let c = 0; c < k; c++) alpha[c] = pap[c]! > 0 ? rz[c]! / pap[c]! : 0;
    rzNew.fill(0);
    rr.fill(0);
    for (let j = 0, o = 0; j < cols; j++, o += k) {
      const ij = inv[j]!;
      for (let c = 0; c < k; c++) {
        W[o + c]! += alpha[c]! * P[o + c]!;
        const r = R[o + c]! - alpha[c]! * AP[o + c]!;
        R[o + c] = r;
        const z = r * ij;
        Z[o + c] = z;
        rzNew[c]! += r * z;
        rr[c]! += r * r;
      }
    }
    let done = true;
    for (let c = 0; c < k; c++) if (rr[c]! > tol * tol * rr0[c]!) done = false;
    if (done) break;
    for (let c = 0; c < k; c++) alpha[c] = rz[c]! > 0 ? rzNew[c]! / rz[c]! : 0; // beta
    for (let j = 0, o = 0; j < cols; j++, o += k) for (let c = 0; c < k; c++) P[o + c] = Z[o + c]! + alpha[c]! * P[o + c]!;
    rz.set(rzNew);
  }
  return W;
}

/**
 * Fits the fold-in map for one kind from the training texts and their stored vectors (rows of
 * `stored`, width `width`, in the same order as `docs`).
 */
export function fitRidgeFoldIn(
  docs: string[], stored: Float32Array, width: number, o: { maxFeatures: number; maxDfRatio: number } = DEFAULT_LOCAL,
): RidgeFoldIn {
  const { m, vocabulary, idf } = tfidf(docs, { maxFeatures: o.maxFeatures, maxDfRatio: o.maxDfRatio });
  const index = new Map(vocabulary.map((w, i) => [w, i]));
  const W = ridge(m, Float64Array.from(stored), width, 1e-3, 25);
  const embed = (text: string): Float32Array => {
    const { idx, val } = tfidfRow(terms(text), index, idf);
    const out = new Float64Array(width);
    for (let p = 0; p < idx.length; p++) {
      const off = idx[p]! * width;
      for (let c = 0; c < width; c++) out[c]! += val[p]! * W[off + c]!;
    }
    let n = 0;
    for (let c = 0; c < width; c++) n += out[c]! ** 2;
    n = Math.sqrt(n);
    const v = new Float32Array(width);
    // an empty (or out-of-vocabulary) text carries no information: a zero vector, not noise
    if (n > 1e-12) for (let c = 0; c < width; c++) v[c] = out[c]! / n;
    return v;
  };
  // fidelity: mean cosine of re-embedded training texts against the stored vectors
  const n = docs.length;
  let cos = 0;
  let cnt = 0;
  for (let r = 0, step = Math.max(1, Math.floor(n / 200)); r < n; r += step) {
    const v = embed(docs[r]!);
    let d = 0;
    let ns = 0;
    for (let c = 0; c < width; c++) {
      d += v[c]! * stored[r * width + c]!;
      ns += stored[r * width + c]! ** 2;
    }
    cos += ns > 0 ? d / Math.sqrt(ns) : 0;
    cnt++;
  }
  return { width, fidelity: cnt ? cos / cnt : 0, embed };
}
