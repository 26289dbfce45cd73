#!/usr/bin/env node
// Markdown table of full-protocol runs (irllrec train --out DIR --json): test Recall/NDCG@5/10/20,
// epochs, best epoch, seconds per epoch (median: robust to a busy machine) and wall time.
// usage: node bench/protocol-table.mjs RUN_DIR... [--times FILE] [--pauses FILE]
//   --times FILE   lines "MODEL ... start=UNIX end=UNIX" (the wall clock of each run)
//   --pauses FILE  lines "pause UNIX" / "resume UNIX": intervals when the runs were stopped
//                  (SIGSTOP, e.g. for side-by-side timings) are taken out of the wall time
// Without --times the wall time is the sum of the recorded epoch and evaluation seconds.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return null;
  const v = argv[i + 1];
  argv.splice(i, 2);
  return v;
};
const timesFile = opt('--times');
const pausesFile = opt('--pauses');
if (argv.length === 0) {
  console.error('usage: node bench/protocol-table.mjs RUN_DIR... [--times FILE] [--pauses FILE]');
  process.exit(2);
}

const times = new Map();
if (timesFile) {
  for (const line of readFileSync(timesFile, 'utf8').split('\n')) {
    const m = /^(\S+).*start=(\d+).*end=(\d+)/.exec(line);
    if (m) times.set(m[1], [Number(m[2]), Number(m[3])]);
  }
}
const pauses = [];
if (pausesFile) {
  let open = null;
  for (const line of readFileSync(pausesFile, 'utf8').split('\n')) {
    const [what, t] = line.split(' ');
    if (what === 'pause') open = Number(t);
    else if (what === 'resume' && open !== null) {
      pauses.push([open, Number(t)]);
      open = null;
    }
  }
}
const overlap = (a, b) => pauses.reduce((s, [p, r]) => s + Math.max(0, Math.min(b, r) - Math.max(a, p)), 0);
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const f4 = (x) => x.toFixed(4);

const rows = [];
for (const dir of argv) {
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8'));
  const name = summary.model ?? basename(dir);
  const epochSecs = history.epochs.map((e) => e.seconds);
  let wall;
  const t = times.get(name) ?? times.get(basename(dir));
  if (t) wall = t[1] - t[0] - overlap(t[0], t[1]);
  else wall = epochSecs.reduce((a, b) => a + b, 0) + history.evals.reduce((a, e) => a + e.seconds, 0);
  const te = summary.test;
  rows.push(
    `| ${name} | ${f4(te['recall@5'])} | ${f4(te['recall@10'])} | ${f4(te['recall@20'])} | ${f4(te['ndcg@5'])} | ${f4(te['ndcg@10'])} | ${f4(te['ndcg@20'])} ` +
      `| ${summary.epochs_run} | ${summary.best_epoch} | ${median(epochSecs).toFixed(2)} | ${(wall / 60).toFixed(1)} | ${summary.peak_rss_mb} |`,
  );
}
console.log('| model | R@5 | R@10 | R@20 | N@5 | N@10 | N@20 | epochs | best epoch | s/epoch (median) | wall (min) | peak RSS (MB) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
