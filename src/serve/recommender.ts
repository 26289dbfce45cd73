/**
 * The Recommender: a trained run, ready to answer in external ids.
 *
 *   const rec = await Recommender.open('runs/book-int');
 *   rec.recommend('A2PDSDPBAO255U', { k: 20 });                  // one user
 *   rec.recommend(['u1', 'u2'], { k: 10, excludeSeen: true });    // a batch, one result per user
 *   rec.query(['u1', 'u2']).k(10).exclude(['i9']).toArray();      // the same as a builder
 *   rec.similarItems('0373730489', { k: 10 });
 *   rec.explain('u1', 'i3');
 *   await rec.coldStart({ text: 'loves space opera and hard science fiction' }, { k: 20 });
 *
 * Scores are dot products of the model's final embeddings (what evaluation ranks by); BIGCF's
 * reference scoring noise is not drawn when serving (deterministic scores). `excludeSeen` masks the
 * user's training interactions (the model's knowledge of the user); `'all'` also masks the
 * validation and test interactions of the dataset. Methods are synchronous except `coldStart`
 * (raw text may need an embedding service) and `open`.
 *
 * This class is a facade over the serving modules: ./types.ts (the data types), ./core.ts (the
 * model's tables and shared helpers), ./ranker.ts (blocked top-k, shared with src/eval), ./explain.ts
 * (explanations, intent labels; ./lexicon.ts mines their terms), ./cold-start.ts, ./load.ts (a run
 * directory to RecommenderParts), ./query.ts (the query builder) and ./embedder.ts.
 */
import { csrFromPairs, type CsrPattern } from '../data/csr.js';
import type { IdMap } from '../run/ids.js';
import { openRun, type LoadedRun } from '../run/open.js';
import { ColdStart } from './cold-start.js';
import { lookupIds, ServeCore } from './core.js';
import type { TextEmbedder } from './embedder.js';
import { InvalidArgumentError, NotFoundError } from './errors.js';
import { Explainer } from './explain.js';
import type { IntentModel } from './intents.js';
import { partsFromRun } from './load.js';
import { RecommendQuery } from './query.js';
import { checkK } from './ranker.js';
import type {
  ColdStartInput, ColdStartOptions, ColdStartResult, Explanation, Id, ItemNeighbours, PairScore, RecommenderInfo, RecommenderOpenOptions,
  RecommenderParts, RecommendOptions, ScorePair, ScoredItem, SimilarOptions, Towers, UserRecommendations,
} from './types.js';

export { checkK } from './ranker.js';
export { RecommendQuery } from './query.js';
export type {
  ColdStartInput, ColdStartOptions, ColdStartResult, Explanation, Id, IntentShare, ItemNeighbours, PairScore, RecommenderInfo,
  RecommenderOpenOptions, RecommenderParts, RecommendOptions, ScorePair, ScoredItem, SimilarOptions, UserRecommendations,
} from './types.js';

export class Recommender {
  readonly model: string;
  readonly numUsers: number;
  readonly numItems: number;
  readonly dim: number;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly intents: IntentModel | null;
  private readonly core: ServeCore;
  /** The training interactions (the default mask; tests read it too). */
  private readonly seen: CsrPattern;
  private seenAllCache: CsrPattern | null = null;
  private embedder: TextEmbedder | null;
  private readonly parts: RecommenderParts;
  private readonly explainer: Explainer;
  private readonly cold: ColdStart;
  private popularityCache: Float32Array | null = null;

  constructor(p: RecommenderParts) {
    const c = new ServeCore(p);
    this.core = c;
    this.parts = p;
    this.seen = c.seen;
    ({ model: this.model, numUsers: this.numUsers, numItems: this.numItems, dim: this.dim, users: this.users, items: this.items, intents: this.intents } = c);
    this.embedder = p.embedder ?? null;
    this.explainer = new Explainer(c);
    this.cold = new ColdStart(c, () => this.embedder);
  }

  /** Opens a run directory written by `irllrec train --out DIR`. */
  static async open(runDir: string, o: RecommenderOpenOptions = {}): Promise<Recommender> {
    return Recommender.openSync(runDir, o);
  }

