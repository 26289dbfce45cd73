#!/usr/bin/env node
// In-process Recommender latency and throughput (not a test).
//
//   node bench/serve-latency.mjs [--run RUN] [--calls 20000] [--k 20] [--warmup 3000] [--batch-users N] [--passes 3] [--explain-calls 500]
//
// On a large catalogue (a million items: ~20-50 ms per single-user call) bound the work:
// --calls 200 --warmup 20 --batch-users 10000 --passes 1 --explain-calls 50 (the batched pass then
// covers the first N users instead of all; the process's peak RSS is printed at the end).
//
// Without --run it trains LightGCN for 20 epochs on ../shared/datasets/irllrec-amazon-book into
// .bench/serve/ab-lightgcn first. Measures:
//  - open: Recommender.open(run) (dataset, model rebuild, one forward);
//  - single user: rec.recommend(id, {k}) for random users (external ids in, ids/titles/scores out),
//    after a warm-up; p50 / p90 / p99 / p99.9 / max in ms;
//  - batched: rec.recommend(ids, {k}) over every user in batches of 256 (users per second), and
//    the typed-array path recommendIndices;
//  - explain and similarItems, p50 / p99.
// The machine's load average is printed with the figures (other processes inflate the tail).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { Recommender } = await import(join(root, 'dist', 'serve', 'recommender.js'));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const K = Number(args.k ?? 20);
const CALLS = Number(args.calls ?? 20000);
const WARMUP = Number(args.warmup ?? 3000);
const PASSES = Number(args.passes ?? 3);
const EXPLAIN_CALLS = Number(args['explain-calls'] ?? 500);

let run = args.run;
if (!run) {
  run = join(root, '.bench', 'serve', 'ab-lightgcn');
  if (!existsSync(join(run, 'model.safetensors'))) {
    const data = join(root, '..', 'shared', 'datasets', 'irllrec-amazon-book');
    const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'train', '--data', data, '--model', 'lightgcn', '--epochs', '20', '--out', run], { stdio: 'inherit', env: { ...process.env, IRLLREC_NO_PROGRESS: '1' } });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
const stats = (lat) => {
  const s = Float64Array.from(lat).sort();
  return { p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), p999: pct(s, 0.999), max: s[s.length - 1], mean: s.reduce((x, y) => x + y, 0) / s.length };
};
const fmt = (o) => Object.entries(o).map(([k, v]) => `${k} ${v.toFixed(3)}`).join('  ');

let t = performance.now();
const rec = await Recommender.open(run);
const openMs = performance.now() - t;
const info = rec.info;
console.log(`${info.model} on ${info.dataset}: ${info.users} users x ${info.items} items, dim ${info.dim}, kernels ${info.kernels}; open ${openMs.toFixed(0)} ms`);

// a fixed pseudo-random user order
let x = 12345;
const next = () => ((x = (x * 1103515245 + 12345) >>> 0) % rec.numUsers);
const ids = Array.from({ length: CALLS }, () => rec.users.key(next()));
for (let i = 0; i < WARMUP; i++) rec.recommend(ids[i % ids.length], { k: K });

const load0 = loadavg()[0];
const lat = new Float64Array(CALLS);
for (let i = 0; i < CALLS; i++) {
  const s = performance.now();
  rec.recommend(ids[i], { k: K });
  lat[i] = performance.now() - s;
}
const single = stats(lat);
console.log(`single user top-${K} (${CALLS} calls, ms): ${fmt(single)}  [load avg ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}]`);

const batchUsers = Math.min(rec.numUsers, Number(args['batch-users'] ?? rec.numUsers));
const all = Array.from({ length: batchUsers }, (_, u) => rec.users.key(u));
const passes = PASSES;
t = performance.now();
for (let p = 0; p < passes; p++) for (let s = 0; s < all.length; s += 256) rec.recommend(all.slice(s, s + 256), { k: K });
const batchedUps = (passes * all.length) / ((performance.now() - t) / 1000);
const idx = Int32Array.from({ length: batchUsers }, (_, u) => u);
t = performance.now();
for (let p = 0; p < passes; p++) for (let s = 0; s < idx.length; s += 256) rec.recommendIndices(idx.subarray(s, s + 256), { k: K });
const typedUps = (passes * idx.length) / ((performance.now() - t) / 1000);
console.log(`batched top-${K} over ${batchUsers} users x ${passes} passes, 256 users per call: ${batchedUps.toFixed(0)} users/s (ids and objects), ${typedUps.toFixed(0)} users/s (recommendIndices, typed arrays)`);

const exLat = [];
const simLat = [];
for (let i = 0; i < EXPLAIN_CALLS; i++) {
  const u = ids[i % ids.length];
  const item = rec.items.key(next() % rec.numItems);
  let s = performance.now();
  rec.explain(u, item);
  exLat.push(performance.now() - s);
  s = performance.now();
  rec.similarItems(item, { k: K });
  simLat.push(performance.now() - s);
}
const ex = stats(exLat);
const sim = stats(simLat);
console.log(`explain (ms): p50 ${ex.p50.toFixed(3)} p99 ${ex.p99.toFixed(3)};  similarItems top-${K} (ms): p50 ${sim.p50.toFixed(3)} p99 ${sim.p99.toFixed(3)}`);
const peakRssMb = process.resourceUsage().maxRSS / 1024;
console.log(`peak RSS ${peakRssMb.toFixed(0)} MB`);
console.log(JSON.stringify({ run, model: info.model, dataset: info.dataset, users: info.users, items: info.items, dim: info.dim, kernels: info.kernels, open_ms: openMs, single_ms: single, batched_users: batchUsers, batched_users_per_s: batchedUps, typed_users_per_s: typedUps, explain_ms: ex, similar_ms: sim, peak_rss_mb: peakRssMb, loadavg: loadavg() }));
