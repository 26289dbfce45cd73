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
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { csrFromPairs, type CsrPattern } from '../data/csr.js';
import { getKernels } from '../kernels/index.js';
import type { Kernels } from '../kernels/types.js';
import { IntentAlignment } from '../models/alignment/irllrec.js';
import { ProfileContrast } from '../models/alignment/rlmrec-con.js';
import { MaskedReconstruction } from '../models/alignment/rlmrec-gen.js';
import type { TextVectors } from '../models/alignment/types.js';
import type { MLP } from '../nn/mlp.js';
import { noGrad, Tensor } from '../tensor/tensor.js';
import { PROFILE_FILES, readProfiles, type ProfileRecord } from '../text/profile.js';
import { terms } from '../text/tokenize.js';
import {
  localFoldInEmbedder, openAiConfigFromManifest, openAiEmbedder, readEmbedManifest, type TextEmbedder, type TextKind,
} from './embedder.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from './errors.js';
import { IdMap, loadIdMaps } from './ids.js';
import { computeIntents, dot, intentVector, topIndices, type IntentModel } from './intents.js';
import { openRun, type LoadedRun, type OpenRunOptions } from './run.js';

export type Id = string | number;

export interface RecommendOptions {
  /** How many items per user (default 10); at most the number of items. */
  k?: number;
  /**
   * Leave out items the user has interacted with: true / 'train' (default) masks the training
   * interactions, 'all' also the dataset's validation and test interactions, false none.
   */
  excludeSeen?: boolean | 'train' | 'all';
  /** Items never to recommend. */
  exclude?: Id[];
  /** Rank only these items. */
  candidates?: Id[];
}

export interface ScoredItem {
  item: string;
  score: number;
  title?: string;
}

export interface UserRecommendations {
  user: string;
  items: ScoredItem[];
}

export interface SimilarOptions {
  k?: number;
  exclude?: Id[];
  candidates?: Id[];
}

/** A (user, item) pair to score: `[user, item]` or `{user, item}`. */
export type ScorePair = readonly [Id, Id] | { user: Id; item: Id };

export interface PairScore {
  user: string;
  item: string;
  /** The model's score, exactly the one `recommend` gives this item for this user. */
  score: number;
}

export interface ItemNeighbours {
  item: string;
  title?: string;
  /** Most similar items by cosine of the final embeddings, the item itself left out. */
  similar: ScoredItem[];
}

export interface IntentShare {
  /** "U12" for user intent 12, "I7" for item intent 7. */
  intent: string;
  index: number;
  weight: number;
  /** weight x K: how many times the uniform weight 1/K the entity puts on this intent. */
  lift: number;
  /** User intents: (w_u[k] - 1/K) (c_k . e_i), what leaning on this intent adds to the score. */
  contribution?: number;
  /** What the prototype stands for: items it favours and, with text, its characteristic terms. */
  label: { items: ScoredItem[]; terms: string[] };
  /** The entity's own text-intent phrases that match this prototype (when text exists). */
  text?: string[];
}

export interface Explanation {
  user: string;
  item: string;
  title?: string;
  score: number;
  /** 1-based rank of the item in the user's full ranking (training items masked). */
  rank: number;
  /** The item is one of the user's training interactions. */
  seen: boolean;
  intents: null | {
    source: string;
    K: number;
    /** cos(ê_u, ê_i): IRLLRec's edge weight for the pair is (1 + agreement) / 2. */
    agreement: number;
    user: IntentShare[];
    item: IntentShare[];
    /** Sum of all user-intent contributions, and the score minus it (the uniform mixture's part plus what intents do not capture). */
    explained: number;
    residual: number;
  };
  /** The LLM (or offline) profile and intent statements, when the dataset has them. */
  text: null | {
    user: { profile: string; intent: string; liked: string[]; disliked: string[] };
    item: { profile: string; intent: string; attracts: string[]; doesNotSuit: string[] };
  };
  /** The user's training items most similar to this one (cosine). */
  because: ScoredItem[];
}

export interface ColdStartInput {
  /** Raw text: one string (used as both profile and intent text), or each separately. */
  text?: string | { profile?: string; intent?: string };
  /** Text vectors already embedded with the dataset's embedder. */
  vectors?: { profile?: ArrayLike<number>; intent?: ArrayLike<number> };
  /** Items the new user is known to like (folded in by their embeddings). */
  items?: Id[];
}

export interface ColdStartOptions {
  k?: number;
  exclude?: Id[];
  candidates?: Id[];
  /**
   * 'neighbors' (default): the 50 warm users closest to the text in the text tower's output space,
   * their embeddings averaged (softmax of similarity / 0.1); 'tower': the tower's output itself is
   * the user vector (items scored by dot product). On MovieLens latest-small with offline text,
   * 'neighbors' beats popularity and 'tower' does not (bench/coldstart-movielens.mjs).
   */
  strategy?: 'tower' | 'neighbors';
  /** Leave the given `items` out of the result (default true). */
  excludeGiven?: boolean;
  signal?: AbortSignal;
}

export interface ColdStartResult {
  items: ScoredItem[];
  /** Which signals made the user vector: 'profile', 'intent', 'items'. */
  used: string[];
  strategy: 'tower' | 'neighbors' | 'items';
  embedder?: string;
}

