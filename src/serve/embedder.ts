/**
 * Text embedders for cold start from raw text: new text must land in the same vector space as the
 * text vectors the model was trained on (usr_prf.npy, usr_int.npy, ...). Which embedder that is
 * comes from the dataset's embed.json (written by `irllrec embed`):
 *
 * - `openai`: the same model (and `dimensions`) through any OpenAI-compatible /v1/embeddings
 *   service; base URL from $OPENAI_BASE_URL (or embed.json's), key from $OPENAI_API_KEY (or the
 *   variable named by $IRLLREC_API_KEY_ENV). Keys are only ever read from the environment.
 * - `local` (TF-IDF + truncated SVD): `irllrec embed` does not store its fitted projection, so new
 *   text is folded in with a linear map fitted once, on first use, from the dataset's own profile
 *   and intent texts (text/users.jsonl, text/items.jsonl) to their stored vectors: TF-IDF rows
 *   rebuilt with the embedder's vocabulary and idf (checked against the embedder's own TF-IDF),
 *   then ridge regression onto the stored vectors (conjugate gradients), rows L2-normalised.
 *   `foldInFidelity` reports the mean cosine between re-embedded training texts and their stored
 *   vectors (1 = exact).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { embeddingTexts, EMBED_MANIFEST } from '../text/embed.js';
import { DEFAULT_BASE_URL, OpenAiClient, type LlmConfig } from '../text/llm.js';
import { DEFAULT_LOCAL, tfidf } from '../text/local-embed.js';
import { readProfiles } from '../text/profile.js';
import { terms } from '../text/tokenize.js';
import { UnavailableError } from './errors.js';

export type TextKind = 'profile' | 'intent';

export interface TextEmbedder {
  /** e.g. "openai text-embedding-3-small", "local tfidf-svd-64 (fold-in)" */
  readonly name: string;
  /** One vector per text, in the space of the training vectors of that kind. */
  embed(texts: string[], kind: TextKind, signal?: AbortSignal): Promise<Float32Array[]>;
}

export interface EmbedManifest {
  provider: 'local' | 'openai';
  model: string;
  width: number;
  dimensions?: number | null;
  base_url?: string | null;
  local?: { dim: number; seed: number; max_features: number; max_df_ratio: number; iterations: number } | null;
}

export function readEmbedManifest(dir: string): EmbedManifest | null {
  const f = join(dir, EMBED_MANIFEST);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as EmbedManifest;
  } catch {
    return null;
  }
}

/** An embedder on an OpenAI-compatible service (the one the training vectors came from). */
export function openAiEmbedder(cfg: LlmConfig): TextEmbedder {
  const client = new OpenAiClient(cfg);
  return {
    name: `openai ${cfg.model}`,
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += 64) out.push(...(await client.embed(texts.slice(i, i + 64))).vectors);
      return out;
    },
  };
}

