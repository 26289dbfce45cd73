// Kernel micro-benchmarks: GFLOP/s of the native and TypeScript backends, one JSON line per
// measurement. Needs the compiled package (npx tsc -p tsconfig.json) and, for the native
// numbers, the addon (npm run build). Usage:
//   IRLLREC_THREADS=2 node bench/kernels.mjs            # all
//   node bench/kernels.mjs gemm spmm                    # only benchmarks whose name matches
// Env: BENCH_REPS (timed repetitions of each native measurement, default 9).
import { performance } from 'node:perf_hooks';
import { jsKernels, loadNativeKernels, nativeLoadError } from '../dist/kernels/index.js';
import { mulberry32, randF32 } from '../test/helpers/seeded-random.mjs';

const REPS = Number(process.env.BENCH_REPS ?? 9);
const filters = process.argv.slice(2);
const native = loadNativeKernels();
if (!native) console.error(`native kernels unavailable: ${nativeLoadError()} (only js numbers)`);

const r = mulberry32(42);

/**
 * Times fn: one warm-up, then `reps` runs; returns sorted wall seconds, plus (as .cpu) the
 * process CPU seconds (all threads) of the whole timed loop.
 */
function time(fn, reps) {
  fn();
  const ts = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1e3);
  }
  const c = process.cpuUsage(c0);
  ts.sort((a, b) => a - b);
  ts.cpu = (c.user + c.system) / 1e6;
  return ts;
}

function report(name, shape, k, flops, ts, extra = {}) {
  const best = ts[0], med = ts[Math.floor((ts.length - 1) / 2)];
  // GFLOP per CPU-second (all threads): the per-core rate, insensitive to other processes
  // taking the cores away (not to them sharing caches and memory bandwidth).
  const perCore = +((flops * ts.length) / ts.cpu / 1e9).toFixed(2);
  console.log(JSON.stringify({
    bench: name,
    shape,
    backend: k.name,
    info: k.info,
    reps: ts.length,
    gflops_best: +(flops / best / 1e9).toFixed(2),
    gflops_median: +(flops / med / 1e9).toFixed(2),
    ms_best: +(best * 1e3).toFixed(3),
    ms_median: +(med * 1e3).toFixed(3),
    gflops_per_cpu_second: perCore,
    ...extra,
  }));
}

const want = (name) => filters.length === 0 || filters.some((f) => name.includes(f));

// ------------------------------------------------------------------------------------ GEMM

function gemmBench(name, tA, tB, M, N, K, jsShape) {
  if (!want(name)) return;
  const A = randF32(M * K, r), B = randF32(K * N, r), C = new Float32Array(M * N);
  const lda = tA ? M : K, ldb = tB ? K : N;
  const shape = `${tA ? `(${K}x${M})^T` : `${M}x${K}`} @ ${tB ? `(${N}x${K})^T` : `${K}x${N}`}`;
  if (native) {
    const ts = time(() => native.gemm(tA, tB, M, N, K, 1, A, lda, B, ldb, 0, C, N), REPS);
    report(name, shape, native, 2 * M * N * K, ts);
  }
  // js on a smaller problem with the same transposes (one timed run)
  const [m, n, k] = jsShape;
  const a = randF32(m * k, r), b = randF32(k * n, r), c = new Float32Array(m * n);
  const ts = time(() => jsKernels.gemm(tA, tB, m, n, k, 1, a, tA ? m : k, b, tB ? k : n, 0, c, n), 1);
  report(name, `${m}x${n}x${k} (js: smaller shape, M x N x K)`, jsKernels, 2 * m * n * k, ts);
}

