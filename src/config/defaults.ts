/**
 * Defaults in one place.
 *
 * Model keys: the official yml values (IRLLRec HEAD ee8330b) per backbone, alignment and dataset
 * section (`amazon` = Amazon-book, `yelp`, `movie` = Amazon-movie).
 *
 * Which section, and which training values, a dataset gets is decided from its content, never from
 * its directory name (see `chooseDefaults`):
 * - `--preset amazon|yelp|movie`: that official section, exactly (reference runs);
 * - data recognised as one of the paper's three datasets by its user and item counts: its official
 *   section, exactly;
 * - any other data (the usual case: the user's own): the `amazon` section's model keys, with the
 *   training values that depend on the data's size set by the documented rules in `autoTraining`.
 */
import { SCALABLE_DEFAULTS, type AlignName, type Config, type ModelSection } from './schema.js';
import { UserError } from '../util/errors.js';

export type DatasetSection = 'amazon' | 'yelp' | 'movie';
export const SECTIONS: readonly DatasetSection[] = ['amazon', 'yelp', 'movie'];

/** The paper's three datasets, recognised by their user and item counts. */
export const PAPER_DATASETS: readonly { section: DatasetSection; name: string; users: number; items: number }[] = [
  { section: 'amazon', name: 'Amazon-book', users: 11000, items: 9332 },
  { section: 'yelp', name: 'Yelp', users: 11091, items: 11010 },
  { section: 'movie', name: 'Amazon-movie', users: 16994, items: 9370 },
];

/** What the defaults depend on: the training data's size. */
export interface DataStats {
  users: number;
  items: number;
  /** Training interactions. */
  train: number;
}

/**
 * Training values for data the reference never saw, by rule (each reason is logged):
 * - `train.batch_size`: the largest power of two giving at least 8 optimizer steps per epoch, within
 *   [128, 4096]. The official 4096 (kept from about 33k training interactions up) gives 30-40 steps per
 *   epoch on the paper's data; on a small dataset it would be one or two steps per epoch, so the
 *   early stopping (counted in epochs) would give up after a handful of steps.
 * - `train.mode`: scalable from SCALABLE_FROM training interactions on (the reference computation's
 *   cost per epoch grows with the square of the data), reference below.
 * - `optimizer.lr`: 3e-3 instead of the official 1e-3. Measured (docs/results.md, "Defaults"): with
 *   1e-3 IRLLRec on MovieLens sat on a plateau longer than the early-stopping patience and stopped at
 *   test Recall@20 0.0125; 3e-3 reaches 0.216 there and costs LightGCN 1.8% on Amazon-book (1e-2: 8%).
 * - `optimizer.lr` in scalable mode: 3e-3 x sqrt(batch / 4096) for the batch the mode grows to
 *   (interactions / 32 steps), at most 0.03: an epoch has only 32 Adam steps, and each is an
 *   average over a far larger batch. Measured on a 1.98M-interaction world (6 epochs, validation
 *   Recall@20): 3e-3 0.0987 and still climbing, 1e-2 0.1171, 3e-2 0.1160 (plateau from epoch 3);
 *   the rule gives 0.0117 there.
 * - `train.test_step` 1 and `train.patience` 3 in scalable mode: an epoch there is a long pass of
 *   32 large steps, and the validation ranks a 50,000-user sample, so validating every epoch costs
 *   little; the official 3 x 5 would train 15 epochs past the best before stopping.
 * - `test.batch_size`: users per full-ranking block, the official 1024 unless a block of scores
 *   (users x items float32) would pass EVAL_BLOCK_BYTES; then the largest power of two (at least 16)
 *   that fits, so evaluating a million-item catalogue holds 256 MiB of scores, not 2 GiB.
 */
/** The score block evaluation may hold (see autoTraining). */
export const EVAL_BLOCK_BYTES = 256 * 2 ** 20;
/** From this many training interactions on, data the reference never saw trains in scalable mode. */
export const SCALABLE_FROM = 1_000_000;
/** The scalable rule's learning-rate cap. */
const SCALABLE_MAX_LR = 0.03;

/** Three significant digits (a learning rate printed in the log and stored in config.json). */
function roundLr(x: number): number {
  return Number(x.toPrecision(3));
}

