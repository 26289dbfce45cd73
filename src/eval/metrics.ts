/**
 * Ranking metrics in float64. Per-user metrics (averaged over the evaluated users) follow the
 * official SSLRec/RLMRec/IRLLRec `trainer/metrics.py` (`Metric`) where it defines them, and
 * RecBole's `evaluator/metrics.py` for the ones practitioners expect besides (hit, mrr, map,
 * coverage, gini), so numbers can be compared with papers of either lineage:
 *
 * - recall@k    = hits@k / |gt|            (denominator is the full ground-truth size, NOT min(k, |gt|))
 * - precision@k = hits@k / k
 * - ndcg@k      = DCG@k / IDCG@k, DCG@k = sum over hit ranks j < k (0-based) of 1 / log2(j + 2),
 *                 IDCG@k = sum over j < min(k, |gt|) of 1 / log2(j + 2)  (binary relevance)
 * - hit@k       = 1 if at least one of the top k is relevant, else 0 (its mean is the hit ratio)
 * - mrr@k       = 1 / (j + 1) for the FIRST hit rank j < k, 0 without a hit (RecBole's MRR; at
 *                 most 1)
 * - map@k       = sum over hit ranks j < k of precision@(j + 1), divided by min(k, |gt|)
 *                 (RecBole's MAP)
 * - rrsum@k     = sum over ALL hit ranks j < k of 1 / (j + 1). This is what the official
 *                 SSLRec/IRLLRec code reports as "mrr": every hit counts, so it can exceed 1. It is
 *                 kept under its own name to replay the official numbers; `mrr` is the standard
 *                 first-hit definition.
 *
 * Aggregate metrics are computed from the top-k lists of all evaluated users together (they are
 * not per-user means; see `metricKind`):
 *
 * - coverage@k  = |{items in at least one evaluated user's top k}| / numItems (item coverage)
 * - gini@k      = Gini index of the item exposure in the top-k lists (RecBole's `GiniIndex`):
 *                 with c_1 <= ... <= c_n the exposure counts of ALL n items (zeros included),
 *                 gini = sum_{i=1..n} (2i - n - 1) c_i / (n * total), total = sum c_i = users * k.
 *                 0 for a uniform exposure, (n - 1) / n when one item takes all of it; lower is
 *                 better (`higherIsBetter`).
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
 * in the last bits (summation order). The aggregates are computed from integer exposure counts,
 * which are exact, so they do not depend on the batch size either.
 */

/** Metrics with one value per user, reported as the mean over the evaluated users. */
export type PerUserMetricName = 'recall' | 'ndcg' | 'hit' | 'precision' | 'mrr' | 'map' | 'rrsum';

/** Metrics computed over the top-k lists of all evaluated users together. */
export type AggregateMetricName = 'coverage' | 'gini';

export type MetricName = PerUserMetricName | AggregateMetricName;

/** All supported metrics, in reporting order. */
export const METRIC_NAMES: readonly MetricName[] = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum', 'coverage', 'gini'];

/** The per-user (mean) metrics, in reporting order. */
export const PER_USER_METRICS: readonly PerUserMetricName[] = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'rrsum'];

/** The aggregate metrics, in reporting order. */
export const AGGREGATE_METRICS: readonly AggregateMetricName[] = ['coverage', 'gini'];

/** Default metrics of the evaluation (the official configs use recall and ndcg). */
export const DEFAULT_METRICS: readonly MetricName[] = ['recall', 'ndcg'];

/**
 * The metrics a report shows (what RecBole / Cornac / implicit users look for). `rrsum` is left
 * out: it exists to replay the official code, and next to `mrr` it would only confuse.
 */
export const REPORT_METRICS: readonly MetricName[] = ['recall', 'ndcg', 'hit', 'precision', 'mrr', 'map', 'coverage', 'gini'];

/** Whether a metric is a mean of per-user values or an aggregate over all top-k lists. */
export function metricKind(metric: MetricName): 'mean' | 'aggregate' {
  return (AGGREGATE_METRICS as readonly string[]).includes(metric) ? 'aggregate' : 'mean';
}

/** False only for gini (a concentration measure: lower means more evenly spread exposure). */
export function higherIsBetter(metric: MetricName): boolean {
  return metric !== 'gini';
}

/** Values of every per-user metric at each k (same order as `ks`). */
export interface UserMetricValues {
  recall: number[];
  ndcg: number[];
  hit: number[];
  precision: number[];
  mrr: number[];
  map: number[];
  rrsum: number[];
}

/**
 * Metrics over the evaluated users, one value per k (same order as `ks`): means for the per-user
 * metrics, aggregates for coverage / gini. Metrics other than recall and ndcg are present only
 * when requested.
 */
