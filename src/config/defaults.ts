/**
 * Defaults in one place: the official yml values (IRLLRec HEAD ee8330b) per backbone, alignment
 * and dataset section. The section is `amazon` (Amazon-book), `yelp` or `movie` (Amazon-movie),
 * inferred from the dataset directory name; any other dataset gets the `amazon` values.
 */
import type { AlignName, Config, ModelSection } from './schema.js';

export type DatasetSection = 'amazon' | 'yelp' | 'movie';

export function inferSection(datasetName: string): DatasetSection {
  const n = datasetName.toLowerCase();
  if (n.includes('yelp')) return 'yelp';
  if (n.includes('movie') && !n.includes('movielens')) return 'movie';
  return 'amazon';
}

type ModelKeys = Omit<ModelSection, 'name' | 'align' | 'embedding_size'>;
type Table = Record<DatasetSection, ModelKeys>;

const same = (v: ModelKeys): Table => ({ amazon: v, yelp: v, movie: v });

/** [backbone][alignment][section] -> model keys. */
export const MODEL_DEFAULTS: Record<string, Partial<Record<AlignName, Table>>> = {
  lightgcn: {
    none: same({ layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8 }),
    'rlmrec-con': {
      amazon: { layer_num: 3, reg_weight: 1e-7, keep_rate: 0.8, kd_weight: 1e-2, kd_temperature: 0.2 },
      yelp: { layer_num: 3, reg_weight: 1e-7, keep_rate: 0.8, kd_weight: 1e-2, kd_temperature: 0.2 },
      movie: { layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8, kd_weight: 1e-3, kd_temperature: 0.2 },
    },
    'rlmrec-gen': {
      amazon: { layer_num: 2, reg_weight: 1e-7, keep_rate: 0.8, mask_ratio: 0.15, recon_weight: 0.1, re_temperature: 0.5 },
      yelp: { layer_num: 2, reg_weight: 1e-7, keep_rate: 0.8, mask_ratio: 0.05, recon_weight: 0.01, re_temperature: 0.1 },
      movie: { layer_num: 3, reg_weight: 1e-6, keep_rate: 0.8, mask_ratio: 0.15, recon_weight: 0.05, re_temperature: 0.2 },
    },
    irllrec: {
      amazon: intent(3, 1e-7, 1e-2, 0.2, 2e-2, 0.2),
      yelp: intent(3, 1e-7, 1e-2, 0.2, 1e-2, 0.2),
      movie: intent(3, 1e-6, 1e-3, 0.2, 3e-2, 0.2),
    },
  },
};

type K = ModelKeys;
/** SGL / SimGCL sections: layers, reg, cl weight, cl temperature (+ extra keys). */
const cl = (layer_num: number, reg_weight: number, cl_weight: number, cl_temperature: number, extra: Partial<K> = {}): K =>
  ({ layer_num, reg_weight, cl_weight, cl_temperature, ...extra }) as K;
const kd = (kd_weight: number, kd_temperature: number): Partial<K> => ({ kd_weight, kd_temperature });
const gen = (mask_ratio: number, recon_weight: number, re_temperature: number): Partial<K> => ({ mask_ratio, recon_weight, re_temperature });
/** IRLLRec keys on non-LightGCN backbones: TA and ITM are off, as in the official code (no code reads them). */
const pa = (kd_weight: number, kd_temperature: number, kd_int_weight: number, kd_int_temperature: number): Partial<K> => ({
  kd_weight, kd_temperature, intent_num: 128, kd_int_weight, kd_int_temperature, kd_int_weight_2: 0, kd_int_weight_3: 0,
  teacher_shortcut: true, teacher_resync_every: 1000,
});
const sglK = { keep_rate: 0.8 };
const sim = (eps: number) => ({ eps });

MODEL_DEFAULTS.sgl = {
  none: { amazon: cl(3, 1e-5, 0.1, 0.2, sglK), yelp: cl(3, 1e-6, 1e-3, 0.1, sglK), movie: cl(3, 1e-6, 1e-2, 0.1, sglK) },
  'rlmrec-con': {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...kd(1e-2, 0.5) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...kd(1e-2, 1.0) }),
    movie: cl(3, 1e-6, 1e-2, 0.1, { ...sglK, ...kd(1e-2, 0.5) }),
  },
  'rlmrec-gen': {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...gen(0.2, 0.1, 0.2) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...gen(0.15, 0.1, 0.2) }),
    movie: cl(3, 1e-6, 1e-2, 0.2, { ...sglK, ...gen(0.2, 0.05, 0.2) }),
  },
  irllrec: {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...pa(1e-2, 0.5, 1e-3, 0.1) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sglK, ...pa(1e-2, 1.0, 1e-2, 1.0) }),
    movie: cl(3, 1e-6, 1e-2, 0.1, { ...sglK, ...pa(1e-2, 0.5, 2e-2, 0.2) }),
  },
};

