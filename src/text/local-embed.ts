/**
 * The local embedder: TF-IDF (unigrams + bigrams, sublinear tf, smoothed idf, L2 rows) and a
 * truncated SVD by randomized subspace iteration (Halko, Martinsson & Tropp 2011), all in float64
 * TypeScript: no weights, no downloads, deterministic for a given seed (the same numbers on every
 * machine with the same Node). Output rows are L2-normalised (an empty text gets the normalised
 * mean direction, so no row is zero).
 */
import { Rng } from '../util/rng.js';
import { terms } from './tokenize.js';

export interface LocalEmbedOptions {
  dim: number;
  seed: number;
  /** vocabulary cap (most frequent terms by document frequency) */
  maxFeatures: number;
  /** drop terms in fewer documents (default 2, or 1 below 20 documents) */
  minDf?: number;
  /** drop terms in more than this share of documents */
  maxDfRatio: number;
  /** power iterations */
  iterations: number;
}

export const DEFAULT_LOCAL: LocalEmbedOptions = { dim: 64, seed: 2023, maxFeatures: 30000, maxDfRatio: 0.9, iterations: 3 };

export interface LocalEmbedding {
  vectors: Float32Array;
  rows: number;
  width: number;
  vocabulary: number;
  /** share of the TF-IDF matrix's squared Frobenius norm the kept components explain */
  explained: number;
}

interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

export function tfidf(docs: string[], o: Pick<LocalEmbedOptions, 'maxFeatures' | 'minDf' | 'maxDfRatio'>): { m: Csr; vocabulary: string[] } {
  const toks = docs.map((d) => terms(d));
  const df = new Map<string, number>();
  for (const t of toks) for (const w of new Set(t)) df.set(w, (df.get(w) ?? 0) + 1);
  const n = docs.length;
  const minDf = o.minDf ?? (n >= 20 ? 2 : 1);
  const maxDf = Math.max(minDf, Math.floor(o.maxDfRatio * n));
  let vocab = [...df].filter(([, c]) => c >= minDf && (c <= maxDf || n < 5));
  vocab.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  vocab = vocab.slice(0, o.maxFeatures);
  vocab.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const index = new Map(vocab.map(([w], i) => [w, i]));
  const idf = Float64Array.from(vocab, ([, c]) => Math.log((1 + n) / (1 + c)) + 1);
  const indptr = new Int32Array(n + 1);
  const idx: number[] = [];
  const val: number[] = [];
  toks.forEach((t, r) => {
    const tf = new Map<number, number>();
    for (const w of t) {
      const j = index.get(w);
      if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
    }
    const cols = [...tf.keys()].sort((a, b) => a - b);
    let norm = 0;
    const vs = cols.map((j) => {
      const v = (1 + Math.log(tf.get(j)!)) * idf[j]!;
      norm += v * v;
      return v;
    });
    norm = Math.sqrt(norm) || 1;
    cols.forEach((j, k) => {
      idx.push(j);
      val.push(vs[k]! / norm);
    });
    indptr[r + 1] = idx.length;
  });
  return { m: { rows: n, cols: vocab.length, indptr, indices: Int32Array.from(idx), values: Float64Array.from(val) }, vocabulary: vocab.map(([w]) => w) };
}

/** Y (rows x l) = A X, X is cols x l. */
function mulA(a: Csr, X: Float64Array, l: number): Float64Array {
  const Y = new Float64Array(a.rows * l);
  for (let r = 0; r < a.rows; r++) {
    const yo = r * l;
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const v = a.values[p]!;
      const xo = a.indices[p]! * l;
      for (let c = 0; c < l; c++) Y[yo + c]! += v * X[xo + c]!;
    }
  }
  return Y;
}

/** Z (cols x l) = A^T Y, Y is rows x l. */
function mulAt(a: Csr, Y: Float64Array, l: number): Float64Array {
  const Z = new Float64Array(a.cols * l);
  for (let r = 0; r < a.rows; r++) {
    const yo = r * l;
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const v = a.values[p]!;
      const zo = a.indices[p]! * l;
      for (let c = 0; c < l; c++) Z[zo + c]! += v * Y[yo + c]!;
    }
  }
  return Z;
}

/**
 * Orthonormalises the l columns of the n x l row-major M in place (modified Gram-Schmidt, twice,
 * on a column-major copy so every dot product runs over contiguous memory).
 */
function orthonormalize(M: Float64Array, n: number, l: number): void {
  const C = new Float64Array(n * l);
  for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) C[j * n + i] = M[i * l + j]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < l; j++) {
      const cj = C.subarray(j * n, (j + 1) * n);
      for (let k = 0; k < j; k++) {
        const ck = C.subarray(k * n, (k + 1) * n);
        let d = 0;
        for (let i = 0; i < n; i++) d += ck[i]! * cj[i]!;
        if (d !== 0) for (let i = 0; i < n; i++) cj[i]! -= d * ck[i]!;
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += cj[i]! * cj[i]!;
      norm = Math.sqrt(norm);
      // a (numerically) dependent column becomes zero rather than amplified noise
      const inv = norm > 1e-10 ? 1 / norm : 0;
      for (let i = 0; i < n; i++) cj[i] = cj[i]! * inv;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) M[i * l + j] = C[j * n + i]!;
}

