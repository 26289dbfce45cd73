/**
 * Seeded random numbers for tests and benchmarks. Plain JavaScript so that bench/*.mjs (run by node,
 * without a TypeScript step) and the vitest suites draw exactly the same inputs; types in
 * seeded-random.d.mts.
 */

/** mulberry32: a tiny deterministic PRNG; uniform in [0, 1). */
export function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n float32 values drawn uniformly from [lo, hi) with `r`. */
export function randF32(n, r, lo = -1, hi = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}
