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
import { RowTable, RowsTextStore, type TextStore } from './columns.js';
import type { EntityMeta, RawData, RawRow, RawTag } from './types.js';

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
  /** the title of item i ('' when none), for items.tsv */
  itemTitle(i: number): string;
  /**
   * the lines of corpus/users.jsonl or corpus/items.jsonl, one record per entity, built as they are
   * written; they read the review text from the source's TextStore, so only while it is open (for
   * `ingest()` results: read the written files instead, e.g. with readCorpus)
   */
  corpusLines(side: 'user' | 'item'): Generator<string>;
  stats: PipelineStats;
}

/** What the pipeline reads: the rows column-wise, their text, side information and tags. */
export interface RowSource {
  rowsFile: string;
  table: RowTable;
  text: TextStore;
  items: Map<string, EntityMeta>;
  users: Map<string, EntityMeta>;
  tags: RawTag[];
}

/** (time, line) order of two rows; unknown times sort by line only. */
function laterRow(t: RowTable, a: number, b: number): boolean {
  const ta = t.time[a]!;
  const tb = t.time[b]!;
  if (ta === ta && tb === tb && ta !== tb) return ta > tb;
  return t.line[a]! > t.line[b]!;
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let k = 0; k < n; k++) a[k] = k;
  return a;
}

/** `rows` (row indices) ordered by key[row], stable; keys in 0..m-1. */
function countingSort(key: Int32Array, rows: Int32Array, m: number): Int32Array {
  const start = new Int32Array(m + 1);
  for (let j = 0; j < rows.length; j++) start[key[rows[j]!]! + 1]!++;
  for (let v = 0; v < m; v++) start[v + 1]! += start[v]!;
  const out = new Int32Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const k = rows[j]!;
    out[start[key[k]!]!++] = k;
  }
  return out;
}

/** The rows kept by deduplication (one per (user, item) pair), in reading order. */
export function dedupTable(t: RowTable, keep: 'first' | 'last'): Int32Array {
  const n = t.n;
  // rows ordered by (user, item, row): two stable counting sorts
  const order = countingSort(t.user, countingSort(t.item, identity(n), t.items.size), t.users.size);
  const chosen = new Uint8Array(n);
  let kept = 0;
  for (let s = 0; s < n; ) {
    const u = t.user[order[s]!]!;
    const i = t.item[order[s]!]!;
    let best = order[s]!;
    let e = s + 1;
    for (; e < n && t.user[order[e]!] === u && t.item[order[e]!] === i; e++) {
      const k = order[e]!;
      if (keep === 'last' ? laterRow(t, k, best) : laterRow(t, best, k)) best = k;
    }
    chosen[best] = 1;
    kept++;
    s = e;
  }
  const out = new Int32Array(kept);
  let w = 0;
  for (let k = 0; k < n; k++) if (chosen[k]) out[w++] = k;
  return out;
}

export function dedupRows(rows: RawRow[], keep: 'first' | 'last'): RawRow[] {
  const kept = dedupTable(RowTable.fromRows(rows), keep);
  return kept.length === rows.length ? rows : Array.from(kept, (k) => rows[k]!);
}

/** Iteratively drops users / items with fewer than k interactions until none is left. */
export function kcoreTable(t: RowTable, rows: Int32Array, ku: number, ki: number): Int32Array {
  let cur = rows;
  if (ku <= 1 && ki <= 1) return cur;
  const du = new Int32Array(t.users.size);
  const di = new Int32Array(t.items.size);
  for (;;) {
    du.fill(0);
    di.fill(0);
    for (let j = 0; j < cur.length; j++) {
      du[t.user[cur[j]!]!]!++;
      di[t.item[cur[j]!]!]!++;
    }
    let m = 0;
    for (let j = 0; j < cur.length; j++) if (du[t.user[cur[j]!]!]! >= ku && di[t.item[cur[j]!]!]! >= ki) m++;
    if (m === cur.length) return cur;
    const next = new Int32Array(m);
    let w = 0;
    for (let j = 0; j < cur.length; j++) if (du[t.user[cur[j]!]!]! >= ku && di[t.item[cur[j]!]!]! >= ki) next[w++] = cur[j]!;
    cur = next;
  }
}

export function kcoreRows(rows: RawRow[], ku: number, ki: number): RawRow[] {
  if (ku <= 1 && ki <= 1) return rows;
  const kept = kcoreTable(RowTable.fromRows(rows), identity(rows.length), ku, ki);
  return kept.length === rows.length ? rows : Array.from(kept, (k) => rows[k]!);
}