/** Eigen-decomposition of a symmetric l x l matrix (cyclic Jacobi): values descending, vectors as columns. */
export function symmetricEigen(A: Float64Array, l: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(A);
  const v = new Float64Array(l * l);
  for (let i = 0; i < l; i++) v[i * l + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < l; i++) {
      diag += a[i * l + i]! * a[i * l + i]!;
      for (let j = i + 1; j < l; j++) off += a[i * l + j]! * a[i * l + j]!;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < l; p++) {
      for (let q = p + 1; q < l; q++) {
        const apq = a[p * l + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * l + q]! - a[p * l + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < l; k++) {
          const akp = a[k * l + p]!;
          const akq = a[k * l + q]!;
          a[k * l + p] = c * akp - s * akq;
          a[k * l + q] = s * akp + c * akq;
        }
        for (let k = 0; k < l; k++) {
          const apk = a[p * l + k]!;
          const aqk = a[q * l + k]!;
          a[p * l + k] = c * apk - s * aqk;
          a[q * l + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < l; k++) {
          const vkp = v[k * l + p]!;
          const vkq = v[k * l + q]!;
          v[k * l + p] = c * vkp - s * vkq;
          v[k * l + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: l }, (_, i) => i).sort((x, y) => a[y * l + y]! - a[x * l + x]! || x - y);
  const values = Float64Array.from(order, (i) => a[i * l + i]!);
  const vectors = new Float64Array(l * l);
  order.forEach((src, dst) => {
    for (let k = 0; k < l; k++) vectors[k * l + dst] = v[k * l + src]!;
  });
  return { values, vectors };
}

export function embedLocal(docs: string[], o: LocalEmbedOptions = DEFAULT_LOCAL): LocalEmbedding {
  const { m, vocabulary } = tfidf(docs, o);
  const n = m.rows;
  const rank = Math.min(n, m.cols);
  const k = Math.max(1, Math.min(o.dim, rank));
  const l = Math.min(rank, k + 10) || 1;
  const rng = new Rng(o.seed);
  // Y = A Omega, then subspace iterations Y = A (A^T Q)
  const omega = new Float64Array(m.cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let Q = mulA(m, omega, l);
  orthonormalize(Q, n, l);
  for (let it = 0; it < o.iterations; it++) {
    Q = mulA(m, mulAt(m, Q, l), l);
    orthonormalize(Q, n, l);
  }
  // B = Q^T A (l x cols); B B^T = Z^T Z with Z = A^T Q
  const Z = mulAt(m, Q, l);
  const G = new Float64Array(l * l);
  for (let r = 0; r < m.cols; r++) {
    const zo = r * l;
    for (let i = 0; i < l; i++) {
      const zi = Z[zo + i]!;
      if (zi === 0) continue;
      for (let j = i; j < l; j++) G[i * l + j]! += zi * Z[zo + j]!;
    }
  }
  for (let i = 0; i < l; i++) for (let j = 0; j < i; j++) G[i * l + j] = G[j * l + i]!;
  const { values, vectors: W } = symmetricEigen(G, l);
  // doc vectors = Q W_k Sigma_k = U_k Sigma_k
  const out = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < l; j++) s += Q[r * l + j]! * W[j * l + c]!;
      out[r * k + c] = s * Math.sqrt(Math.max(values[c]!, 0));
    }
  }
  // deterministic signs: the largest |entry| of each component is positive
  for (let c = 0; c < k; c++) {
    let best = 0;
    for (let r = 0; r < n; r++) if (Math.abs(out[r * k + c]!) > Math.abs(best) + 1e-12) best = out[r * k + c]!;
    if (best < 0) for (let r = 0; r < n; r++) out[r * k + c] = -out[r * k + c]!;
  }
  let total = 0;
  for (const v of m.values) total += v * v;
  let kept = 0;
  for (let c = 0; c < k; c++) kept += Math.max(values[c]!, 0);
  // L2 rows; zero rows get the mean direction
  const mean = new Float64Array(k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) mean[c]! += out[r * k + c]!;
  let mn = Math.hypot(...mean);
  if (!(mn > 0)) {
    mean.fill(1);
    mn = Math.sqrt(k);
  }
  const vectors = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += out[r * k + c]! ** 2;
    s = Math.sqrt(s);
    for (let c = 0; c < k; c++) vectors[r * k + c] = s > 1e-12 ? out[r * k + c]! / s : mean[c]! / mn;
  }
  return { vectors, rows: n, width: k, vocabulary: vocabulary.length, explained: total > 0 ? kept / total : 0 };
}
