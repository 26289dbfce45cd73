/**
 * Planted-intent synthetic worlds: interaction data of any size whose generating structure (the
 * intents of every user and item) is known, with text vectors that carry real but noisy signal
 * about those intents, written as a dataset directory that `irllrec train --data DIR` reads.
 * See docs/synthetic.md for the model.
 *
 * Time and memory are O(users + items + interactions) (typed arrays; nothing users x items is ever
 * built); the text vectors are generated and written a block of rows at a time, so their size
 * (rows x width) never sits in memory. The same parameters and seed give byte-identical files.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { fsReason, outputProblem } from '../util/atomic.js';
import { fillUnitRows, Rng } from '../util/rng.js';
import { encodeFloat16, npyWriteHeader } from '../data/formats/numpy.js';

// ---------------------------------------------------------------------------
// parameters

export type TextDtype = 'float32' | 'float16';

export interface WorldParams {
  /** Users asked for (every one gets at least one interaction, so all are present). */
  users: number;
  /** Items asked for (items never drawn are dropped and the ids compacted; synth.json says how many remain). */
  items: number;
  /** Interactions asked for (>= users); the exact count written is reported. */
  interactions: number;
  /** Number of planted intents K. */
  intents: number;
  /** Intents per user (distinct, <= K). */
  intentsPerUser: number;
  /** Width of the profile text vectors (usr_prf.npy, itm_prf.npy). */
  profileDim: number;
  /** Width of the intent text vectors (usr_int.npy, itm_int.npy). */
  intentDim: number;
  /** Noise-to-signal ratio of the text vectors: the noise vector has expected norm textNoise (the signal has norm <= 1). */
  textNoise: number;
  /** Zipf exponent of item popularity (0 = uniform). */
  popularity: number;
  /** Share of interactions drawn uniformly at random over all items, ignoring the intents. */
  randomShare: number;
  /** Standard deviation of the log of user activity (log-normal number of interactions per user). */
  activitySigma: number;
  /** Probability that an item has a second intent (when K >= 2). */
  secondIntent: number;
  /** train : valid : test ratios of the per-interaction random split. */
  ratios: [number, number, number];
  seed: number;
  /** Write the four text vector files. */
  text: boolean;
  /** Element type of the .npy text vectors. */
  dtype: TextDtype;
}

export const WORLD_DEFAULTS: Omit<WorldParams, 'users' | 'items' | 'interactions'> = {
  intents: 16,
  intentsPerUser: 2,
  profileDim: 384,
  intentDim: 512,
  textNoise: 1,
  popularity: 0.8,
  randomShare: 0.1,
  activitySigma: 1,
  secondIntent: 0.3,
  ratios: [3, 1, 1],
  seed: 1,
  text: true,
  dtype: 'float32',
};

/** Worlds with at least this many users + items get their ground truth as truth/users.tsv and truth/items.tsv. */
export const TRUTH_TSV_ENTITIES = 1_000_000;
/** The largest number of interactions accepted (int32 ids and counts). */
export const MAX_INTERACTIONS = 500_000_000;

/** A bad parameter (a user error: one line, exit 2 from the CLI). */
export class WorldParamError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'WorldParamError';
  }
}

/** Throws a WorldParamError naming the first parameter that is out of range. */
export function checkWorldParams(p: WorldParams): void {
  const int = (name: string, v: number, min: number, max = 0x7fff_ffff) => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new WorldParamError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  const real = (name: string, v: number, min: number, max = Infinity) => {
    if (!Number.isFinite(v) || v < min || v > max) throw new WorldParamError(`${name} must be a number in [${min}, ${max}], got ${v}`);
  };
  int('users', p.users, 1, 100_000_000);
  int('items', p.items, 1, 100_000_000);
  int('interactions', p.interactions, 1, MAX_INTERACTIONS);
  if (p.interactions < p.users) {
    throw new WorldParamError(`interactions (${p.interactions}) must be at least users (${p.users}): every user gets at least one interaction`);
  }
  if (p.interactions > 0.5 * p.users * p.items) {
    throw new WorldParamError(`interactions (${p.interactions}) is more than half of users x items (${p.users} x ${p.items}): too dense for distinct (user, item) pairs`);
  }
  int('intents', p.intents, 1, 65_536);
  int('intents per user', p.intentsPerUser, 1, p.intents);
  int('profile dim', p.profileDim, 1, 65_536);
  int('intent dim', p.intentDim, 1, 65_536);
  real('text noise', p.textNoise, 0, 1e6);
  real('popularity', p.popularity, 0, 10);
  real('random share', p.randomShare, 0, 1);
  real('activity sigma', p.activitySigma, 0, 5);
  real('second intent', p.secondIntent, 0, 1);
  if (p.ratios.length !== 3 || !p.ratios.every((r) => Number.isFinite(r) && r >= 0) || !(p.ratios[0] > 0)) {
    throw new WorldParamError(`ratios must be three non-negative numbers with train > 0, got ${p.ratios.join(',')}`);
  }
  if (!Number.isSafeInteger(p.seed)) throw new WorldParamError(`seed must be an integer, got ${p.seed}`);
  if (p.dtype !== 'float32' && p.dtype !== 'float16') throw new WorldParamError(`dtype must be float32 or float16, got ${String(p.dtype)}`);
}

