/**
 * Defaults in one place.
 *
 * Model keys: the official yml values (IRLLRec HEAD ee8330b) per backbone, alignment and dataset
 * section (`amazon` = Amazon-book, `yelp`, `movie` = Amazon-movie), declared by the variants'
 * descriptors (src/models/) and read here through the model catalog (catalog.ts).
 *
 * Which section, and which training values, a dataset gets is decided from its content, never from
 * its directory name (see `chooseDefaults`):
 * - `--preset amazon|yelp|movie`: that official section, exactly (reference runs);
 * - data recognised as one of the paper's three datasets by its user and item counts: its official
 *   section, exactly;
 * - any other data (the usual case: the user's own): the `amazon` section's model keys, with the
 *   training values that depend on the data's size set by the documented rules in `autoTraining`.
 */
import { modelCatalog, onModelCatalog, type ModelKeyValues } from './catalog.js';
import { SCALABLE_DEFAULTS, type AlignName, type Config } from './schema.js';
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

/**
 * [backbone][alignment][section] -> model keys, for every supported composition: a view of the model
 * catalog (kept current as variants register), for tools and tests that walk every combination.
 */
export const MODEL_DEFAULTS: Record<string, Record<AlignName, Record<DatasetSection, ModelKeyValues>>> = {};

onModelCatalog(() => {
  const catalog = modelCatalog();
  for (const b of Object.keys(MODEL_DEFAULTS)) delete MODEL_DEFAULTS[b];
  for (const b of catalog.backbones()) {
    const row: Record<AlignName, Record<DatasetSection, ModelKeyValues>> = {};
    for (const a of catalog.alignments()) {
      if (!catalog.defaults(b, a, SECTIONS[0]!)) continue;
      row[a] = Object.fromEntries(SECTIONS.map((s) => [s, catalog.defaults(b, a, s)!])) as Record<DatasetSection, ModelKeyValues>;
    }
    MODEL_DEFAULTS[b] = row;
  }
});

export function hasDefaults(backbone: string, align: AlignName): boolean {
  return modelCatalog().defaults(backbone, align, SECTIONS[0]!) !== null;
}

export function defaultConfig(backbone: string, align: AlignName, section: DatasetSection): Config {
  const keys = modelCatalog().defaults(backbone, align, section);
  if (!keys) throw new UserError(`no defaults for ${backbone} + ${align}`);
  return {
    model: { name: backbone, align, embedding_size: 32, ...(structuredClone(keys) as { layer_num: number; reg_weight: number }) },
    optimizer: { lr: 1e-3 },
    train: { epoch: 3000, batch_size: 4096, test_step: 3, patience: 5, seed: 2023, ...modelCatalog().training(backbone) },
    test: { k: [5, 10, 20], batch_size: 1024 },
  };
}
