/**
 * Per-user ranking metrics with the definitions of the official SSLRec/RLMRec/IRLLRec
 * `trainer/metrics.py` (`Metric`), in float64:
 *
 * - recall@k    = hits@k / |gt|            (denominator is the full ground-truth size, NOT min(k, |gt|))
 * - precision@k = hits@k / k
 * - ndcg@k      = DCG@k / IDCG@k, DCG@k = sum over hit ranks j < k (0-based) of 1 / log2(j + 2),
 *                 IDCG@k = sum over j < min(k, |gt|) of 1 / log2(j + 2)  (binary relevance)
 * - mrr@k       = sum over ALL hit ranks j < k of 1 / (j + 1)  (every hit counts, not only the
 *                 first, so the value can exceed 1)
 *
 * |gt| is the length of the user's ground-truth list as given (the official code uses
 * `len(test_data[i])`); membership of a recommended item is tested against that list.
 * Users with an empty ground truth are not evaluated (the caller skips them); should one be
 * passed anyway, all its values are 0 (the official code sets IDCG = 0 to 1 and the recall
 * division would be 0/0; we return 0 rather than NaN).
 *
 * The official code averages by summing the per-batch sums and dividing by the number of test
 * users. Here every user is added individually with a compensated (Neumaier) sum, so the result
 * does not depend on the evaluation batch size and differs from the official float64 value only
 * in the last bits (summation order).
 */

export type MetricName = 'recall' | 'ndcg' | 'precision' | 'mrr';

/** All supported metrics, in the official code's usual order. */
export const METRIC_NAMES: readonly MetricName[] = ['recall', 'ndcg', 'precision', 'mrr'];

/** Default metrics of the evaluation (the official configs use recall and ndcg). */
export const DEFAULT_METRICS: readonly MetricName[] = ['recall', 'ndcg'];

/** Values of every metric at each k (same order as `ks`). */
export interface UserMetricValues {
  recall: number[];
  ndcg: number[];
  precision: number[];
  mrr: number[];
}

/** Mean metrics over the evaluated users. `precision` / `mrr` are present only when requested. */
export interface MetricResult {
  /** Number of evaluated users (the divisor). */
  users: number;
  ks: number[];
  /** The requested metrics, in the requested order (recall and ndcg are always computed). */
  metrics: MetricName[];
  recall: number[];
  ndcg: number[];
  precision?: number[];
  mrr?: number[];
}

/** Validate `ks` (positive integers) and return a copy. */
export function checkKs(ks: readonly number[]): number[] {
  if (!Array.isArray(ks) || ks.length === 0) throw new Error('eval: ks must be a non-empty array');
  for (const k of ks) {
    if (!Number.isInteger(k) || k <= 0) throw new Error(`eval: invalid k ${String(k)} (positive integers only)`);
  }
  return ks.slice();
}

/** Validate a metric list (unknown names, duplicates) and return a copy. */
export function checkMetrics(metrics: readonly MetricName[] | undefined): MetricName[] {
  const list = metrics === undefined ? DEFAULT_METRICS.slice() : metrics.slice();
  const seen = new Set<string>();
  for (const m of list) {
    if (!METRIC_NAMES.includes(m)) throw new Error(`eval: unknown metric '${String(m)}' (known: ${METRIC_NAMES.join(', ')})`);
    if (seen.has(m)) throw new Error(`eval: metric '${m}' listed twice`);
    seen.add(m);
  }
  return list;
}

/** d[j] = 1 / log2(j + 2) for j < K (the rank discount of the official ndcg). */
export function rankDiscounts(K: number): Float64Array {
  const d = new Float64Array(K);
  for (let j = 0; j < K; j++) d[j] = 1 / Math.log2(j + 2);
  return d;
}

/**
 * Computes per-user metrics from a hit vector. One instance per (ks) setting; reusable and
 * allocation-free per user when `out` is given.
 */
export class UserMetricComputer {
  readonly ks: number[];
  /** max(ks): the length of the ranking that is needed. */
  readonly K: number;
  private readonly disc: Float64Array;
  /** idcgPrefix[m] = sum_{j<m} disc[j], m = 0..K. */
  private readonly idcgPrefix: Float64Array;
  /** For each rank position p (1..K), the indices into ks with k === p. */
  private readonly atRank: number[][];

  constructor(ks: readonly number[]) {
    this.ks = checkKs(ks);
    this.K = Math.max(...this.ks);
    this.disc = rankDiscounts(this.K);
    this.idcgPrefix = new Float64Array(this.K + 1);
    for (let m = 0; m < this.K; m++) this.idcgPrefix[m + 1] = this.idcgPrefix[m] + this.disc[m];
    this.atRank = Array.from({ length: this.K + 1 }, () => [] as number[]);
    this.ks.forEach((k, i) => this.atRank[k].push(i));
  }

  /** A zeroed value holder for this computer's ks. */
  newValues(): UserMetricValues {
    const n = this.ks.length;
    return { recall: new Array(n).fill(0), ndcg: new Array(n).fill(0), precision: new Array(n).fill(0), mrr: new Array(n).fill(0) };
  }

