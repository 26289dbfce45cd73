#!/usr/bin/env node
// Cost per training epoch against the data's size: one child process per (dataset, model, mode),
// so each peak RSS is its own. A child loads the dataset and text as `irllrec train` does, then
// times one epoch through the trainer's step generator (no evaluation). An epoch longer than
// --max-seconds is timed over its first steps and extrapolated (marked in the output).
//
// usage: node bench/scale-curve.mjs --data w5,w6,w8 [--models lightgcn,lightgcn_int]
//          [--modes scalable,reference] [--max-seconds 1800] [--set key=value ...] [--json FILE]
// (run `npm run build:ts` first; IRLLREC_THREADS sets the threads, default 2 here)
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const sets = argv.flatMap((a, i) => (a === '--set' ? [argv[i + 1]] : []));

if (argv[0] === '--child') {
  const [, dir, model, mode, maxSeconds, ...childSets] = argv;
  const { loadDataset } = await import('../dist/data/dataset.js');
  const { loadTrainingText } = await import('../dist/data/text-rows.js');
  const { resolveConfig } = await import('../dist/config/load.js');
  const { requiredText } = await import('../dist/models/registry.js');
  const { effectiveBatchSize, trainSteps } = await import('../dist/train/trainer.js');
  const t0 = performance.now();
  const ds = loadDataset(dir);
  const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
  const { config } = resolveConfig({ model, stats, sets: [`train.mode=${mode}`, ...childSets] });
  const need = requiredText(config.model.align, config.model.name);
  const text = need.length ? loadTrainingText(ds.dir, ds.numUsers, ds.numItems, need, { keepFloat16: mode === 'scalable' }) : {};
  const loadSeconds = (performance.now() - t0) / 1000;
  const steps = Math.ceil(stats.train / effectiveBatchSize(config, stats.train));
  const gen = trainSteps({ config, dataset: ds, text, epochs: 1 });
  let first = 0;
  let done = 0;
  let extrapolated = false;
  for (;;) {
    const r = gen.next();
    const now = performance.now();
    if (r.done || 'final' in r.value) break;
    if (done === 0 && first === 0) first = now;
    else done++;
    if (done > 0 && (now - first) / 1000 > Number(maxSeconds) && done < steps) {
      extrapolated = true;
      break;
    }
  }
  const elapsed = (performance.now() - first) / 1000;
  const stepsTimed = extrapolated ? done : steps;
  console.log(JSON.stringify({
    data: basename(dir), model, mode, users: stats.users, items: stats.items, train: stats.train, steps,
    load_seconds: loadSeconds, epoch_seconds: extrapolated ? (elapsed / done) * steps : elapsed,
    extrapolated_from_steps: extrapolated ? stepsTimed : null, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
  process.exit(0);
}

const dirs = (opt('data') ?? '').split(',').filter(Boolean);
if (!dirs.length) {
  console.error('usage: node bench/scale-curve.mjs --data DIR[,DIR...] [--models lightgcn,lightgcn_int] [--modes scalable,reference] [--max-seconds 1800] [--set k=v] [--json FILE]');
  process.exit(2);
}
const models = opt('models', 'lightgcn,lightgcn_int').split(',');
const modes = opt('modes', 'scalable').split(',');
const maxSeconds = opt('max-seconds', '1800');
const rows = [];
const self = fileURLToPath(import.meta.url);
for (const mode of modes) {
  for (const model of models) {
    for (const dir of dirs) {
      const r = spawnSync(process.execPath, [self, '--child', dir, model, mode, maxSeconds, ...sets], {
        env: { IRLLREC_THREADS: '2', ...process.env, IRLLREC_NO_PROGRESS: '1' }, encoding: 'utf8', maxBuffer: 1 << 26,
      });
      const line = r.stdout.trim().split('\n').at(-1);
      if (r.status !== 0 || !line?.startsWith('{')) {
        console.error(`${dir} ${model} ${mode}: failed (exit ${r.status})\n${r.stderr.slice(-2000)}`);
        continue;
      }
      const row = JSON.parse(line);
      rows.push(row);
      const prev = rows.filter((x) => x.model === model && x.mode === mode && x !== row).at(-1);
      // growth of the epoch's cost per 10x training interactions, between neighbouring sizes
      const per10 = prev ? (row.epoch_seconds / prev.epoch_seconds) ** (1 / Math.log10(row.train / prev.train)) : null;
      row.growth_per_10x = per10;
      console.log(`| ${row.data} | ${row.train.toLocaleString('en')} | ${model} | ${mode} | ${row.epoch_seconds.toFixed(2)}${row.extrapolated_from_steps ? ` (from ${row.extrapolated_from_steps} of ${row.steps} steps)` : ''} | ${per10 ? `${per10.toFixed(1)}x` : ''} | ${row.peak_rss_mb.toLocaleString('en')} MB | ${row.load_seconds.toFixed(1)} |`);
    }
  }
}
if (opt('json')) writeFileSync(opt('json'), `${JSON.stringify(rows, null, 2)}\n`);
