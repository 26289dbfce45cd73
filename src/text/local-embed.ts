/**
 * The local embedder: TF-IDF (unigrams + bigrams, sublinear tf, smoothed idf, L2 rows) and a
 * truncated SVD by randomized subspace iteration (Halko, Martinsson & Tropp 2011), all in float64
 * TypeScript: no weights, no downloads, deterministic for a given seed (the same numbers on every
 * machine with the same Node). Output rows are L2-normalised (an empty text gets the normalised
 * mean direction, so no row is zero).
 *
 * The fit is also returned as a {@link LocalTextModel} (vocabulary, idf, the cols x width
 * projection, the fallback direction): `applyLocalModel` embeds any text with it, and gives a
 * training text the vector the fit gave it (to ~1e-12; `fitError` is the largest difference seen).
 * `irllrec embed` saves it (./local-model.ts) so cold start embeds new text exactly as the fit did.
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

/**
 * A fitted local embedder for one kind of text: TF-IDF with `vocabulary` (sorted) and `idf`, then
 * the linear map `projection` (vocabulary x width, row-major) that reproduces the truncated SVD's
 * document vectors (U_k Sigma_k with the fit's signs), then L2 normalisation; a text with no
 * vocabulary term gets `fallback` (the normalised mean direction of the fit's vectors).
 */
export interface LocalTextModel {
  vocabulary: string[];
  idf: Float64Array;
  width: number;
  projection: Float64Array;
  fallback: Float64Array;
  /** term -> column (built from `vocabulary`) */
  index: ReadonlyMap<string, number>;
}

export interface LocalEmbedding {
  vectors: Float32Array;
  rows: number;
  width: number;
  vocabulary: number;
  /** share of the TF-IDF matrix's squared Frobenius norm the kept components explain */
  explained: number;
  /** the fit, to embed new text exactly as these vectors were made */
  model: LocalTextModel;
  /** largest |applyLocalModel(model, doc) - vectors row| over the fit's documents */
  fitError: number;
}

export interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

export function tfidf(docs: string[], o: Pick<LocalEmbedOptions, 'maxFeatures' | 'minDf' | 'maxDfRatio'>): { m: Csr; vocabulary: string[]; idf: Float64Array } {
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
    const row = tfidfRow(t, index, idf);
    for (let p = 0; p < row.idx.length; p++) {
      idx.push(row.idx[p]!);
      val.push(row.val[p]!);
    }
    indptr[r + 1] = idx.length;
  });
  return { m: { rows: n, cols: vocab.length, indptr, indices: Int32Array.from(idx), values: Float64Array.from(val) }, vocabulary: vocab.map(([w]) => w), idf };
}

/**
 * The TF-IDF row of one tokenised text (the one implementation, for the fit and for new text):
 * column indices ascending, values (1 + ln tf) * idf, L2-normalised (an empty row stays empty).
 */
export function tfidfRow(tokens: readonly string[], index: ReadonlyMap<string, number>, idf: Float64Array): { idx: number[]; val: number[] } {
  const tf = new Map<number, number>();
  for (const w of tokens) {
    const j = index.get(w);
    if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
  }
  const idx = [...tf.keys()].sort((a, b) => a - b);
  let norm = 0;
  const vs = idx.map((j) => {
    const v = (1 + Math.log(tf.get(j)!)) * idf[j]!;
    norm += v * v;
    return v;
  });
  norm = Math.sqrt(norm) || 1;
  return { idx, val: vs.map((v) => v / norm) };
}

/** Y (rows x l) = A X, X is cols x l. */
export function mulA(a: Csr, X: Float64Array, l: number): Float64Array {
  return csrTimes(a, X, l, false);
}

/** Z (cols x l) = A^T Y, Y is rows x l. */
export function mulAt(a: Csr, Y: Float64Array, l: number): Float64Array {
  return csrTimes(a, Y, l, true);
}

/**
 * A X (X cols x l) or, transposed, A^T X (X rows x l): one pass over A's entries in storage order,
 * so each output row sums its terms in the same order either way.
 */
function csrTimes(a: Csr, X: Float64Array, l: number, transposed: boolean): Float64Array {
  const out = new Float64Array((transposed ? a.cols : a.rows) * l);
  for (let r = 0; r < a.rows; r++) {
    const ro = r * l;
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const v = a.values[p]!;
      const jo = a.indices[p]! * l;
      const oo = transposed ? jo : ro;
      const xo = transposed ? ro : jo;
      for (let c = 0; c < l; c++) out[oo + c]! += v * X[xo + c]!;
    }
  }
  return out;
}

/**
 * Orthonormalises the l columns of the n x l row-major M in place (modified Gram-Schmidt, twice,
 * on a column-major copy so every dot product runs over contiguous memory). With `T` (l x l,
 * column-major, the identity on entry) the same column operations are applied to it, so that
 * (M on entry) T = (M on return): the orthonormal basis as a linear map of the input columns.
 */