/** The service configuration from embed.json and the environment (never from files for keys). */
export function openAiConfigFromManifest(m: EmbedManifest, env: NodeJS.ProcessEnv = process.env): LlmConfig {
  const keyVar = env.IRLLREC_API_KEY_ENV || 'OPENAI_API_KEY';
  const baseUrl = env.OPENAI_BASE_URL || (m.base_url && /^https?:\/\//.test(m.base_url) ? m.base_url : DEFAULT_BASE_URL);
  const cfg: LlmConfig = {
    baseUrl, model: m.model, auth: 'bearer', timeoutMs: 60_000, maxRetries: 4, retryBaseMs: 500, retryMaxMs: 10_000,
    jsonMode: false, temperature: 0, maxTokens: 0,
  };
  const key = env[keyVar];
  if (key) cfg.apiKey = key;
  if (m.dimensions) cfg.dimensions = m.dimensions;
  return cfg;
}

interface SparseRows {
  rows: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** A fitted fold-in map for one kind: vocabulary, idf and the ridge projection (vocab x width). */
interface FoldIn {
  vocab: Map<string, number>;
  idf: Float64Array;
  W: Float64Array;
  width: number;
  fidelity: number;
}

function tfidfRow(text: string, vocab: Map<string, number>, idf: Float64Array): { idx: number[]; val: number[] } {
  const tf = new Map<number, number>();
  for (const w of terms(text)) {
    const j = vocab.get(w);
    if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
  }
  const idx = [...tf.keys()].sort((a, b) => a - b);
  let norm = 0;
  const val = idx.map((j) => {
    const v = (1 + Math.log(tf.get(j)!)) * idf[j]!;
    norm += v * v;
    return v;
  });
  norm = Math.sqrt(norm) || 1;
  return { idx, val: val.map((v) => v / norm) };
}

/** Y (rows x k) = A X; X is cols x k. */
function mulA(a: SparseRows, X: Float64Array, k: number): Float64Array {
  const Y = new Float64Array(a.rows * k);
  for (let r = 0; r < a.rows; r++) {
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const v = a.values[p]!;
      const xo = a.indices[p]! * k;
      const yo = r * k;
      for (let c = 0; c < k; c++) Y[yo + c]! += v * X[xo + c]!;
    }
  }
  return Y;
}

/** Z (cols x k) = A^T Y. */
function mulAt(a: SparseRows, cols: number, Y: Float64Array, k: number): Float64Array {
  const Z = new Float64Array(cols * k);
  for (let r = 0; r < a.rows; r++) {
    for (let p = a.indptr[r]!; p < a.indptr[r + 1]!; p++) {
      const v = a.values[p]!;
      const zo = a.indices[p]! * k;
      const yo = r * k;
      for (let c = 0; c < k; c++) Z[zo + c]! += v * Y[yo + c]!;
    }
  }
  return Z;
}

/**
 * Ridge regression min ||A W - X||^2 + lambda ||W||^2 by conjugate gradients on the normal
 * equations (one CG per column, sharing the sparse products), Jacobi-preconditioned: TF-IDF
 * columns differ a lot in norm, and the preconditioner makes a few dozen iterations enough.
 */
function ridge(a: SparseRows, cols: number, X: Float64Array, k: number, lambda: number, maxIters: number, tol = 1e-4): Float64Array {
  const inv = new Float64Array(cols).fill(lambda);
  for (let p = 0; p < a.indptr[a.rows]!; p++) inv[a.indices[p]!]! += a.values[p]! ** 2;
  for (let j = 0; j < cols; j++) inv[j] = 1 / inv[j]!;
  const W = new Float64Array(cols * k);
  const R = mulAt(a, cols, X, k); // residual of the normal equations at W = 0
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
    const AP = mulAt(a, cols, mulA(a, P, k), k);
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

function project(f: FoldIn, text: string): Float32Array {
  const { idx, val } = tfidfRow(text, f.vocab, f.idf);
  const out = new Float64Array(f.width);
  for (let p = 0; p < idx.length; p++) {
    const o = idx[p]! * f.width;
    for (let c = 0; c < f.width; c++) out[c]! += val[p]! * f.W[o + c]!;
  }
  let n = 0;
  for (let c = 0; c < f.width; c++) n += out[c]! ** 2;
  n = Math.sqrt(n);
  const v = new Float32Array(f.width);
  // an empty (or out-of-vocabulary) text carries no information: a zero vector, not noise
  if (n > 1e-12) for (let c = 0; c < f.width; c++) v[c] = out[c]! / n;
  return v;
}

/**
 * Fits the fold-in map for one kind from the training texts and their stored vectors
 * (rows of `stored`, width `width`, in the same order as `docs`).
 */
export function fitFoldIn(docs: string[], stored: Float32Array, width: number, o: { maxFeatures: number; maxDfRatio: number }): FoldIn {
  const { m, vocabulary } = tfidf(docs, { maxFeatures: o.maxFeatures, maxDfRatio: o.maxDfRatio });
  const vocab = new Map(vocabulary.map((w, i) => [w, i]));
  const df = new Float64Array(vocabulary.length);
  for (const d of docs) for (const w of new Set(terms(d))) {
    const j = vocab.get(w);
    if (j !== undefined) df[j]!++;
  }
  const n = docs.length;
  const idf = Float64Array.from(df, (c) => Math.log((1 + n) / (1 + c)) + 1);
  // the rebuilt rows must be the embedder's own (else its TF-IDF changed and the map is wrong)
  for (let r = 0; r < Math.min(n, 300); r++) {
    const { idx, val } = tfidfRow(docs[r]!, vocab, idf);
    const s = m.indptr[r]!;
    const e = m.indptr[r + 1]!;
    let ok = e - s === idx.length;
    for (let p = 0; ok && p < idx.length; p++) ok = m.indices[s + p] === idx[p] && Math.abs(m.values[s + p]! - val[p]!) < 1e-9;
    if (!ok) throw new UnavailableError('cannot fold new text into the local embedder\'s space: its TF-IDF differs from the one the vectors were made with (re-run "irllrec embed")');
  }
  const X = Float64Array.from(stored);
  const a: SparseRows = { rows: m.rows, indptr: m.indptr, indices: m.indices, values: m.values };
  const W = ridge(a, vocabulary.length, X, width, 1e-3, 25);
  const f: FoldIn = { vocab, idf, W, width, fidelity: 0 };
  // fidelity: mean cosine of re-embedded training texts against the stored vectors
  let cos = 0;
  const step = Math.max(1, Math.floor(n / 200));
  let cnt = 0;
  for (let r = 0; r < n; r += step) {
    const v = project(f, docs[r]!);
    let d = 0;
    let ns = 0;
    for (let c = 0; c < width; c++) {
      d += v[c]! * stored[r * width + c]!;
      ns += stored[r * width + c]! ** 2;
    }
    cos += ns > 0 ? d / Math.sqrt(ns) : 0;
    cnt++;
  }
  f.fidelity = cnt ? cos / cnt : 0;
  return f;
}

export interface LocalFoldInEmbedder extends TextEmbedder {
  /** Mean cosine between re-embedded training texts and their stored vectors, per kind fitted so far. */
  readonly foldInFidelity: Partial<Record<TextKind, number>>;
}

/**
 * The local embedder of a dataset directory, folded in (see the module doc). `stored` gives the
 * training vectors of each kind: users' rows then items' rows.
 */
export function localFoldInEmbedder(
  datasetDir: string, manifest: EmbedManifest,
  stored: (kind: TextKind) => { data: Float32Array; width: number } | null,
): LocalFoldInEmbedder {
  const fits: Partial<Record<TextKind, FoldIn>> = {};
  const fidelity: Partial<Record<TextKind, number>> = {};
  let texts: ReturnType<typeof embeddingTexts> | null = null;
  const lo = manifest.local;
  const fit = (kind: TextKind): FoldIn => {
    const have = fits[kind];
    if (have) return have;
    const s = stored(kind);
    if (!s) throw new UnavailableError(`the model has no ${kind} text vectors to fold new text into`);
    if (!texts) {
      const { users, items } = readProfiles(datasetDir);
      texts = embeddingTexts(users, items);
    }
    const docs = kind === 'profile' ? [...texts.usrPrf, ...texts.itmPrf] : [...texts.usrInt, ...texts.itmInt];
    if (docs.length * s.width !== s.data.length) {
      throw new UnavailableError(`${datasetDir}: the profiles (${docs.length} texts) do not match the ${kind} vectors (${s.data.length / s.width} rows); re-run "irllrec embed"`);
    }
    const f = fitFoldIn(docs, s.data, s.width, { maxFeatures: lo?.max_features ?? DEFAULT_LOCAL.maxFeatures, maxDfRatio: lo?.max_df_ratio ?? DEFAULT_LOCAL.maxDfRatio });
    fits[kind] = f;
    fidelity[kind] = f.fidelity;
    return f;
  };
  return {
    name: `local ${manifest.model} (fold-in)`,
    foldInFidelity: fidelity,
    async embed(list, kind) {
      const f = fit(kind);
      return list.map((t) => project(f, t));
    },
  };
}
