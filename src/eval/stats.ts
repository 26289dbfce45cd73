/**
 * Statistics for comparing models over a few random seeds (`irllrec compare`), in float64, with no
 * dependencies:
 *
 * - `meanCi`: mean, sample standard deviation (n - 1) and the Student-t confidence interval
 *   mean ± t_{(1+level)/2, n-1} · sd / sqrt(n) (none with one value);
 * - `pairedTTest`: the paired (dependent-samples) t-test on the differences a_i - b_i, two-sided
 *   p = 2 · (1 - T_{n-1}(|t|)), with the confidence interval of the mean difference;
 * - `signFlipTest`: the exact paired randomisation (sign-flip) test of the mean difference: the
 *   share of the 2^n sign assignments whose |sum| is at least the observed one (two-sided; for
 *   n = 5 the smallest possible p is 2/32 = 0.0625);
 * - `wilcoxonSignedRank`: the exact Wilcoxon signed-rank test (zero differences dropped, ties given
 *   their average rank, the exact conditional distribution by enumeration; two-sided p =
 *   min(1, 2 · min(P(W+ <= w), P(W+ >= w)))).
 *
 * The exact tests enumerate 2^n assignments and are computed up to `EXACT_MAX_N` values (null
 * above). The Student-t distribution function is the regularised incomplete beta function
 * I_x(df/2, 1/2) (continued fraction, Numerical Recipes' `betacf`, with Lanczos' log-gamma); its
 * quantile is found by bisection on it (to ~1e-13 relative), closed forms for df 1 and 2.
 */

/** The exact tests enumerate 2^n sign assignments up to this many differences. */
export const EXACT_MAX_N = 20;

export function mean(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** The sample standard deviation (divisor n - 1); NaN for fewer than 2 values. */
export function sampleSd(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (n - 1));
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; ~1e-15 relative). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betacf(a: number, b: number, x: number): number {
  const TINY = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), 0 <= x <= 1. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbt = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const bt = Math.exp(lbt);
  return x < (a + 1) / (a + b + 2) ? (bt * betacf(a, b, x)) / a : 1 - (bt * betacf(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df > 0, need not be an integer). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: df must be > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** The two-sided tail probability P(|T| >= |t|) = 2 (1 - T(|t|)), computed without cancellation. */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, incompleteBeta(df / (df + t * t), df / 2, 0.5));
}

/** The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  if (p === 0.5) return 0;
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  // the upper tail q = 1 - p: find t > 0 with P(T > t) = q by bisection (monotone, robust)
  const q = 1 - p;
  const upper = (t: number) => 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  let lo = 0;
  let hi = 1;
  while (upper(hi) > q) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (upper(mid) > q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface MeanCi {
  n: number;
  mean: number;
  /** Sample standard deviation (null below 2 values). */
  sd: number | null;
  /** Half the width of the confidence interval (null below 2 values). */
  half_width: number | null;
  /** [low, high] (null below 2 values). */
  ci: [number, number] | null;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** Mean and Student-t confidence interval (default 95%) of a sample. */