gemmBench('gemm X@W', false, false, 11000, 784, 1536, [256, 256, 256]);
gemmBench('gemm X^T@G', true, false, 1536, 784, 11000, [256, 256, 256]);
gemmBench('gemm A@B^T', false, true, 11000, 1536, 784, [256, 256, 256]);
gemmBench('gemm thin 20332x32@32x128', false, false, 20332, 128, 32, [2048, 128, 32]);
gemmBench('gemm scores 4096x32@(20332x32)^T', false, true, 4096, 20332, 32, [256, 2048, 32]);
gemmBench('gemm 1024x32@(9332x32)^T', false, true, 1024, 9332, 32, [256, 2048, 32]);

// ------------------------------------------------------------------------------------ SpMM

/** Symmetric normalised adjacency of a random bipartite graph (users + items rows). */
function bipartite(users, items, edges) {
  const seen = new Set();
  const eu = [], ei = [];
  while (eu.length < edges) {
    const u = Math.floor(r() * users), i = Math.floor(r() * items);
    const key = u * items + i;
    if (seen.has(key)) continue;
    seen.add(key);
    eu.push(u);
    ei.push(i);
  }
  const rows = users + items;
  const deg = new Int32Array(rows);
  for (let e = 0; e < edges; e++) {
    deg[eu[e]]++;
    deg[users + ei[e]]++;
  }
  const indptr = new Int32Array(rows + 1);
  for (let v = 0; v < rows; v++) indptr[v + 1] = indptr[v] + deg[v];
  const fill = indptr.slice(0, rows);
  const indices = new Int32Array(2 * edges), values = new Float32Array(2 * edges);
  for (let e = 0; e < edges; e++) {
    const u = eu[e], i = users + ei[e];
    const w = 1 / Math.sqrt(deg[u] * deg[i]);
    indices[fill[u]] = i; values[fill[u]++] = w;
    indices[fill[i]] = u; values[fill[i]++] = w;
  }
  // sort each row's columns (CSR convention)
  for (let v = 0; v < rows; v++) {
    const s = indptr[v], e = indptr[v + 1];
    const pairs = [];
    for (let q = s; q < e; q++) pairs.push([indices[q], values[q]]);
    pairs.sort((a, b) => a[0] - b[0]);
    for (let q = s; q < e; q++) [indices[q], values[q]] = pairs[q - s];
  }
  return { rows, indptr, indices, values };
}

if (want('spmm')) {
  const G = bipartite(11000, 9332, 120000);
  const nnz = G.indptr[G.rows];
  const d = 32;
  const X = randF32(G.rows * d, r), Y = new Float32Array(G.rows * d);
  const shape = `CSR ${G.rows}x${G.rows} nnz=${nnz} @ ${G.rows}x${d}`;
  const flops = 2 * nnz * d;
  for (const k of native ? [native, jsKernels] : [jsKernels]) {
    const reps = k === native ? Math.max(REPS, 30) : 1;
    report('spmm', shape, k, flops, time(() => k.spmm(G.rows, d, G.indptr, G.indices, G.values, X, 0, Y), reps));
    report('spmmT', shape, k, flops, time(() => k.spmmT(G.rows, G.rows, d, G.indptr, G.indices, G.values, X, 0, Y), reps));
  }
}

// --------------------------------------------------------------------- a few row-wise kernels

if (want('rows')) {
  const rows = 4096, cols = 20332;
  const X = randF32(rows * cols, r), Y = new Float32Array(rows * cols);
  const k = 20, oi = new Int32Array(rows * k), ov = new Float32Array(rows * k);
  for (const kk of native ? [native, jsKernels] : [jsKernels]) {
    const nr = kk === native ? rows : 256; // js: fewer rows
    const reps = kk === native ? REPS : 1;
    // "GFLOP/s" here counts one op per element
    report('softmaxRows', `${nr}x${cols}`, kk, nr * cols, time(() => kk.softmaxRows(nr, cols, X, Y), reps), { unit: 'Gelem/s' });
    report('topkRows k=20', `${nr}x${cols}`, kk, nr * cols, time(() => kk.topkRows(nr, cols, X, k, oi, ov), reps), { unit: 'Gelem/s' });
  }
}
