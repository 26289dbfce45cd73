/**
 * What every serving module works on: the model's embeddings, id maps, interactions, intents,
 * towers and profiles (from RecommenderParts, checked), the ranker, and the helpers they share
 * (external ids of item lists, scored results, normalised item embeddings).
 */
import type { CsrPattern } from '../data/csr.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { IdMap } from '../run/ids.js';
import type { ProfileRecord } from '../text/profile-files.js';
import { InvalidArgumentError, NotFoundError } from './errors.js';
import { topIndices, type IntentModel } from './intents.js';
import { MAX_BATCH_DEFAULT, normalizeRows, Ranker } from './ranker.js';
import type { Id, RecommenderParts, ScoredItem, Towers } from './types.js';

export class ServeCore {
  readonly model: string;
  readonly numUsers: number;
  readonly numItems: number;
  readonly dim: number;
  readonly userEmb: Float32Array;
  readonly itemEmb: Float32Array;
  readonly users: IdMap;
  readonly items: IdMap;
  /** Training interactions (users x items). */
  readonly seen: CsrPattern;
  /** Validation and test interactions. */
  readonly heldOut: CsrPattern[];
  readonly intents: IntentModel | null;
  readonly towers: Towers | null;
  readonly profiles: { users: ProfileRecord[]; items: ProfileRecord[] } | null;
  readonly kernels: Kernels;
  readonly ranker: Ranker;
  private itemNormCache: Float32Array | null = null;
  private itemNormsCache: Float32Array | null = null;
  private maxItemNorm = 0;
  private scoreRow: Float32Array | null = null;

  constructor(p: RecommenderParts) {
    const { numUsers, numItems, dim } = p;
    if (p.userEmb.length !== numUsers * dim) throw new InvalidArgumentError(`userEmb has ${p.userEmb.length} values, expected ${numUsers} x ${dim}`);
    if (p.itemEmb.length !== numItems * dim) throw new InvalidArgumentError(`itemEmb has ${p.itemEmb.length} values, expected ${numItems} x ${dim}`);
    this.model = p.model;
    this.numUsers = numUsers;
    this.numItems = numItems;
    this.dim = dim;
    this.userEmb = p.userEmb;
    this.itemEmb = p.itemEmb;
    this.users = p.users ?? IdMap.identity(numUsers);
    this.items = p.items ?? IdMap.identity(numItems);
    this.seen = p.seen ?? { rows: numUsers, cols: numItems, indptr: new Int32Array(numUsers + 1), indices: new Int32Array(0) };
    this.heldOut = p.heldOut ?? [];
    this.intents = p.intents ?? null;
    this.towers = p.towers ?? null;
    this.profiles = p.profiles ?? null;
    this.kernels = p.kernels ?? getKernels();
    this.ranker = new Ranker(this.kernels, numItems, dim, Math.max(1, p.blockSize ?? MAX_BATCH_DEFAULT));
  }

  /** Internal indices of item ids (null for undefined); NotFoundError naming the unknown ones. */
  itemIndices(ids: Id[] | undefined, what: string): Int32Array | null {
    if (ids === undefined || ids === null) return null;
    if (!Array.isArray(ids)) throw new InvalidArgumentError(`${what} must be a list of item ids`);
    return lookupIds(this.items, ids, (s) => `item${s} in ${what}`);
  }