// ---------------------------------------------------------------------------
// the world (everything but the text vectors, which are streamed at write time)

export interface WorldCounts {
  users: number;
  items: number;
  /** Items asked for but never drawn (dropped; ids compacted). */
  itemsDropped: number;
  interactions: number;
  train: number;
  valid: number;
  test: number;
  usersWithTrain: number;
  usersWithValid: number;
  usersWithTest: number;
  itemsWithTrain: number;
  /** interactions / (users x items). */
  density: number;
  /** Interactions drawn through one of the user's intents. */
  intentDraws: number;
  /** Interactions drawn uniformly at random (the random share). */
  randomDraws: number;
  /** Interactions added uniformly at random after a user's draw budget ran out on repeats (heavy users in small worlds). */
  fillDraws: number;
  /** Draws rejected as repeats of a pair the user already had. */
  repeatsRejected: number;
  /** Users whose number of interactions was capped at half the items (their excess went to the other users). */
  cappedUsers: number;
  /** Items per intent (an item with two intents counts in both). */
  itemsPerIntent: number[];
  minUserInteractions: number;
  maxUserInteractions: number;
}

export interface World {
  params: WorldParams;
  /** Interactions grouped by user (ascending), items in draw order; item ids already compacted. */
  user: Int32Array;
  item: Int32Array;
  /** 0 train, 1 valid, 2 test, per interaction. */
  split: Uint8Array;
  /** Users' intents, `intentsPerUser` per user, by decreasing weight. */
  userIntents: Int32Array;
  userWeights: Float64Array;
  /** Items' intents (compacted ids), two slots per item, -1 when the item has one intent. */
  itemIntents: Int32Array;
  itemWeights: Float64Array;
  /** Global popularity rank of each (compacted) item among the items asked for, 0 = most popular. */
  itemPopRank: Int32Array;
  counts: WorldCounts;
}

/**
 * The independent random streams of a world, forked in a fixed order from the seed, so that e.g.
 * the text parameters never change the interactions.
 */
function worldStreams(seed: number): { items: Rng; users: Rng; draws: Rng; split: Rng; text: Rng } {
  const master = new Rng(seed);
  const items = master.fork();
  const users = master.fork();
  const draws = master.fork();
  const split = master.fork();
  const text = master.fork();
  return { items, users, draws, split, text };
}

/** Vose's alias table over non-negative weights. */
interface Alias {
  prob: Float64Array;
  alias: Int32Array;
}

