import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { jsKernels as js } from '../src/kernels/js.js';
import { loadNativeKernels, nativeLoadError, nativeAddonPath, type NativeKernels } from '../src/kernels/native.js';
import { getKernels, setKernels } from '../src/kernels/index.js';
import type { Kernels } from '../src/kernels/types.js';
import { mulberry32, randF32 } from './helpers/seeded-random.mjs';

// ------------------------------------------------------------------------------------ helpers

/** A view of n elements at an odd offset inside a larger buffer filled with sentinels. */
function view(src: Float32Array, offset = 3, pad = 5): Float32Array {
  const buf = new Float32Array(src.length + offset + pad).fill(12345);
  buf.set(src, offset);
  return buf.subarray(offset, offset + src.length);
}

function expectClose(got: Float32Array | number[], want: Float32Array | number[], tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) throw new Error(`${what}: NaN mismatch at ${i}: got ${g}, want ${w}`);
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g !== w) throw new Error(`${what}: mismatch at ${i}: got ${g}, want ${w}`);
      continue;
    }
    const e = Math.abs(g - w) / Math.max(1, Math.abs(w));
    if (e > worst) {
      worst = e;
      at = i;
    }
  }
  if (worst > tol) throw new Error(`${what}: max error ${worst} > ${tol} at ${at}: got ${got[at]}, want ${want[at]}`);
}