  static openSync(runDir: string, o: RecommenderOpenOptions = {}): Recommender {
    // serving reads the users' text vectors only (float16 kept as float16); see OpenRunOptions.text
    return Recommender.fromRun(openRun(runDir, { text: 'serving', ...o }), o);
  }

  static fromRun(run: LoadedRun, o: RecommenderOpenOptions = {}): Recommender {
    return new Recommender(partsFromRun(run, o));
  }

  get info(): RecommenderInfo {
    const t = this.core.towers;
    return {
      model: this.model,
      backbone: this.parts.backbone ?? 'unknown',
      align: this.parts.align ?? 'none',
      dataset: this.parts.dataset ?? 'unknown',
      users: this.numUsers,
      items: this.numItems,
      dim: this.dim,
      ids: { users: this.users.source, items: this.items.source },
      intents: this.intents?.K ?? null,
      textTower: t ? [...(t.profile ? ['profile'] : []), ...(t.intent ? ['intent'] : []), ...(t.recon ? ['reconstruction'] : [])] : [],
      coldStartText: Boolean(t && this.embedder),
      embedder: this.embedder?.name ?? null,
      kernels: this.core.kernels.info,
      run: this.parts.runDir ?? null,
    };
  }

  /**
   * Does the one-time work of cold start from text now (loading the local embedder's saved fit, or
   * the approximate fold-in's fit for older datasets; the warm users' tower outputs) instead of on
   * the first request.
   */
  async prepareColdStart(): Promise<void> {
    await this.cold.prepare();
  }

  /** Sets (or removes) the embedder used for cold start from raw text. */
  setEmbedder(e: TextEmbedder | null): void {
    this.embedder = e;
  }

  hasUser(id: Id): boolean {
    return this.users.lookup(id) >= 0;
  }

  hasItem(id: Id): boolean {
    return this.items.lookup(id) >= 0;
  }

  /** Internal index of a user; NotFoundError when unknown. */
  userIndex(id: Id): number {
    const u = typeof id === 'string' || typeof id === 'number' ? this.users.lookup(id) : -1;
    if (u < 0) throw new NotFoundError(`unknown user ${JSON.stringify(id)}`, [String(id)]);
    return u;
  }

  itemIndex(id: Id): number {
    const i = typeof id === 'string' || typeof id === 'number' ? this.items.lookup(id) : -1;
    if (i < 0) throw new NotFoundError(`unknown item ${JSON.stringify(id)}`, [String(id)]);
    return i;
  }

  /** The user's embedding (a copy). */
  userVector(id: Id): Float32Array {
    const u = this.userIndex(id);
    return this.core.userEmb.slice(u * this.dim, (u + 1) * this.dim);
  }

  itemVector(id: Id): Float32Array {
    const i = this.itemIndex(id);
    return this.core.itemEmb.slice(i * this.dim, (i + 1) * this.dim);
  }

  /** Embedding tables (views, do not modify): users x dim and items x dim, row-major. */
  embeddings(): { user: Float32Array; item: Float32Array; dim: number } {
    return { user: this.core.userEmb, item: this.core.itemEmb, dim: this.dim };
  }

  /** Training items of a user, as external ids. */
  seenItems(id: Id): string[] {
    const u = this.userIndex(id);
    const out: string[] = [];
    for (let p = this.seen.indptr[u]!; p < this.seen.indptr[u + 1]!; p++) out.push(this.items.key(this.seen.indices[p]!));
    return out;
  }

  /** A user's validation or test items (held out from training), as internal indices. */
  heldOutIndices(id: Id, split: 'valid' | 'test'): number[] {
    const u = this.userIndex(id);
    const m = this.core.heldOut[split === 'valid' ? 0 : 1];
    if (!m) return [];
    return Array.from(m.indices.subarray(m.indptr[u]!, m.indptr[u + 1]!));
  }

  /** Training items of a user, as internal indices. */
  seenIndices(id: Id): number[] {
    const u = this.userIndex(id);
    return Array.from(this.seen.indices.subarray(this.seen.indptr[u]!, this.seen.indptr[u + 1]!));
  }

