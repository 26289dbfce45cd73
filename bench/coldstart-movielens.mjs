#!/usr/bin/env node
// Cold-start experiment on MovieLens latest-small through the offline text pipeline.
//
//  1. ingest the bundled MovieLens (ratings >= 4 are interactions, random 3:1:1 split, seed 2023);
//  2. hold out 10% of the users (seeded) ENTIRELY: a derived dataset without them (their ratings
//     leave the splits and the item corpora too), profiled offline and embedded locally;
//  3. train lightgcn_int (IRLLRec) on the derived dataset (official early-stopping protocol);
//  4. for each held-out user, split the movies they rated in half at random (seeded): the first
//     half (likes, dislikes, tags) becomes their text through the same offline profiler, the
//     liked movies of the second half are the targets; rank all movies but the first half with
//     Recommender.coldStart({text}) and compute Recall@20 / NDCG@20 (official definitions);
//  5. baselines on the same users and exclusions: popularity (training interaction counts), and
//     for reference the first half's liked movies folded in by their embeddings (no text).
//
// usage: node bench/coldstart-movielens.mjs [--work DIR] [--epochs N] [--seed S] [--model lightgcn_int]
//        (needs `npx tsc -p tsconfig.json`; about 5-15 minutes on 2 cores, mostly training)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => join(root, 'dist', p);
const { ingest } = await import(dist('ingest/index.js'));
const { runProfile } = await import(dist('text/profile.js'));
const { runEmbed } = await import(dist('text/embed.js'));
const { readCorpus } = await import(dist('ingest/corpus.js'));
const { OfflineContext } = await import(dist('text/offline.js'));
const { Recommender } = await import(dist('serve/recommender.js'));
const { Rng } = await import(dist('util/rng.js'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const work = resolve(args.work ?? join(root, '.bench', 'coldstart'));
const seed = Number(args.seed ?? 7);
const model = args.model ?? 'lightgcn_int';
const mlDir = join(root, 'data', 'movielens-latest-small');
const log = (s) => process.stderr.write(`${s}\n`);
mkdirSync(work, { recursive: true });

// ---------------------------------------------------------------- 1. ingest
const full = join(work, 'full');
if (!existsSync(join(full, 'ingest.json'))) await ingest({ format: 'movielens', dir: mlDir, out: full, force: true }, log);
const readTsv = (f) => readFileSync(f, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
const userKeys = readTsv(join(full, 'users.tsv')).map((r) => r[1]);
const itemRows = readTsv(join(full, 'items.tsv'));
const itemOfMovie = new Map(itemRows.map((r) => [r[1], Number(r[0])]));

// ---------------------------------------------------------------- 2. hold out 10% of the users
const rng = new Rng(seed);
const order = Array.from({ length: userKeys.length }, (_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rng.float() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const nHeld = Math.round(userKeys.length * 0.1);
const held = new Set(order.slice(0, nHeld));
const warmOf = new Int32Array(userKeys.length).fill(-1);
let nWarm = 0;
for (let u = 0; u < userKeys.length; u++) if (!held.has(u)) warmOf[u] = nWarm++;

const warm = join(work, `warm-seed${seed}`);
if (!existsSync(join(warm, 'text', 'profile.json'))) {
  rmSync(warm, { recursive: true, force: true });
  mkdirSync(join(warm, 'corpus'), { recursive: true });
  for (const s of ['train', 'valid', 'test']) {
    const rows = readTsv(join(full, `${s}.tsv`)).filter((r) => warmOf[Number(r[0])] >= 0);
    writeFileSync(join(warm, `${s}.tsv`), `user\titem\n${rows.map((r) => `${warmOf[Number(r[0])]}\t${r[1]}`).join('\n')}\n`);
  }
  writeFileSync(join(warm, 'users.tsv'), `id\tkey\n${userKeys.filter((_, u) => warmOf[u] >= 0).map((k, i) => `${i}\t${k}`).join('\n')}\n`);
  writeFileSync(join(warm, 'items.tsv'), readFileSync(join(full, 'items.tsv')));
  const users = readFileSync(join(full, 'corpus', 'users.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  writeFileSync(join(warm, 'corpus', 'users.jsonl'), `${users.filter((r) => warmOf[r.id] >= 0).map((r) => JSON.stringify({ ...r, id: warmOf[r.id] })).join('\n')}\n`);
  const items = readFileSync(join(full, 'corpus', 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  writeFileSync(join(warm, 'corpus', 'items.jsonl'), `${items.map((r) => JSON.stringify({
    ...r, feedback: r.feedback.filter((e) => e.user === undefined || warmOf[e.user] >= 0).map((e) => (e.user === undefined ? e : { ...e, user: warmOf[e.user] })),
  })).join('\n')}\n`);
  const man = JSON.parse(readFileSync(join(full, 'ingest.json'), 'utf8'));
  man.stats.users = nWarm;
  man.coldstart = { held_out_users: nHeld, seed, from: full };
  writeFileSync(join(warm, 'ingest.json'), `${JSON.stringify(man, null, 2)}\n`);
  await runProfile({ dir: warm, provider: 'offline', log });
  await runEmbed({ dir: warm, provider: 'local', log });
}

// ---------------------------------------------------------------- 3. train
const run = join(work, `run-${model}-seed${seed}`);
if (!existsSync(join(run, 'model.safetensors'))) {
  rmSync(run, { recursive: true, force: true });
  const extra = args.epochs ? ['--epochs', args.epochs] : [];
  const sets = ['optimizer.lr=0.005', 'train.batch_size=1024', 'train.test_step=5'];
  if (model.endsWith('_int')) sets.push('model.kd_int_weight_2=0', 'model.kd_int_weight_3=0');
  const r = spawnSync(process.execPath, [dist('cli/main.js'), 'train', '--data', warm, '--model', model, ...sets.flatMap((s) => ['--set', s]), ...extra, '--out', run], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, IRLLREC_NO_PROGRESS: '1' } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const rec = await Recommender.open(run);
log(`model ${rec.model}: ${rec.numUsers} warm users, ${rec.numItems} items; embedder ${rec.info.embedder}`);

// ---------------------------------------------------------------- 4. held-out users' text and targets
const ratings = readFileSync(join(mlDir, 'ratings.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
const tags = readFileSync(join(mlDir, 'tags.csv'), 'utf8').trim().split('\n').slice(1).map((l) => {
  const m = l.match(/^(\d+),(\d+),(.*),(\d+)$/);
  return m ? [m[1], m[2], m[3].replace(/^"|"$/g, '').replace(/""/g, '"'), m[4]] : null;
}).filter(Boolean);
const byUser = new Map();
for (const [u, mv, r, t] of ratings) {
  const i = itemOfMovie.get(mv);
  if (i === undefined) continue;
  if (!byUser.has(u)) byUser.set(u, new Map());
  byUser.get(u).set(i, { item: i, interaction: Number(r) >= 4, rating: Number(r), liked: Number(r) >= 4, time: Number(t) });
}
for (const [u, mv, tag, t] of tags) {
  const i = itemOfMovie.get(mv);
  if (i === undefined || !byUser.has(u)) continue;
  const m = byUser.get(u);
  const e = m.get(i) ?? { item: i, interaction: false, rating: null, liked: null, time: Number(t) };
  e.tags = [...(e.tags ?? []), tag];
  m.set(i, e);
}
const corpus = readCorpus(warm);
const ctx = new OfflineContext(corpus);
const cases = [];
const split = new Rng(seed + 1);
for (const u of [...held].sort((a, b) => a - b)) {
  const entries = [...(byUser.get(userKeys[u])?.values() ?? [])].sort((a, b) => a.item - b.item);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(split.float() * (i + 1));
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  const half = Math.ceil(entries.length / 2);
  const known = entries.slice(0, half);
  const targets = entries.slice(half).filter((e) => e.liked).map((e) => e.item);
  if (!targets.length || !known.some((e) => e.liked)) continue;
  const id = corpus.users.length;
  corpus.users.push({ id, key: `cold-${userKeys[u]}`, attributes: {}, feedback: known });
  const profile = ctx.answer('user_profile', id);
  const intent = ctx.answer('user_intent', id);
  cases.push({ user: userKeys[u], profile: String(profile.summarization), intent: String(intent.intent), known: known.map((e) => e.item), liked: known.filter((e) => e.liked).map((e) => e.item), targets });
}
log(`${held.size} held-out users, ${cases.length} with liked movies in both halves`);

// ---------------------------------------------------------------- 5. rank and score
const K = 20;
const idcg = Array.from({ length: K + 1 }, (_, n) => { let s = 0; for (let j = 0; j < n; j++) s += 1 / Math.log2(j + 2); return s; });
function metrics(ranked, targets) {
  const t = new Set(targets);
  let hits = 0;
  let dcg = 0;
  ranked.slice(0, K).forEach((i, j) => { if (t.has(i)) { hits++; dcg += 1 / Math.log2(j + 2); } });
  return { recall: hits / t.size, ndcg: dcg / idcg[Math.min(K, t.size)] };
}
const pop = rec.popularity();
const popOrder = Array.from({ length: rec.numItems }, (_, i) => i).sort((a, b) => pop[b] - pop[a] || a - b);
const key = (i) => rec.items.key(i);
const idx = (id) => rec.itemIndex(id);
const methods = {
  popularity: async (c) => { const ex = new Set(c.known); return popOrder.filter((i) => !ex.has(i)).slice(0, K); },
  'coldStart text (tower)': async (c) => (await rec.coldStart({ text: { profile: c.profile, intent: c.intent } }, { k: K, exclude: c.known.map(key), strategy: 'tower' })).items.map((x) => idx(x.item)),
  'coldStart text (neighbors)': async (c) => (await rec.coldStart({ text: { profile: c.profile, intent: c.intent } }, { k: K, exclude: c.known.map(key), strategy: 'neighbors' })).items.map((x) => idx(x.item)),
  'coldStart items (reference, no text)': async (c) => (await rec.coldStart({ items: c.liked.map(key) }, { k: K, exclude: c.known.map(key) })).items.map((x) => idx(x.item)),
  'coldStart text + items': async (c) => (await rec.coldStart({ text: { profile: c.profile, intent: c.intent }, items: c.liked.map(key) }, { k: K, exclude: c.known.map(key), strategy: 'neighbors' })).items.map((x) => idx(x.item)),
};
const t0 = performance.now();
await rec.coldStart({ text: 'warm up the embedder' }, { k: 1 });
const fitSeconds = (performance.now() - t0) / 1000;
const results = {};
for (const [name, fn] of Object.entries(methods)) {
  let r = 0;
  let n = 0;
  const lat = [];
  for (const c of cases) {
    const s = performance.now();
    const ranked = await fn(c);
    lat.push(performance.now() - s);
    const m = metrics(ranked, c.targets);
    r += m.recall;
    n += m.ndcg;
  }
  lat.sort((a, b) => a - b);
  results[name] = { 'recall@20': r / cases.length, 'ndcg@20': n / cases.length, p50_ms: lat[Math.floor(lat.length / 2)] };
}
const summary = {
  dataset: 'movielens-latest-small (ratings >= 4), offline profiles, local TF-IDF+SVD embeddings',
  model: rec.model, run, seed, held_out_users: held.size, evaluated_users: cases.length,
  embedder: rec.info.embedder, fold_in_fit_seconds: Math.round(fitSeconds * 10) / 10,
  test_metrics_warm: JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).test,
  results,
};
writeFileSync(join(work, `results-${model}-seed${seed}.json`), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`\ncold start, ${cases.length} held-out users (seed ${seed}), ${rec.model}, ${rec.info.embedder}`);
console.log(`${'method'.padEnd(40)} Recall@20  NDCG@20   p50 ms`);
for (const [name, m] of Object.entries(results)) console.log(`${name.padEnd(40)} ${m['recall@20'].toFixed(4)}    ${m['ndcg@20'].toFixed(4)}    ${m.p50_ms.toFixed(2)}`);
console.log(JSON.stringify(summary));
