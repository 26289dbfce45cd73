#!/usr/bin/env node
// Side-by-side timing of irllrec against the official PyTorch code (the peer harness in
// ../shared/peer), alternating runs in one script so both see the same machine state.
// usage: IRLLREC_OFFICIAL=/path/to/extracted/IRLLRec node bench/peer-compare.mjs \
//          [--model lightgcn] [--data ../shared/datasets/irllrec-amazon-book] [--epochs 3] [--rounds 2] [--threads 2]
//          [--text-dir DIR]      text vectors (usr_prf.npy, itm_prf.npy, usr_int.npy, itm_int.npy; make them with
//                                bench/make-text-vectors.mjs) given to both sides
//          [--max-batches N]     time only N batches of each official epoch (the slowest models); its
//                                estimated full-epoch seconds are compared with our full epochs
//          [--no-test]           skip the official test evaluation
// Prints one JSON line per run and a summary line with the ratios (peer / ours).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const model = args.model ?? 'lightgcn';
const data = resolve(args.data ?? join(root, '..', 'shared', 'datasets', 'irllrec-amazon-book'));
const epochs = Number(args.epochs ?? 3);
const rounds = Number(args.rounds ?? 2);
const threads = String(args.threads ?? 2);
const harness = resolve(args.harness ?? join(root, '..', 'shared', 'peer'));
const official = process.env.IRLLREC_OFFICIAL;
if (!official) {
  console.error('set IRLLREC_OFFICIAL to an extracted wangyu0627/IRLLRec checkout (see ../shared/peer/README.md)');
  process.exit(2);
}
const extra = (args.extra ?? '').split(' ').filter(Boolean);
const ourExtra = (args['our-extra'] ?? '').split(' ').filter(Boolean);
if (args['text-dir']) {
  const t = resolve(args['text-dir']);
  extra.push('--usrprf', join(t, 'usr_prf.npy'), '--itmprf', join(t, 'itm_prf.npy'), '--usrint', join(t, 'usr_int.npy'), '--itmint', join(t, 'itm_int.npy'));
  ourExtra.push('--text-dir', t);
}
if (args['max-batches']) extra.push('--max-batches', String(args['max-batches']));
if ('no-test' in args) extra.push('--no-test');

function peer() {
  const out = join(mkdtempSync(join(tmpdir(), 'peer-')), 'out.jsonl');
  const env = { ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads };
  const r = spawnSync('/usr/bin/python3', [join(harness, 'run_official.py'), '--official', official, '--model', model, '--data', data,
    '--epochs', String(epochs), '--threads', threads, '--out', out, ...extra], { cwd: harness, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`peer failed: ${r.stderr.split('\n').slice(-5).join('\n')}`);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const fin = lines.find((l) => l.type === 'final');
  const perEpoch = fin.estimated_epoch_seconds_mean ?? fin.train_seconds_per_epoch_mean;
  return { side: 'official', train_s_per_epoch: perEpoch, partial_epochs: Boolean(fin.estimated_epoch_seconds_mean), test_eval_s: fin.test_eval_seconds ?? null, peak_rss_mb: fin.peak_rss_mb, recall20: fin.test?.['recall@20'] ?? null };
}

function ours() {
  const env = { ...process.env, IRLLREC_THREADS: threads, IRLLREC_NO_PROGRESS: '1' };
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'train', '--data', data, '--model', model,
    '--epochs', String(epochs), '--json', ...ourExtra], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`irllrec failed: ${r.stderr}`);
  const s = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { side: 'irllrec', kernels: s.kernels, train_s_per_epoch: s.train_seconds_per_epoch, test_eval_s: s.eval_seconds, peak_rss_mb: s.peak_rss_mb, recall20: s.test['recall@20'] };
}

const res = { official: [], irllrec: [] };
for (let i = 0; i < rounds; i++) {
  for (const f of i % 2 === 0 ? [peer, ours] : [ours, peer]) {
    const r = f();
    res[r.side].push(r);
    console.log(JSON.stringify({ round: i, model, epochs, threads: Number(threads), ...r }));
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[(s.length - 1) >> 1]; };
const m = (side, k) => med(res[side].map((r) => r[k]));
console.log(JSON.stringify({
  summary: model, epochs, rounds, threads: Number(threads),
  official: { train_s_per_epoch: m('official', 'train_s_per_epoch'), test_eval_s: m('official', 'test_eval_s'), peak_rss_mb: m('official', 'peak_rss_mb') },
  irllrec: { train_s_per_epoch: m('irllrec', 'train_s_per_epoch'), test_eval_s: m('irllrec', 'test_eval_s'), peak_rss_mb: m('irllrec', 'peak_rss_mb') },
  speedup_train: m('official', 'train_s_per_epoch') / m('irllrec', 'train_s_per_epoch'),
  speedup_eval: m('official', 'test_eval_s') ? m('official', 'test_eval_s') / m('irllrec', 'test_eval_s') : null,
  rss_ratio: m('irllrec', 'peak_rss_mb') / m('official', 'peak_rss_mb'),
}));