  private seenAll(): CsrPattern {
    if (this.seenAllCache) return this.seenAllCache;
    const parts = [this.seen, ...this.core.heldOut];
    let n = 0;
    for (const m of parts) n += m.indptr[m.rows]!;
    const us = new Int32Array(n);
    const is = new Int32Array(n);
    let w = 0;
    for (const m of parts) {
      for (let u = 0; u < m.rows; u++) {
        for (let p = m.indptr[u]!; p < m.indptr[u + 1]!; p++) {
          us[w] = u;
          is[w++] = m.indices[p]!;
        }
      }
    }
    this.seenAllCache = csrFromPairs(this.numUsers, this.numItems, us, is);
    return this.seenAllCache;
  }

  private maskFor(excludeSeen: RecommendOptions['excludeSeen']): CsrPattern | null {
    if (excludeSeen === undefined || excludeSeen === true || excludeSeen === 'train') return this.seen;
    if (excludeSeen === false) return null;
    if (excludeSeen === 'all') return this.seenAll();
    throw new InvalidArgumentError(`excludeSeen must be true, false, "train" or "all", got ${JSON.stringify(excludeSeen)}`);
  }

  /**
   * Top-k items by internal user index: the fast path (no id lookups, typed arrays out).
   */
  recommendIndices(users: Int32Array, o: RecommendOptions = {}): { items: Int32Array; scores: Float32Array }[] {
    const k = checkK(o.k ?? 10, this.numItems);
    for (let r = 0; r < users.length; r++) {
      if (!(users[r]! >= 0 && users[r]! < this.numUsers)) throw new InvalidArgumentError(`user index ${users[r]} outside [0, ${this.numUsers})`);
    }
    const mask = this.maskFor(o.excludeSeen);
    const ex = this.core.itemIndices(o.exclude, 'exclude');
    const cand = this.core.itemIndices(o.candidates, 'candidates');
    const d = this.dim;
    const Q = new Float32Array(users.length * d);
    this.core.kernels.gatherRows(d, this.core.userEmb, users, Q);
    return this.core.ranker.rank(Q, users.length, this.core.itemEmb, k, cand, (r, set) => {
      if (mask) {
        const u = users[r]!;
        for (let p = mask.indptr[u]!, e = mask.indptr[u + 1]!; p < e; p++) set(mask.indices[p]!);
      }
      if (ex) for (let j = 0; j < ex.length; j++) set(ex[j]!);
    });
  }

  /** Top-k items for one user (an object) or a batch (one object per user, in order). */
  recommend(user: Id, o?: RecommendOptions): UserRecommendations;
  recommend(users: Id[], o?: RecommendOptions): UserRecommendations[];
  recommend(users: Id | Id[], o: RecommendOptions = {}): UserRecommendations | UserRecommendations[] {
    const single = !Array.isArray(users);
    const list = single ? [users as Id] : (users as Id[]);
    const idx = lookupIds(this.users, list, (s) => `user${s}`);
    const res = this.recommendIndices(idx, o);
    const out = res.map((r, n) => ({ user: this.users.key(idx[n]!), items: this.core.scored(r.items, r.scores) }));
    return single ? out[0]! : out;
  }

