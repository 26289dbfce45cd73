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
import type { IntentModel } from './intents.js';
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
}
