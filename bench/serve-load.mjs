#!/usr/bin/env node
// HTTP load test of `irllrec serve` on 127.0.0.1 with a real load generator (not a test).
//
//   node bench/serve-load.mjs --run RUN [--duration 30] [--connections 32] [--threads 1] [--k 20] [--tool wrk|autocannon|node]
//
// Starts the service in a child process on a free port, then drives GET /recommend?user=ID&k=20
// for random users of the run:
//  - wrk (Debian: apt-get install wrk; default when /usr/bin/wrk exists): a Lua script picks a
//    random user per request; non-2xx answers and socket errors are counted;
//  - autocannon (npm, via npx): the same with a fixed rotation of 1000 users;
//  - node (default when wrk is absent and --tool is not given): `connections` keep-alive loops in
//    this process (fetch), each picking a random user per request; nothing to install.
// The users' ids come from the run's id map files (RUN/data/users.tsv, ...), not from a second copy
// of the model (which would double the memory on a million-item run). The service's RSS (from
// /proc) is printed after the load.
// Prints requests/s, latency p50/p99, and the error counts (non-2xx + socket errors), then stops
// the service. Bounded: one run of --duration seconds, loopback only.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const run = args.run ?? join(root, '.bench', 'serve', 'ab-lightgcn');
if (!existsSync(join(run, 'model.safetensors'))) {
  console.error(`no trained run at ${run}: pass --run RUN (or run bench/serve-latency.mjs first, which trains one)`);
  process.exit(2);
}
const duration = Math.min(120, Number(args.duration ?? 30));
const connections = Number(args.connections ?? 32);
const K = Number(args.k ?? 20);
const tool = args.tool ?? (existsSync('/usr/bin/wrk') ? 'wrk' : 'node');
const work = mkdtempSync(join(tmpdir(), 'irllrec-load-'));

// the service, through the serve command (the same code path as `irllrec serve`)
const harness = join(work, 'serve.mjs');
writeFileSync(harness, `import { Command } from ${JSON.stringify(join(root, 'node_modules', 'commander', 'index.js'))};
import { registerServeCommands } from ${JSON.stringify(join(root, 'dist', 'cli', 'serve-commands.js'))};
const p = new Command(); registerServeCommands(p); await p.parseAsync(process.argv);
`);
const server = spawn(process.execPath, [harness, 'serve', '--run', run, '--port', '0'], { stdio: ['ignore', 'inherit', 'pipe'] });
const url = await new Promise((res, rej) => {
  let buf = '';
  server.stderr.on('data', (d) => {
    buf += d;
    process.stderr.write(d);
    const m = buf.match(/listening on (http:\/\/[\d.]+:\d+)/);
    if (m) res(m[1]);
  });
  server.on('exit', (c) => rej(new Error(`the service exited (${c}) before listening`)));
});
// fresh connections only: the service closes idle keep-alive sockets after 5 s
const get = async (path) => (await fetch(`${url}${path}`, { headers: { connection: 'close' } })).json();
const stop = () => {
  if (server.exitCode === null) server.kill('SIGTERM');
};
process.on('exit', stop);
const users = await get('/info');
const n = users.users;
const ids = [];
{
  // the users' external ids, from the run's id map files (the data copy, else run.json's dataset)
  const { pickIdMap } = await import(join(root, 'dist', 'run', 'ids.js'));
  const copy = join(run, 'data');
  const dir = existsSync(copy) ? copy : JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')).data;
  const map = pickIdMap(dir, 'users', n);
  for (let u = 0; u < n; u++) ids.push(map.key(u));
}
console.error(`load: ${tool}, ${connections} connections, ${duration}s, GET /recommend?user=<random of ${n}>&k=${K}`);

let result;
if (tool === 'wrk') {
  const lua = join(work, 'users.lua');
  writeFileSync(lua, `local ids = {${ids.map((s) => JSON.stringify(s)).join(',')}}
math.randomseed(42)
request = function()
  return wrk.format("GET", "/recommend?user=" .. ids[math.random(#ids)] .. "&k=${K}")
end
local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %d, \\"duration_s\\": %f, \\"rps\\": %f, \\"p50_ms\\": %f, \\"p99_ms\\": %f, \\"max_ms\\": %f, \\"non2xx\\": %d, \\"connect_errors\\": %d, \\"read_errors\\": %d, \\"write_errors\\": %d, \\"timeouts\\": %d, \\"status_errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    non2xx, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.errors.status))
end
`);
  const r = spawnSync('wrk', ['-t', String(args.threads ?? 1), '-c', String(connections), '-d', `${duration}s`, '--latency', '-s', lua, url], { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  process.stderr.write(r.stdout.split('\n').filter((l) => !l.startsWith('JSON')).join('\n'));
  const line = r.stdout.split('\n').find((l) => l.startsWith('JSON '));
  if (!line) throw new Error(`wrk failed: ${r.stderr}`);
  const j = JSON.parse(line.slice(5));
  result = { tool: 'wrk', ...j, errors: j.non2xx + j.connect_errors + j.read_errors + j.write_errors + j.timeouts };
  // wrk counts non-2xx in status_errors too; report the union once
} else if (tool === 'node') {
  const lat = [];
  let non2xx = 0;
  let errors = 0;
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % ids.length);
  const t0 = performance.now();
  const end = t0 + duration * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const r = await fetch(`${url}/recommend?user=${encodeURIComponent(ids[rnd()])}&k=${K}`);
        await r.arrayBuffer();
        if (r.status !== 200) non2xx++;
      } catch {
        errors++;
      }
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(lat).sort();
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  result = { tool: 'node', requests: lat.length, duration_s: secs, rps: lat.length / secs, p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: sorted[sorted.length - 1] ?? 0, non2xx, errors: errors + non2xx };
} else {
  const r = spawnSync('npx', ['-y', 'autocannon@8.0.0', '-j', '-c', String(connections), '-d', String(duration), `${url}/recommend?user=${encodeURIComponent(ids[1])}&k=${K}`], { encoding: 'utf8', timeout: (duration + 120) * 1000 });
  const j = JSON.parse(r.stdout);
  result = { tool: 'autocannon', requests: j.requests.total, duration_s: j.duration, rps: j.requests.average, p50_ms: j.latency.p50, p99_ms: j.latency.p99, max_ms: j.latency.max, non2xx: j.non2xx, errors: j.errors + j.timeouts + j.non2xx };
}
const health = await get('/health');
let rssMb = null;
try {
  const st = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  rssMb = { rss: Number(st.match(/VmRSS:\s+(\d+)/)[1]) / 1024, peak: Number(st.match(/VmHWM:\s+(\d+)/)[1]) / 1024 };
} catch {
  // not Linux
}
stop();
await new Promise((r) => server.on('exit', r));
console.log(`\n${result.tool}: ${result.requests} requests in ${result.duration_s.toFixed(1)}s = ${result.rps.toFixed(0)} req/s; latency p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, max ${result.max_ms.toFixed(2)} ms; errors ${result.errors}; service still healthy: ${health.status}${rssMb ? `; service RSS ${rssMb.rss.toFixed(0)} MB (peak ${rssMb.peak.toFixed(0)} MB)` : ''}`);
console.log(JSON.stringify({ run, connections, duration, k: K, ...result, health: health.status, service_rss_mb: rssMb }));