MODEL_DEFAULTS.simgcl = {
  none: { amazon: cl(3, 1e-5, 0.1, 0.2, sim(0.9)), yelp: cl(3, 1e-5, 0.1, 0.2, sim(0.9)), movie: cl(3, 1e-6, 2e-2, 0.1, sim(0.1)) },
  'rlmrec-con': {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...kd(1e-2, 0.2) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...kd(1e-2, 0.1) }),
    movie: cl(3, 1e-6, 2e-2, 0.1, { ...sim(0.1), ...kd(1e-2, 0.2) }),
  },
  'rlmrec-gen': {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...gen(0.05, 0.1, 0.2) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...gen(0.01, 0.01, 0.05) }),
    movie: cl(3, 1e-6, 2e-2, 0.1, { ...sim(0.1), ...gen(0.6, 0.01, 0.2) }),
  },
  irllrec: {
    amazon: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...pa(1e-2, 0.2, 2e-2, 0.1) }),
    yelp: cl(3, 1e-5, 0.1, 0.2, { ...sim(0.9), ...pa(1e-2, 0.1, 1e-2, 0.1) }),
    movie: cl(3, 1e-6, 2e-2, 0.1, { ...sim(0.1), ...pa(1e-2, 0.2, 3e-2, 0.2) }),
  },
};

// DCCF: 2 layers (3 for movie), reg 1e-4 (1e-3 movie), cl 1e-3, temperature 0.1.
const dc = (layer_num: number, reg_weight: number, extra: Partial<K> = {}): K => cl(layer_num, reg_weight, 1e-3, 0.1, { intent_num: 128, ...extra });
MODEL_DEFAULTS.dccf = {
  none: { amazon: dc(2, 1e-4), yelp: dc(2, 1e-4), movie: dc(3, 1e-3) },
  'rlmrec-con': { amazon: dc(2, 1e-4, kd(1e-2, 0.5)), yelp: dc(2, 1e-4, kd(1e-2, 0.2)), movie: dc(3, 1e-3, kd(1e-2, 0.1)) },
  'rlmrec-gen': { amazon: dc(2, 1e-4, gen(0.05, 0.1, 0.2)), yelp: dc(2, 1e-4, gen(0.05, 0.01, 0.1)), movie: dc(3, 1e-3, gen(0.1, 0.01, 0.2)) },
  irllrec: { amazon: dc(2, 1e-4, pa(1e-2, 0.5, 2e-2, 0.1)), yelp: dc(2, 1e-4, pa(1e-2, 0.2, 1e-2, 0.2)), movie: dc(3, 1e-3, pa(1e-2, 0.1, 5e-2, 0.2)) },
};

// BIGCF: 3 layers, reg 1e-5, cl temperature 0.2, cen 1e-5; noise at evaluation as in the reference.
const bc = (cl_weight: number, extra: Partial<K> = {}): K => cl(3, 1e-5, cl_weight, 0.2, { intent_num: 128, cen_weight: 1e-5, eval_noise: true, ...extra });
MODEL_DEFAULTS.bigcf = {
  none: { amazon: bc(0.05), yelp: bc(0.05), movie: bc(0.02) },
  'rlmrec-con': { amazon: bc(0.05, kd(1e-2, 0.2)), yelp: bc(0.04, kd(1e-2, 0.2)), movie: bc(0.02, kd(1e-2, 0.2)) },
  'rlmrec-gen': { amazon: bc(0.05, gen(0.6, 0.02, 0.1)), yelp: bc(0.05, gen(0.2, 0.05, 0.1)), movie: bc(0.02, gen(0.2, 0.01, 0.5)) },
  irllrec: { amazon: bc(0.05, pa(1e-2, 0.2, 2e-2, 0.1)), yelp: bc(0.05, pa(1e-2, 0.2, 3e-2, 0.2)), movie: bc(0.02, pa(1e-2, 0.2, 3e-2, 0.2)) },
};

function intent(layer_num: number, reg_weight: number, kd_weight: number, kd_temperature: number, kd_int_weight: number, kd_int_temperature: number): ModelKeys {
  return {
    layer_num, reg_weight, keep_rate: 1.0, kd_weight, kd_temperature, intent_num: 128, kd_int_weight, kd_int_temperature,
    kd_int_weight_2: 1e-7, kd_int_weight_3: 1e-7, teacher_shortcut: true, teacher_resync_every: 1000,
  };
}

export function hasDefaults(backbone: string, align: AlignName): boolean {
  return Boolean(MODEL_DEFAULTS[backbone]?.[align]);
}

export function defaultConfig(backbone: string, align: AlignName, section: DatasetSection): Config {
  const t = MODEL_DEFAULTS[backbone]?.[align];
  if (!t) throw new Error(`no defaults for ${backbone} + ${align}`);
  return {
    model: { name: backbone, align, embedding_size: 32, ...structuredClone(t[section]) },
    optimizer: { lr: 1e-3 },
    train: { epoch: 3000, batch_size: 4096, test_step: 3, patience: 5, seed: 2023 },
    test: { k: [5, 10, 20], batch_size: 1024 },
  };
}