function bitsEqual(a: Float32Array, b: Float32Array, what: string): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${what}: not bitwise identical at ${i}: ${a[i]} vs ${b[i]}`);
  }
}

interface Csr {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

function randCsr(rows: number, cols: number, avg: number, r: () => number): Csr {
  const indptr = new Int32Array(rows + 1);
  const idx: number[] = [];
  for (let i = 0; i < rows; i++) {
    const deg = r() < 0.2 ? 0 : Math.floor(r() * 2 * avg); // empty rows included
    for (let q = 0; q < deg; q++) idx.push(Math.floor(r() * cols)); // duplicates allowed
    indptr[i + 1] = idx.length;
  }
  return { rows, cols, indptr, indices: Int32Array.from(idx), values: randF32(idx.length, r) };
}

// --------------------------------------------------------------------------- the js backend

describe('js kernels (reference)', () => {
  it('gemm on a tiny hand-checked case, all transposes', () => {
    // op(A) = [[1,2,3],[4,5,6]], op(B) = [[1,0],[0,1],[1,1]] => [[4,5],[10,11]]
    const A = new Float32Array([1, 2, 3, 4, 5, 6]);
    const At = new Float32Array([1, 4, 2, 5, 3, 6]);
    const B = new Float32Array([1, 0, 0, 1, 1, 1]);
    const Bt = new Float32Array([1, 0, 1, 0, 1, 1]);
    for (const [tA, a, lda] of [[false, A, 3], [true, At, 2]] as const) {
      for (const [tB, b, ldb] of [[false, B, 2], [true, Bt, 3]] as const) {
        const C = new Float32Array(4).fill(NaN);
        js.gemm(tA, tB, 2, 2, 3, 1, a, lda, b, ldb, 0, C, 2);
        expect(Array.from(C)).toEqual([4, 5, 10, 11]);
      }
    }
  });

  it('topkRows: descending, ties by lower index, NaN last', () => {
    const X = new Float32Array([NaN, 2, 2, 5, 1, 3, -1, 3]);
    const I = new Int32Array(8), V = new Float32Array(8);
    js.topkRows(2, 4, X, 4, I, V);
    expect(Array.from(I)).toEqual([3, 1, 2, 0, 1, 3, 0, 2]);
  });

  it('throws on too-small buffers', () => {
    expect(() => js.gemm(false, false, 2, 2, 2, 1, new Float32Array(3), 2, new Float32Array(4), 2, 0, new Float32Array(4), 2)).toThrow(RangeError);
    expect(() => js.axpy(5, 1, new Float32Array(4), new Float32Array(5))).toThrow(RangeError);
  });

  it('getKernels honours IRLLREC_KERNELS=js', () => {
    const saved = process.env.IRLLREC_KERNELS;
    process.env.IRLLREC_KERNELS = 'js';
    setKernels(null);
    try {
      expect(getKernels().name).toBe('js');
    } finally {
      if (saved === undefined) delete process.env.IRLLREC_KERNELS;
      else process.env.IRLLREC_KERNELS = saved;
      setKernels(null);
    }
  });
});

// ---------------------------------------------------------------------- native vs reference

const nat: NativeKernels | null = loadNativeKernels();
const skipReason = nat ? '' : ` (SKIPPED: native addon not available: ${nativeLoadError()}; build it with npm run build)`;

describe.skipIf(!nat)(`native kernels vs js${skipReason}`, () => {
  const n = nat as NativeKernels;
  const startIsa = nat ? nat.isa() : 'scalar';
  const startThreads = nat ? nat.threads() : 1;
  afterAll(() => {
    if (!nat) return;
    nat.setIsa(startIsa);
    nat.setThreads(startThreads);
  });

  // Every ISA path this CPU can run (setIsa clamps to what is supported), 1 and 2 threads.
  const isas: string[] = [];
  if (nat) {
    for (const want of ['avx512', 'avx2', 'scalar']) {
      const got = nat.setIsa(want);
      if (got === want) isas.push(want);
    }
    nat.setIsa(startIsa);
  }
  const configs: Array<[string, number]> = [];
  for (const isa of isas) for (const t of [1, 2]) configs.push([isa, t]);

  /** Runs fn for every (isa, threads) configuration. */
  function forAll(fn: (k: Kernels, tag: string) => void): void {
    for (const [isa, t] of configs) {
      n.setIsa(isa);
      n.setThreads(t);
      fn(n, `${isa}/t${t}`);
    }
    n.setIsa(startIsa);
    n.setThreads(startThreads);
  }

  it('reports its configuration', () => {
    expect(n.name).toBe('native');
    expect(n.info).toMatch(/^native (avx512|avx2|scalar) threads=\d+$/);
    expect(isas).toContain('scalar');
  });

  it('IRLLREC_ISA / IRLLREC_THREADS are honoured at load time', () => {
    for (const isa of isas) {
      const r = spawnSync(process.execPath, ['-e', `const a=require(${JSON.stringify(nativeAddonPath())});console.log(a.isa()+' '+a.threads())`], {
        env: { ...process.env, IRLLREC_ISA: isa, IRLLREC_THREADS: '3' },
        encoding: 'utf8',
      });
      expect(r.stdout.trim()).toBe(`${isa} 3`);
    }
  });

  describe('gemm', () => {
    const r = mulberry32(1);
    const shapes: Array<[number, number, number]> = [
      [0, 5, 3], [5, 0, 3], [4, 5, 0], [1, 1, 1], [17, 33, 131], [33, 17, 16], [131, 65, 47],
      [29, 47, 300], [3, 700, 20], [150, 130, 260],
      [12, 2000, 96], // few rows: threads split the columns
      [500, 40, 40], // several row chunks
    ];
    for (const [M, N, K] of shapes) {
      it(`M=${M} N=${N} K=${K}, all transposes, alpha/beta, views, ld > width`, () => {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const lda = (tA ? M : K) + (M % 3) + 1, ldb = (tB ? K : N) + 2, ldc = N + (K % 2);
            const A = randF32(tA ? (K > 0 ? (K - 1) * lda + M : 0) : (M > 0 ? (M - 1) * lda + K : 0), r);
            const B = randF32(tB ? (N > 0 ? (N - 1) * ldb + K : 0) : (K > 0 ? (K - 1) * ldb + N : 0), r);
            const C0 = randF32(M > 0 ? (M - 1) * ldc + N : 0, r);
            for (const [alpha, beta] of [[1, 0], [-0.5, 1], [2, 0.3]]) {
              const want = Float32Array.from(C0);
              if (beta === 0) want.fill(NaN);
              js.gemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, want, ldc);
              const tol = 1e-6 * (K + 4);
              let first: Float32Array | null = null;
              forAll((k, tag) => {
                const C = view(C0);
                if (beta === 0) C.fill(NaN); // must be overwritten, not read
                k.gemm(tA, tB, M, N, K, alpha, view(A, 1), lda, view(B, 2), ldb, beta, C, ldc);
                // compare only the M x N window (the ld padding must be untouched)
                for (let i = 0; i < M; i++) {
                  for (let j = N; j < ldc && i * ldc + j < C.length; j++) {
                    const orig = beta === 0 ? NaN : C0[i * ldc + j];
                    if (!Object.is(C[i * ldc + j], orig)) throw new Error(`${tag}: padding written at ${i},${j}`);
                  }
                }
                let worst = 0;
                for (let i = 0; i < M; i++) {
                  for (let j = 0; j < N; j++) {
                    const g = C[i * ldc + j], w = want[i * ldc + j];
                    const e = Math.abs(g - w) / Math.max(1, Math.abs(w));
                    if (!(e <= worst)) worst = e; // NaN propagates into worst
                  }
                }
                if (!(worst <= tol)) throw new Error(`gemm ${tag} tA=${tA} tB=${tB} a=${alpha} b=${beta}: max error ${worst} > ${tol}`);
                // same ISA, different thread count: bitwise identical
                if (tag.endsWith('/t1')) first = Float32Array.from(C);
                else if (first) bitsEqual(C, first, `gemm determinism ${tag}`);
              });
            }
          }
        }
      });
    }

    it('validates arguments', () => {
      const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
      expect(() => n.gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c.subarray(1), 2)).toThrow(RangeError);
      expect(() => n.gemm(false, false, 2, 2, 3, 1, a.subarray(1), 3, b, 2, 0, c, 2)).toThrow(RangeError);
      expect(() => n.gemm(false, false, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2)).toThrow(/lda/);
      expect(() => n.gemm(false, true, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)).toThrow(/ldb/);
      expect(() => n.gemm(false, false, -1, 2, 3, 1, a, 3, b, 2, 0, c, 2)).toThrow(RangeError);
      expect(() => n.gemm(false, false, 2, 2, 3, 1, [0, 1] as unknown as Float32Array, 3, b, 2, 0, c, 2)).toThrow(TypeError);
      expect(() => n.gemm(false, false, 2, 2, 3, 1, new Float64Array(6) as unknown as Float32Array, 3, b, 2, 0, c, 2)).toThrow(TypeError);
    });
  });

  describe('sparse', () => {
    const r = mulberry32(2);
    const cases: Array<[number, number, number, number]> = [
      [0, 5, 0, 4], [1, 1, 1, 1], [37, 29, 3, 5], [37, 29, 4, 16], [60, 50, 5, 33], [40, 70, 3, 71], [3000, 2500, 10, 32],
      [5000, 4000, 10, 32], // spmmT: 2 source parts
      [13000, 5000, 10, 64], // spmmT: 4 source parts
      [2000, 1500, 8, 50], // 48-wide block + tail
    ];
    for (const [rows, cols, avg, nc] of cases) {
      it(`spmm / spmmT rows=${rows} cols=${cols} n=${nc}`, () => {
        const S = randCsr(rows, cols, avg, r);
        const X = randF32(cols * nc, r);
        const XT = randF32(rows * nc, r);
        for (const beta of rows * nc > 200000 ? [0.5] : [0, 1, 0.5]) {
          const Y0 = randF32(rows * nc, r);
          const want = Float32Array.from(Y0);
          if (beta === 0) want.fill(NaN);
          js.spmm(rows, nc, S.indptr, S.indices, S.values, X, beta, want);
          const YT0 = randF32(cols * nc, r);
          const wantT = Float32Array.from(YT0);
          if (beta === 0) wantT.fill(NaN);
          js.spmmT(rows, cols, nc, S.indptr, S.indices, S.values, XT, beta, wantT);
          let first: Float32Array | null = null, firstT: Float32Array | null = null;
          forAll((k, tag) => {
            const Y = view(Y0);
            if (beta === 0) Y.fill(NaN);
            k.spmm(rows, nc, S.indptr, S.indices, view(S.values), view(X), beta, Y);
            expectClose(Y, want, 1e-5, `spmm ${tag} beta=${beta}`);
            const YT = view(YT0);
            if (beta === 0) YT.fill(NaN);
            k.spmmT(rows, cols, nc, S.indptr, S.indices, S.values, XT, beta, YT);
            expectClose(YT, wantT, 1e-5, `spmmT ${tag} beta=${beta}`);
            if (tag.endsWith('/t1')) {
              first = Float32Array.from(Y);
              firstT = Float32Array.from(YT);
            } else {
              bitsEqual(Y, first!, `spmm determinism ${tag}`);
              bitsEqual(YT, firstT!, `spmmT determinism ${tag}`);
            }
          });
        }
      });
    }

    it('rejects out-of-range indices and bad indptr', () => {
      const indptr = new Int32Array([0, 1, 2]);
      const bad = new Int32Array([0, 7]);
      const vals = new Float32Array([1, 1]);
      expect(() => n.spmm(2, 2, indptr, bad, vals, new Float32Array(6), 0, new Float32Array(4))).toThrow(RangeError);
      expect(() => n.spmmT(2, 3, 2, indptr, bad, vals, new Float32Array(4), 0, new Float32Array(6))).toThrow(RangeError);
      expect(() => n.spmm(2, 2, new Int32Array([0, 3, 2]), new Int32Array([0, 0]), vals, new Float32Array(6), 0, new Float32Array(4))).toThrow(/indptr/);
      expect(() => n.spmm(2, 2, new Int32Array([0, 1]), bad, vals, new Float32Array(6), 0, new Float32Array(4))).toThrow(/indptr/);
      expect(() => n.spmm(2, 2, indptr, new Int32Array([0, -1]), vals, new Float32Array(6), 0, new Float32Array(4))).toThrow(RangeError);
      // big enough to take the bucketed (threaded) spmmT path
      const S = randCsr(3000, 100, 10, mulberry32(9));
      S.indices[S.indices.length - 1] = 100;
      expect(() => n.spmmT(3000, 100, 32, S.indptr, S.indices, S.values, new Float32Array(3000 * 32), 0, new Float32Array(100 * 32))).toThrow(RangeError);
    });
  });

  describe('row-wise', () => {
    const r = mulberry32(3);
    const shapes: Array<[number, number]> = [[0, 7], [1, 1], [5, 17], [33, 131], [7, 16], [300, 1000]];
    for (const [rows, cols] of shapes) {
      it(`softmax / logSumExp / l2Normalize / rowDot ${rows}x${cols}`, () => {
        const X = randF32(rows * cols, r, -8, 8);
        if (rows > 1 && cols > 1) {
          X[cols] = -Infinity; // a -inf entry
          for (let c = 0; c < cols; c++) X[cols * (rows - 1) + c] = 0; // an all-zero row (l2 eps)
        }
        const B = randF32(rows * cols, r);
        const wSm = new Float32Array(rows * cols), wLse = new Float32Array(rows);
        const wY = new Float32Array(rows * cols), wN = new Float32Array(rows), wDot = new Float32Array(rows);
        js.softmaxRows(rows, cols, X, wSm);
        js.logSumExpRows(rows, cols, X, wLse);
        js.l2NormalizeRows(rows, cols, X, 1e-6, wY, wN);
        js.rowDot(rows, cols, X, B, wDot);
        forAll((k, tag) => {
          const sm = view(new Float32Array(rows * cols));
          k.softmaxRows(rows, cols, view(X), sm);
          expectClose(sm, wSm, 2e-6, `softmax ${tag}`);
          const alias = Float32Array.from(X);
          k.softmaxRows(rows, cols, alias, alias);
          expectClose(alias, wSm, 2e-6, `softmax in place ${tag}`);
          const lse = view(new Float32Array(rows));
          k.logSumExpRows(rows, cols, X, lse);
          expectClose(lse, wLse, 2e-6, `logSumExp ${tag}`);
          const Y = new Float32Array(rows * cols), N = new Float32Array(rows);
          k.l2NormalizeRows(rows, cols, X, 1e-6, Y, N);
          expectClose(Y, wY, 2e-6, `l2 ${tag}`);
          expectClose(N, wN, 2e-6, `l2 norms ${tag}`);
          const Z = Float32Array.from(X);
          k.l2NormalizeRows(rows, cols, Z, 1e-6, Z, N);
          expectClose(Z, wY, 2e-6, `l2 in place ${tag}`);
          const d = new Float32Array(rows);
          k.rowDot(rows, cols, X, B, d);
          expectClose(d, wDot, 2e-6, `rowDot ${tag}`);
        });
      });
    }

    it('softmax / logSumExp edge rows: all -inf, +inf, NaN', () => {
      const X = new Float32Array([-Infinity, -Infinity, 1, Infinity, NaN, 1, 3, NaN, -Infinity]);
      const w = new Float32Array(3), g = new Float32Array(3);
      js.logSumExpRows(3, 3, X, w);
      forAll((k, tag) => {
        k.logSumExpRows(3, 3, X, g);
        expectClose(g, w, 1e-6, `lse edges ${tag}`);
      });
    });

    it('topkRows: ties, NaN, +-0, k = cols, k = 0, long rows', () => {
      const cases: Array<[number, number, number, Float32Array]> = [
        [2, 4, 4, new Float32Array([NaN, 2, 2, 5, 1, 3, -1, 3])],
        [1, 6, 3, new Float32Array([0, -0, 0, -0, NaN, -Infinity])],
        [1, 5, 5, new Float32Array([NaN, NaN, 1, NaN, -Infinity])],
        [3, 5, 0, new Float32Array(15)],
        [0, 5, 2, new Float32Array(0)],
      ];
      const rr = mulberry32(4);
      // long rows with many ties (quantised values) and a few NaNs
      for (const [rows, cols, k] of [[7, 20332, 20], [5, 1000, 1000], [9, 100, 1], [4, 300, 37]] as const) {
        const X = new Float32Array(rows * cols);
        for (let i = 0; i < X.length; i++) X[i] = rr() < 0.01 ? NaN : Math.round(rr() * 50) / 10;
        cases.push([rows, cols, k, X]);
      }
      for (const [rows, cols, k, X] of cases) {
        const wi = new Int32Array(rows * k), wv = new Float32Array(rows * k);
        js.topkRows(rows, cols, X, k, wi, wv);
        forAll((kk, tag) => {
          const gi = new Int32Array(rows * k), gv = view(new Float32Array(rows * k));
          kk.topkRows(rows, cols, view(X), k, gi, gv);
          expect(Array.from(gi), `topk ${tag} ${rows}x${cols} k=${k}`).toEqual(Array.from(wi));
          for (let i = 0; i < gv.length; i++) expect(Object.is(gv[i], wv[i]) || gv[i] === wv[i]).toBe(true);
        });
      }
      expect(() => n.topkRows(1, 3, new Float32Array(3), 4, new Int32Array(4), new Float32Array(4))).toThrow(RangeError);
    });
  });

  describe('gather / scatter', () => {
    const r = mulberry32(5);
    for (const [srcRows, cols, count] of [[10, 1, 0], [10, 3, 7], [50, 17, 200], [3000, 32, 20000]] as const) {
      it(`gatherRows / scatterAddRows ${srcRows} rows x ${cols}, ${count} indices (duplicates)`, () => {
        const src = randF32(srcRows * cols, r);
        const idx = new Int32Array(count);
        for (let i = 0; i < count; i++) idx[i] = Math.floor(r() * srcRows);
        if (count > 2) idx[1] = idx[0]; // guaranteed duplicate
        const wg = new Float32Array(count * cols);
        js.gatherRows(cols, src, idx, wg);
        const upd = randF32(count * cols, r);
        const ws = Float32Array.from(src);
        js.scatterAddRows(cols, upd, idx, ws);
        let first: Float32Array | null = null;
        forAll((k, tag) => {
          const g = view(new Float32Array(count * cols));
          k.gatherRows(cols, view(src), idx, g);
          expectClose(g, wg, 0, `gather ${tag}`);
          const s = view(src);
          k.scatterAddRows(cols, view(upd), idx, s);
          expectClose(s, ws, 1e-6, `scatterAdd ${tag}`);
          if (tag.endsWith('/t1')) first = Float32Array.from(s);
          else bitsEqual(s, first!, `scatterAdd determinism ${tag}`);
        });
      });
    }
    it('rejects out-of-range indices', () => {
      expect(() => n.gatherRows(2, new Float32Array(4), new Int32Array([0, 2]), new Float32Array(4))).toThrow(RangeError);
      expect(() => n.gatherRows(2, new Float32Array(4), new Int32Array([-1]), new Float32Array(2))).toThrow(RangeError);
      expect(() => n.scatterAddRows(2, new Float32Array(4), new Int32Array([0, 2]), new Float32Array(4))).toThrow(RangeError);
      expect(() => n.gatherRows(2, new Float32Array(4), new Int32Array([0, 1]), new Float32Array(3))).toThrow(RangeError);
    });
  });

  describe('vector ops', () => {
    const r = mulberry32(6);
    for (const len of [0, 1, 17, 1000, 200003]) {
      it(`axpy / axpby / mul / sum / sumSquares / dot / adam, n=${len}`, () => {
        const x = randF32(len, r), y0 = randF32(len, r);
        const wAxpy = Float32Array.from(y0);
        js.axpy(len, 0.7, x, wAxpy);
        const wAxpby = Float32Array.from(y0);
        js.axpby(len, -1.5, x, 0.25, wAxpby);
        const wAxpby0 = new Float32Array(len).fill(NaN);
        js.axpby(len, 3, x, 0, wAxpby0);
        const wMul = new Float32Array(len);
        js.mul(len, x, y0, wMul);
        const s = js.sum(len, x), ss = js.sumSquares(len, x), d = js.dot(len, x, y0);
        const p0 = randF32(len, r), m0 = randF32(len, r, -0.1, 0.1), v0 = randF32(len, r, 0, 0.01);
        const wp = Float32Array.from(p0), wm = Float32Array.from(m0), wv = Float32Array.from(v0);
        js.adam(len, wp, x, wm, wv, 1e-3, 0.9, 0.999, 1e-8, 7);
        const sums: number[][] = [];
        forAll((k, tag) => {
          const a = view(y0);
          k.axpy(len, 0.7, view(x), a);
          expectClose(a, wAxpy, 1e-6, `axpy ${tag}`);
          const b = view(y0);
          k.axpby(len, -1.5, x, 0.25, b);
          expectClose(b, wAxpby, 1e-6, `axpby ${tag}`);
          const b0 = new Float32Array(len).fill(NaN);
          k.axpby(len, 3, x, 0, b0);
          expectClose(b0, wAxpby0, 1e-6, `axpby beta=0 ${tag}`);
          const m = Float32Array.from(x);
          k.mul(len, m, y0, m); // out aliases a
          expectClose(m, wMul, 1e-6, `mul ${tag}`);
          const got = [k.sum(len, view(x)), k.sumSquares(len, x), k.dot(len, x, view(y0))];
          expectClose(got, [s, ss, d], 1e-9, `reductions ${tag}`);
          sums.push(got);
          const p = view(p0), mm = Float32Array.from(m0), vv = Float32Array.from(v0);
          k.adam(len, p, x, mm, vv, 1e-3, 0.9, 0.999, 1e-8, 7);
          expectClose(p, wp, 1e-6, `adam p ${tag}`);
          expectClose(mm, wm, 1e-6, `adam m ${tag}`);
          expectClose(vv, wv, 1e-6, `adam v ${tag}`);
        });
        // reductions are identical whatever the thread count (and here the ISA too)
        for (const g of sums) expect(g).toEqual(sums[0]);
      });
    }
    it('validates lengths', () => {
      expect(() => n.axpy(5, 1, new Float32Array(4), new Float32Array(5))).toThrow(RangeError);
      expect(() => n.sum(5, new Float32Array(8).subarray(4))).toThrow(RangeError);
      expect(() => n.dot(2, new Float32Array(2), new Int32Array(2) as unknown as Float32Array)).toThrow(TypeError);
    });
  });

  describe('training-step kernels', () => {
    it('spmm with a bias and a running sum (the fused propagation) equals the reference', () => {
      const r = mulberry32(12);
      for (const [rows, n] of [[0, 32], [1, 1], [50, 17], [2000, 32], [300, 70]] as const) {
        const indptr = new Int32Array(rows + 1);
        const idx: number[] = [];
        for (let a = 0; a < rows; a++) {
          for (let b = 0; b < rows; b++) if (r() < Math.min(1, 6 / Math.max(rows, 1))) idx.push(b);
          indptr[a + 1] = idx.length;
        }
        const indices = Int32Array.from(idx);
        const values = randF32(idx.length, r);
        const X = randF32(rows * n, r), Y0 = randF32(rows * n, r), B = randF32(rows * n, r), S0 = randF32(rows * n, r);
        for (const beta of [0, 1]) {
          for (const alias of [false, true]) {
            const wy = Float32Array.from(Y0), ws = Float32Array.from(S0);
            js.spmm(rows, n, indptr, indices, values, X, beta, wy, alias ? wy : B, ws);
            forAll((k, tag) => {
              const y = view(Y0), sm = Float32Array.from(S0);
              k.spmm(rows, n, indptr, indices, values, X, beta, y, alias ? y : view(B), sm);
              expectClose(y, wy, 1e-5, `spmm+bias Y ${tag} rows=${rows} n=${n} beta=${beta} alias=${alias}`);
              expectClose(sm, ws, 1e-5, `spmm+bias sum ${tag}`);
            });
          }
        }
      }
      expect(() => n.spmm(1, 2, Int32Array.of(0, 0), new Int32Array(0), new Float32Array(0), new Float32Array(2), 0, new Float32Array(2), new Float32Array(1))).toThrow(RangeError);
    });

    it('sddmm equals the reference (empty rows, odd widths, beta 0 and 1) and checks indices', () => {
      const r = mulberry32(14);
      for (const [rows, ycount, d] of [[0, 3, 4], [1, 1, 1], [9, 13, 7], [500, 400, 32], [60, 70, 33]] as const) {
        const indptr = new Int32Array(rows + 1);
        const idx: number[] = [];
        for (let a = 0; a < rows; a++) {
          const deg = Math.floor(r() * 6);
          for (let t = 0; t < deg; t++) idx.push(Math.floor(r() * ycount));
          indptr[a + 1] = idx.length;
        }
        const indices = Int32Array.from(idx);
        const X = randF32(rows * d, r), Y = randF32(ycount * d, r), o0 = randF32(idx.length, r);
        for (const beta of [0, 1]) {
          const want = Float32Array.from(o0);
          js.sddmm(rows, d, indptr, indices, X, Y, beta, want);
          forAll((k, tag) => {
            const got = view(o0);
            k.sddmm(rows, d, indptr, indices, view(X), Y, beta, got);
            expectClose(got, want, 1e-5, `sddmm ${tag} rows=${rows} d=${d} beta=${beta}`);
          });
        }
      }
      expect(() => n.sddmm(1, 2, Int32Array.of(0, 1), Int32Array.of(2), new Float32Array(2), new Float32Array(4), 0, new Float32Array(1))).toThrow(RangeError);
    });

    it('rowAxpby equals the reference (beta null and given, X aliasing Y, odd widths)', () => {
      const r = mulberry32(13);
      for (const [rows, cols] of [[0, 5], [1, 1], [7, 17], [300, 1536], [3, 100003]] as const) {
        const X = randF32(rows * cols, r), Y0 = randF32(rows * cols, r), al = randF32(rows, r), be = randF32(rows, r);
        for (const withBeta of [false, true]) {
          const w = Float32Array.from(Y0);
          js.rowAxpby(rows, cols, al, X, withBeta ? be : null, w);
          const wa = Float32Array.from(X);
          js.rowAxpby(rows, cols, al, wa, withBeta ? be : null, wa);
          forAll((k, tag) => {
            const y = view(Y0);
            k.rowAxpby(rows, cols, al, view(X), withBeta ? be : null, y);
            bitsEqual(y, w, `rowAxpby ${tag} ${rows}x${cols} beta=${withBeta}`);
            const a = Float32Array.from(X);
            k.rowAxpby(rows, cols, al, a, withBeta ? be : null, a);
            bitsEqual(a, wa, `rowAxpby aliased ${tag}`);
          });
        }
      }
      expect(() => n.rowAxpby(2, 2, new Float32Array(1), new Float32Array(4), null, new Float32Array(4))).toThrow(RangeError);
    });

    it('keepMaskXoshiro: the flags and the advanced state equal the reference, any n', () => {
      const r = mulberry32(9);
      for (const len of [0, 1, 17, 240929]) {
        const st0 = Int32Array.from({ length: 4 }, () => (r() * 4294967296) | 0);
        for (const thr of [0, 3355443, 1 << 24]) {
          const wst = Int32Array.from(st0);
          const want = new Uint8Array(len);
          js.keepMaskXoshiro(wst, len, thr, want);
          forAll((k, tag) => {
            const st = Int32Array.from(st0);
            const got = new Uint8Array(len).fill(7);
            k.keepMaskXoshiro(st, len, thr, got);
            expect(Array.from(st), `state ${tag}`).toEqual(Array.from(wst));
            expect(Buffer.compare(Buffer.from(got), Buffer.from(want)), `flags ${tag} n=${len} thr=${thr}`).toBe(0);
          });
        }
      }
      expect(() => n.keepMaskXoshiro(new Int32Array(3), 1, 0, new Uint8Array(1))).toThrow(RangeError);
      expect(() => n.keepMaskXoshiro(new Int32Array(4), 2, 0, new Uint8Array(1))).toThrow(RangeError);
    });

    it('compactDroppedEdges: S and S^T equal the reference (empty rows, all dropped, none dropped)', () => {
      const r = mulberry32(10);
      for (const [rows, density] of [[0, 0], [1, 1], [7, 0.5], [300, 0.05]] as const) {
        // a symmetric pattern, CSR, plus a random permutation standing for the storage order
        const dense: number[][] = Array.from({ length: rows }, () => []);
        for (let a = 0; a < rows; a++) for (let b = a + 1; b < rows; b++) if (r() < density) { dense[a]!.push(b); dense[b]!.push(a); }
        dense.forEach((l) => l.sort((x, y) => x - y));
        const indptr = new Int32Array(rows + 1);
        for (let a = 0; a < rows; a++) indptr[a + 1] = indptr[a]! + dense[a]!.length;
        const nnz = indptr[rows]!;
        const indices = Int32Array.from(dense.flat());
        const values = randF32(nnz, r, 0.1, 1);
        const perm = Int32Array.from({ length: nnz }, (_, i) => i);
        for (let i = nnz - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
        for (const keepP of [0, 0.8, 1]) {
          const kept = Uint8Array.from({ length: nnz }, () => (r() < keepP ? 1 : 0));
          const out = () => [new Int32Array(rows + 1), new Int32Array(nnz), new Float32Array(nnz), new Int32Array(rows + 1), new Int32Array(nnz), new Float32Array(nnz)] as const;
          const w = out();
          js.compactDroppedEdges(rows, indptr, indices, values, kept, perm, ...w);
          // the reference itself: S keeps p iff kept[perm[p]], S^T iff kept[p]
          let keptS = 0;
          for (let p = 0; p < nnz; p++) keptS += kept[perm[p]!]!;
          expect(w[0][rows]).toBe(keptS);
          expect(w[3][rows]).toBe(kept.reduce((a, b) => a + b, 0));
          forAll((k, tag) => {
            const g = out();
            k.compactDroppedEdges(rows, indptr, indices, values, kept, perm, ...g);
            for (let t = 0; t < 6; t++) {
              const used = t % 3 === 0 ? rows + 1 : (t < 3 ? w[0][rows]! : w[3][rows]!);
              expect(Array.from(g[t]!.subarray(0, used)), `${tag} rows=${rows} keep=${keepP} out ${t}`).toEqual(Array.from(w[t]!.subarray(0, used)));
            }
          });
        }
      }
      const ip = Int32Array.of(0, 1, 2), ix = Int32Array.of(1, 0), v = Float32Array.of(1, 1), kp = Uint8Array.of(1, 1);
      expect(() => n.compactDroppedEdges(2, ip, ix, v, kp, Int32Array.of(0, 2), new Int32Array(3), new Int32Array(2), new Float32Array(2), new Int32Array(3), new Int32Array(2), new Float32Array(2))).toThrow(RangeError);
      expect(() => n.compactDroppedEdges(2, Int32Array.of(0, 2, 1), ix, v, kp, Int32Array.of(0, 1), new Int32Array(3), new Int32Array(2), new Float32Array(2), new Int32Array(3), new Int32Array(2), new Float32Array(2))).toThrow(RangeError);
      expect(() => n.compactDroppedEdges(2, ip, ix, v, kp, Int32Array.of(0, 1), new Int32Array(3), new Int32Array(1), new Float32Array(2), new Int32Array(3), new Int32Array(2), new Float32Array(2))).toThrow(RangeError);
    });

    it('bprForward / bprBackward equal the reference (B = 0, d not a multiple of 16, null targets)', () => {
      const r = mulberry32(11);
      for (const [B, d] of [[0, 32], [1, 1], [5, 17], [4096, 32], [1000, 33]] as const) {
        const A = randF32(B * d, r), P = randF32(B * d, r), N = randF32(B * d, r);
        A[0] = B > 0 ? 30 : 0; // a large margin takes the softplus threshold branch
        const wc = new Float64Array(B);
        const wl = js.bprForward(B, d, A, P, N, wc);
        const g0 = () => [randF32(B * d, r, -1e-3, 1e-3), randF32(B * d, r, -1e-3, 1e-3), randF32(B * d, r, -1e-3, 1e-3)];
        const start = g0();
        const want = start.map((x) => Float32Array.from(x));
        js.bprBackward(B, d, A, P, N, wc, 0.5, want[0]!, null, want[2]!);
        forAll((k, tag) => {
          const c = new Float64Array(B);
          const l = k.bprForward(B, d, view(A), P, view(N), c);
          expect(Math.abs(l - wl) / Math.max(1, Math.abs(wl)), `loss ${tag}`).toBeLessThan(1e-12);
          expectClose(Array.from(c), Array.from(wc), 1e-12, `coef ${tag}`);
          const got = start.map((x) => Float32Array.from(x));
          k.bprBackward(B, d, A, P, N, wc, 0.5, got[0]!, null, got[2]!);
          expectClose(got[0]!, want[0]!, 1e-7, `gA ${tag}`);
          expect(Array.from(got[1]!)).toEqual(Array.from(start[1]!));
          expectClose(got[2]!, want[2]!, 1e-7, `gN ${tag}`);
        });
      }
      expect(() => n.bprForward(2, 2, new Float32Array(4), new Float32Array(4), new Float32Array(3), new Float64Array(2))).toThrow(RangeError);
      expect(() => n.bprForward(2, 2, new Float32Array(4), new Float32Array(4), new Float32Array(4), new Float32Array(2) as unknown as Float64Array)).toThrow(TypeError);
    });
  });
});

describe('softmaxRows with the fused log-sum-exp output', () => {
  it('lse equals logSumExpRows on both backends (incl. -inf rows)', async () => {
    const { jsKernels, loadNativeKernels } = await import('../src/kernels/index.js');
    const rows = 37;
    const cols = 133;
    const X = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.7) * 9);
    X.fill(-Infinity, 5 * cols, 6 * cols);
    for (const k of [jsKernels, loadNativeKernels()].filter(Boolean)) {
      const Y = new Float32Array(rows * cols);
      const lse = new Float32Array(rows);
      const ref = new Float32Array(rows);
      k!.softmaxRows(rows, cols, X, Y, lse);
      k!.logSumExpRows(rows, cols, X, ref);
      for (let r = 0; r < rows; r++) {
        if (ref[r] === -Infinity) expect(lse[r]).toBe(-Infinity);
        else expect(Math.abs(lse[r]! - ref[r]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref[r]!)));
      }
      const Y2 = new Float32Array(rows * cols);
      k!.softmaxRows(rows, cols, X, Y2);
      expect(Array.from(Y2)).toEqual(Array.from(Y));
    }
  });
});

describe('leakyRelu kernels', () => {
  it('native matches the TS reference, forward and backward (beta 0 and 1)', async () => {
    const { jsKernels, loadNativeKernels } = await import('../src/kernels/index.js');
    const nk = loadNativeKernels();
    if (!nk) return;
    const n = 100003;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3) - 0.1);
    const g = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
    for (const k of [jsKernels, nk]) {
      const y = new Float32Array(n);
      k.leakyRelu(n, 0.01, x, y);
      for (let i = 0; i < n; i += 997) expect(Math.abs(y[i]! - (x[i]! > 0 ? x[i]! : x[i]! * 0.01))).toBeLessThan(1e-8);
    }
    const a = new Float32Array(n).fill(NaN);
    const b = new Float32Array(n).fill(NaN);
    jsKernels.leakyReluBackward(n, 0.01, x, g, 0, a);
    nk.leakyReluBackward(n, 0.01, x, g, 0, b);
    for (let i = 0; i < n; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    jsKernels.leakyReluBackward(n, 0.01, x, g, 1, a);
    nk.leakyReluBackward(n, 0.01, x, g, 1, b);
    for (let i = 0; i < n; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
  });
});

describe('softmaxRowsBackward kernel', () => {
  it('native and TS kernels accumulate y * (g - <g, y>) per row, as a float64 reference does', async () => {
    const { jsKernels, loadNativeKernels } = await import('../src/kernels/index.js');
    const nk = loadNativeKernels();
    for (const [rows, cols] of [[7, 1], [33, 16], [129, 37], [300, 128]] as const) {
      const X = Float32Array.from({ length: rows * cols }, (_, i) => 3 * Math.sin(i * 0.37));
      const G = Float32Array.from({ length: rows * cols }, (_, i) => Math.cos(i * 1.1));
      const Y = new Float32Array(rows * cols);
      jsKernels.softmaxRows(rows, cols, X, Y);
      const base = Float32Array.from({ length: rows * cols }, (_, i) => 0.5 * Math.sin(i));
      const want = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += G[r * cols + c]! * Y[r * cols + c]!;
        for (let c = 0; c < cols; c++) want[r * cols + c] = base[r * cols + c]! + Y[r * cols + c]! * (G[r * cols + c]! - s);
      }
      for (const k of nk ? [jsKernels, nk] : [jsKernels]) {
        const GX = Float32Array.from(base);
        k.softmaxRowsBackward(rows, cols, Y, G, GX);
        for (let i = 0; i < GX.length; i++) expect(Math.abs(GX[i]! - want[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(want[i]!)));
      }
    }
  });
});
