/**
 * Metrics by user activity ("sparsity analysis", as in the IRLLRec / RLMRec papers' sparse-user
 * studies): the evaluated users are split into buckets (quintiles by default) by the number of
 * their TRAINING interactions, and every per-user metric is averaged within each bucket.
 *
 * Buckets. With n evaluated users (those with at least one item in the evaluated split) and B
 * buckets, a user with c training interactions goes to bucket
 *
 *   floor(B · (less(c) + equal(c) / 2) / n)     (clamped to B - 1)
 *
 * where less(c) / equal(c) count the evaluated users with fewer / exactly c training
 * interactions: the mid-rank quantile of its count. Users with the same count always share a
 * bucket, so buckets are contiguous, non-overlapping count ranges [min, max] and hold about n / B
 * users each (less even when many users share a count). A bucket no count falls into is left out
 * and the others are numbered 1..m in order of activity (m < B only with heavy ties, e.g. when a
 * fifth of the users or more have the smallest count). The buckets depend on the data only
 * (training split and evaluated split), never on a model, so every model evaluated on the same data
 * has the same buckets.
 *
 * Cost: one byte per user for the assignment and, per evaluated user, one addition per metric and
 * k, fed from the full ranking's own `onUser` hook (no second ranking pass).
 *
 * The bucket means weighted by the bucket sizes give back the overall means exactly (up to
 * rounding): every evaluated user is in exactly one bucket.
 */
import type { CsrPattern } from './ranking.js';
import { CompensatedSum, type PerUserMetricName, type UserMetricValues } from './metrics.js';

/** Quintiles. */
export const DEFAULT_ACTIVITY_BUCKETS = 5;

/** The per-user metrics the buckets report by default. */
export const SPARSITY_METRICS: readonly PerUserMetricName[] = ['recall', 'ndcg'];

export interface ActivityBucket {
  /** 1-based bucket number among the non-empty buckets (1 = the least active users). */
  bucket: number;
  /** Fewest training interactions of a user in the bucket. */
  min: number;
  /** Most training interactions of a user in the bucket. */
  max: number;
  /** Evaluated users in the bucket. */
  users: number;
}

export interface SparsityBucket extends ActivityBucket {
  /** Means over the bucket's users, keyed like flattenMetrics ("recall@20"). */
  metrics: Record<string, number>;
}

export interface SparsityResult {
  /** What the users are bucketed by. */
  by: 'training interactions per user';
  /** How many buckets were asked for (quintiles: 5); empty ones are left out of `buckets` (see the module doc). */
  quantiles: number;
  /** Evaluated users in all buckets together. */
  users: number;
  buckets: SparsityBucket[];
}

export interface ActivityBuckets {
  /** Per user: bucket index 0..B-1, or -1 for users that are not evaluated. */
  of: Int8Array;
  /** The non-empty buckets, in order of activity. */
  buckets: ActivityBucket[];
  /** Bucket index (0..B-1) of each entry of `buckets`. */
  index: number[];
}

/**
 * The activity buckets of the users that have at least one item in `groundTruth`, by their number
 * of items in `train` (both CSR users x items with the same number of rows).
 */