export interface MetricResult {
  /** Number of evaluated users (the divisor of the means). */
  users: number;
  ks: number[];
  /** The requested metrics, in the requested order (recall and ndcg are always computed). */
  metrics: MetricName[];
  recall: number[];
  ndcg: number[];
  hit?: number[];
  precision?: number[];
  mrr?: number[];
  map?: number[];
  rrsum?: number[];
  coverage?: number[];
  gini?: number[];
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

/**
 * Parse a metric key such as `ndcg@10`, `Recall@20` or `hit@5` (metric name case-insensitive,
 * the form `flattenMetrics` produces), e.g. for choosing the model-selection metric. Throws a
 * one-line Error when the key is malformed, the metric unknown, or k not one of the evaluated
 * `ks` (a metric at an unevaluated k would silently be undefined downstream).
 */
export function parseMetricKey(s: string, ks: readonly number[]): { metric: MetricName; k: number } {
  const m = /^\s*([A-Za-z]+)\s*@\s*(\d+)\s*$/.exec(String(s));
  if (!m) throw new Error(`invalid metric key '${String(s)}': expected <metric>@<k>, e.g. ndcg@20`);
  const name = m[1].toLowerCase();
  if (!(METRIC_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown metric '${m[1]}' in '${s}' (known: ${METRIC_NAMES.join(', ')})`);
  }
  const k = Number(m[2]);
  if (!ks.includes(k)) {
    throw new Error(`k = ${m[2]} in '${s}' is not evaluated (evaluated ks: ${ks.join(', ')})`);
  }
  return { metric: name as MetricName, k };
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
    const z = (): number[] => new Array<number>(this.ks.length).fill(0);
    return { recall: z(), ndcg: z(), hit: z(), precision: z(), mrr: z(), map: z(), rrsum: z() };
  }

  /**
   * hits[off + j] (j < K) is truthy when the item at rank j is relevant; gtSize = |gt|.
   * Writes every per-user metric at every k into `out` (allocated when omitted) and returns it.
   */
  compute(hits: ArrayLike<number | boolean>, gtSize: number, out?: UserMetricValues, off = 0): UserMetricValues {
    const o = out ?? this.newValues();
    const K = this.K;
    const idcgAll = gtSize > 0 ? this.idcgPrefix : null;
    let h = 0;
    let dcg = 0;
    let rrAll = 0;
    let rrFirst = 0;
    // Sum of precision@(j + 1) over the hit ranks j (RecBole accumulates the same terms in the
    // same order, so the per-user MAP agrees with it bit for bit).
    let precSum = 0;
    for (let j = 0; j < K; j++) {
      if (hits[off + j]) {
        h += 1;
        dcg += this.disc[j];
        rrAll += 1 / (j + 1);
        if (h === 1) rrFirst = 1 / (j + 1);
        precSum += h / (j + 1);
      }
      const idxs = this.atRank[j + 1];
      for (let t = 0; t < idxs.length; t++) {
        const i = idxs[t];
        const k = j + 1;
        o.recall[i] = gtSize > 0 ? h / gtSize : 0;
        o.precision[i] = h / k;
        o.ndcg[i] = idcgAll ? dcg / idcgAll[Math.min(k, gtSize)] : 0;
        o.hit[i] = h > 0 ? 1 : 0;
        o.mrr[i] = rrFirst;
        o.map[i] = gtSize > 0 ? precSum / Math.min(k, gtSize) : 0;
        o.rrsum[i] = rrAll;
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

/**
 * Item exposure counts of top-k lists, one Int32Array(numItems) per k: counts[i][item] = number
 * of added lists whose first ks[i] items contain `item`. Memory is O(|ks| * numItems) whatever
 * the number of users, and the counts are exact integers, so coverage and gini do not depend on
 * the order or batching of the users.
 */
export class ItemExposure {
  readonly ks: number[];
  readonly K: number;
  readonly numItems: number;
  private readonly counts: Int32Array[];
  private count = 0;

  constructor(ks: readonly number[], numItems: number) {
    this.ks = checkKs(ks);
    this.K = Math.max(...this.ks);
    if (!Number.isInteger(numItems) || numItems <= 0) throw new Error(`eval: invalid numItems ${numItems}`);
    this.numItems = numItems;
    this.counts = this.ks.map(() => new Int32Array(numItems));
  }

  /** Number of lists added so far. */
  get users(): number {
    return this.count;
  }

  /** Add one user's ranking: topk[off + j], j < K, best first (item indices in [0, numItems)). */
  add(topk: ArrayLike<number>, off = 0): void {
    const n = this.numItems;
    if (topk.length - off < this.K) throw new Error(`ItemExposure: ranking has ${topk.length - off} items, need ${this.K}`);
    for (let j = 0; j < this.K; j++) {
      const it = topk[off + j];
      if (!Number.isInteger(it) || it < 0 || it >= n) throw new Error(`ItemExposure: item index ${it} outside [0, ${n})`);
    }
    for (let i = 0; i < this.ks.length; i++) {
      const c = this.counts[i];
      for (let j = 0, k = this.ks[i]; j < k; j++) c[topk[off + j]]++;
    }
    this.count++;
  }

  /** The exposure counts at ks[i] (a copy). */
  countsAt(i: number): Int32Array {
    return this.counts[i].slice();
  }

  /** Item coverage at each k; NaN when no list was added (nothing was recommended). */
  coverage(): number[] {
    return this.counts.map((c) => {
      if (this.count === 0) return NaN;
      let m = 0;
      for (let t = 0; t < c.length; t++) if (c[t] > 0) m++;
      return m / this.numItems;
    });
  }

  /**
   * Gini index at each k (RecBole's `GiniIndex`, see the module doc); NaN when no list was added
   * (RecBole divides 0 by 0 there too). The weighted sum is an exact integer in float64 for any
   * realistic size (|sum| <= numItems * users * k < 2^53), so only the final divisions round.
   */
  gini(): number[] {
    const n = this.numItems;
    return this.counts.map((c, i) => {
      const total = this.count * this.ks[i];
      if (total === 0) return NaN;
      const sorted = c.slice().sort(); // typed-array sort is numeric, ascending
      let s = 0;
      for (let t = 0; t < n; t++) s += (2 * (t + 1) - n - 1) * sorted[t];
      return s / total / n;
    });
  }
}

/** Neumaier-compensated running sum. */
export class CompensatedSum {
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
 * Accumulates per-user metrics and produces the means over the added users. When coverage or
 * gini is requested, `numItems` is required and every user's top-K list must be added too
 * (`addRanking` does both; after `addHits`, call `addExposure`): `result()` refuses to report
 * aggregates over a different set of users than the means.
 */
export class MetricAccumulator {
  readonly computer: UserMetricComputer;
  readonly metrics: MetricName[];
  /** Present when an aggregate metric is requested. */
  readonly exposure: ItemExposure | null;
  private count = 0;
  private readonly sums: Record<PerUserMetricName, CompensatedSum[]>;
  private readonly scratch: UserMetricValues;

  constructor(ks: readonly number[], metrics?: readonly MetricName[], numItems?: number) {
    this.computer = new UserMetricComputer(ks);
    this.metrics = checkMetrics(metrics);
    const aggregates = this.metrics.filter((m) => metricKind(m) === 'aggregate');
    if (aggregates.length > 0) {
      if (numItems === undefined) throw new Error(`eval: metric '${aggregates[0]}' needs numItems`);
      this.exposure = new ItemExposure(this.computer.ks, numItems);
    } else {
      this.exposure = null;
    }
    const mk = (): CompensatedSum[] => this.computer.ks.map(() => new CompensatedSum());
    this.sums = { recall: mk(), ndcg: mk(), hit: mk(), precision: mk(), mrr: mk(), map: mk(), rrsum: mk() };
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
    for (const m of PER_USER_METRICS) {
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

  /** Add one user's top-K items (topk[off + j], j < K) to the exposure counts; no-op without aggregates. */
  addExposure(topk: ArrayLike<number>, off = 0): void {
    if (this.exposure) this.exposure.add(topk, off);
  }

  /** Add one user from its ranking (best first, >= K items) and ground-truth list. */
  addRanking(topk: ArrayLike<number>, groundTruth: ArrayLike<number>): UserMetricValues {
    const K = this.K;
    if (topk.length < K) throw new Error(`MetricAccumulator: ranking has ${topk.length} items, need ${K}`);
    const gt = new Set<number>();
    for (let i = 0; i < groundTruth.length; i++) gt.add(groundTruth[i]);
    const hits = new Uint8Array(K);
    for (let j = 0; j < K; j++) hits[j] = gt.has(topk[j]) ? 1 : 0;
    this.addExposure(topk);
    return this.addHits(hits, groundTruth.length);
  }

  /**
   * Means (and requested aggregates) over the added users. With no users every value is NaN
   * (the official code divides by a test-user count of 0).
   */
  result(): MetricResult {
    const n = this.count;
    if (this.exposure && this.exposure.users !== n) {
      throw new Error(
        `MetricAccumulator: ${n} users added but ${this.exposure.users} top-K lists: coverage/gini need addExposure for every user (or addRanking)`,
      );
    }
    const mean = (m: PerUserMetricName): number[] => this.sums[m].map((s) => s.value / n);
    const r: MetricResult = {
      users: n,
      ks: this.ks.slice(),
      metrics: this.metrics.slice(),
      recall: mean('recall'),
      ndcg: mean('ndcg'),
    };
    for (const m of this.metrics) {
      if (m === 'recall' || m === 'ndcg') continue;
      if (m === 'coverage') r.coverage = this.exposure!.coverage();
      else if (m === 'gini') r.gini = this.exposure!.gini();
      else r[m] = mean(m);
    }
    return r;
  }
}

/**
 * Flatten a result to `{"recall@5": ..., "recall@10": ..., "ndcg@5": ...}`, for the requested
 * metrics in their order, then by k in the order of `ks` (`parseMetricKey` reads these keys).
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