  /**
   * The model's score of each (user, item) pair, in order: the same float32 dot product of the
   * final embeddings that `recommend` ranks by and returns. Unknown ids throw NotFoundError naming
   * them (`.ids`).
   */
  score(pairs: readonly ScorePair[]): PairScore[] {
    if (!Array.isArray(pairs)) throw new InvalidArgumentError('pairs must be a list of [user, item] or {user, item}');
    const n = pairs.length;
    const us = new Int32Array(n);
    const is = new Int32Array(n);
    const missingUsers: string[] = [];
    const missingItems: string[] = [];
    const lookup = (map: IdMap, id: unknown): number => (typeof id === 'string' || typeof id === 'number' ? map.lookup(id) : -1);
    for (let p = 0; p < n; p++) {
      const pair = pairs[p] as unknown;
      let user: unknown;
      let item: unknown;
      if (Array.isArray(pair) && pair.length === 2) [user, item] = pair;
      else if (pair && typeof pair === 'object' && 'user' in pair && 'item' in pair) ({ user, item } = pair as { user: unknown; item: unknown });
      else throw new InvalidArgumentError(`pairs[${p}] must be [user, item] or {user, item}, got ${JSON.stringify(pair)?.slice(0, 80)}`);
      us[p] = lookup(this.users, user);
      is[p] = lookup(this.items, item);
      if (us[p]! < 0) missingUsers.push(String(user));
      if (is[p]! < 0) missingItems.push(String(item));
    }
    const names = (xs: string[]) => `${[...new Set(xs)].slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${new Set(xs).size > 5 ? ` and ${new Set(xs).size - 5} more` : ''}`;
    if (missingUsers.length) throw new NotFoundError(`unknown user${new Set(missingUsers).size > 1 ? 's' : ''}: ${names(missingUsers)}`, [...new Set(missingUsers)]);
    if (missingItems.length) throw new NotFoundError(`unknown item${new Set(missingItems).size > 1 ? 's' : ''}: ${names(missingItems)}`, [...new Set(missingItems)]);
    // recommend's scores exactly (see Ranker.scorePairs)
    const out = this.core.ranker.scorePairs(this.core.userEmb, this.core.itemEmb, us, is);
    const res: PairScore[] = new Array(n);
    for (let p = 0; p < n; p++) res[p] = { user: this.users.key(us[p]!), item: this.items.key(is[p]!), score: out[p]! };
    return res;
  }

  /** A builder: rec.query(users).k(20).excludeSeen('all').exclude([...]).toArray(). */
  query(users: Id | Id[]): RecommendQuery {
    return new RecommendQuery(this, Array.isArray(users) ? users : [users]);
  }

  /** Most similar items (cosine of the final embeddings), the item itself left out. */
  similarItems(item: Id, o?: SimilarOptions): ItemNeighbours;
  similarItems(items: Id[], o?: SimilarOptions): ItemNeighbours[];
  similarItems(items: Id | Id[], o: SimilarOptions = {}): ItemNeighbours | ItemNeighbours[] {
    const single = !Array.isArray(items);
    const list = single ? [items as Id] : (items as Id[]);
    const k = checkK(o.k ?? 10, this.numItems);
    const idx = this.core.itemIndices(list, 'items')!;
    const ex = this.core.itemIndices(o.exclude, 'exclude');
    const cand = this.core.itemIndices(o.candidates, 'candidates');
    const N = this.core.itemNorm();
    const d = this.dim;
    const Q = new Float32Array(idx.length * d);
    this.core.kernels.gatherRows(d, N, idx, Q);
    const res = this.core.ranker.rank(Q, idx.length, N, k, cand, (r, set) => {
      set(idx[r]!);
      if (ex) for (let j = 0; j < ex.length; j++) set(ex[j]!);
    });
    const out = res.map((r, n) => {
      const i = idx[n]!;
      const t = this.items.title(i);
      return { item: this.items.key(i), ...(t !== undefined ? { title: t } : {}), similar: this.core.scored(r.items, r.scores) };
    });
    return single ? out[0]! : out;
  }

  /** What a prototype stands for: the items it favours (and, with text, its characteristic terms). */
  intentLabel(side: 'user' | 'item', k: number, n = 3): { items: ScoredItem[]; terms: string[] } {
    return this.explainer.intentLabel(side, k, n);
  }

  /**
   * Why the model scores this item for this user: the interaction intents (prototype weights)
   * behind the score, the text intents of both that match them, and the user's most similar
   * training items.
   */
  explain(user: Id, item: Id, o: { top?: number } = {}): Explanation {
    return this.explainer.explain(this.userIndex(user), this.itemIndex(item), Math.max(1, Math.min(o.top ?? 3, 10)));
  }

  /** Training-interaction counts per item (the popularity ranking). */
  popularity(): Float32Array {
    if (this.popularityCache) return this.popularityCache;
    const c = new Float32Array(this.numItems);
    for (let p = 0; p < this.seen.indptr[this.numUsers]!; p++) c[this.seen.indices[p]!]!++;
    this.popularityCache = c;
    return c;
  }

  /**
   * Recommendations for a user unknown to training, from text (through the dataset's embedder and
   * the model's text tower), text vectors, and/or items they are known to like.
   */
  async coldStart(input: ColdStartInput, o: ColdStartOptions = {}): Promise<ColdStartResult> {
    return this.cold.run(input, o);
  }
}