export interface RecommenderInfo {
  model: string;
  backbone: string;
  align: string;
  dataset: string;
  users: number;
  items: number;
  dim: number;
  ids: { users: string; items: string };
  intents: number | null;
  textTower: string[];
  coldStartText: boolean;
  embedder: string | null;
  kernels: string;
  run: string | null;
}

export interface RecommenderOpenOptions extends OpenRunOptions {
  kernels?: Kernels;
  /** Embedder for cold start from raw text; default: the dataset's (embed.json); null: none. */
  embedder?: TextEmbedder | null;
  /** Users per scoring block in batched calls (default 256). */
  blockSize?: number;
}

interface Towers {
  profile?: MLP;
  intent?: MLP;
  /** RLMRec-Gen's reconstruction MLP (embedding -> profile space). */
  recon?: MLP;
  text: TextVectors;
}

/** Everything a Recommender needs; `Recommender.open` builds it from a run directory. */
export interface RecommenderParts {
  model: string;
  backbone?: string;
  align?: string;
  dataset?: string;
  numUsers: number;
  numItems: number;
  dim: number;
  userEmb: Float32Array;
  itemEmb: Float32Array;
  users?: IdMap;
  items?: IdMap;
  /** Training interactions (users x items). */
  seen?: CsrPattern;
  /** Validation and test interactions (for excludeSeen: 'all'). */
  heldOut?: CsrPattern[];
  intents?: IntentModel | null;
  towers?: Towers | null;
  profiles?: { users: ProfileRecord[]; items: ProfileRecord[] } | null;
  embedder?: TextEmbedder | null;
  kernels?: Kernels;
  blockSize?: number;
  runDir?: string;
}

const MAX_BATCH_DEFAULT = 256;

function normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

function normalizeRows(src: Float32Array, rows: number, d: number): Float32Array {
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < d; c++) n += src[r * d + c]! ** 2;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let c = 0; c < d; c++) out[r * d + c] = src[r * d + c]! * inv;
  }
  return out;
}