  /** Items with their scores (and titles), in external ids. */
  scored(items: Int32Array, scores: Float32Array): ScoredItem[] {
    const out: ScoredItem[] = new Array(items.length);
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      const t = this.items.title(i);
      out[j] = t === undefined ? { item: this.items.key(i), score: scores[j]! } : { item: this.items.key(i), score: scores[j]!, title: t };
    }
    return out;
  }

  /** Item embeddings, rows L2-normalised (cosine similarity), computed once. */
  itemNorm(): Float32Array {
    return (this.itemNormCache ??= normalizeRows(this.itemEmb, this.numItems, this.dim));
  }

  /** Rows `idx` of itemNorm() (the same values), without building the whole table when it is not there yet. */
  itemNormRows(idx: Int32Array): Float32Array {
    const d = this.dim;
    const rows = new Float32Array(idx.length * d);
    this.kernels.gatherRows(d, this.itemNormCache ?? this.itemEmb, idx, rows);
    return this.itemNormCache ? rows : normalizeRows(rows, idx.length, d);
  }

  /**
   * How many items j (j != item, j not in `skip`) score strictly above `score` for user u, where
   * an item's score is dot(e_u, e_j) summed in float64 in dimension order (`dot` of ./intents.ts):
   * exactly the count of that loop over every item, in one float32 matrix-vector product plus an
   * exact recount of the few items whose float32 score is within its rounding bound of `score`.
   */
  countAbove(u: number, score: number, item: number, skip: Set<number>): number {
    const d = this.dim;
    const n = this.numItems;
    const E = this.itemEmb;
    const q = this.userEmb.subarray(u * d, (u + 1) * d);
    const tol = this.dotTolerance(q);
    if (!Number.isFinite(tol)) return this.countAboveExact(u, score, item, skip);
    const lo = score - tol;
    const hi = score + tol;
    const S = this.scoreAll(q);
    let count = 0;
    for (let j = 0; j < n; j++) {
      const s = S[j]!;
      if (s > hi) count++;
      else if (s >= lo && dotRow(q, E, j * d, d) > score) count++;
    }
    // the item itself never counts (its score is `score`); take out the skipped ones that counted
    for (const j of skip) if (j !== item && dotRow(q, E, j * d, d) > score) count--;
    return count;
  }

  /**
   * The n items with the largest float32-rounded `dot` (./intents.ts) with vector q, best first,
   * ties by lower index: exactly topIndices over Math.fround(dot(q, e_j)) for every item j, in one
   * float32 matrix-vector product plus an exact recount of the items near the n-th score. Returns
   * the indices and their float32-rounded dots.
   */
  topDots(q: Float32Array, n: number): { top: number[]; values: Float32Array } {
    const d = this.dim;
    const E = this.itemEmb;
    const N = this.numItems;
    n = Math.min(n, N);
    const exactAll = () => {
      const v = new Float32Array(N);
      for (let j = 0; j < N; j++) v[j] = dotRow(q, E, j * d, d);
      const top = topIndices(v, 0, N, n);
      return { top, values: Float32Array.from(top, (j) => v[j]!) };
    };
    // the float32 product's error, plus float32 rounding of the dot (2^-24 relative), twice over
    const tol = 2 * (this.dotTolerance(q) + 2 ** -24 * this.qNorm(q) * this.maxItemNorm);
    if (n === 0 || !Number.isFinite(tol)) return exactAll();
    const S = this.scoreAll(q);
    const nth = S[topIndices(S, 0, N, n)[n - 1]!]!;
    if (!Number.isFinite(nth)) return exactAll();
    // with |S_j - f_j| <= t (t = tol / 2, f = the float32-rounded exact dot): the n items with the
    // largest S all have f >= nth - t, so the n-th largest f is >= nth - t and every true top-n item
    // has S_j >= f_j - t >= nth - 2t = nth - tol; those candidates are recounted exactly
    const lo = nth - tol;
    const cand: number[] = [];
    for (let j = 0; j < N; j++) if (S[j]! >= lo) cand.push(j);
    const v = Float32Array.from(cand, (j) => dotRow(q, E, j * d, d));
    const pick = topIndices(v, 0, cand.length, n); // candidates ascend, so ties still go to the lower index
    return { top: pick.map((c) => cand[c]!), values: Float32Array.from(pick, (c) => v[c]!) };
  }

  private qNorm(q: Float32Array): number {
    let qn = 0;
    for (let c = 0; c < q.length; c++) qn += q[c]! ** 2;
    return Math.sqrt(qn);
  }

  /**
   * A bound on |float32 dot(q, e_j) - dot(q, e_j)| for every item: gamma_d * sum_c |q_c e_jc| <=
   * gamma_d |q| |e_j| whatever the summation order (fused or not), gamma_d = d u / (1 - d u),
   * u = 2^-24; the float64 sum's own error is far below. Doubled, plus a floor for subnormals.
   */
  private dotTolerance(q: Float32Array): number {
    const d = this.dim;
    this.itemNorms();
    const gamma = (d * 2 ** -24) / (1 - d * 2 ** -24);
    return 2 * gamma * this.qNorm(q) * this.maxItemNorm * (1 + 1e-6) + 1e-30;
  }

  /** float32 scores of q against every item (one reused buffer: valid until the next call). */
  private scoreAll(q: Float32Array): Float32Array {
    const n = this.numItems;
    const S = (this.scoreRow ??= new Float32Array(n));
    this.kernels.gemm(false, true, 1, n, this.dim, 1, q, this.dim, this.itemEmb, this.dim, 0, S, n);
    return S;
  }

  private itemNorms(): Float32Array {
    const d = this.dim;
    const n = this.numItems;
    const E = this.itemEmb;
    if (!this.itemNormsCache) {
      const norms = new Float32Array(n);
      let mx = 0;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += E[j * d + c]! ** 2;
        norms[j] = Math.sqrt(s);
        if (!(norms[j]! <= mx)) mx = norms[j]!;
      }
      this.itemNormsCache = norms;
      this.maxItemNorm = mx;
    }
    return this.itemNormsCache;
  }

  /** countAbove by the plain loop (the definition; used when the bound is not finite). */
  countAboveExact(u: number, score: number, item: number, skip: Set<number>): number {
    const d = this.dim;
    const q = this.userEmb.subarray(u * d, (u + 1) * d);
    let count = 0;
    for (let j = 0; j < this.numItems; j++) if (j !== item && !skip.has(j) && dotRow(q, this.itemEmb, j * d, d) > score) count++;
    return count;
  }
}

/** dot(q, E[off .. off+d)) summed in float64 in dimension order (as ./intents.ts's `dot`). */
function dotRow(q: Float32Array, E: Float32Array, off: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += q[c]! * E[off + c]!;
  return s;
}

/**
 * Internal indices of external ids; every unknown id is collected and reported in one NotFoundError
 * (`what(s)` names them: s is '' for one, 's' for several).
 */
export function lookupIds(map: { lookup(id: Id): number }, ids: readonly Id[], what: (s: string) => string): Int32Array {
  const out = new Int32Array(ids.length);
  const missing: string[] = [];
  ids.forEach((id, n) => {
    const i = typeof id === 'string' || typeof id === 'number' ? map.lookup(id) : -1;
    if (i < 0) missing.push(String(id));
    out[n] = i;
  });
  if (missing.length) {
    throw new NotFoundError(`unknown ${what(missing.length > 1 ? 's' : '')}: ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`, missing);
  }
  return out;
}
