/**
 * `irllrec demo`: the offline default on the bundled MovieLens latest-small data. Ratings >= 4
 * are kept as implicit interactions, split per interaction at random 3:1:1 (seed 2023), and
 * LightGCN is trained with the official protocol.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../config/load.js';
import { assemble, type Dataset } from '../data/dataset.js';
import { readMovieLensRatings } from '../data/formats/movielens.js';
import { compactIds, randomSplit } from '../data/split.js';
import { getKernels } from '../kernels/index.js';
import { train } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { logDataset, parseIntOption, summary } from './train.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bundledMovieLens = join(packageRoot, 'data', 'movielens-latest-small');

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

export async function demoCommand(o: { epochs?: string; json?: boolean }): Promise<void> {
  const epochs = parseIntOption('--epochs', o.epochs, 1);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const ds = movieLensDataset();
  logDataset(ds, log);
  const { config } = resolveConfig({ model: 'lightgcn', datasetName: ds.name });
  log(`model lightgcn, kernels ${getKernels().info}`);
  const t0 = performance.now();
  const result = train({ config, dataset: ds, epochs, log });
  const out = { ...summary(config, ds, result, epochs !== undefined), wall_seconds: Math.round((performance.now() - t0) / 100) / 10 };
  const row = (m: Record<string, number>) => ['recall@5', 'recall@10', 'recall@20', 'ndcg@5', 'ndcg@10', 'ndcg@20'].map((k) => (m[k] ?? NaN).toFixed(4)).join(' | ');
  process.stderr.write(`\n| model | R@5 | R@10 | R@20 | N@5 | N@10 | N@20 |\n|---|---|---|---|---|---|---|\n| lightgcn | ${row(result.test)} |\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
}