/** Sorted unique keys: numerically when every key is a plain integer, else by code unit. */
export function sortedKeys(keys: Iterable<string>): string[] {
  const u = [...new Set(keys)];
  if (u.every((k) => /^-?\d{1,15}$/.test(k))) return u.sort((a, b) => Number(a) - Number(b));
  return u.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** 0 train, 1 valid, 2 test for each of `pos` (row indices of t); uid[j] is the user of pos[j]. */
export function assignSplitsTable(t: RowTable, pos: Int32Array, uid: Int32Array, o: PipelineOptions): Uint8Array {
  const n = pos.length;
  const assign = new Uint8Array(n);
  if (o.split === 'random') {
    // the official per-interaction split, through the same function the rest of the library uses
    const parts = randomSplit({ user: identity(n), item: new Int32Array(n) }, o.ratios, new Rng(o.seed));
    parts.forEach((p, s) => {
      for (const k of p.user) assign[k] = s;
    });
    return assign;
  }
  let nu = 0;
  for (let j = 0; j < n; j++) if (uid[j]! + 1 > nu) nu = uid[j]! + 1;
  const byUser = countingSort(uid, identity(n), nu);
  const rng = new Rng(o.seed);
  for (let s = 0, u = 0; u < nu; u++) {
    let e = s;
    while (e < n && uid[byUser[e]!] === u) e++;
    if (e === s) continue;
    let list: number[] = Array.from(byUser.subarray(s, e));
    s = e;
    if (o.split === 'user-ratio' && o.order === 'random') {
      const a = Int32Array.from(list);
      rng.shuffle(a);
      list = Array.from(a);
    } else {
      list.sort((a, b) => (laterRow(t, pos[a]!, pos[b]!) ? 1 : laterRow(t, pos[b]!, pos[a]!) ? -1 : 0));
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

/** 0 train, 1 valid, 2 test for each row. */
export function assignSplits(rows: RawRow[], uid: Int32Array, o: PipelineOptions): Uint8Array {
  return assignSplitsTable(RowTable.fromRows(rows), identity(rows.length), uid, o);
}

function metaOf(map: Map<string, EntityMeta>, key: string): Pick<CorpusRecord, 'title' | 'description' | 'attributes'> {
  const m = map.get(key);
  const out: Pick<CorpusRecord, 'title' | 'description' | 'attributes'> = { attributes: m ? m.attributes : {} };
  if (m?.title) out.title = m.title;
  if (m?.description) out.description = m.description;
  return out;
}

export function sourceFromRaw(raw: RawData): RowSource {
  return { rowsFile: raw.rowsFile, table: RowTable.fromRows(raw.rows), text: new RowsTextStore(raw.rows), items: raw.items, users: raw.users, tags: raw.tags };
}

export function runPipeline(raw: RawData, o: PipelineOptions): PipelineResult {
  return runPipelineColumns(sourceFromRaw(raw), o);
}

const num = (x: number): string => (x === x ? JSON.stringify(x) : 'null');

/**
 * The pipeline on column-wise rows. Memory: a few typed arrays per row and per corpus entry; the
 * corpus records (with their review text, read from `src.text`) are built one at a time as
 * `corpusLines` is consumed, so `src.text` must stay open until both corpora are written.
 */
export function runPipelineColumns(src: RowSource, o: PipelineOptions): PipelineResult {
  const t = src.table;
  const stats = { rows: t.n } as PipelineStats;
  const rows = dedupTable(t, o.dedup);
  stats.duplicates_removed = t.n - rows.length;

  let pos = rows;
  let neg = new Int32Array(0);
  if (o.minRating !== null) {
    let np = 0;
    for (let j = 0; j < rows.length; j++) {
      const r = t.rating[rows[j]!]!;
      if (r !== r) throw new DataError(src.rowsFile, `this row has no rating, but a rating threshold (--min-rating ${o.minRating}) is set; pass --min-rating none for implicit feedback`, { line: t.line[rows[j]!]!, field: 'rating' });
      if (r >= o.minRating) np++;
    }
    pos = new Int32Array(np);
    neg = new Int32Array(rows.length - np);
    let wp = 0;
    let wn = 0;
    for (let j = 0; j < rows.length; j++) {
      if (t.rating[rows[j]!]! >= o.minRating) pos[wp++] = rows[j]!;
      else neg[wn++] = rows[j]!;
    }
  }
  stats.below_threshold = neg.length;
  if (pos.length === 0) throw new DataError(src.rowsFile, `no interactions left after the rating threshold (--min-rating ${o.minRating})`);
  const distinct = (col: Int32Array, m: number, list: Int32Array, keys: string[]): string[] => {
    const seen = new Uint8Array(m);
    const out: string[] = [];
    for (let j = 0; j < list.length; j++) {
      const v = col[list[j]!]!;
      if (!seen[v]) {
        seen[v] = 1;
        out.push(keys[v]!);
      }
    }
    return out;
  };
  const before = { rows: pos.length, users: distinct(t.user, t.users.size, pos, t.users.keys).length, items: distinct(t.item, t.items.size, pos, t.items.keys).length };
  pos = kcoreTable(t, pos, o.kcore[0], o.kcore[1]);
  if (pos.length === 0) throw new DataError(src.rowsFile, `no interactions left after the ${o.kcore.join('/')}-core filter (users/items)`);

  // keys in order of first appearance, then sorted (a stable sort: the same ties as ever)
  const users = sortedKeys(distinct(t.user, t.users.size, pos, t.users.keys));
  const items = sortedKeys(distinct(t.item, t.items.size, pos, t.items.keys));
  stats.kcore_removed = { rows: before.rows - pos.length, users: before.users - users.length, items: before.items - items.length };
  const uIndex = new Int32Array(t.users.size).fill(-1);
  const iIndex = new Int32Array(t.items.size).fill(-1);
  users.forEach((k, id) => (uIndex[t.users.get(k)!] = id));
  items.forEach((k, id) => (iIndex[t.items.get(k)!] = id));
  const uid = new Int32Array(pos.length);
  const iid = new Int32Array(pos.length);
  for (let j = 0; j < pos.length; j++) {
    uid[j] = uIndex[t.user[pos[j]!]!]!;
    iid[j] = iIndex[t.item[pos[j]!]!]!;
  }
  const assign = assignSplitsTable(t, pos, uid, o);

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
  const tags = src.tags;
  // after deduplication a (user, item) pair is either an interaction or a below-threshold row, never
  // both, so only tags can fall on a validation/test pair
  const evalPairs = tags.length ? new Set<string>() : null;
  const cutoff = new Int32Array(users.length).fill(-1);
  for (let k = 0; k < pos.length; k++) {
    if (assign[k] === 0) continue;
    evalPairs?.add(`${uid[k]} ${iid[k]}`);
    const c = cutoff[uid[k]!]!;
    if (c < 0 || laterRow(t, c, pos[k]!)) cutoff[uid[k]!] = pos[k]!;
  }
  let withheldEval = 0;
  let withheldCutoff = 0;
  const allowed = (u: number, i: number, time: number, line: number): boolean => {
    if (evalPairs?.has(`${u} ${i}`)) {
      withheldEval++;
      return false;
    }
    if (temporal) {
      const c = cutoff[u]!;
      if (c >= 0) {
        const ct = t.time[c]!;
        if (time === time && ct === ct ? time > ct : line > t.line[c]!) {
          withheldCutoff++;
          return false;
        }
      }
    }
    return true;
  };
  /** implicit rows (no rating) read as liked; rated ones by the like threshold */
  const liked = (rating: number): boolean => rating !== rating || o.likeThreshold === null || rating >= o.likeThreshold;

  // corpus entries, column-wise, in the order they are added
  const cap = counts[0]! + (o.negatives ? neg.length : 0) + tags.length;
  const entU = new Int32Array(cap);
  const entI = new Int32Array(cap);
  const entRow = new Int32Array(cap);
  const entInteraction = new Uint8Array(cap);
  const entLiked = new Int8Array(cap);
  const entRating = new Float64Array(cap);
  const entTime = new Float64Array(cap);
  const entKey = new Float64Array(cap);
  const entTags = new Map<number, string[]>();
  const entryOf = tags.length ? new Map<string, number>() : null;
  let nEnt = 0;
  const add = (u: number, i: number, row: number, interaction: boolean, rating: number, like: number, time: number, key: number): number => {
    const e = nEnt++;
    entU[e] = u;
    entI[e] = i;
    entRow[e] = row;
    entInteraction[e] = interaction ? 1 : 0;
    entRating[e] = rating;
    entLiked[e] = like;
    entTime[e] = time;
    entKey[e] = key;
    entryOf?.set(`${u} ${i}`, e);
    return e;
  };
  for (let k = 0; k < pos.length; k++) {
    if (assign[k] !== 0) continue;
    const r = pos[k]!;
    add(uid[k]!, iid[k]!, r, true, t.rating[r]!, liked(t.rating[r]!) ? 1 : 0, t.time[r]!, t.line[r]!);
  }
  if (o.negatives) {
    for (let j = 0; j < neg.length; j++) {
      const r = neg[j]!;
      const u = uIndex[t.user[r]!]!;
      const i = iIndex[t.item[r]!]!;
      if (u < 0 || i < 0 || !allowed(u, i, t.time[r]!, t.line[r]!)) continue;
      add(u, i, r, false, t.rating[r]!, 0, t.time[r]!, t.line[r]!);
    }
  }
  let tagCount = 0;
  tags.forEach((tg, n) => {
    const uk = t.users.get(tg.user);
    const ik = t.items.get(tg.item);
    const u = uk === undefined ? -1 : uIndex[uk]!;
    const i = ik === undefined ? -1 : iIndex[ik]!;
    const time = tg.time === null ? NaN : tg.time;
    if (u < 0 || i < 0 || !allowed(u, i, time, Number.MAX_SAFE_INTEGER)) return;
    let e = entryOf!.get(`${u} ${i}`);
    if (e === undefined) e = add(u, i, -1, false, NaN, -1, time, 1e15 + n);
    let list = entTags.get(e);
    if (!list) entTags.set(e, (list = []));
    if (!list.includes(tg.tag)) list.push(tg.tag);
    tagCount++;
  });

  /** entry indices grouped by user (or item), each group in the order the entries were added */
  const group = (side: Int32Array, m: number): { start: Int32Array; list: Int32Array } => {
    const start = new Int32Array(m + 1);
    for (let e = 0; e < nEnt; e++) start[side[e]! + 1]!++;
    for (let v = 0; v < m; v++) start[v + 1]! += start[v]!;
    const fill = start.slice(0, m);
    const list = new Int32Array(nEnt);
    for (let e = 0; e < nEnt; e++) list[fill[side[e]!]!++] = e;
    return { start, list };
  };
  const order = (a: number, b: number): number => {
    const ta = entTime[a]!;
    const tb = entTime[b]!;
    if (ta === ta && tb === tb && ta !== tb) return ta - tb;
    return entKey[a]! - entKey[b]!;
  };
  const text = src.text;
  function* corpusLines(side: 'user' | 'item'): Generator<string> {
    const keys = side === 'user' ? users : items;
    const meta = side === 'user' ? src.users : src.items;
    const { start, list } = group(side === 'user' ? entU : entI, keys.length);
    const other = side === 'user' ? entI : entU;
    const head = side === 'user' ? '{"item":' : '{"user":';
    for (let id = 0; id < keys.length; id++) {
      const fb: number[] = Array.from(list.subarray(start[id]!, start[id + 1]!));
      fb.sort(order);
      const parts: string[] = [];
      for (const e of fb) {
        const row = entRow[e]!;
        const lk = entLiked[e]!;
        const tg = entTags.get(e);
        parts.push(
          `${head}${other[e]},"interaction":${entInteraction[e] ? 'true' : 'false'},"rating":${num(entRating[e]!)},"liked":${lk < 0 ? 'null' : lk ? 'true' : 'false'},"time":${num(entTime[e]!)}` +
            `${row >= 0 ? text.fragment(row) : ''}${tg ? `,"tags":${JSON.stringify(tg)}` : ''}}`,
        );
      }
      const rec = JSON.stringify({ id, key: keys[id]!, ...metaOf(meta, keys[id]!), feedback: [] });
      yield `${rec.slice(0, -3)}[${parts.join(',')}]}\n`;
    }
  }

  const trainU = new Uint8Array(users.length);
  const trainI = new Uint8Array(items.length);
  for (let k = 0; k < splits[0].user.length; k++) {
    trainU[splits[0].user[k]!] = 1;
    trainI[splits[0].item[k]!] = 1;
  }
  let withText = 0;
  for (let e = 0; e < nEnt; e++) if (entRow[e]! >= 0 && text.has(entRow[e]!)) withText++;
  stats.interactions = pos.length;
  stats.users = users.length;
  stats.items = items.length;
  stats.train = counts[0]!;
  stats.valid = counts[1]!;
  stats.test = counts[2]!;
  stats.density = pos.length / (users.length * items.length);
  stats.users_without_train = users.length - trainU.reduce((a, b) => a + b, 0);
  stats.items_without_train = items.length - trainI.reduce((a, b) => a + b, 0);
  stats.items_with_metadata = items.filter((k) => src.items.has(k)).length;
  stats.corpus = {
    user_feedback_entries: nEnt,
    item_feedback_entries: nEnt,
    reviews_with_text: withText,
    tags: tagCount,
    withheld_eval_pairs: withheldEval,
    withheld_after_cutoff: withheldCutoff,
  };
  return { users, items, splits, itemTitle: (i) => src.items.get(items[i]!)?.title || '', corpusLines, stats };
}