function buildAlias(w: Float64Array): Alias {
  const n = w.length;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += w[i]!;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = (w[i]! * n) / sum;
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let ns = 0;
  let nl = 0;
  for (let i = n - 1; i >= 0; i--) {
    if (scaled[i]! < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns]!;
    const l = large[--nl]!;
    prob[s] = scaled[s]!;
    alias[s] = l;
    scaled[l] = scaled[l]! + scaled[s]! - 1;
    if (scaled[l]! < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  while (nl > 0) {
    const l = large[--nl]!;
    prob[l] = 1;
    alias[l] = l;
  }
  while (ns > 0) {
    const s = small[--ns]!;
    prob[s] = 1;
    alias[s] = s;
  }
  return { prob, alias };
}

/** Rounds to 3 decimals (weights are written with 3 decimals, and the text uses exactly those). */
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Builds the world: intents of items and users, the interactions and their split. Deterministic
 * in the parameters (the text parameters do not change the interactions).
 */
export function buildWorld(params: WorldParams, log: (line: string) => void = () => {}): World {
  checkWorldParams(params);
  const { users: U, items: I, interactions: N, intents: K, intentsPerUser: M } = params;
  const { items: rngItems, users: rngUsers, draws: rngDraw, split: rngSplit } = worldStreams(params.seed);

  // ---- items: popularity rank (a random permutation), one or two intents with weights
  const rankOf = new Int32Array(I);
  for (let i = 0; i < I; i++) rankOf[i] = i;
  rngItems.shuffle(rankOf);
  const itemInt = new Int32Array(2 * I).fill(-1);
  const itemW = new Float64Array(2 * I);
  // every intent gets at least one item when there are enough items
  const firstK = new Int32Array(K);
  for (let k = 0; k < K; k++) firstK[k] = k;
  rngItems.shuffle(firstK);
  const perIntent = new Int32Array(K);
  for (let i = 0; i < I; i++) {
    const a = i < K ? firstK[i]! : rngItems.int(K);
    itemInt[2 * i] = a;
    perIntent[a]!++;
    if (K >= 2 && rngItems.float() < params.secondIntent) {
      let b = rngItems.int(K - 1);
      if (b >= a) b++;
      const wa = round3(0.55 + 0.3 * rngItems.float());
      itemInt[2 * i + 1] = b;
      itemW[2 * i] = wa;
      itemW[2 * i + 1] = round3(1 - wa);
      perIntent[b]!++;
    } else {
      itemW[2 * i] = 1;
    }
  }
  // per intent: members and an alias table over popularity x membership weight
  const start = new Int32Array(K + 1);
  for (let k = 0; k < K; k++) start[k + 1] = start[k]! + perIntent[k]!;
  const members = new Int32Array(start[K]!);
  const fill = start.slice(0, K);
  for (let i = 0; i < I; i++) {
    for (let s = 0; s < 2; s++) {
      const k = itemInt[2 * i + s]!;
      if (k >= 0) members[fill[k]!++] = i;
    }
  }
  const prob = new Float64Array(members.length);
  const alias = new Int32Array(members.length);
  for (let k = 0; k < K; k++) {
    const n = perIntent[k]!;
    if (n === 0) continue;
    const w = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const i = members[start[k]! + j]!;
      const slot = itemInt[2 * i] === k ? 0 : 1;
      w[j] = Math.pow(rankOf[i]! + 1, -params.popularity) * itemW[2 * i + slot]!;
    }
    const t = buildAlias(w);
    prob.set(t.prob, start[k]!);
    alias.set(t.alias, start[k]!);
  }

  // ---- users: M distinct intents with Dirichlet(1) weights (rounded to 3 decimals), log-normal activity
  const userInt = new Int32Array(U * M);
  const userW = new Float64Array(U * M);
  const activity = new Float64Array(U);
  const pick = new Int32Array(M);
  const e = new Float64Array(M);
  const order = new Int32Array(M);
  for (let u = 0; u < U; u++) {
    // distinct intents by rejection (M <= K; M is small in practice)
    for (let j = 0; j < M; j++) {
      let k: number;
      do {
        k = rngUsers.int(K);
        let dup = false;
        for (let q = 0; q < j; q++) if (pick[q] === k) dup = true;
        if (!dup) break;
      } while (true);
      pick[j] = k;
    }
    let sum = 0;
    for (let j = 0; j < M; j++) {
      let x = 0;
      while (x === 0) x = rngUsers.float();
      e[j] = Math.max(-Math.log(x), 0.02);
      sum += e[j]!;
    }
    for (let j = 0; j < M; j++) order[j] = j;
    order.sort((a, b) => e[b]! - e[a]! || pick[a]! - pick[b]!);
    let rest = 1;
    for (let j = 0; j < M; j++) {
      const w = j === M - 1 ? round3(rest) : round3(e[order[j]!]! / sum);
      rest -= w;
      userInt[u * M + j] = pick[order[j]!]!;
      userW[u * M + j] = w;
    }
    activity[u] = Math.exp(params.activitySigma * rngUsers.normal());
  }
  // targets: 1 + a share of the remaining N - U proportional to activity (cumulative rounding: the
  // sum is exact); a target above half the items is capped and the excess shared out again among
  // the other users the same way, so the total stays N whenever users x items/2 allows it
  const cap = Math.max(1, Math.floor(I / 2));
  const target = new Int32Array(U).fill(1);
  const capped = new Uint8Array(U);
  let cappedUsers = 0;
  let left = N - U;
  while (left > 0 && cappedUsers < U) {
    let aSum = 0;
    for (let u = 0; u < U; u++) if (!capped[u]) aSum += activity[u]!;
    let cum = 0;
    let prevRounded = 0;
    let over = 0;
    for (let u = 0; u < U; u++) {
      if (capped[u]) continue;
      cum += activity[u]!;
      const r = Math.round((left * cum) / aSum);
      let t = target[u]! + r - prevRounded;
      prevRounded = r;
      if (t >= cap) {
        over += t - cap;
        t = cap;
        capped[u] = 1;
        cappedUsers++;
      }
      target[u] = t;
    }
    left = over;
  }
  log(`synth: ${U} users, ${I} items, ${K} intents; drawing ${N} interactions`);
  const t0 = performance.now();

  // ---- interactions: per user, draw until its target of distinct items is reached
  const outUser = new Int32Array(N);
  const outItem = new Int32Array(N);
  const stamp = new Int32Array(I).fill(-1);
  const cw = new Float64Array(M);
  let n = 0;
  let intentDraws = 0;
  let randomDraws = 0;
  let fillDraws = 0;
  let repeats = 0;
  let minU = Infinity;
  let maxU = 0;
  const rho = params.randomShare;
  for (let u = 0; u < U; u++) {
    const t = target[u]!;
    let acc = 0;
    for (let j = 0; j < M; j++) {
      acc += userW[u * M + j]!;
      cw[j] = acc;
    }
    const budget = 4 * t + 32;
    let got = 0;
    for (let d = 0; d < budget && got < t; d++) {
      let item: number;
      let viaIntent = false;
      if (rngDraw.float() < rho) {
        item = rngDraw.int(I);
      } else {
        const x = rngDraw.float() * acc;
        let j = 0;
        while (j < M - 1 && x >= cw[j]!) j++;
        const k = userInt[u * M + j]!;
        const size = perIntent[k]!;
        if (size === 0) {
          item = rngDraw.int(I);
        } else {
          const slot = start[k]! + rngDraw.int(size);
          item = members[rngDraw.float() < prob[slot]! ? slot : start[k]! + alias[slot]!]!;
          viaIntent = true;
        }
      }
      if (stamp[item] === u) {
        repeats++;
        continue;
      }
      stamp[item] = u;
      outUser[n] = u;
      outItem[n++] = item;
      got++;
      if (viaIntent) intentDraws++;
      else randomDraws++;
    }
    // a heavy user in a small world ran out of new items in its intents: fill uniformly (t <= I / 2)
    while (got < t) {
      const item = rngDraw.int(I);
      if (stamp[item] === u) continue;
      stamp[item] = u;
      outUser[n] = u;
      outItem[n++] = item;
      got++;
      fillDraws++;
    }
    if (got < minU) minU = got;
    if (got > maxU) maxU = got;
  }
  const user = n === N ? outUser : outUser.slice(0, n);
  const rawItem = n === N ? outItem : outItem.slice(0, n);

  // ---- compact item ids (items never drawn are dropped; order kept)
  const newId = stamp; // reuse: -1 = absent
  newId.fill(-1);
  for (let p = 0; p < n; p++) newId[rawItem[p]!] = 0;
  let I2 = 0;
  for (let i = 0; i < I; i++) if (newId[i] === 0) newId[i] = I2++;
  const item = rawItem;
  for (let p = 0; p < n; p++) item[p] = newId[item[p]!]!;
  const itemIntents = new Int32Array(2 * I2);
  const itemWeights = new Float64Array(2 * I2);
  const itemPopRank = new Int32Array(I2);
  for (let i = 0; i < I; i++) {
    const j = newId[i]!;
    if (j < 0) continue;
    itemIntents[2 * j] = itemInt[2 * i]!;
    itemIntents[2 * j + 1] = itemInt[2 * i + 1]!;
    itemWeights[2 * j] = itemW[2 * i]!;
    itemWeights[2 * j + 1] = itemW[2 * i + 1]!;
    itemPopRank[j] = rankOf[i]!;
  }
  const itemsPerIntent = new Array<number>(K).fill(0);
  for (let j = 0; j < 2 * I2; j++) if (itemIntents[j]! >= 0) itemsPerIntent[itemIntents[j]!]!++;

  // ---- the per-interaction random split with exact counts (as src/data/split.ts randomSplit)
  const total = params.ratios[0] + params.ratios[1] + params.ratios[2];
  const nTrain = Math.round((n * params.ratios[0]) / total);
  const nValid = Math.round((n * params.ratios[1]) / total);
  const split = new Uint8Array(n);
  split.fill(1, nTrain, nTrain + nValid);
  split.fill(2, nTrain + nValid);
  for (let i = n - 1; i > 0; i--) {
    const j = rngSplit.int(i + 1);
    const tmp = split[i]!;
    split[i] = split[j]!;
    split[j] = tmp;
  }
  const has = [new Uint8Array(U), new Uint8Array(U), new Uint8Array(U)];
  const itemTrain = new Uint8Array(I2);
  for (let p = 0; p < n; p++) {
    has[split[p]!]![user[p]!] = 1;
    if (split[p] === 0) itemTrain[item[p]!] = 1;
  }
  const countOnes = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
  log(`synth: drew and split ${n} interactions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const counts: WorldCounts = {
    users: U,
    items: I2,
    itemsDropped: I - I2,
    interactions: n,
    train: nTrain,
    valid: nValid,
    test: n - nTrain - nValid,
    usersWithTrain: countOnes(has[0]!),
    usersWithValid: countOnes(has[1]!),
    usersWithTest: countOnes(has[2]!),
    itemsWithTrain: countOnes(itemTrain),
    density: n / (U * I2),
    intentDraws,
    randomDraws,
    fillDraws,
    repeatsRejected: repeats,
    cappedUsers,
    itemsPerIntent,
    minUserInteractions: minU,
    maxUserInteractions: maxU,
  };
  return { params, user, item, split, userIntents: userInt, userWeights: userW, itemIntents, itemWeights, itemPopRank, counts };
}

// ---------------------------------------------------------------------------
// buffered byte output

class ByteWriter {
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  bytes = 0;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'wx');
  }

  private flush(): void {
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
  }

  str(s: string): void {
    if (s.length * 3 > this.buf.length) {
      this.flush();
      const b = Buffer.from(s, 'utf8');
      this.raw(b);
      return;
    }
    this.room(s.length * 3);
    const w = this.buf.write(s, this.pos, 'utf8');
    this.pos += w;
    this.bytes += w;
  }

  /** A non-negative integer in decimal. */
  uint(v: number): void {
    this.room(16);
    if (v === 0) {
      this.buf[this.pos++] = 48;
      this.bytes++;
      return;
    }
    let digits = 0;
    for (let x = v; x > 0; x = Math.floor(x / 10)) digits++;
    let at = this.pos + digits;
    for (let x = v; x > 0; x = Math.floor(x / 10)) this.buf[--at] = 48 + (x % 10);
    this.pos += digits;
    this.bytes += digits;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
    this.bytes++;
  }

  raw(b: Uint8Array): void {
    this.flush();
    let off = 0;
    while (off < b.byteLength) off += writeSync(this.fd, b, off, Math.min(b.byteLength - off, 1 << 30));
    this.bytes += b.byteLength;
  }

  close(): void {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
  }

  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* ignore */
    }
  }
}

// ---------------------------------------------------------------------------
// text vectors

/** Φ⁻¹(p) (Acklam's rational approximation, relative error < 1.2e-9). */
function inverseNormalCdf(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - lo) return -inverseNormalCdf(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

let NORMAL_TABLE: Float64Array | null = null;
/** 65,536 standard normal quantiles at (i + 1/2) / 65536: two noise values per 32 random bits. */
function normalTable(): Float64Array {
  if (!NORMAL_TABLE) {
    NORMAL_TABLE = new Float64Array(65536);
    for (let i = 0; i < 65536; i++) NORMAL_TABLE[i] = inverseNormalCdf((i + 0.5) / 65536);
  }
  return NORMAL_TABLE;
}

/** K random unit directions of width D. */
function intentDirections(rng: Rng, K: number, D: number): Float64Array {
  return fillUnitRows(rng, new Float64Array(K * D), D);
}

/**
 * Streams one text matrix to `path`: row r = Σ_j w_rj · dir[k_rj] + (noise / √D) · g_r with g_r
 * standard normal, then L2-normalised. `intents` / `weights` hold `per` slots per row (-1 = none).
 */
function writeTextMatrix(
  path: string, dtype: TextDtype, rows: number, D: number, dirs: Float64Array,
  intents: Int32Array, weights: Float64Array, per: number, noise: number, rng: Rng,
): number {
  const table = normalTable();
  const sigma = noise / Math.sqrt(D);
  const w = new ByteWriter(path);
  try {
    w.raw(npyWriteHeader(dtype === 'float16' ? '<f2' : '<f4', [rows, D]));
    const blockRows = Math.max(1, Math.floor((4 << 20) / (4 * D)));
    const f32 = new Float32Array(blockRows * D);
    const f16 = dtype === 'float16' ? new Uint16Array(blockRows * D) : null;
    const row = new Float64Array(D + 1);
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      const nb = Math.min(blockRows, rows - r0);
      for (let b = 0; b < nb; b++) {
        const r = r0 + b;
        // noise, two values per 32 random bits
        for (let d = 0; d < D; d += 2) {
          const x = rng.nextU32();
          row[d] = sigma * table[x & 0xffff]!;
          row[d + 1] = sigma * table[x >>> 16]!;
        }
        for (let s = 0; s < per; s++) {
          const k = intents[r * per + s]!;
          if (k < 0) continue;
          const wt = weights[r * per + s]!;
          const base = k * D;
          for (let d = 0; d < D; d++) row[d] = row[d]! + wt * dirs[base + d]!;
        }
        let ss = 0;
        for (let d = 0; d < D; d++) ss += row[d]! * row[d]!;
        const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
        const o = b * D;
        for (let d = 0; d < D; d++) f32[o + d] = row[d]! * inv;
      }
      if (f16) {
        // rows are unit vectors: nothing to clamp
        encodeFloat16(f32, { out: f16, count: nb * D });
        w.raw(littleEndianBytes(f16, nb * D));
      } else {
        w.raw(littleEndianBytes(f32, nb * D));
      }
    }
    w.close();
  } catch (e) {
    w.abandon();
    throw e;
  }
  return w.bytes;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(a: Float32Array | Uint16Array, n: number): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
  if (HOST_LE) return bytes;
  const out = Buffer.alloc(bytes.byteLength);
  if (a instanceof Float32Array) for (let i = 0; i < n; i++) out.writeFloatLE(a[i]!, 4 * i);
  else for (let i = 0; i < n; i++) out.writeUInt16LE(a[i]!, 2 * i);
  return out;
}

// ---------------------------------------------------------------------------
// the dataset directory

export const WORLD_FILES = {
  splits: ['train.tsv', 'valid.tsv', 'test.tsv'] as const,
  text: { usrPrf: 'usr_prf.npy', itmPrf: 'itm_prf.npy', usrInt: 'usr_int.npy', itmInt: 'itm_int.npy' } as const,
  truthJson: 'truth.json',
  truthUsers: join('truth', 'users.tsv'),
  truthItems: join('truth', 'items.tsv'),
  manifest: 'synth.json',
};

export interface WriteWorldOptions {
  /** Replace an existing world directory (one holding synth.json, or an empty directory). */
  force?: boolean;
  log?: (line: string) => void;
  /** Ground-truth format: truth.json, truth/{users,items}.tsv, or by size (default: tsv from 10^6 users + items). */
  truth?: 'auto' | 'json' | 'tsv';
}

export interface WriteWorldResult {
  dir: string;
  /** The contents of synth.json. */
  manifest: SynthManifest;
  /** Bytes per file written (relative path -> bytes). */
  files: Record<string, number>;
}

export interface SynthManifest {
  format: 'irllrec-synth';
  version: 1;
  params: Omit<WorldParams, 'ratios'> & { ratios: number[] };
  counts: WorldCounts;
  truth: 'truth.json' | 'truth/users.tsv + truth/items.tsv';
  text: null | { files: string[]; dtype: TextDtype; profileDim: number; intentDim: number };
  model: string;
}

/** Why `out` cannot receive a world (null when it can), checked before any work. */
export function worldOutputProblem(out: string, force: boolean): string | null {
  const dir = resolve(out);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) return `${out} exists and is not a directory`;
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      if (!force) return `${out} already exists${entries.includes(WORLD_FILES.manifest) ? ' (a synthetic world)' : ''}; pass --force to replace it`;
      if (!entries.includes(WORLD_FILES.manifest)) return `${out} is not empty and holds no ${WORLD_FILES.manifest}: refusing to replace a directory that is not a synthetic world`;
    }
  }
  return outputProblem(dir, 'dir');
}

function fmt3(w: number): string {
  return w.toFixed(3);
}

/**
 * Writes the world to `out` atomically: everything goes to `<out>.tmp-<pid>` (a sibling), which is
 * renamed to `out` when complete. Text vectors are generated here, a block of rows at a time.
 */
export function writeWorld(out: string, world: World, o: WriteWorldOptions = {}): WriteWorldResult {
  const log = o.log ?? (() => {});
  const p = world.params;
  const dir = resolve(out);
  const problem = worldOutputProblem(out, o.force ?? false);
  if (problem) throw new WorldParamError(`--out ${problem}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  const files: Record<string, number> = {};
  const c = world.counts;
  const U = c.users;
  const I = c.items;
  const M = p.intentsPerUser;
  const truthTsv = o.truth === 'tsv' || ((o.truth ?? 'auto') === 'auto' && U + I >= TRUTH_TSV_ENTITIES);
  let open: ByteWriter[] = [];
  const track = (w: ByteWriter) => {
    open.push(w);
    return w;
  };
  const done = (w: ByteWriter, name: string) => {
    w.close();
    open = open.filter((x) => x !== w);
    files[name] = w.bytes;
  };
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    mkdirSync(tmp);

    // ---- splits (one pass, three buffered writers)
    let t0 = performance.now();
    const ws = WORLD_FILES.splits.map((f) => track(new ByteWriter(join(tmp, f))));
    for (const w of ws) w.str('user\titem\n');
    const { user, item, split } = world;
    for (let q = 0; q < user.length; q++) {
      const w = ws[split[q]!]!;
      w.uint(user[q]!);
      w.byte(9);
      w.uint(item[q]!);
      w.byte(10);
    }
    ws.forEach((w, s) => done(w, WORLD_FILES.splits[s]!));
    log(`synth: wrote train/valid/test.tsv (${c.train} / ${c.valid} / ${c.test}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // ---- ground truth
    t0 = performance.now();
    if (truthTsv) {
      const wu = track(new ByteWriter(join(tmp, WORLD_FILES.truthUsers)));
      wu.str('user\tintents\tweights\n');
      for (let u = 0; u < U; u++) {
        wu.uint(u);
        wu.byte(9);
        for (let j = 0; j < M; j++) {
          if (j) wu.byte(44);
          wu.uint(world.userIntents[u * M + j]!);
        }
        wu.byte(9);
        wu.str(Array.from(world.userWeights.subarray(u * M, u * M + M), fmt3).join(','));
        wu.byte(10);
      }
      done(wu, WORLD_FILES.truthUsers);
      const wi = track(new ByteWriter(join(tmp, WORLD_FILES.truthItems)));
      wi.str('item\tintents\tweights\tpop_rank\n');
      for (let i = 0; i < I; i++) {
        const two = world.itemIntents[2 * i + 1]! >= 0;
        wi.uint(i);
        wi.byte(9);
        wi.uint(world.itemIntents[2 * i]!);
        if (two) {
          wi.byte(44);
          wi.uint(world.itemIntents[2 * i + 1]!);
        }
        wi.byte(9);
        wi.str(two ? `${fmt3(world.itemWeights[2 * i]!)},${fmt3(world.itemWeights[2 * i + 1]!)}` : fmt3(world.itemWeights[2 * i]!));
        wi.byte(9);
        wi.uint(world.itemPopRank[i]!);
        wi.byte(10);
      }
      done(wi, WORLD_FILES.truthItems);
    } else {
      const w = track(new ByteWriter(join(tmp, WORLD_FILES.truthJson)));
      w.str(`{"intents":${p.intents},"users":[`);
      for (let u = 0; u < U; u++) {
        const ints = Array.from(world.userIntents.subarray(u * M, u * M + M)).join(',');
        const wts = Array.from(world.userWeights.subarray(u * M, u * M + M), fmt3).join(',');
        w.str(`${u ? ',' : ''}\n{"intents":[${ints}],"weights":[${wts}]}`);
      }
      w.str('\n],"items":[');
      for (let i = 0; i < I; i++) {
        const two = world.itemIntents[2 * i + 1]! >= 0;
        const ints = two ? `${world.itemIntents[2 * i]},${world.itemIntents[2 * i + 1]}` : `${world.itemIntents[2 * i]}`;
        const wts = two ? `${fmt3(world.itemWeights[2 * i]!)},${fmt3(world.itemWeights[2 * i + 1]!)}` : fmt3(world.itemWeights[2 * i]!);
        w.str(`${i ? ',' : ''}\n{"intents":[${ints}],"weights":[${wts}],"pop_rank":${world.itemPopRank[i]}}`);
      }
      w.str('\n]}\n');
      done(w, WORLD_FILES.truthJson);
    }
    log(`synth: wrote the ground truth (${truthTsv ? 'truth/users.tsv, truth/items.tsv' : 'truth.json'}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // ---- text vectors: one set of K directions per text kind (shared by users and items), own seeds
    if (p.text) {
      t0 = performance.now();
      const textRng = worldStreams(p.seed).text;
      const kinds = [
        { dim: p.profileDim, u: WORLD_FILES.text.usrPrf, i: WORLD_FILES.text.itmPrf },
        { dim: p.intentDim, u: WORLD_FILES.text.usrInt, i: WORLD_FILES.text.itmInt },
      ];
      const seeds = kinds.map(() => ({ dirs: textRng.fork(), users: textRng.fork(), items: textRng.fork() }));
      kinds.forEach((k, s) => {
        const dirs = intentDirections(seeds[s]!.dirs, p.intents, k.dim);
        files[k.u] = writeTextMatrix(join(tmp, k.u), p.dtype, U, k.dim, dirs, world.userIntents, world.userWeights, M, p.textNoise, seeds[s]!.users);
        files[k.i] = writeTextMatrix(join(tmp, k.i), p.dtype, I, k.dim, dirs, world.itemIntents, world.itemWeights, 2, p.textNoise, seeds[s]!.items);
      });
      const mb = (files[WORLD_FILES.text.usrPrf]! + files[WORLD_FILES.text.itmPrf]! + files[WORLD_FILES.text.usrInt]! + files[WORLD_FILES.text.itmInt]!) / 2 ** 20;
      log(`synth: wrote the text vectors (${mb.toFixed(0)} MiB, ${p.dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }

    // ---- manifest
    const manifest: SynthManifest = {
      format: 'irllrec-synth',
      version: 1,
      params: { ...p, ratios: [...p.ratios] },
      counts: c,
      truth: truthTsv ? 'truth/users.tsv + truth/items.tsv' : 'truth.json',
      text: p.text ? { files: Object.values(WORLD_FILES.text), dtype: p.dtype, profileDim: p.profileDim, intentDim: p.intentDim } : null,
      model: 'planted intents: see docs/synthetic.md',
    };
    const wm = track(new ByteWriter(join(tmp, WORLD_FILES.manifest)));
    wm.str(`${JSON.stringify(manifest, null, 2)}\n`);
    done(wm, WORLD_FILES.manifest);

    // ---- publish
    if (existsSync(dir)) {
      const old = `${dir}.old-${process.pid}`;
      rmSync(old, { recursive: true, force: true });
      renameSync(dir, old);
      try {
        renameSync(tmp, dir);
      } catch (e) {
        renameSync(old, dir);
        throw e;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
    return { dir, manifest, files };
  } catch (e) {
    for (const w of open) w.abandon();
    rmSync(tmp, { recursive: true, force: true });
    const why = fsReason(e);
    if (why) throw new WorldParamError(`--out ${out}: could not write the world (${(e as NodeJS.ErrnoException).path ?? dir} ${why}); nothing was written`);
    throw e;
  }
}

/** Builds and writes a world in one call. */
export function synthesize(out: string, params: WorldParams, o: WriteWorldOptions = {}): WriteWorldResult {
  const problem = worldOutputProblem(out, o.force ?? false);
  if (problem) throw new WorldParamError(`--out ${problem}`);
  checkWorldParams(params);
  const world = buildWorld(params, o.log);
  return writeWorld(out, world, o);
}

// ---------------------------------------------------------------------------
// reading the ground truth back

export interface WorldTruth {
  intents: number;
  /** Per user: intents by decreasing weight, and the weights. */
  users: { intents: number[]; weights: number[] }[];
  /** Per item: its one or two intents and weights, and its popularity rank. */
  items: { intents: number[]; weights: number[]; popRank: number }[];
}

/** Reads truth.json or truth/{users,items}.tsv of a world directory. */
export function readWorldTruth(dirArg: string): WorldTruth {
  const dir = resolve(dirArg);
  const manifest = JSON.parse(readFileSync(join(dir, WORLD_FILES.manifest), 'utf8')) as SynthManifest;
  if (existsSync(join(dir, WORLD_FILES.truthJson))) {
    const t = JSON.parse(readFileSync(join(dir, WORLD_FILES.truthJson), 'utf8')) as {
      intents: number; users: { intents: number[]; weights: number[] }[]; items: { intents: number[]; weights: number[]; pop_rank: number }[];
    };
    return { intents: t.intents, users: t.users, items: t.items.map((i) => ({ intents: i.intents, weights: i.weights, popRank: i.pop_rank })) };
  }
  const rows = (f: string) => readFileSync(join(dir, f), 'utf8').split('\n').slice(1).filter((l) => l.length > 0).map((l) => l.split('\t'));
  const nums = (s: string) => s.split(',').map(Number);
  return {
    intents: manifest.params.intents,
    users: rows(WORLD_FILES.truthUsers).map((r) => ({ intents: nums(r[1]!), weights: nums(r[2]!) })),
    items: rows(WORLD_FILES.truthItems).map((r) => ({ intents: nums(r[1]!), weights: nums(r[2]!), popRank: Number(r[3]) })),
  };
}