  /**
   * hits[off + j] (j < K) is truthy when the item at rank j is relevant; gtSize = |gt|.
   * Writes all four metrics at every k into `out` (allocated when omitted) and returns it.
   */
  compute(hits: ArrayLike<number | boolean>, gtSize: number, out?: UserMetricValues, off = 0): UserMetricValues {
    const o = out ?? this.newValues();
    const K = this.K;
    const idcgAll = gtSize > 0 ? this.idcgPrefix : null;
    let h = 0;
    let dcg = 0;
    let rr = 0;
    for (let j = 0; j < K; j++) {
      if (hits[off + j]) {
        h += 1;
        dcg += this.disc[j];
        rr += 1 / (j + 1);
      }
      const idxs = this.atRank[j + 1];
      for (let t = 0; t < idxs.length; t++) {
        const i = idxs[t];
        const k = j + 1;
        o.recall[i] = gtSize > 0 ? h / gtSize : 0;
        o.precision[i] = h / k;
        o.ndcg[i] = idcgAll ? dcg / idcgAll[Math.min(k, gtSize)] : 0;
        o.mrr[i] = rr;
      }
    }
    return o;
  }
}

/**
 * Metrics of one user from its ranked list (`topk`, at least max(ks) items, best first) and its
 * ground-truth items. Convenience wrapper (allocates); the streaming evaluation uses
 * `UserMetricComputer` directly.
 */
export function userMetrics(topk: ArrayLike<number>, groundTruth: ArrayLike<number>, ks: readonly number[]): UserMetricValues {
  const c = new UserMetricComputer(ks);
  if (topk.length < c.K) throw new Error(`userMetrics: ranking has ${topk.length} items, need max(ks) = ${c.K}`);
  const gt = new Set<number>();
  for (let i = 0; i < groundTruth.length; i++) gt.add(groundTruth[i]);
  const hits = new Uint8Array(c.K);
  for (let j = 0; j < c.K; j++) hits[j] = gt.has(topk[j]) ? 1 : 0;
  return c.compute(hits, groundTruth.length);
}

/** Neumaier-compensated running sum. */
class CompensatedSum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += (this.s - t) + x;
    else this.c += (x - t) + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

/**
 * Accumulates per-user metrics and produces the means over the added users.
 */
export class MetricAccumulator {
  readonly computer: UserMetricComputer;
  readonly metrics: MetricName[];
  private count = 0;
  private readonly sums: Record<MetricName, CompensatedSum[]>;
  private readonly scratch: UserMetricValues;

  constructor(ks: readonly number[], metrics?: readonly MetricName[]) {
    this.computer = new UserMetricComputer(ks);
    this.metrics = checkMetrics(metrics);
    const mk = (): CompensatedSum[] => this.computer.ks.map(() => new CompensatedSum());
    this.sums = { recall: mk(), ndcg: mk(), precision: mk(), mrr: mk() };
    this.scratch = this.computer.newValues();
  }

  get ks(): number[] {
    return this.computer.ks;
  }

  get K(): number {
    return this.computer.K;
  }

  /** Number of users added so far. */
  get users(): number {
    return this.count;
  }

  /** Add one user's precomputed values. */
  addValues(v: UserMetricValues): void {
    for (const m of METRIC_NAMES) {
      const s = this.sums[m];
      const arr = v[m];
      for (let i = 0; i < s.length; i++) s[i].add(arr[i]);
    }
    this.count++;
  }

  /**
   * Add one user from a hit vector (hits[off + j], j < K). Returns the user's values; the
   * returned object is reused by the next call (copy it to keep it).
   */
  addHits(hits: ArrayLike<number | boolean>, gtSize: number, off = 0): UserMetricValues {
    const v = this.computer.compute(hits, gtSize, this.scratch, off);
    this.addValues(v);
    return v;
  }

  /** Add one user from its ranking (best first, >= K items) and ground-truth list. */
  addRanking(topk: ArrayLike<number>, groundTruth: ArrayLike<number>): UserMetricValues {
    const K = this.K;
    if (topk.length < K) throw new Error(`MetricAccumulator: ranking has ${topk.length} items, need ${K}`);
    const gt = new Set<number>();
    for (let i = 0; i < groundTruth.length; i++) gt.add(groundTruth[i]);
    const hits = new Uint8Array(K);
    for (let j = 0; j < K; j++) hits[j] = gt.has(topk[j]) ? 1 : 0;
    return this.addHits(hits, groundTruth.length);
  }

  /**
   * Means over the added users. With no users every value is NaN (the official code divides
   * by a test-user count of 0).
   */
  result(): MetricResult {
    const n = this.count;
    const mean = (m: MetricName): number[] => this.sums[m].map((s) => s.value / n);
    const r: MetricResult = {
      users: n,
      ks: this.ks.slice(),
      metrics: this.metrics.slice(),
      recall: mean('recall'),
      ndcg: mean('ndcg'),
    };
    if (this.metrics.includes('precision')) r.precision = mean('precision');
    if (this.metrics.includes('mrr')) r.mrr = mean('mrr');
    return r;
  }
}

/**
 * Flatten a result to `{"recall@5": ..., "recall@10": ..., "ndcg@5": ...}`, for the requested
 * metrics in their order, then by k in the order of `ks`.
 */
export function flattenMetrics(result: MetricResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of result.metrics) {
    const vals = result[m];
    if (!vals) continue;
    result.ks.forEach((k, i) => {
      out[`${m}@${k}`] = vals[i];
    });
  }
  return out;
}

/** One-line human-readable form, e.g. "recall@5=0.0512 recall@20=0.1234 ndcg@5=...". */
export function formatMetrics(result: MetricResult, digits = 4): string {
  return Object.entries(flattenMetrics(result))
    .map(([name, v]) => `${name}=${v.toFixed(digits)}`)
    .join(' ');
}