function round(x: number, digits = 6): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function checkK(k: unknown, max: number, name = 'k'): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}], got ${JSON.stringify(k)}`);
  }
  return k;
}

/** Lower-cased term lifts per prototype, from the text-intent phrases of the entities. */
class Lexicon {
  private readonly termIds = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly entityTerms: Int32Array[];
  private readonly df: Float64Array;
  private readonly cache = new Map<number, Map<number, number>>();

  constructor(phrases: string[][], private readonly W: Float32Array, private readonly K: number) {
    this.entityTerms = phrases.map((ps) => {
      const set = new Set<number>();
      for (const p of ps) for (const t of terms(p)) set.add(this.id(t));
      return Int32Array.from(set);
    });
    this.df = new Float64Array(this.names.length);
    for (const ts of this.entityTerms) for (const t of ts) this.df[t]!++;
  }

  private id(t: string): number {
    let i = this.termIds.get(t);
    if (i === undefined) {
      i = this.names.length;
      this.termIds.set(t, i);
      this.names.push(t);
    }
    return i;
  }

  /** log-lift of each term for prototype k (terms with some support only). */
  lifts(k: number): Map<number, number> {
    let m = this.cache.get(k);
    if (m) return m;
    const acc = new Float64Array(this.names.length);
    let mass = 0;
    const n = this.entityTerms.length;
    for (let e = 0; e < n; e++) {
      // how much more than uniform the entity leans on intent k (softmax weights are often flat)
      const w = Math.max(0, this.W[e * this.K + k]! * this.K - 1);
      mass += w;
      for (const t of this.entityTerms[e]!) acc[t]! += w;
    }
    m = new Map();
    if (mass > 0) {
      for (let t = 0; t < acc.length; t++) {
        if (acc[t]! <= 0 || this.df[t]! < 2) continue;
        const lift = acc[t]! / mass / (this.df[t]! / n);
        if (lift > 1.05) m.set(t, Math.log(lift) * Math.sqrt(acc[t]!));
      }
    }
    this.cache.set(k, m);
    return m;
  }

  topTerms(k: number, n: number): string[] {
    const out: string[] = [];
    const total = this.entityTerms.length;
    for (const [t] of [...this.lifts(k)].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
      if (out.length >= n) break;
      // template words ("fans", "seekers") are on most entities and name nothing
      if (this.df[t]! > 0.1 * total) continue;
      const name = this.names[t]!;
      if (out.some((o) => o.split(' ').includes(name) || name.split(' ').includes(o))) continue;
      out.push(name);
    }
    return out;
  }

  /** The phrases whose terms characterise prototype k, best first. */
  match(k: number, phrases: string[], n: number): string[] {
    const l = this.lifts(k);
    const scored: [string, number][] = [];
    const seen = new Set<string>();
    for (const p of phrases) {
      const key = p.trim().toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      let s = 0;
      for (const t of terms(p)) {
        const i = this.termIds.get(t);
        if (i !== undefined) s += l.get(i) ?? 0;
      }
      if (s > 0) scored.push([p, s]);
    }
    return scored.sort((a, b) => b[1] - a[1]).slice(0, n).map(([p]) => p);
  }
}

const str = (v: unknown): string => (Array.isArray(v) ? v.join('; ') : typeof v === 'string' ? v : '');
const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : []);

/** A fluent query, LanceDB style: rec.query(users).k(20).excludeSeen(false).toArray(). */
export class RecommendQuery {
  private readonly o: RecommendOptions = {};
  private withExplain = false;

  constructor(private readonly rec: Recommender, private readonly users: Id[]) {}

  k(n: number): this {
    this.o.k = n;
    return this;
  }

  /** Alias of k(n), as LanceDB's limit(). */
  limit(n: number): this {
    return this.k(n);
  }

  excludeSeen(v: boolean | 'train' | 'all' = true): this {
    this.o.excludeSeen = v;
    return this;
  }

  exclude(items: Id[]): this {
    this.o.exclude = [...(this.o.exclude ?? []), ...items];
    return this;
  }

  candidates(items: Id[]): this {
    this.o.candidates = items;
    return this;
  }

  /** Attach an explanation to every recommended item. */
  explain(on = true): this {
    this.withExplain = on;
    return this;
  }

  toArray(): (UserRecommendations & { explanations?: Explanation[] })[] {
    const res = this.rec.recommend(this.users, this.o);
    if (!this.withExplain) return res;
    return res.map((r) => ({ ...r, explanations: r.items.map((it) => this.rec.explain(r.user, it.item)) }));
  }
}

export class Recommender {
  readonly model: string;
  readonly numUsers: number;
  readonly numItems: number;
  readonly dim: number;
  readonly users: IdMap;
  readonly items: IdMap;
  readonly intents: IntentModel | null;
  private readonly userEmb: Float32Array;
  private readonly itemEmb: Float32Array;
  private readonly seen: CsrPattern;
  private readonly heldOut: CsrPattern[];
  private seenAllCache: CsrPattern | null = null;
  private itemNormCache: Float32Array | null = null;
  private readonly kernels: Kernels;
  private readonly blockSize: number;
  private scratch: Float32Array | null = null;
  private readonly towers: Towers | null;
  private readonly profiles: { users: ProfileRecord[]; items: ProfileRecord[] } | null;
  private embedder: TextEmbedder | null;
  private readonly parts: RecommenderParts;
  private lexicons: { user: Lexicon; item: Lexicon } | null | undefined;
  private towerUsers: Partial<Record<TextKind, Float32Array>> = {};
  private popularityCache: Float32Array | null = null;
  private readonly labelCache = new Map<string, { items: ScoredItem[]; terms: string[] }>();

  constructor(p: RecommenderParts) {
    const { numUsers, numItems, dim } = p;
    if (p.userEmb.length !== numUsers * dim) throw new InvalidArgumentError(`userEmb has ${p.userEmb.length} values, expected ${numUsers} x ${dim}`);
    if (p.itemEmb.length !== numItems * dim) throw new InvalidArgumentError(`itemEmb has ${p.itemEmb.length} values, expected ${numItems} x ${dim}`);
    this.parts = p;
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
    this.embedder = p.embedder ?? null;
    this.kernels = p.kernels ?? getKernels();
    this.blockSize = Math.max(1, p.blockSize ?? MAX_BATCH_DEFAULT);
  }

  /** Opens a run directory written by `irllrec train --out DIR`. */
  static async open(runDir: string, o: RecommenderOpenOptions = {}): Promise<Recommender> {
    return Recommender.openSync(runDir, o);
  }

  static openSync(runDir: string, o: RecommenderOpenOptions = {}): Recommender {
    return Recommender.fromRun(openRun(runDir, o), o);
  }

  static fromRun(run: LoadedRun, o: RecommenderOpenOptions = {}): Recommender {
    const kernels = o.kernels ?? getKernels();
    const net = run.net;
    const ds = run.dataset;
    // deterministic scoring embeddings (no BIGCF noise: no random source is passed)
    const emb = net.scoringEmbeddings();
    const ids = loadIdMaps(ds.dir, ds.numUsers, ds.numItems);
    let towers: Towers | null = null;
    for (const a of net.alignments) {
      if (a instanceof IntentAlignment) towers = { profile: a.profile.mlp, intent: a.intMlp, text: run.text };
      else if (a instanceof ProfileContrast) towers = { profile: a.mlp, text: run.text };
      else if (a instanceof MaskedReconstruction) towers = { recon: a.mlp, text: run.text };
    }
    let profiles: Recommender['profiles'] = null;
    if (existsSync(join(ds.dir, PROFILE_FILES.manifest))) {
      try {
        const p = readProfiles(ds.dir);
        if (p.users.length === ds.numUsers && p.items.length === ds.numItems) profiles = { users: p.users, items: p.items };
      } catch {
        profiles = null; // stale or partial profiles: explanations go without text
      }
    }
    let embedder: TextEmbedder | null = null;
    if (o.embedder !== undefined) embedder = o.embedder;
    else if (towers) {
      const m = readEmbedManifest(run.textDir) ?? readEmbedManifest(ds.dir);
      if (m?.provider === 'openai') embedder = openAiEmbedder(openAiConfigFromManifest(m));
      else if (m?.provider === 'local' && profiles) {
        const t = run.text;
        const both = (u?: Tensor, i?: Tensor) => {
          if (!u || !i) return null;
          const data = new Float32Array(u.size + i.size);
          data.set(u.data, 0);
          data.set(i.data, u.size);
          return { data, width: u.cols };
        };
        embedder = localFoldInEmbedder(ds.dir, m, (kind) => (kind === 'profile' ? both(t.usrPrf, t.itmPrf) : both(t.usrInt, t.itmInt)));
      }
    }
    return new Recommender({
      model: run.model,
      backbone: run.config.model.name,
      align: run.config.model.align,
      dataset: ds.name,
      numUsers: ds.numUsers,
      numItems: ds.numItems,
      dim: emb.dim,
      userEmb: emb.user,
      itemEmb: emb.item,
      users: ids.users,
      items: ids.items,
      seen: ds.train,
      heldOut: [ds.valid, ds.test],
      intents: computeIntents(net, kernels),
      towers,
      profiles,
      embedder,
      kernels,
      blockSize: o.blockSize,
      runDir: run.dir,
    });
  }

  get info(): RecommenderInfo {
    const t = this.towers;
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
      kernels: this.kernels.info,
      run: this.parts.runDir ?? null,
    };
  }

  /**
   * Does the one-time work of cold start from text now (the local embedder's fold-in fit, the
   * warm users' tower outputs) instead of on the first request.
   */
  async prepareColdStart(): Promise<void> {
    const t = this.towers;
    if (!t) return;
    const kinds: TextKind[] = [...(t.text.usrPrf ? ['profile' as const] : []), ...(t.text.usrInt ? ['intent' as const] : [])];
    for (const kind of kinds) {
      if (this.embedder) await this.embedder.embed(['warm up'], kind);
      this.warmTower(kind);
    }
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

  private itemIndices(ids: Id[] | undefined, what: string): Int32Array | null {
    if (ids === undefined || ids === null) return null;
    if (!Array.isArray(ids)) throw new InvalidArgumentError(`${what} must be a list of item ids`);
    const out = new Int32Array(ids.length);
    const missing: string[] = [];
    ids.forEach((id, n) => {
      const i = typeof id === 'string' || typeof id === 'number' ? this.items.lookup(id) : -1;
      if (i < 0) missing.push(String(id));
      out[n] = i;
    });
    if (missing.length) {
      throw new NotFoundError(`unknown item${missing.length > 1 ? 's' : ''} in ${what}: ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`, missing);
    }
    return out;
  }

  /** The user's embedding (a copy). */
  userVector(id: Id): Float32Array {
    const u = this.userIndex(id);
    return this.userEmb.slice(u * this.dim, (u + 1) * this.dim);
  }

  itemVector(id: Id): Float32Array {
    const i = this.itemIndex(id);
    return this.itemEmb.slice(i * this.dim, (i + 1) * this.dim);
  }

  /** Embedding tables (views, do not modify): users x dim and items x dim, row-major. */
  embeddings(): { user: Float32Array; item: Float32Array; dim: number } {
    return { user: this.userEmb, item: this.itemEmb, dim: this.dim };
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
    const m = this.heldOut[split === 'valid' ? 0 : 1];
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
    const parts = [this.seen, ...this.heldOut];
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

  private getScratch(n: number): Float32Array {
    if (!this.scratch || this.scratch.length < n) this.scratch = new Float32Array(n);
    return this.scratch.subarray(0, n);
  }

  /**
   * Top-k for rows of query vectors `Q` (rows x dim) against all items or `cand`; `maskRow(r)`
   * gives the items to leave out for row r. Returns per row the item indices and scores (excluded
   * items never appear, so a row may have fewer than k).
   */
  private rank(
    Q: Float32Array, rows: number, table: Float32Array, k: number, cand: Int32Array | null,
    maskRow: (r: number, set: (item: number) => void) => void,
  ): { items: Int32Array; scores: Float32Array }[] {
    const d = this.dim;
    if (cand) {
      // duplicates would be ranked (and masked) once each: keep the first of each
      const seenCand = new Set<number>();
      cand = cand.filter((i) => (seenCand.has(i) ? false : (seenCand.add(i), true)));
    }
    const n = cand ? cand.length : this.numItems;
    const out: { items: Int32Array; scores: Float32Array }[] = [];
    if (n === 0) {
      for (let r = 0; r < rows; r++) out.push({ items: new Int32Array(0), scores: new Float32Array(0) });
      return out;
    }
    let candTable: Float32Array = table;
    let pos: Int32Array | null = null;
    if (cand) {
      candTable = new Float32Array(n * d);
      this.kernels.gatherRows(d, table, cand, candTable);
      pos = new Int32Array(this.numItems).fill(-1);
      for (let j = 0; j < n; j++) pos[cand[j]!] = j;
    }
    const kk = Math.min(k, n);
    const bs = Math.min(this.blockSize, rows);
    const idx = new Int32Array(bs * kk);
    const val = new Float32Array(bs * kk);
    for (let s = 0; s < rows; s += bs) {
      const b = Math.min(bs, rows - s);
      const S = this.getScratch(b * n);
      this.kernels.gemm(false, true, b, n, d, 1, Q.subarray(s * d, (s + b) * d), d, candTable, d, 0, S, n);
      for (let r = 0; r < b; r++) {
        const o = r * n;
        maskRow(s + r, pos ? (item) => {
          const j = pos![item]!;
          if (j >= 0) S[o + j] = -Infinity;
        } : (item) => {
          S[o + item] = -Infinity;
        });
      }
      this.kernels.topkRows(b, n, S, kk, idx, val);
      for (let r = 0; r < b; r++) {
        let m = 0;
        while (m < kk && val[r * kk + m]! > -Infinity) m++;
        const items = new Int32Array(m);
        const scores = new Float32Array(m);
        for (let j = 0; j < m; j++) {
          const c = idx[r * kk + j]!;
          items[j] = cand ? cand[c]! : c;
          scores[j] = val[r * kk + j]!;
        }
        out.push({ items, scores });
      }
    }
    return out;
  }

  private scored(items: Int32Array, scores: Float32Array): ScoredItem[] {
    const out: ScoredItem[] = new Array(items.length);
    for (let j = 0; j < items.length; j++) {
      const i = items[j]!;
      const t = this.items.title(i);
      out[j] = t === undefined ? { item: this.items.key(i), score: scores[j]! } : { item: this.items.key(i), score: scores[j]!, title: t };
    }
    return out;
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
    const ex = this.itemIndices(o.exclude, 'exclude');
    const cand = this.itemIndices(o.candidates, 'candidates');
    const d = this.dim;
    const Q = new Float32Array(users.length * d);
    this.kernels.gatherRows(d, this.userEmb, users, Q);
    return this.rank(Q, users.length, this.itemEmb, k, cand, (r, set) => {
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
    const idx = new Int32Array(list.length);
    const missing: string[] = [];
    list.forEach((u, n) => {
      const i = typeof u === 'string' || typeof u === 'number' ? this.users.lookup(u) : -1;
      if (i < 0) missing.push(String(u));
      idx[n] = i;
    });
    if (missing.length) {
      throw new NotFoundError(`unknown user${missing.length > 1 ? 's' : ''}: ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`, missing);
    }
    const res = this.recommendIndices(idx, o);
    const out = res.map((r, n) => ({ user: this.users.key(idx[n]!), items: this.scored(r.items, r.scores) }));
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
    // one matrix product per user over its items: the kernel computes each score as one
    // multiply-add chain over the dimensions, whatever the shape, so these are recommend's scores
    const order = Array.from({ length: n }, (_, p) => p).sort((a, b) => us[a]! - us[b]! || a - b);
    const d = this.dim;
    const out = new Float32Array(n);
    for (let s = 0; s < n;) {
      const u = us[order[s]!]!;
      let e = s;
      while (e < n && us[order[e]!] === u) e++;
      const m = e - s;
      const rows = Int32Array.from({ length: m }, (_, j) => is[order[s + j]!]!);
      const T = new Float32Array(m * d);
      this.kernels.gatherRows(d, this.itemEmb, rows, T);
      const S = new Float32Array(m);
      this.kernels.gemm(false, true, 1, m, d, 1, this.userEmb.subarray(u * d, (u + 1) * d), d, T, d, 0, S, m);
      for (let j = 0; j < m; j++) out[order[s + j]!] = S[j]!;
      s = e;
    }
    const res: PairScore[] = new Array(n);
    for (let p = 0; p < n; p++) res[p] = { user: this.users.key(us[p]!), item: this.items.key(is[p]!), score: out[p]! };
    return res;
  }

  /** A builder: rec.query(users).k(20).excludeSeen('all').exclude([...]).toArray(). */
  query(users: Id | Id[]): RecommendQuery {
    return new RecommendQuery(this, Array.isArray(users) ? users : [users]);
  }

  private itemNorm(): Float32Array {
    return (this.itemNormCache ??= normalizeRows(this.itemEmb, this.numItems, this.dim));
  }

  /** Most similar items (cosine of the final embeddings), the item itself left out. */
  similarItems(item: Id, o?: SimilarOptions): ItemNeighbours;
  similarItems(items: Id[], o?: SimilarOptions): ItemNeighbours[];
  similarItems(items: Id | Id[], o: SimilarOptions = {}): ItemNeighbours | ItemNeighbours[] {
    const single = !Array.isArray(items);
    const list = single ? [items as Id] : (items as Id[]);
    const k = checkK(o.k ?? 10, this.numItems);
    const idx = this.itemIndices(list, 'items')!;
    const ex = this.itemIndices(o.exclude, 'exclude');
    const cand = this.itemIndices(o.candidates, 'candidates');
    const N = this.itemNorm();
    const d = this.dim;
    const Q = new Float32Array(idx.length * d);
    this.kernels.gatherRows(d, N, idx, Q);
    const res = this.rank(Q, idx.length, N, k, cand, (r, set) => {
      set(idx[r]!);
      if (ex) for (let j = 0; j < ex.length; j++) set(ex[j]!);
    });
    const out = res.map((r, n) => {
      const i = idx[n]!;
      const t = this.items.title(i);
      return { item: this.items.key(i), ...(t !== undefined ? { title: t } : {}), similar: this.scored(r.items, r.scores) };
    });
    return single ? out[0]! : out;
  }

  private lexiconsFor(): { user: Lexicon; item: Lexicon } | null {
    if (this.lexicons !== undefined) return this.lexicons;
    const m = this.intents;
    const p = this.profiles;
    this.lexicons = m && p
      ? {
          user: new Lexicon(p.users.map((r) => [...list(r.intent.liked), ...list(r.intent.key_attributes)]), m.userW, m.K),
          item: new Lexicon(p.items.map((r) => [...list(r.intent.attracts), ...list(r.intent.key_attributes)]), m.itemW, m.K),
        }
      : null;
    return this.lexicons;
  }

  /** What a prototype stands for: the items it favours (and, with text, its characteristic terms). */
  intentLabel(side: 'user' | 'item', k: number, n = 3): { items: ScoredItem[]; terms: string[] } {
    const m = this.intents;
    if (!m) throw new UnavailableError(`${this.model} has no intent prototypes`);
    if (!Number.isInteger(k) || k < 0 || k >= m.K) throw new InvalidArgumentError(`intent index must be in [0, ${m.K}), got ${k}`);
    const key = `${side}${k}:${n}`;
    const hit = this.labelCache.get(key);
    if (hit) return hit;
    const label = this.computeLabel(m, side, k, n);
    this.labelCache.set(key, label);
    return label;
  }

  private computeLabel(m: IntentModel, side: 'user' | 'item', k: number, n: number): { items: ScoredItem[]; terms: string[] } {
    const scores = new Float32Array(this.numItems);
    if (side === 'item') {
      for (let i = 0; i < this.numItems; i++) scores[i] = m.itemW[i * m.K + k]!;
    } else {
      // items whose embedding points along the user prototype
      for (let i = 0; i < this.numItems; i++) scores[i] = dot(this.itemEmb, i * this.dim, m.userProto, k * this.dim, this.dim);
    }
    const top = topIndices(scores, 0, this.numItems, n);
    const lex = this.lexiconsFor();
    return {
      items: this.scored(Int32Array.from(top), Float32Array.from(top, (i) => round(scores[i]!))),
      terms: lex ? lex[side].topTerms(k, 6) : [],
    };
  }

  /**
   * Why the model scores this item for this user: the interaction intents (prototype weights)
   * behind the score, the text intents of both that match them, and the user's most similar
   * training items.
   */
  explain(user: Id, item: Id, o: { top?: number } = {}): Explanation {
    const u = this.userIndex(user);
    const i = this.itemIndex(item);
    const top = Math.max(1, Math.min(o.top ?? 3, 10));
    const d = this.dim;
    const score = dot(this.userEmb, u * d, this.itemEmb, i * d, d);
    // rank among the user's unmasked items
    let rank = 1;
    const seenStart = this.seen.indptr[u]!;
    const seenEnd = this.seen.indptr[u + 1]!;
    const isSeen = new Set<number>();
    for (let p = seenStart; p < seenEnd; p++) isSeen.add(this.seen.indices[p]!);
    for (let j = 0; j < this.numItems; j++) {
      if (j !== i && !isSeen.has(j) && dot(this.userEmb, u * d, this.itemEmb, j * d, d) > score) rank++;
    }
    const title = this.items.title(i);
    const pu = this.profiles?.users[u];
    const pi = this.profiles?.items[i];
    const userPhrases = pu ? [...list(pu.intent.liked), ...list(pu.intent.key_attributes)] : [];
    const itemPhrases = pi ? [...list(pi.intent.attracts), ...list(pi.intent.key_attributes)] : [];
    let intents: Explanation['intents'] = null;
    const m = this.intents;
    if (m) {
      const K = m.K;
      const eu = intentVector(m, 'user', u);
      const ei = intentVector(m, 'item', i);
      const nu = Math.sqrt(dot(eu, 0, eu, 0, d));
      const ni = Math.sqrt(dot(ei, 0, ei, 0, d));
      const agreement = nu > 0 && ni > 0 ? dot(eu, 0, ei, 0, d) / (nu * ni) : 0;
      const contrib = new Float64Array(K);
      let explained = 0;
      // centred on the uniform mixture: what leaning towards intent k adds to the score
      for (let k = 0; k < K; k++) {
        contrib[k] = (m.userW[u * K + k]! - 1 / K) * dot(m.userProto, k * d, this.itemEmb, i * d, d);
        explained += contrib[k]!;
      }
      const lex = this.lexiconsFor();
      // the intents the user leans on (above uniform) that raise this item's score most, then the
      // user's strongest intents
      const leaning = Array.from({ length: K }, (_, k) => k).filter((k) => m.userW[u * K + k]! * K > 1 && contrib[k]! > 0);
      leaning.sort((a, b) => contrib[b]! - contrib[a]! || a - b);
      const userTop = leaning.slice(0, top);
      for (const k of topIndices(m.userW, u * K, K, K)) {
        if (userTop.length >= top) break;
        if (!userTop.includes(k)) userTop.push(k);
      }
      const itemTop = topIndices(m.itemW, i * K, K, top);
      intents = {
        source: m.source,
        K,
        agreement: round(agreement),
        user: userTop.map((k) => ({
          intent: `U${k}`, index: k, weight: round(m.userW[u * K + k]!), lift: round(m.userW[u * K + k]! * K, 3), contribution: round(contrib[k]!),
          label: this.intentLabel('user', k),
          ...(lex && pu ? { text: lex.user.match(k, userPhrases, 3) } : {}),
        })),
        item: itemTop.map((k) => ({
          intent: `I${k}`, index: k, weight: round(m.itemW[i * K + k]!), lift: round(m.itemW[i * K + k]! * K, 3),
          label: this.intentLabel('item', k),
          ...(lex && pi ? { text: lex.item.match(k, itemPhrases, 3) } : {}),
        })),
        explained: round(explained),
        residual: round(score - explained),
      };
    }
    const text: Explanation['text'] = pu && pi
      ? {
          user: { profile: str(pu.profile.summarization), intent: str(pu.intent.intent), liked: list(pu.intent.liked), disliked: list(pu.intent.disliked) },
          item: { profile: str(pi.profile.summarization), intent: str(pi.intent.intent), attracts: list(pi.intent.attracts), doesNotSuit: list(pi.intent.does_not_suit) },
        }
      : null;
    // because: the user's training items closest to this one
    const N = this.itemNorm();
    const because: [number, number][] = [];
    for (let p = seenStart; p < seenEnd; p++) {
      const j = this.seen.indices[p]!;
      if (j !== i) because.push([j, dot(N, j * d, N, i * d, d)]);
    }
    because.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const b3 = because.slice(0, top);
    return {
      user: this.users.key(u),
      item: this.items.key(i),
      ...(title !== undefined ? { title } : {}),
      score: round(score),
      rank: isSeen.has(i) ? 0 : rank,
      seen: isSeen.has(i),
      intents,
      text,
      because: this.scored(Int32Array.from(b3, (x) => x[0]), Float32Array.from(b3, (x) => round(x[1]))),
    };
  }

  /** Training-interaction counts per item (the popularity ranking). */
  popularity(): Float32Array {
    if (this.popularityCache) return this.popularityCache;
    const c = new Float32Array(this.numItems);
    for (let p = 0; p < this.seen.indptr[this.numUsers]!; p++) c[this.seen.indices[p]!]!++;
    this.popularityCache = c;
    return c;
  }

  private towerOut(mlp: MLP, v: Float32Array, rows: number): Float32Array {
    return noGrad(() => mlp.forward(new Tensor(v, [rows, v.length / rows])).data);
  }

  /** Warm users' tower outputs for one kind (normalised), computed once. */
  private warmTower(kind: TextKind): Float32Array | null {
    const have = this.towerUsers[kind];
    if (have) return have;
    const t = this.towers;
    const mlp = kind === 'profile' ? t?.profile : t?.intent;
    const src = kind === 'profile' ? t?.text.usrPrf : t?.text.usrInt;
    if (!mlp || !src) return null;
    const z = normalizeRows(this.towerOut(mlp, src.data, src.rows), src.rows, this.dim);
    this.towerUsers[kind] = z;
    return z;
  }

  private vectorOf(kind: TextKind, v: ArrayLike<number>): Float32Array {
    const src = kind === 'profile' ? this.towers?.text.usrPrf : this.towers?.text.usrInt;
    if (!src) throw new UnavailableError(`${this.model} has no ${kind} text tower`);
    if (!v || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
      throw new InvalidArgumentError(`vectors.${kind} must be a list of ${src.cols} numbers`);
    }
    if (v.length !== src.cols) throw new InvalidArgumentError(`vectors.${kind} has ${v.length} values, the ${kind} vectors of this model have ${src.cols}`);
    const out = new Float32Array(v.length);
    for (let c = 0; c < v.length; c++) {
      const x = v[c];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidArgumentError(`vectors.${kind}[${c}] is not a finite number`);
      out[c] = x;
    }
    return out;
  }

  /**
   * Recommendations for a user unknown to training, from text (through the dataset's embedder and
   * the model's text tower), text vectors, and/or items they are known to like.
   */
  async coldStart(input: ColdStartInput, o: ColdStartOptions = {}): Promise<ColdStartResult> {
    if (!input || typeof input !== 'object') throw new InvalidArgumentError('cold start needs {text}, {vectors} or {items}');
    const k = checkK(o.k ?? 10, this.numItems);
    const strategy = o.strategy ?? 'neighbors';
    if (strategy !== 'tower' && strategy !== 'neighbors') throw new InvalidArgumentError(`strategy must be "tower" or "neighbors", got ${JSON.stringify(strategy)}`);
    const vecs: Partial<Record<TextKind, Float32Array>> = {};
    let embedderName: string | undefined;
    if (input.vectors !== undefined) {
      if (typeof input.vectors !== 'object' || input.vectors === null) throw new InvalidArgumentError('vectors must be an object {profile?, intent?}');
      for (const kind of ['profile', 'intent'] as const) {
        const v = input.vectors[kind];
        if (v !== undefined) vecs[kind] = this.vectorOf(kind, v);
      }
    }
    if (input.text !== undefined) {
      const t = input.text;
      const texts: Partial<Record<TextKind, string>> = {};
      if (typeof t === 'string') {
        if (this.towers?.text.usrPrf) texts.profile = t;
        if (this.towers?.text.usrInt) texts.intent = t;
      } else if (t && typeof t === 'object') {
        if (t.profile !== undefined) texts.profile = t.profile;
        if (t.intent !== undefined) texts.intent = t.intent;
      }
      for (const [kind, s] of Object.entries(texts) as [TextKind, unknown][]) {
        if (typeof s !== 'string' || s.trim() === '') throw new InvalidArgumentError(`text${typeof t === 'string' ? '' : `.${kind}`} must be a non-empty string`);
        if (s.length > 20_000) throw new InvalidArgumentError(`text is too long (${s.length} characters, at most 20000)`);
      }
      if (!this.towers) throw new UnavailableError(`${this.model} has no text tower: cold start from text needs a model trained with --align rlmrec-con, rlmrec-gen or irllrec (pass items instead)`);
      if (Object.keys(texts).length === 0) throw new InvalidArgumentError('text must be a string or {profile?, intent?}');
      if (!this.embedder) {
        throw new UnavailableError('no text embedder for this run (the dataset has no embed.json with its profiles, or none was configured): pass text vectors ({vectors: {profile, intent}}) instead');
      }
      embedderName = this.embedder.name;
      for (const [kind, s] of Object.entries(texts) as [TextKind, string][]) {
        if (vecs[kind]) continue;
        const [v] = await this.embedder.embed([s], kind, o.signal);
        vecs[kind] = this.vectorOf(kind, v!);
      }
    }
    const given = input.items !== undefined ? this.itemIndices(input.items, 'items')! : new Int32Array(0);
    const used: string[] = [];
    const d = this.dim;
    const u = new Float32Array(d);
    const t = this.towers;
    const textKinds = (Object.keys(vecs) as TextKind[]).filter((kk) => vecs[kk]);
    if (textKinds.length && !t) throw new UnavailableError(`${this.model} has no text tower (pass items instead)`);
    let usedStrategy: ColdStartResult['strategy'] = 'items';
    if (textKinds.length && t) {
      if (t.recon) {
        // RLMRec-Gen maps embeddings to text: the nearest warm users by their profile vectors
        const p = vecs.profile;
        if (!p) throw new UnavailableError(`${this.model} uses profile text only`);
        const src = t.text.usrPrf!;
        const P = normalizeRows(src.data, src.rows, src.cols);
        const sims = new Float32Array(src.rows);
        this.kernels.gemm(false, true, 1, src.rows, src.cols, 1, normalize(Float32Array.from(p)), src.cols, P, src.cols, 0, sims, src.rows);
        this.addNeighbours(sims, u);
        used.push('profile');
        usedStrategy = 'neighbors';
      } else if (strategy === 'tower') {
        for (const kind of textKinds) {
          const mlp = kind === 'profile' ? t.profile : t.intent;
          if (!mlp) throw new UnavailableError(`${this.model} has no ${kind} text tower`);
          const z = normalize(this.towerOut(mlp, vecs[kind]!, 1));
          for (let c = 0; c < d; c++) u[c]! += z[c]!;
          used.push(kind);
        }
        usedStrategy = 'tower';
      } else {
        const sims = new Float32Array(this.numUsers);
        for (const kind of textKinds) {
          const mlp = kind === 'profile' ? t.profile : t.intent;
          const Z = this.warmTower(kind);
          if (!mlp || !Z) throw new UnavailableError(`${this.model} has no ${kind} text tower`);
          const z = normalize(this.towerOut(mlp, vecs[kind]!, 1));
          const s = new Float32Array(this.numUsers);
          this.kernels.gemm(false, true, 1, this.numUsers, d, 1, z, d, Z, d, 0, s, this.numUsers);
          this.kernels.axpy(this.numUsers, 1 / textKinds.length, s, sims);
          used.push(kind);
        }
        this.addNeighbours(sims, u);
        usedStrategy = 'neighbors';
      }
    }
    if (given.length) {
      const h = new Float32Array(d);
      for (const i of given) for (let c = 0; c < d; c++) h[c]! += this.itemEmb[i * d + c]!;
      normalize(h);
      normalize(u);
      for (let c = 0; c < d; c++) u[c]! += h[c]!;
      used.push('items');
    }
    if (!used.length) throw new InvalidArgumentError('cold start needs {text}, {vectors} or {items} (none given)');
    const ex = this.itemIndices(o.exclude, 'exclude');
    const cand = this.itemIndices(o.candidates, 'candidates');
    const excludeGiven = o.excludeGiven ?? true;
    const [r] = this.rank(u, 1, this.itemEmb, k, cand, (_r, set) => {
      if (excludeGiven) for (const i of given) set(i);
      if (ex) for (let j = 0; j < ex.length; j++) set(ex[j]!);
    });
    return { items: this.scored(r!.items, r!.scores), used, strategy: usedStrategy, ...(embedderName ? { embedder: embedderName } : {}) };
  }

  /** u += sum over the 50 most similar warm users of softmax(sim / 0.1) * e_v. */
  private addNeighbours(sims: Float32Array, u: Float32Array, m = 50, temp = 0.1): void {
    const top = topIndices(sims, 0, sims.length, m);
    if (!top.length) return;
    const mx = sims[top[0]!]!;
    let z = 0;
    const w = top.map((v) => {
      const e = Math.exp((sims[v]! - mx) / temp);
      z += e;
      return e;
    });
    const d = this.dim;
    top.forEach((v, j) => {
      for (let c = 0; c < d; c++) u[c]! += (w[j]! / z) * this.userEmb[v * d + c]!;
    });
  }
}