function orthonormalize(M: Float64Array, n: number, l: number, T?: Float64Array): void {
  const C = new Float64Array(n * l);
  for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) C[j * n + i] = M[i * l + j]!;
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < l; j++) {
      const cj = C.subarray(j * n, (j + 1) * n);
      for (let k = 0; k < j; k++) {
        const ck = C.subarray(k * n, (k + 1) * n);
        let d = 0;
        for (let i = 0; i < n; i++) d += ck[i]! * cj[i]!;
        if (d !== 0) {
          for (let i = 0; i < n; i++) cj[i]! -= d * ck[i]!;
          if (T) for (let i = 0; i < l; i++) T[j * l + i]! -= d * T[k * l + i]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += cj[i]! * cj[i]!;
      norm = Math.sqrt(norm);
      // a (numerically) dependent column becomes zero rather than amplified noise
      const inv = norm > 1e-10 ? 1 / norm : 0;
      for (let i = 0; i < n; i++) cj[i] = cj[i]! * inv;
      if (T) for (let i = 0; i < l; i++) T[j * l + i] = T[j * l + i]! * inv;
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
  const { m, vocabulary, idf } = tfidf(docs, o);
  const n = m.rows;
  const rank = Math.min(n, m.cols);
  const k = Math.max(1, Math.min(o.dim, rank));
  const l = Math.min(rank, k + 10) || 1;
  const rng = new Rng(o.seed);
  // Y = A Omega, then subspace iterations Y = A (A^T Q); the last step's X (Y = A X) and T (Q = Y T)
  // make the basis a linear map of TF-IDF rows: Q = A X T
  const omega = new Float64Array(m.cols * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  const T = new Float64Array(l * l);
  for (let i = 0; i < l; i++) T[i * l + i] = 1;
  let X: Float64Array = omega;
  let Q = mulA(m, X, l);
  orthonormalize(Q, n, l, o.iterations > 0 ? undefined : T);
  for (let it = 0; it < o.iterations; it++) {
    X = mulAt(m, Q, l);
    Q = mulA(m, X, l);
    orthonormalize(Q, n, l, it === o.iterations - 1 ? T : undefined);
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
  const sign = new Float64Array(k).fill(1);
  for (let c = 0; c < k; c++) {
    let best = 0;
    for (let r = 0; r < n; r++) if (Math.abs(out[r * k + c]!) > Math.abs(best) + 1e-12) best = out[r * k + c]!;
    if (best < 0) {
      sign[c] = -1;
      for (let r = 0; r < n; r++) out[r * k + c] = -out[r * k + c]!;
    }
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
  // the fit as a map of TF-IDF rows: out = Q W_k Sigma_k S = A X (T W_k Sigma_k S)
  const M = new Float64Array(l * k);
  for (let i = 0; i < l; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < l; j++) s += T[j * l + i]! * W[j * l + c]!;
      M[i * k + c] = s * Math.sqrt(Math.max(values[c]!, 0)) * sign[c]!;
    }
  }
  const projection = new Float64Array(m.cols * k);
  for (let v = 0; v < m.cols; v++) {
    for (let i = 0; i < l; i++) {
      const x = X[v * l + i]!;
      if (x === 0) continue;
      for (let c = 0; c < k; c++) projection[v * k + c]! += x * M[i * k + c]!;
    }
  }
  const model = makeLocalModel(vocabulary, idf, k, projection, Float64Array.from(mean, (x) => x / mn));
  // how exactly the model reproduces the fit's own vectors (the TF-IDF rows are the fit's)
  let fitError = 0;
  for (let r = 0; r < n; r++) {
    const s = m.indptr[r]!;
    const e = m.indptr[r + 1]!;
    const v = projectRow(model, m.indices.subarray(s, e), m.values.subarray(s, e));
    for (let c = 0; c < k; c++) fitError = Math.max(fitError, Math.abs(v[c]! - vectors[r * k + c]!));
  }
  return { vectors, rows: n, width: k, vocabulary: vocabulary.length, explained: total > 0 ? kept / total : 0, model, fitError };
}

/** A LocalTextModel from its parts (checks their sizes). */
export function makeLocalModel(vocabulary: string[], idf: Float64Array, width: number, projection: Float64Array, fallback: Float64Array): LocalTextModel {
  if (idf.length !== vocabulary.length || projection.length !== vocabulary.length * width || fallback.length !== width) {
    throw new RangeError(`local model: ${vocabulary.length} terms, ${idf.length} idf values, projection of ${projection.length} values, fallback of ${fallback.length} for width ${width}`);
  }
  return { vocabulary, idf, width, projection, fallback, index: new Map(vocabulary.map((w, i) => [w, i])) };
}

function projectRow(model: LocalTextModel, idx: ArrayLike<number>, val: ArrayLike<number>): Float32Array {
  const k = model.width;
  const P = model.projection;
  const out = new Float64Array(k);
  for (let p = 0; p < idx.length; p++) {
    const o = idx[p]! * k;
    const x = val[p]!;
    for (let c = 0; c < k; c++) out[c]! += x * P[o + c]!;
  }
  let s = 0;
  for (let c = 0; c < k; c++) s += out[c]! ** 2;
  s = Math.sqrt(s);
  const v = new Float32Array(k);
  for (let c = 0; c < k; c++) v[c] = s > 1e-12 ? out[c]! / s : model.fallback[c]!;
  return v;
}

/** Embeds one text with a fitted local model: what `embedLocal` gave it, were it one of the fit's documents. */
export function applyLocalModel(model: LocalTextModel, text: string): Float32Array {
  const { idx, val } = tfidfRow(terms(text), model.index, model.idf);
  return projectRow(model, idx, val);
}