export function autoTraining(s: DataStats): { sets: Record<string, number | string>; reasons: string[] } {
  let batch = 4096;
  while (batch > 128 && s.train / batch < 8) batch /= 2;
  const steps = Math.max(1, Math.ceil(s.train / batch));
  const scalable = s.train >= SCALABLE_FROM;
  const grown = Math.max(batch, Math.ceil(s.train / SCALABLE_DEFAULTS.maxBatches));
  const lr = scalable ? Math.min(SCALABLE_MAX_LR, roundLr(3e-3 * Math.sqrt(grown / 4096))) : 3e-3;
  let evalBatch = 1024;
  while (evalBatch > 16 && evalBatch * s.items * 4 > EVAL_BLOCK_BYTES) evalBatch /= 2;
  return {
    sets: {
      'train.batch_size': batch, 'optimizer.lr': lr,
      ...(scalable ? { 'train.mode': 'scalable', 'train.test_step': 1, 'train.patience': 3 } : {}),
      ...(evalBatch !== 1024 ? { 'test.batch_size': evalBatch } : {}),
    },
    reasons: [
      scalable
        ? `train.batch_size ${batch} (the scalable mode grows each step's batch to ${grown} = interactions / ${SCALABLE_DEFAULTS.maxBatches} steps)`
        : `train.batch_size ${batch} (${steps} steps per epoch over ${s.train} training interactions; rule: at least 8 steps, 128..4096)`,
      scalable
        ? `optimizer.lr ${lr} (scalable rule: 3e-3 x sqrt(${grown} triples per step / 4096), at most ${SCALABLE_MAX_LR}; 32 large steps per epoch)`
        : 'optimizer.lr 0.003 (rule for data the reference never saw; the official 1e-3 is tuned for its three datasets)',
      ...(scalable ? ['train.test_step 1, train.patience 3 (scalable rule: validate every long epoch, stop 3 epochs after the best)'] : []),
      scalable
        ? `train.mode scalable (${s.train} >= ${SCALABLE_FROM} training interactions: cost per epoch linear in the data; --set train.mode=reference for the official computation)`
        : `train.mode reference (the official computation; below ${SCALABLE_FROM} training interactions its cost is small)`,
      ...(evalBatch !== 1024 ? [`test.batch_size ${evalBatch} (a block of ${evalBatch} users x ${s.items} items of scores stays within ${EVAL_BLOCK_BYTES / 2 ** 20} MiB)`] : []),
    ],
  };
}

/** The paper dataset these counts are, if any. */
export function recogniseDataset(s: Pick<DataStats, 'users' | 'items'>): (typeof PAPER_DATASETS)[number] | null {
  return PAPER_DATASETS.find((d) => d.users === s.users && d.items === s.items) ?? null;
}

export interface DefaultsChoice {
  section: DatasetSection;
  /** How the section was chosen. */
  source: 'preset' | 'recognised' | 'auto';
  /** Dotted overrides applied on top of the section (auto rules only). */
  sets: Record<string, number | string>;
  /** One line per decision, for the log. */
  reasons: string[];
}

/**
 * Chooses the defaults for a dataset: an explicit preset, else a recognised paper dataset, else the
 * auto rules. Without data statistics (library use on no data) the `amazon` section is used as is.
 */
export function chooseDefaults(stats: DataStats | undefined, preset?: DatasetSection): DefaultsChoice {
  if (preset) return { section: preset, source: 'preset', sets: {}, reasons: [`preset ${preset}: the official ${preset} section, unchanged`] };
  if (!stats) return { section: 'amazon', source: 'preset', sets: {}, reasons: ['no data statistics: the official amazon section, unchanged'] };
  const known = recogniseDataset(stats);
  if (known) {
    return {
      section: known.section, source: 'recognised', sets: {},
      reasons: [`recognised as ${known.name} (${stats.users} users, ${stats.items} items): the official ${known.section} section, unchanged`],
    };
  }
  const auto = autoTraining(stats);
  return {
    section: 'amazon', source: 'auto', sets: auto.sets,
    reasons: [`${stats.users} users, ${stats.items} items, ${stats.train} training interactions (not one of the paper's datasets): auto defaults`,
      ...auto.reasons, 'model keys: the official amazon section (use --preset yelp|movie for the others)'],
  };
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
  if (!t) throw new UserError(`no defaults for ${backbone} + ${align}`);
  return {
    model: { name: backbone, align, embedding_size: 32, ...structuredClone(t[section]) },
    optimizer: { lr: 1e-3 },
    train: { epoch: 3000, batch_size: 4096, test_step: 3, patience: 5, seed: 2023 },
    test: { k: [5, 10, 20], batch_size: 1024 },
  };
}
