/**
 * Defaults in one place: the official yml values (IRLLRec HEAD ee8330b) per model and dataset
 * section. The section is `amazon` (Amazon-book), `yelp` or `movie` (Amazon-movie), inferred from
 * the dataset directory name; any other dataset gets the `amazon` values.
 */
import type { Config } from './schema.js';

export type DatasetSection = 'amazon' | 'yelp' | 'movie';

export function inferSection(datasetName: string): DatasetSection {
  const n = datasetName.toLowerCase();
  if (n.includes('yelp')) return 'yelp';
  if (n.includes('movie') && !n.includes('movielens')) return 'movie';
  return 'amazon';
}

interface ModelDefaults {
  layer_num: number;
  reg_weight: number;
  keep_rate: number;
}

const LIGHTGCN: Record<DatasetSection, ModelDefaults> = {
  amazon: { layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8 },
  yelp: { layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8 },
  movie: { layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8 },
};

export const MODEL_DEFAULTS: Record<string, Record<DatasetSection, ModelDefaults>> = {
  lightgcn: LIGHTGCN,
};

export function defaultConfig(model: string, section: DatasetSection): Config {
  const m = MODEL_DEFAULTS[model];
  if (!m) throw new Error(`no defaults for model ${model}`);
  return {
    model: { name: model, embedding_size: 32, ...m[section] },
    optimizer: { lr: 1e-3 },
    train: { epoch: 3000, batch_size: 4096, test_step: 3, patience: 5, seed: 2023 },
    test: { k: [5, 10, 20], batch_size: 1024 },
  };
}
