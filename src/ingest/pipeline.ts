/**
 * From raw rows to a dataset: deduplicate, apply the implicit-feedback threshold, k-core filter,
 * map ids to 0..n-1, split (seeded), and build the per-entity text corpora from training data only.
 *
 * Leakage rule for the corpora: a review, rating or tag on a (user, item) pair that is a validation
 * or test interaction never enters them. Below-threshold feedback ("disliked") and tags on pairs
 * that are not interactions are kept (they are not evaluation targets); with a temporal split
 * (leave-one-out, or per-user ratios in time order) they are kept only when they are not later
 * than the user's first validation/test interaction.
 */
import { DataError } from '../data/errors.js';
import type { Interactions } from '../data/dataset.js';
import { randomSplit } from '../data/split.js';
import { Rng } from '../util/rng.js';
import type { EntityMeta, RawData, RawRow } from './types.js';

export type SplitKind = 'random' | 'loo' | 'user-ratio';

export interface PipelineOptions {
  /** keep ratings >= this as interactions; null: every row is an interaction */
  minRating: number | null;
  /** a rating >= this reads as "liked" in the corpora; null: every interaction is liked */
  likeThreshold: number | null;
  /** [user, item] minimum degree; 0 disables */
  kcore: [number, number];
  dedup: 'first' | 'last';
  split: SplitKind;
  ratios: [number, number, number];
  /** per-user order for user-ratio: by time, or a seeded shuffle */
  order: 'time' | 'random';
  seed: number;
  /** keep below-threshold feedback in the corpora as dislikes */
  negatives: boolean;
}

export interface FeedbackEntry {
  /** the other side's 0-based id (item for a user, user for an item) */
  item?: number;
  user?: number;
  /** a training interaction (true), or below-threshold / tag-only feedback (false) */
  interaction: boolean;
  rating: number | null;
  liked: boolean | null;
  time: number | null;
  summary?: string;
  text?: string;
  tags?: string[];
}

export interface CorpusRecord {
  id: number;
  key: string;
  title?: string;
  description?: string;
  attributes: Record<string, string[]>;
  feedback: FeedbackEntry[];
}

export interface PipelineStats {
  rows: number;
  duplicates_removed: number;
  below_threshold: number;
  kcore_removed: { rows: number; users: number; items: number };
  interactions: number;
  users: number;
  items: number;
  train: number;
  valid: number;
  test: number;
  density: number;
  users_without_train: number;
  items_without_train: number;
  items_with_metadata: number;
  corpus: {
    user_feedback_entries: number;
    item_feedback_entries: number;
    reviews_with_text: number;
    tags: number;
    withheld_eval_pairs: number;
    withheld_after_cutoff: number;
  };
}

export interface PipelineResult {
  users: string[];
  items: string[];
  splits: [Interactions, Interactions, Interactions];
  userCorpus: CorpusRecord[];
  itemCorpus: CorpusRecord[];
  stats: PipelineStats;
}

const pairKey = (u: string, i: string) => `${u}\u0000${i}`;

/** (time, line) order; unknown times sort by line only. */
function later(a: RawRow, b: RawRow): boolean {
  if (a.time !== null && b.time !== null && a.time !== b.time) return a.time > b.time;
  return a.line > b.line;
}

export function dedupRows(rows: RawRow[], keep: 'first' | 'last'): RawRow[] {
  const best = new Map<string, number>();
  rows.forEach((r, k) => {
    const key = pairKey(r.user, r.item);
    const prev = best.get(key);
    if (prev === undefined) best.set(key, k);
    else if (keep === 'last' ? later(r, rows[prev]!) : later(rows[prev]!, r)) best.set(key, k);
  });
  if (best.size === rows.length) return rows;
  const chosen = new Uint8Array(rows.length);
  for (const k of best.values()) chosen[k] = 1;
  return rows.filter((_, k) => chosen[k] === 1);
}

/** Iteratively drops users / items with fewer than k interactions until none is left. */
export function kcoreRows(rows: RawRow[], ku: number, ki: number): RawRow[] {
  let cur = rows;
  if (ku <= 1 && ki <= 1) return cur;
  for (;;) {
    const du = new Map<string, number>();
    const di = new Map<string, number>();
    for (const r of cur) {
      du.set(r.user, (du.get(r.user) ?? 0) + 1);
      di.set(r.item, (di.get(r.item) ?? 0) + 1);
    }
    const next = cur.filter((r) => du.get(r.user)! >= ku && di.get(r.item)! >= ki);
    if (next.length === cur.length) return cur;
    cur = next;
  }
}

