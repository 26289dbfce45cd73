/**
 * `irllrec demo`: the offline default, end to end on the bundled MovieLens latest-small data.
 *
 *   1. ingest: ratings >= 4 are interactions, split per interaction at random 3:1:1 (seed 2023);
 *      lower ratings and tags (training pairs only) feed the text corpora
 *   2. profile --provider offline: deterministic profiles and intents, no LLM
 *   3. embed --provider local: TF-IDF + truncated SVD, no downloaded weights
 *   4. train LightGCN, RLMRec-Con (lightgcn_plus) and IRLLRec (lightgcn_int)
 *   5. the baselines (most-popular, item-kNN, EASE) on the same splits and protocol
 *   6. a Recall/NDCG@5/10/20 table of all of them, and top recommendations for one user with the intents behind them
 *
 * The intermediate dataset goes to a temporary directory (removed afterwards), or with --out DIR
 * everything is kept: the dataset in DIR/dataset (reused by the next run: the offline answers come
 * from its store) and one run directory per model in DIR/runs/<model>, ready for recommend, serve,
 * evaluate and report (the demo prints the commands).
 */
import type { Command } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../config/load.js';
import { chooseDefaults } from '../config/defaults.js';
import type { Config } from '../config/schema.js';
import { csrNnz } from '../data/csr.js';
import { assemble, loadDataset, type Dataset } from '../data/dataset.js';
import { readMovieLensRatings } from '../data/formats/movielens.js';
import { compactIds, randomSplit } from '../data/split.js';
import { loadTextVectors } from '../data/text-vectors.js';
import { ingest } from '../ingest/index.js';
import { isIngested } from '../ingest/corpus.js';
import { getKernels } from '../kernels/index.js';
import { requiredText } from '../models/registry.js';
import { BASELINE_LABELS, BASELINES, fitAndEvaluateBaselines } from '../baselines/index.js';
import { runEmbed } from '../text/embed.js';
import { readProfiles, runProfile, type ProfileRecord } from '../text/profile.js';
import { train, type TrainResult } from '../train/trainer.js';
import { packageRoot } from '../util/package.js';
import { Rng } from '../util/rng.js';
import { runCommand, UsageError } from './errors.js';
import { datasetStats, parseIntOption, summary } from './train.js';
import { finishRun, startRun } from '../run/write.js';

export const bundledMovieLens = join(packageRoot, 'data', 'movielens-latest-small');

/** The demo's interactions without the text pipeline (ratings >= minRating, random 3:1:1). */
export function movieLensDataset(dir = bundledMovieLens, seed = 2023, minRating = 4): Dataset {
  const file = join(dir, 'ratings.csv');
  const r = readMovieLensRatings(file);
  const keep: number[] = [];
  for (let i = 0; i < r.rating.length; i++) if (r.rating[i]! >= minRating) keep.push(i);
  const users = compactIds(keep.map((i) => r.userId[i]!));
  const items = compactIds(keep.map((i) => r.movieId[i]!));
  const [tr, va, te] = randomSplit({ user: users.index, item: items.index }, [3, 1, 1], new Rng(seed));
  const ds = assemble(dir, 'memory', users.external.length, items.external.length, [tr, va, te], [file, file, file]);
  ds.name = 'movielens-latest-small';
  return ds;
}

export interface DemoOptions {
  epochs?: string;
  json?: boolean;
  /** keep the intermediate dataset directory here */
  out?: string;
  /** MovieLens external userId for the example (default: the first user with >= 3 test items) */
  user?: string;
  /** a MovieLens directory instead of the bundled one */
  data?: string;
}

/** The demo models: [label, official name]. */
export const DEMO_MODELS: [string, string][] = [
  ['LightGCN', 'lightgcn'],
  ['RLMRec-Con', 'lightgcn_plus'],
  ['IRLLRec', 'lightgcn_int'],
];

const METRICS = ['recall@5', 'recall@10', 'recall@20', 'ndcg@5', 'ndcg@10', 'ndcg@20'];

function secs(t0: number): number {
  return Math.round((performance.now() - t0) / 100) / 10;
}

interface Recommendation {
  rank: number;
  item: number;
  key: string;
  title: string;
  in_test: boolean;
  intent: string;
}

/** Top-k unseen items for user u by dot product of the scoring embeddings. */
export function topK(result: TrainResult, ds: Dataset, u: number, k: number): { item: number; score: number }[] {
  const emb = result.model.scoringEmbeddings(new Rng(0));
  const d = emb.dim;
  const seen = new Set<number>();
  for (let j = ds.train.indptr[u]!; j < ds.train.indptr[u + 1]!; j++) seen.add(ds.train.indices[j]!);
  const scores: { item: number; score: number }[] = [];
  for (let i = 0; i < ds.numItems; i++) {
    if (seen.has(i)) continue;
    let s = 0;
    for (let c = 0; c < d; c++) s += emb.user[u * d + c]! * emb.item[i * d + c]!;
    scores.push({ item: i, score: s });
  }
  return scores.sort((a, b) => b.score - a.score || a.item - b.item).slice(0, k);
}

