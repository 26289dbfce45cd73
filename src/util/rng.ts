/**
 * One seeded PRNG for everything random (negative sampling, shuffling, edge dropout, noise,
 * node masks). xoshiro128** on 32-bit words, seeded through splitmix32, so it is fast in plain
 * JavaScript and its whole state is four integers (saved in checkpoints for exact resume).
 *
 * Models draw through the narrow `RandomSource` interface, so the fixture tests can replay the
 * reference's recorded draws through the very same code path.
 */
import { getKernels } from '../kernels/index.js';

export interface RandomSource {
  /** n uniform floats in [0, 1) (float32 values), like torch.rand. */
  rand(n: number): Float32Array;
  /** n standard normal floats, like torch.randn. */
  randn(n: number): Float32Array;
  /** `size` distinct ints from [0, n), like np.random.choice(n, size, replace=False). */
  choice(n: number, size: number): Int32Array;
  /**
   * Optional fast path for edge dropout: keep[i] = 1 iff floor(r_i + keepRate) >= 1 in float32,
   * for n uniforms r_i that rand(n) would have returned (same stream, same result).
   */
  keepMask?(n: number, keepRate: number): Uint8Array;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export type RngState = [number, number, number, number];

export class Rng implements RandomSource {
  // xoshiro128** state as int32 words (plain small integers keep V8 on its fast path)
  private readonly st = new Int32Array(4);
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const sm = splitmix32(Math.floor(seed) ^ 0x5eed1234);
    for (let i = 0; i < 4; i++) this.st[i] = sm() | 0;
    if ((this.st[0]! | this.st[1]! | this.st[2]! | this.st[3]!) === 0) this.st[0] = 1;
  }

  static fromState(state: RngState, spare: number | null = null): Rng {
    const r = new Rng(0);
    for (let i = 0; i < 4; i++) r.st[i] = state[i]! | 0;
    r.spareNormal = spare;
    return r;
  }

  state(): { words: RngState; spareNormal: number | null } {
    const w = Array.from(this.st, (x) => x >>> 0) as RngState;
    return { words: w, spareNormal: this.spareNormal };
  }

  /** A new independent generator derived from this one (advances this one by 4 draws). */
  fork(): Rng {
    return Rng.fromState([this.nextU32(), this.nextU32(), this.nextU32(), this.nextU32() | 1]);
  }

  /** The next 32 random bits as a signed int32 (the hot path). */
  private next(): number {
    const st = this.st;
    const s0 = st[0]!;
    const s1 = st[1]!;
    let s2 = st[2]!;
    let s3 = st[3]!;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    st[1] = s1 ^ s2;
    st[0] = s0 ^ s3;
    st[2] = s2 ^ t;
    st[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  nextU32(): number {
    return this.next() >>> 0;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  float(): number {
    return (this.next() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n) without modulo bias (n < 2^32). */
  int(n: number): number {
    if (n <= 0) throw new RangeError(`int(n) needs n > 0, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  normal(): number {
    if (this.spareNormal !== null) {
      const s = this.spareNormal;
      this.spareNormal = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  rand(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.float();
    return out;
  }

  keepMask(n: number, keepRate: number): Uint8Array {
    // float() is (u >>> 8) / 2^24; fround(x + keep) >= 1 is monotone in x, so it is u >>> 8 >= t
    const keep = Math.fround(keepRate);
    let lo = 0;
    let hi = 1 << 24;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Math.fround(mid / 16777216 + keep) >= 1) hi = mid;
      else lo = mid + 1;
    }
    const out = new Uint8Array(n);
    // the same draws as next(), advanced in place (a native loop: this runs on every batch)
    getKernels().keepMaskXoshiro(this.st, n, lo, out);
    return out;
  }

  randn(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  choice(n: number, size: number): Int32Array {
    if (size > n) throw new RangeError(`choice: cannot draw ${size} distinct values from ${n}`);
    // Partial Fisher-Yates over a lazily materialised identity permutation.
    const swapped = new Map<number, number>();
    const out = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const j = i + this.int(n - i);
      const vi = swapped.get(i) ?? i;
      const vj = swapped.get(j) ?? j;
      out[i] = vj;
      swapped.set(j, vi);
    }
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle(a: Int32Array): Int32Array {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

/**
 * Fills `out` (rows x dim, row-major) with random unit rows: standard normal draws in order, each
 * row then divided by its L2 norm (arithmetic in the precision of `out`).
 */
export function fillUnitRows<A extends Float32Array | Float64Array>(rng: Rng, out: A, dim: number): A {
  const rows = out.length / dim;
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < dim; c++) {
      const v = rng.normal();
      out[r * dim + c] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let c = 0; c < dim; c++) out[r * dim + c]! *= inv;
  }
  return out;
}