export function activityBuckets(train: CsrPattern, groundTruth: CsrPattern, numUsers: number, buckets = DEFAULT_ACTIVITY_BUCKETS): ActivityBuckets {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 100) throw new Error(`activityBuckets: buckets must be an integer in 1..100, got ${buckets}`);
  const of = new Int8Array(numUsers).fill(-1);
  const count = (u: number) => train.indptr[u + 1]! - train.indptr[u]!;
  const users: number[] = [];
  for (let u = 0; u < numUsers; u++) if (groundTruth.indptr[u + 1]! > groundTruth.indptr[u]!) users.push(u);
  const n = users.length;
  // users per training count, then the mid-rank quantile of each count
  const freq = new Map<number, number>();
  for (const u of users) freq.set(count(u), (freq.get(count(u)) ?? 0) + 1);
  const counts = [...freq.keys()].sort((a, b) => a - b);
  const bucketOfCount = new Map<number, number>();
  let less = 0;
  for (const c of counts) {
    const eq = freq.get(c)!;
    bucketOfCount.set(c, Math.min(buckets - 1, Math.floor((buckets * (less + eq / 2)) / n)));
    less += eq;
  }
  const stats = Array.from({ length: buckets }, () => ({ min: Infinity, max: -Infinity, users: 0 }));
  for (const u of users) {
    const c = count(u);
    const b = bucketOfCount.get(c)!;
    of[u] = b;
    const s = stats[b]!;
    s.users++;
    if (c < s.min) s.min = c;
    if (c > s.max) s.max = c;
  }
  const out: ActivityBucket[] = [];
  const index: number[] = [];
  stats.forEach((s, b) => {
    if (!s.users) return;
    out.push({ bucket: out.length + 1, min: s.min, max: s.max, users: s.users });
    index.push(b);
  });
  return { of, buckets: out, index };
}

/**
 * Collects per-user metric values by activity bucket: pass `add` as (or call it from) the full
 * ranking's `onUser` hook, then read `result()`.
 */
export class SparsityAccumulator {
  readonly ks: number[];
  readonly metrics: PerUserMetricName[];
  private readonly b: ActivityBuckets;
  private readonly sums: CompensatedSum[][][];
  private readonly seen: number[];
  private readonly quantiles: number;

  constructor(
    train: CsrPattern, groundTruth: CsrPattern, numUsers: number, ks: readonly number[],
    o: { buckets?: number; metrics?: readonly PerUserMetricName[] } = {},
  ) {
    this.ks = ks.slice();
    this.metrics = (o.metrics ?? SPARSITY_METRICS).slice();
    this.quantiles = o.buckets ?? DEFAULT_ACTIVITY_BUCKETS;
    this.b = activityBuckets(train, groundTruth, numUsers, this.quantiles);
    this.sums = Array.from({ length: this.quantiles }, () => this.metrics.map(() => this.ks.map(() => new CompensatedSum())));
    this.seen = new Array<number>(this.quantiles).fill(0);
  }

  /** One evaluated user's values (the `onUser` hook's). Users outside the buckets are refused. */
  add(user: number, values: UserMetricValues): void {
    const b = this.b.of[user];
    if (b === undefined || b < 0) throw new Error(`SparsityAccumulator: user ${user} has no item in the evaluated split`);
    const s = this.sums[b]!;
    this.metrics.forEach((m, j) => {
      const v = values[m];
      for (let i = 0; i < this.ks.length; i++) s[j]![i]!.add(v[i]!);
    });
    this.seen[b]!++;
  }

  /** The bucket means (every evaluated user must have been added). */
  result(): SparsityResult {
    const buckets: SparsityBucket[] = this.b.buckets.map((bk, t) => {
      const b = this.b.index[t]!;
      if (this.seen[b] !== bk.users) throw new Error(`SparsityAccumulator: bucket ${bk.bucket} has ${bk.users} users but ${this.seen[b]} were added`);
      const metrics: Record<string, number> = {};
      this.metrics.forEach((m, j) => this.ks.forEach((k, i) => { metrics[`${m}@${k}`] = this.sums[b]![j]![i]!.value / bk.users; }));
      return { ...bk, metrics };
    });
    return { by: 'training interactions per user', quantiles: this.quantiles, users: buckets.reduce((a, x) => a + x.users, 0), buckets };
  }
}

/** A bucket's label, e.g. "Q1 (1-4 interactions, 120 users)". */
export function bucketLabel(b: ActivityBucket): string {
  return `Q${b.bucket} (${b.min === b.max ? b.min : `${b.min}-${b.max}`} interactions, ${b.users} users)`;
}