export async function demoCommand(o: DemoOptions): Promise<void> {
  const epochs = parseIntOption('--epochs', o.epochs, 1);
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const t0 = performance.now();
  const source = o.data ? resolve(o.data) : bundledMovieLens;
  const tmp = o.out ? null : mkdtempSync(join(tmpdir(), 'irllrec-demo-'));
  // --out DIR keeps everything: the dataset in DIR/dataset, one run directory per model in DIR/runs
  const dir = o.out ? join(resolve(o.out), 'dataset') : join(tmp!, 'movielens-latest-small');
  const runsDir = o.out ? join(resolve(o.out), 'runs') : null;
  const timings: Record<string, number> = {};
  try {
    say(`demo: MovieLens ${o.data ? `from ${source}` : 'latest-small (bundled; GroupLens terms: see data/movielens-latest-small/NOTICE.md)'}, offline, kernels ${getKernels().info}`);

    let t = performance.now();
    say('[1/5] ingest: ratings >= 4 as interactions, random 3:1:1 split (seed 2023), training-only text corpora');
    const ing = await ingest({ format: 'movielens', dir: source, out: dir, force: isIngested(dir) }, (s) => say(`  ${s}`));
    timings.ingest = secs(t);
    const ds = loadDataset(dir);
    ds.name = 'movielens-latest-small';
    // the example user: --user (a MovieLens userId), else the first user with >= 3 test items
    let u = -1;
    if (o.user !== undefined) {
      u = ing.result.users.indexOf(o.user);
      if (u < 0) throw new UsageError(`--user ${o.user}: no such MovieLens userId among the ${ing.result.users.length} users with interactions`);
    } else {
      for (let v = 0; v < ds.numUsers && u < 0; v++) if (ds.test.indptr[v + 1]! - ds.test.indptr[v]! >= 3) u = v;
      if (u < 0) u = 0;
    }

    t = performance.now();
    say('[2/5] profile --provider offline: deterministic profiles and intents (no LLM)');
    await runProfile({ dir, provider: 'offline', log: (s) => say(`  ${s}`) });
    timings.profile = secs(t);

    t = performance.now();
    say('[3/5] embed --provider local: TF-IDF + truncated SVD (no downloaded weights)');
    await runEmbed({ dir, provider: 'local', log: (s) => say(`  ${s}`) });
    timings.embed = secs(t);

    say(`[4/5] train ${DEMO_MODELS.map(([l]) => l).join(', ')} on ${ds.numUsers} users x ${ds.numItems} items (train ${csrNnz(ds.train)} / valid ${csrNnz(ds.valid)} / test ${csrNnz(ds.test)}); ` +
      (epochs !== undefined ? `exactly ${epochs} epochs each` : 'early stopping (validate every 3 epochs, patience 5)') +
      '; the defaults any dataset of this size gets (as irllrec train):');
    for (const line of chooseDefaults(datasetStats(ds)).reasons) say(`  defaults: ${line}`);
    const results: { label: string; model: string; config: Config; result: TrainResult; seconds: number }[] = [];
    for (const [label, model] of DEMO_MODELS) {
      t = performance.now();
      const { config } = resolveConfig({ model, stats: datasetStats(ds) });
      const need = requiredText(config.model.align, config.model.name);
      const text = need.length ? loadTextVectors(dir, ds.numUsers, ds.numItems, need) : {};
      const log = (s: string) => {
        if (s.startsWith('best') || s.startsWith('test')) say(`  ${label}: ${s}`);
      };
      const runDir = runsDir ? join(runsDir, model) : undefined;
      const ctx = { dataset: ds, text, meta: { data: dir, textDir: null, epochs: epochs ?? null }, log: () => {} };
      if (runDir) {
        rmSync(runDir, { recursive: true, force: true }); // the demo's own output, replaced on each run
        startRun(runDir, config, ctx);
      }
      const result = train({ config, dataset: ds, text, epochs, log, runDir });
      if (runDir) finishRun(runDir, result, summary(config, ds, result, epochs !== undefined), ctx);
      const seconds = secs(t);
      say(`  ${label} (${model}): ${result.epochsRun} epochs, best ${result.bestEpoch}, ${seconds}s`);
      results.push({ label, model, config, result, seconds });
      timings[model] = seconds;
    }

    // --- the baselines, same protocol: a graph model that loses to them is news the user needs
    t = performance.now();
    say(`[5/5] baselines (same splits and protocol): ${BASELINES.map((b) => BASELINE_LABELS[b]).join(', ')}`);
    const baselines = fitAndEvaluateBaselines(ds, BASELINES, results[0]!.config.test.k, {
      log: (s) => { if (!s.startsWith(' ')) say(`  ${s}`); },
    });
    timings.baselines = secs(t);

    // --- the table
    const head = `| model | ${METRICS.map((m) => m.replace('recall', 'Recall').replace('ndcg', 'NDCG')).join(' | ')} | epochs | seconds |`;
    const rows = [
      ...results.map((r) => `| ${r.label} (${r.model}) | ${METRICS.map((m) => (r.result.test[m] ?? NaN).toFixed(4)).join(' | ')} | ${r.result.epochsRun} | ${r.seconds} |`),
      ...baselines.map((b) => `| ${BASELINE_LABELS[b.model]} (baseline ${b.model}) | ${METRICS.map((m) => (b.test[m] ?? NaN).toFixed(4)).join(' | ')} | - | ${b.fit_seconds} |`),
    ];
    const table = [head, `|${'---|'.repeat(METRICS.length + 3)}`, ...rows].join('\n');

    // --- one user's recommendations with the intents behind them
    const { users, items } = readProfiles(dir);
    const best = results.at(-1)!;
    const testItems = new Set<number>();
    for (let j = ds.test.indptr[u]!; j < ds.test.indptr[u + 1]!; j++) testItems.add(ds.test.indices[j]!);
    const recs: Recommendation[] = topK(best.result, ds, u, 5).map((s, k) => {
      const it: ProfileRecord = items[s.item]!;
      return { rank: k + 1, item: s.item, key: it.key, title: it.title ?? it.key, in_test: testItems.has(s.item), intent: String(it.intent.intent) };
    });
    const user = users[u]!;
    const lines = [
      `Recommendations by ${best.label} for MovieLens user ${user.key} (${ds.train.indptr[u + 1]! - ds.train.indptr[u]!} training items, ${testItems.size} test items; * = in the user's test split):`,
      `  user intent (offline): ${user.intent.intent}`,
      ...recs.map((r) => `  ${r.rank}. ${r.in_test ? '*' : ' '} ${r.title}\n       item intent: ${r.intent}`),
    ];
    const wall = secs(t0);
    const footer = `Total ${wall}s (ingest ${timings.ingest}s, profile ${timings.profile}s, embed ${timings.embed}s, training ${results.map((r) => `${r.label} ${r.seconds}s`).join(', ')}, baselines ${timings.baselines}s); kernels ${getKernels().info}.`;
    const serveHint = runsDir
      ? ['The runs are kept; serve, explain or compare them:',
        `  irllrec recommend --run ${join(runsDir, 'lightgcn_int')} --user ${user.key} -k 10 --explain`,
        `  irllrec serve --run ${join(runsDir, 'lightgcn_int')}`,
        `  irllrec evaluate --run ${join(runsDir, 'lightgcn_int')}`,
        `  irllrec report --run ${DEMO_MODELS.map(([, m]) => join(runsDir, m)).join(' ')} --out ${join(resolve(o.out!), 'report.html')}`].join('\n')
      : 'Keep the runs to serve them: irllrec demo --out DIR';
    const text = `\n${table}\n\n${lines.join('\n')}\n\n${footer}\n${serveHint}\n`;
    if (o.json) {
      process.stderr.write(text);
      const out = {
        dataset: { name: ds.name, users: ds.numUsers, items: ds.numItems, train: csrNnz(ds.train), valid: csrNnz(ds.valid), test: csrNnz(ds.test), dir: o.out ? dir : null },
        runs: runsDir ? Object.fromEntries(DEMO_MODELS.map(([, m]) => [m, join(runsDir, m)])) : null,
        protocol: epochs !== undefined ? `fixed ${epochs} epochs, final weights` : 'early stopping, the auto defaults for this data (see the log)',
        kernels: getKernels().info,
        models: results.map((r) => ({ label: r.label, model: r.model, epochs_run: r.result.epochsRun, best_epoch: r.result.bestEpoch, seconds: r.seconds, valid: r.result.valid, test: r.result.test })),
        baselines: baselines.map((b) => ({ label: BASELINE_LABELS[b.model], ...b })),
        example: { user: user.key, user_intent: user.intent.intent, model: best.model, recommendations: recs },
        timings,
        wall_seconds: wall,
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      process.stdout.write(text);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** Registers `irllrec demo` with all its options (main.ts calls this). */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('offline, end to end on the bundled MovieLens latest-small: ingest, offline profiles and intents, local embeddings, then LightGCN vs RLMRec-Con vs IRLLRec')
    .option('--epochs <n>', 'train exactly n epochs per model instead of the early-stopping protocol')
    .option('--out <dir>', 'keep everything here: DIR/dataset and one run per model in DIR/runs (default: a temporary directory, removed)')
    .option('--user <id>', 'MovieLens userId for the example recommendations (default: the first user with >= 3 test items)')
    .option('--data <dir>', 'a MovieLens directory (ratings.csv, movies.csv, tags.csv) instead of the bundled one')
    .option('--json', 'print a JSON summary on stdout (the table goes to stderr)')
    .action((o: DemoOptions) => runCommand(() => demoCommand(o)));
}