/** Sorted unique keys: numerically when every key is a plain integer, else by code unit. */
export function sortedKeys(keys: Iterable<string>): string[] {
  const u = [...new Set(keys)];
  if (u.every((k) => /^-?\d{1,15}$/.test(k))) return u.sort((a, b) => Number(a) - Number(b));
  return u.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** 0 train, 1 valid, 2 test for each row. */
export function assignSplits(rows: RawRow[], uid: Int32Array, o: PipelineOptions): Uint8Array {
  const n = rows.length;
  const assign = new Uint8Array(n);
  if (o.split === 'random') {
    // the official per-interaction split, through the same function the rest of the library uses
    const idx = new Int32Array(n);
    for (let k = 0; k < n; k++) idx[k] = k;
    const parts = randomSplit({ user: idx, item: new Int32Array(n) }, o.ratios, new Rng(o.seed));
    parts.forEach((p, s) => {
      for (const k of p.user) assign[k] = s;
    });
    return assign;
  }
  const byUser = new Map<number, number[]>();
  for (let k = 0; k < n; k++) {
    const list = byUser.get(uid[k]!);
    if (list) list.push(k);
    else byUser.set(uid[k]!, [k]);
  }
  const rng = new Rng(o.seed);
  const users = [...byUser.keys()].sort((a, b) => a - b);
  for (const u of users) {
    const list = byUser.get(u)!;
    if (o.split === 'user-ratio' && o.order === 'random') {
      const a = Int32Array.from(list);
      rng.shuffle(a);
      list.splice(0, list.length, ...a);
    } else {
      list.sort((a, b) => (later(rows[a]!, rows[b]!) ? 1 : later(rows[b]!, rows[a]!) ? -1 : 0));
    }
    const m = list.length;
    let nValid: number;
    let nTest: number;
    if (o.split === 'loo') {
      nValid = m >= 3 ? 1 : 0;
      nTest = m >= 3 ? 1 : 0;
    } else {
      const total = o.ratios[0] + o.ratios[1] + o.ratios[2];
      nTest = Math.round((m * o.ratios[2]) / total);
      nValid = Math.round((m * o.ratios[1]) / total);
      // keep at least one training interaction per user
      while (nTest + nValid >= m && m > 0) {
        if (nValid >= nTest && nValid > 0) nValid--;
        else if (nTest > 0) nTest--;
        else break;
      }
    }
    for (let j = 0; j < m; j++) assign[list[j]!] = j >= m - nTest ? 2 : j >= m - nTest - nValid ? 1 : 0;
  }
  return assign;
}

function metaOf(map: Map<string, EntityMeta>, key: string): Pick<CorpusRecord, 'title' | 'description' | 'attributes'> {
  const m = map.get(key);
  const out: Pick<CorpusRecord, 'title' | 'description' | 'attributes'> = { attributes: m ? m.attributes : {} };
  if (m?.title) out.title = m.title;
  if (m?.description) out.description = m.description;
  return out;
}

export function runPipeline(raw: RawData, o: PipelineOptions): PipelineResult {
  const stats = { rows: raw.rows.length } as PipelineStats;
  const rows = dedupRows(raw.rows, o.dedup);
  stats.duplicates_removed = raw.rows.length - rows.length;

  let pos: RawRow[] = rows;
  let neg: RawRow[] = [];
  if (o.minRating !== null) {
    pos = [];
    for (const r of rows) {
      if (r.rating === null) throw new DataError(raw.rowsFile, `this row has no rating, but a rating threshold (--min-rating ${o.minRating}) is set; pass --min-rating none for implicit feedback`, { line: r.line, field: 'rating' });
      (r.rating >= o.minRating ? pos : neg).push(r);
    }
  }
  stats.below_threshold = neg.length;
  if (pos.length === 0) throw new DataError(raw.rowsFile, `no interactions left after the rating threshold (--min-rating ${o.minRating})`);
  const before = { rows: pos.length, users: new Set(pos.map((r) => r.user)).size, items: new Set(pos.map((r) => r.item)).size };
  pos = kcoreRows(pos, o.kcore[0], o.kcore[1]);
  if (pos.length === 0) throw new DataError(raw.rowsFile, `no interactions left after the ${o.kcore.join('/')}-core filter (users/items)`);

  const users = sortedKeys(pos.map((r) => r.user));
  const items = sortedKeys(pos.map((r) => r.item));
  stats.kcore_removed = { rows: before.rows - pos.length, users: before.users - users.length, items: before.items - items.length };
  const uIndex = new Map(users.map((k, i) => [k, i]));
  const iIndex = new Map(items.map((k, i) => [k, i]));
  const uid = Int32Array.from(pos, (r) => uIndex.get(r.user)!);
  const iid = Int32Array.from(pos, (r) => iIndex.get(r.item)!);
  const assign = assignSplits(pos, uid, o);

  const counts = [0, 0, 0];
  for (const s of assign) counts[s]!++;
  const splits = [0, 1, 2].map((s) => {
    const user = new Int32Array(counts[s]!);
    const item = new Int32Array(counts[s]!);
    let w = 0;
    for (let k = 0; k < pos.length; k++) {
      if (assign[k] === s) {
        user[w] = uid[k]!;
        item[w++] = iid[k]!;
      }
    }
    return { user, item };
  }) as [Interactions, Interactions, Interactions];

  // --- corpora
  const temporal = o.split === 'loo' || (o.split === 'user-ratio' && o.order === 'time');
  const evalPairs = new Set<string>();
  const cutoff = new Map<number, RawRow>();
  for (let k = 0; k < pos.length; k++) {
    if (assign[k] === 0) continue;
    evalPairs.add(`${uid[k]} ${iid[k]}`);
    const c = cutoff.get(uid[k]!);
    if (!c || later(c, pos[k]!)) cutoff.set(uid[k]!, pos[k]!);
  }
  let withheldEval = 0;
  let withheldCutoff = 0;
  const allowed = (u: number, i: number, r: { time: number | null; line: number } | null): boolean => {
    if (evalPairs.has(`${u} ${i}`)) {
      withheldEval++;
      return false;
    }
    if (temporal && r) {
      const c = cutoff.get(u);
      if (c && (r.time !== null && c.time !== null ? r.time > c.time : r.line > c.line)) {
        withheldCutoff++;
        return false;
      }
    }
    return true;
  };
  /** implicit rows (no rating) read as liked; rated ones by the like threshold */
  const liked = (rating: number | null): boolean => rating === null || o.likeThreshold === null || rating >= o.likeThreshold;

  const userFb: FeedbackEntry[][] = users.map(() => []);
  const itemFb: FeedbackEntry[][] = items.map(() => []);
  const entryOf = new Map<string, [FeedbackEntry, FeedbackEntry]>();
  const sortKey = new Map<FeedbackEntry, number>();
  const add = (u: number, i: number, e: Omit<FeedbackEntry, 'item' | 'user'>, line: number) => {
    const ue: FeedbackEntry = { item: i, ...e };
    const ie: FeedbackEntry = { user: u, ...e };
    userFb[u]!.push(ue);
    itemFb[i]!.push(ie);
    sortKey.set(ue, line);
    sortKey.set(ie, line);
    entryOf.set(`${u} ${i}`, [ue, ie]);
  };
  const base = (r: RawRow, interaction: boolean): Omit<FeedbackEntry, 'item' | 'user'> => {
    const e: Omit<FeedbackEntry, 'item' | 'user'> = { interaction, rating: r.rating, liked: liked(r.rating), time: r.time };
    if (r.summary) e.summary = r.summary;
    if (r.text) e.text = r.text;
    return e;
  };
  for (let k = 0; k < pos.length; k++) if (assign[k] === 0) add(uid[k]!, iid[k]!, base(pos[k]!, true), pos[k]!.line);
  if (o.negatives) {
    for (const r of neg) {
      const u = uIndex.get(r.user);
      const i = iIndex.get(r.item);
      if (u === undefined || i === undefined || !allowed(u, i, r)) continue;
      add(u, i, { ...base(r, false), liked: false }, r.line);
    }
  }
  let tagCount = 0;
  raw.tags.forEach((t, n) => {
    const u = uIndex.get(t.user);
    const i = iIndex.get(t.item);
    if (u === undefined || i === undefined || !allowed(u, i, { time: t.time, line: Number.MAX_SAFE_INTEGER })) return;
    let pair = entryOf.get(`${u} ${i}`);
    if (!pair) {
      add(u, i, { interaction: false, rating: null, liked: null, time: t.time }, 1e15 + n);
      pair = entryOf.get(`${u} ${i}`)!;
    }
    for (const e of pair) {
      const tags = (e.tags ??= []);
      if (!tags.includes(t.tag)) tags.push(t.tag);
    }
    tagCount++;
  });
  const order = (a: FeedbackEntry, b: FeedbackEntry) => {
    if (a.time !== null && b.time !== null && a.time !== b.time) return a.time - b.time;
    return sortKey.get(a)! - sortKey.get(b)!;
  };
  const userCorpus: CorpusRecord[] = users.map((key, id) => ({ id, key, ...metaOf(raw.users, key), feedback: userFb[id]!.sort(order) }));
  const itemCorpus: CorpusRecord[] = items.map((key, id) => ({ id, key, ...metaOf(raw.items, key), feedback: itemFb[id]!.sort(order) }));

  const trainU = new Uint8Array(users.length);
  const trainI = new Uint8Array(items.length);
  for (let k = 0; k < splits[0].user.length; k++) {
    trainU[splits[0].user[k]!] = 1;
    trainI[splits[0].item[k]!] = 1;
  }
  stats.interactions = pos.length;
  stats.users = users.length;
  stats.items = items.length;
  stats.train = counts[0]!;
  stats.valid = counts[1]!;
  stats.test = counts[2]!;
  stats.density = pos.length / (users.length * items.length);
  stats.users_without_train = users.length - trainU.reduce((a, b) => a + b, 0);
  stats.items_without_train = items.length - trainI.reduce((a, b) => a + b, 0);
  stats.items_with_metadata = items.filter((k) => raw.items.has(k)).length;
  stats.corpus = {
    user_feedback_entries: userFb.reduce((a, f) => a + f.length, 0),
    item_feedback_entries: itemFb.reduce((a, f) => a + f.length, 0),
    reviews_with_text: userFb.reduce((a, f) => a + f.filter((e) => e.text || e.summary).length, 0),
    tags: tagCount,
    withheld_eval_pairs: withheldEval,
    withheld_after_cutoff: withheldCutoff,
  };
  return { users, items, splits, userCorpus, itemCorpus, stats };
}