export function meanCi(xs: readonly number[], level = 0.95): MeanCi {
  const n = xs.length;
  const m = mean(xs);
  if (n < 2) return { n, mean: m, sd: null, half_width: null, ci: null };
  const sd = sampleSd(xs);
  const h = studentTQuantile((1 + level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { n, mean: m, sd, half_width: h, ci: [m - h, m + h] };
}

export interface PairedTest {
  /** Pairs compared. */
  n: number;
  /** Mean of a_i - b_i. */
  mean_diff: number;
  /** Mean difference relative to b's mean (null when b's mean is 0). */
  relative: number | null;
  /** Student-t confidence interval of the mean difference (null below 2 pairs). */
  ci: [number, number] | null;
  /** t statistic (±Infinity when every difference is the same non-zero value; null below 2 pairs or all differences 0). */
  t: number | null;
  df: number;
  /** Paired t-test, two-sided (null below 2 pairs; 1 when every difference is 0). */
  p_t: number | null;
  /** Exact sign-flip (paired randomisation) test, two-sided (null above EXACT_MAX_N pairs or with none). */
  p_sign_flip: number | null;
  /** Exact Wilcoxon signed-rank test, two-sided (null above EXACT_MAX_N pairs or with none). */
  p_wilcoxon: number | null;
}

/**
 * The paired comparison of a against b (same length, pair i = seed i): the paired t-test and the
 * two exact tests on the differences a_i - b_i.
 */
export function pairedTest(a: readonly number[], b: readonly number[], level = 0.95): PairedTest {
  if (a.length !== b.length) throw new RangeError(`pairedTest: ${a.length} values against ${b.length}`);
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length;
  const md = mean(d);
  const mb = mean(b);
  const relative = Number.isFinite(md) && mb !== 0 && Number.isFinite(mb) ? md / Math.abs(mb) : null;
  const exact = n > 0 && n <= EXACT_MAX_N;
  const base = { n, mean_diff: md, relative, df: Math.max(0, n - 1), p_sign_flip: exact ? signFlipTest(d) : null, p_wilcoxon: exact ? wilcoxonSignedRank(d).p : null };
  if (n < 2) return { ...base, ci: null, t: null, p_t: null };
  const sd = sampleSd(d);
  const se = sd / Math.sqrt(n);
  const h = studentTQuantile((1 + level) / 2, n - 1) * se;
  if (se === 0) {
    // every difference equal: no spread to test against
    if (md === 0) return { ...base, ci: [0, 0], t: null, p_t: 1 };
    return { ...base, ci: [md, md], t: md > 0 ? Infinity : -Infinity, p_t: 0 };
  }
  const t = md / se;
  return { ...base, ci: [md - h, md + h], t, p_t: finiteOrNull(studentTTwoSided(t, n - 1)) };
}

/** Relative tolerance for "at least as extreme" (sums of the same numbers in another order). */
const TIE_EPS = 1e-12;

/**
 * Exact two-sided sign-flip test of mean(d) = 0: the share of the 2^n sign assignments s with
 * |sum s_i d_i| >= |sum d_i| (the observed assignment included, so p >= 2 / 2^n unless d is all
 * zero). Throws above EXACT_MAX_N values.
 */
export function signFlipTest(d: readonly number[]): number {
  const n = d.length;
  if (n > EXACT_MAX_N) throw new RangeError(`signFlipTest: at most ${EXACT_MAX_N} values (2^n assignments), got ${n}`);
  if (n === 0) return 1;
  let obs = 0;
  let scale = 0;
  for (const x of d) {
    obs += x;
    scale += Math.abs(x);
  }
  const target = Math.abs(obs) - TIE_EPS * scale;
  let count = 0;
  const total = 2 ** n;
  for (let mask = 0; mask < total; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += mask & (1 << i) ? -d[i]! : d[i]!;
    if (Math.abs(s) >= target) count++;
  }
  return count / total;
}

export interface WilcoxonResult {
  /** Non-zero differences (the ones ranked). */
  n: number;
  /** Sum of the ranks of the positive differences. */
  w_plus: number;
  /** Exact two-sided p (1 with no non-zero difference). */
  p: number;
}

/**
 * Exact Wilcoxon signed-rank test (see the module doc). Zero differences are dropped; tied
 * absolute values share their average rank and the null distribution is enumerated with those
 * ranks (exact conditional test). Throws above EXACT_MAX_N non-zero values.
 */
export function wilcoxonSignedRank(d: readonly number[]): WilcoxonResult {
  const nz = d.filter((x) => x !== 0);
  const n = nz.length;
  if (n > EXACT_MAX_N) throw new RangeError(`wilcoxonSignedRank: at most ${EXACT_MAX_N} non-zero values (2^n assignments), got ${n}`);
  if (n === 0) return { n: 0, w_plus: 0, p: 1 };
  const order = nz.map((x, i) => ({ a: Math.abs(x), i })).sort((x, y) => x.a - y.a);
  const rank = new Array<number>(n);
  for (let s = 0; s < n;) {
    let e = s;
    while (e + 1 < n && order[e + 1]!.a === order[s]!.a) e++;
    const r = (s + e) / 2 + 1;
    for (let j = s; j <= e; j++) rank[order[j]!.i] = r;
    s = e + 1;
  }
  let w = 0;
  nz.forEach((x, i) => { if (x > 0) w += rank[i]!; });
  // ranks are multiples of 1/2: count in halves (integers) to compare exactly
  const w2 = Math.round(2 * w);
  const r2 = rank.map((r) => Math.round(2 * r));
  let le = 0;
  let ge = 0;
  const total = 2 ** n;
  for (let mask = 0; mask < total; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) s += r2[i]!;
    if (s <= w2) le++;
    if (s >= w2) ge++;
  }
  return { n, w_plus: w, p: Math.min(1, (2 * Math.min(le, ge)) / total) };
}
