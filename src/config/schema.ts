/**
 * The one strict configuration. Keys mirror the official yml files (snake_case), so a reader can
 * cross-check against the reference; unknown keys are errors (`__proto__`, `constructor` and
 * `prototype` included), and so are model keys the chosen model does not read; every number has a
 * range (the key table below, and the variants' own keys from the model catalog, catalog.ts) and
 * relations to the data (checkConfigAgainstData); defaults live in defaults.ts.
 */
import { metricKind, parseMetricKey, type MetricName } from '../eval/metrics.js';
import { UserError } from '../util/errors.js';
import { BUDGET_ENV, formatBytes, memoryBudget } from '../util/limits.js';
import { modelCatalog, onModelCatalog, type KeyKind, type KeySpec } from './catalog.js';

const alignmentNames: string[] = [];
/** The alignment names of the installed model catalog (`none` first), kept current as variants register. */
export const ALIGNMENTS: readonly string[] = alignmentNames;
/** An alignment name (none, rlmrec-con, rlmrec-gen, irllrec, or a registered one). */
export type AlignName = string;

export interface ModelSection {
  /** The backbone (lightgcn, ...). */
  name: string;
  /** The alignment plug-in. */
  align: AlignName;
  embedding_size: number;
  layer_num: number;
  reg_weight: number;
  /** The keys the chosen backbone and alignment read, as their descriptors declare them (src/models/). */
  [key: string]: unknown;
}

export interface Config {
  model: ModelSection;
  optimizer: { lr: number };
  train: {
    epoch: number;
    batch_size: number;
    test_step: number;
    patience: number;
    seed: number;
    /** Early stopping and best-weight selection on this validation metric, e.g. `ndcg@10` (default `recall@<max k>`, the official choice). */
    valid_metric?: string;
    /**
     * `reference` (the official computation: every step propagates the whole graph and contrasts
     * against every user/node) or `scalable` (cost per epoch linear in the data: at most
     * `max_batches` steps per epoch, contrastive and alignment terms on a sample of at most
     * `sample_size` batch triples and their users/items; docs/models.md). Default: chosen from the
     * data's size (defaults.ts).
     */
    mode?: 'reference' | 'scalable';
    /** Scalable mode: the batch grows so an epoch has at most this many steps. */
    max_batches?: number;
    /**
     * Scalable mode: triples (and their users and items) the contrastive and alignment terms see per
     * step. Default 4096, smaller for text wider than 512 (defaultSampleSize).
     */
    sample_size?: number;
    /** Scalable mode: neighbours (drawn per step) each sampled node's interaction intent aggregates; 0 = all. */
    intent_fanout?: number;
    /**
     * Scalable mode: users the user-side contrast (kd, PA) uses as negatives: every user when there
     * are at most this many, else the batch's users plus uniformly drawn ones up to it; 0 (the
     * default) = the batch's users only.
     */
    user_pool?: number;
    /**
     * Scalable mode: translation alignment and ITM on as many nodes drawn uniformly from every user
     * and item as the sample holds (default), or (false) on the sample's own users and items.
     */
    ta_uniform?: boolean;
    /**
     * Scalable mode: the validation during training (early stopping, best weights) ranks this many
     * users with validation items, drawn once; 0 = all. The final valid and test figures use every user.
     */
    valid_users?: number;
  };
  test: {
    k: number[];
    batch_size: number;
  };
}

export class ConfigError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = KeyKind;

/**
 * The key table of everything but the variants' own model keys (those come from the model catalog:
 * each backbone and alignment descriptor declares the keys it reads, src/models/descriptor.ts has
 * their shared bounds): every key, its type and (numbers) its largest accepted value. The lower
 * bound comes with the type (KeyKind); `intlist` holds at most {@link MAX_LIST} items.
 *
 * | key                                   | accepted                  | why the upper bound                                   |
 * |---------------------------------------|---------------------------|-------------------------------------------------------|
 * | model.embedding_size                  | 1 .. 4096                 | the paper uses 32; wider only multiplies memory       |
 * | model.layer_num                       | 1 .. 10                   | graph models over-smooth long before (paper: 2-3)     |
 * | model.reg_weight                      | 0 .. 1e6                  | a loss weight; official <= 0.1                        |
 * | optimizer.lr                          | (0, 10]                   | official 1e-3; larger diverges at once                |
 * | train.epoch                           | 0 .. 1e6                  | official 3000 (early stopping ends runs far sooner)   |
 * | train.batch_size, test.batch_size     | 1 .. 1e6                  | official 4096 / 1024                                  |
 * | train.test_step, train.patience       | 1 .. 1e6                  | epochs                                                |
 * | train.seed                            | 0 .. 2^53 - 1             | exact in JSON                                         |
 * | train.max_batches, train.sample_size  | 1 .. 1e6                  | steps per epoch / triples per contrastive sample      |
 * | train.intent_fanout                   | 0 .. 1e6 (0: every edge)  | neighbours per node for interaction intents           |
 * | train.user_pool                       | 0 .. 1e6 (0: batch users) | negatives of the user-side contrast                   |
 * | train.valid_users                     | 0 .. 1e9 (0: every user)  | users ranked by the per-epoch validation              |
 * | test.k                                | each 1 .. 10000, <= 64 ks | official 5, 10, 20; and every k <= the dataset's items |
 *
 * Relations to the data (k <= items, the model's memory within the budget) are checked by
 * {@link checkConfigAgainstData} once the data's size is known, before anything is written.
 * A null-prototype object: `__proto__`, `constructor`, `prototype` are unknown keys like any other.
 */
const TABLE: Record<string, [Kind, number?]> = Object.assign(Object.create(null) as Record<string, [Kind, number?]>, {
  'model.name': ['string'],
  'model.align': ['align'],
  'model.embedding_size': ['posint', 4096],
  'model.layer_num': ['posint', 10],
  'model.reg_weight': ['number', 1e6],
  'optimizer.lr': ['positive', 10],
  'train.epoch': ['int', 1e6],
  'train.batch_size': ['posint', 1e6],
  'train.test_step': ['posint', 1e6],
  'train.patience': ['posint', 1e6],
  'train.seed': ['int', Number.MAX_SAFE_INTEGER],
  'train.valid_metric': ['metric'],
  'train.mode': ['mode'],
  'train.max_batches': ['posint', 1e6],
  'train.sample_size': ['posint', 1e6],
  'train.intent_fanout': ['int', 1e6],
  'train.user_pool': ['int', 1e6],
  'train.ta_uniform': ['bool'],
  'train.valid_users': ['int', 1e9],
  'test.k': ['intlist', 10000],
  'test.batch_size': ['posint', 1e6],
} satisfies Record<string, [Kind, number?]>);

/** The most cut-offs `test.k` may list. */
export const MAX_LIST = 64;

const nullRecord = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * Every accepted key and its type (a null-prototype object: look keys up with {@link configKeyKind}
 * or Object.hasOwn). The variants' model keys are added from the model catalog, and kept current.
 */
export const CONFIG_KEYS: Record<string, Kind> = nullRecord();

/** The largest accepted value of every numeric key (for `intlist`, of each item). */
export const CONFIG_MAX: Record<string, number> = nullRecord();

/** Model keys older configs may lack (the model reads a fallback), e.g. for checks of stored runs. */
export const OPTIONAL_CONFIG_KEYS = new Set<string>();

onModelCatalog(() => {
  const catalog = modelCatalog();
  const table = Object.entries(TABLE).map(([k, [kind, max]]): [string, KeySpec] => [k, { kind, max }]);
  const isModel = ([k]: [string, KeySpec]) => k.startsWith('model.');
  // the variants' keys after the generic model keys, before the other sections
  const specs = [
    ...table.filter(isModel),
    ...Object.entries(catalog.keys()).map(([k, spec]): [string, KeySpec] => [`model.${k}`, spec]),
    ...table.filter((e) => !isModel(e)),
  ];
  for (const t of [CONFIG_KEYS, CONFIG_MAX]) for (const k of Object.keys(t)) delete t[k];
  OPTIONAL_CONFIG_KEYS.clear();
  for (const [key, spec] of specs) {
    CONFIG_KEYS[key] = spec.kind;
    if (spec.max !== undefined) CONFIG_MAX[key] = spec.max;
    if (spec.optional) OPTIONAL_CONFIG_KEYS.add(key);
  }
  alignmentNames.splice(0, alignmentNames.length, ...catalog.alignments());
});

/** The keys a complete config must have (the optional model keys depend on the model). */
export const REQUIRED_KEYS: readonly string[] = [
  'model.name', 'model.align', 'model.embedding_size', 'model.layer_num', 'model.reg_weight', 'optimizer.lr',
  'train.epoch', 'train.batch_size', 'train.test_step', 'train.patience', 'train.seed', 'test.k', 'test.batch_size',
];

const SECTION_NAMES: readonly string[] = ['model', 'optimizer', 'train', 'test'];

/** The type of a known key, or undefined (own keys only: `__proto__`, `constructor`, ... are unknown). */
export function configKeyKind(key: string): Kind | undefined {
  modelCatalog(); // the model keys are known only once the registry has installed its catalog
  return Object.hasOwn(CONFIG_KEYS, key) ? CONFIG_KEYS[key] : undefined;
}

const fmt = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    if (s === undefined) return String(v);
    return s.length > 60 ? `${s.slice(0, 60)}...` : s;
  } catch {
    return String(v);
  }
};

function check(key: string, kind: Kind, v: unknown, where: string): unknown {
  const max = Object.hasOwn(CONFIG_MAX, key) ? CONFIG_MAX[key]! : Infinity;
  const upTo = Number.isFinite(max) ? ` at most ${max}` : '';
  const bad = (what: string) => new ConfigError(`${where}: ${key} must be ${what}, got ${fmt(v)}`);
  const num = typeof v === 'number' && Number.isFinite(v);
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') throw bad('a non-empty string');
      return v;
    case 'align':
      if (typeof v !== 'string' || !(ALIGNMENTS as readonly string[]).includes(v)) throw bad(`one of ${ALIGNMENTS.join(', ')}`);
      return v;
    case 'mode':
      if (v !== 'reference' && v !== 'scalable') throw bad('reference or scalable');
      return v;
    case 'metric':
      if (typeof v !== 'string' || !/^[a-z]+@[1-9][0-9]*$/i.test(v.trim())) throw bad('a metric at a cut-off, e.g. ndcg@10');
      return v.trim().toLowerCase();
    case 'bool':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v;
    case 'number':
      if (!num || (v as number) < 0 || (v as number) > max) throw bad(`a finite non-negative number${upTo}`);
      return v;
    case 'positive':
      if (!num || (v as number) <= 0 || (v as number) > max) throw bad(`a finite positive number${upTo}`);
      return v;
    case 'prob':
      if (!num || !((v as number) > 0 && (v as number) <= 1)) throw bad('a number in (0, 1]');
      return v;
    case 'int':
      if (!num || !Number.isInteger(v) || (v as number) < 0 || (v as number) > max) throw bad(`a non-negative integer${upTo}`);
      return v;
    case 'posint':
      if (!num || !Number.isInteger(v) || (v as number) <= 0 || (v as number) > max) throw bad(`a positive integer${upTo}`);
      return v;
    case 'intlist':
      if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LIST
        || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x <= 0 || x > max)) {
        throw bad(`a non-empty list of at most ${MAX_LIST} positive integers${Number.isFinite(max) ? `, each at most ${max}` : ''}`);
      }
      return [...(v as number[])];
  }
}

/** Parses a `--set` value string into the key's type. */
export function parseValue(key: string, raw: string): unknown {
  const kind = configKeyKind(key);
  if (!kind) throw new ConfigError(`--set ${key}: unknown config key ${key} (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
  if (kind === 'string' || kind === 'align' || kind === 'metric' || kind === 'mode') return raw;
  if (kind === 'bool') {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new ConfigError(`--set ${key}=${raw}: expected true or false`);
  }
  if (kind === 'intlist') {
    const parts = raw.split(',');
    if (parts.length > MAX_LIST) throw new ConfigError(`--set ${key}: at most ${MAX_LIST} values, got ${parts.length}`);
    return parts.map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
  }
  const n = Number(raw);
  if (raw.trim() === '' || Number.isNaN(n)) throw new ConfigError(`--set ${key}=${raw}: not a number`);
  return n;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Flattens a nested object to dotted keys, rejecting unknown keys (own keys only; `__proto__` & co. are unknown). */
export function flatten(obj: unknown, where: string, prefix = ''): Record<string, unknown> {
  if (!isPlainObject(obj)) {
    throw new ConfigError(`${where}: expected an object${prefix ? ` at ${prefix.slice(0, -1)}` : ''}`);
  }
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const key = prefix + k;
    if (configKeyKind(key)) out[key] = v;
    else if (prefix === '' && SECTION_NAMES.includes(k) && isPlainObject(v)) {
      for (const [fk, fv] of Object.entries(flatten(v, where, `${key}.`))) out[fk] = fv;
    } else throw new ConfigError(`${where}: unknown config key ${key}`);
  }
  return out;
}

function modelLabel(cfg: Config): string {
  return cfg.model.align === 'none' ? cfg.model.name : `${cfg.model.name} + ${cfg.model.align}`;
}

/**
 * Applies dotted overrides onto a config (validated), returning a new config. A model key the
 * base config does not have (the model does not read it) is an error.
 */
export function applyOverrides(base: Config, overrides: Record<string, unknown>, where: string): Config {
  const next = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const key of Object.keys(overrides)) {
    const v = overrides[key];
    const kind = configKeyKind(key);
    if (!kind) throw new ConfigError(`${where}: unknown config key ${key}`);
    const [sec, field] = key.split('.') as [string, string];
    if (!isPlainObject(next[sec])) throw new ConfigError(`${where}: section ${sec} is missing or not an object`);
    // optional keys outside the model section (train.valid_metric) may be absent from the base
    if (sec === 'model' && !Object.hasOwn(next[sec]!, field)) throw new ConfigError(`${where}: ${key} is not a parameter of ${modelLabel(base)}`);
    next[sec]![field] = check(key, kind, v, where);
  }
  return next as unknown as Config;
}

/**
 * Validates a whole config (e.g. a run's config.json): known sections and keys only, every required
 * key present, every value in its range, and the relations between keys.
 */
export function validate(cfg: Config, where = 'config'): Config {
  if (!isPlainObject(cfg)) throw new ConfigError(`${where}: expected an object with sections ${SECTION_NAMES.join(', ')}`);
  const flat: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const sec of Object.keys(cfg)) {
    const fields = (cfg as unknown as Record<string, unknown>)[sec];
    if (!SECTION_NAMES.includes(sec)) throw new ConfigError(`${where}: unknown config key ${sec}`);
    if (!isPlainObject(fields)) throw new ConfigError(`${where}: ${sec} must be an object`);
    for (const field of Object.keys(fields)) flat[`${sec}.${field}`] = fields[field];
  }
  for (const key of REQUIRED_KEYS) {
    if (!(key in flat)) throw new ConfigError(`${where}: ${key} is missing`);
  }
  const out = applyOverrides(cfg, flat, where);
  // relations between keys: the validation metric must be one that is evaluated
  try {
    validMetric(out);
  } catch (e) {
    throw new ConfigError(`${where}: train.valid_metric: ${(e as Error).message}`);
  }
  return out;
}

/** What a config's relation to the data depends on (the same as the defaults' DataStats). */
export interface DataSize {
  users: number;
  items: number;
  /** Training interactions. */
  train: number;
}

/**
 * A rough, deliberately low estimate of the memory a config needs on data of this size (bytes),
 * in parts: `model` (embedding tables, their gradients and Adam moments, and the propagated layers
 * forward and backward, per graph view), `eval` (the [test.batch_size x items] score block) and
 * `graph` (the normalised adjacency and its transpose). Low on purpose: it refuses only what
 * cannot fit, never a run that would.
 */
export function estimateMemory(cfg: Config, d: DataSize): { model: number; eval: number; graph: number; total: number } {
  const m = cfg.model;
  const nodes = d.users + d.items;
  const views = modelCatalog().views(m.name);
  // intent prototypes, when the model has them (K x d per side)
  const intents = typeof m.intent_num === 'number' ? m.intent_num : 0;
  const model = 4 * m.embedding_size * (nodes * (4 + 2 * (m.layer_num + 1) * views) + 4 * intents);
  const evalBlock = 4 * Math.min(cfg.test.batch_size, Math.max(1, d.users)) * d.items;
  const graph = 2 * 2 * 8 * d.train;
  return { model, eval: evalBlock, graph, total: model + evalBlock + graph };
}

/**
 * Checks a (valid) config against the data it will train on, before anything is allocated or
 * written: every `test.k` at most the number of items, and the estimated memory
 * ({@link estimateMemory}) within the budget (src/util/limits.ts). Throws a one-line ConfigError
 * naming the key.
 */
export function checkConfigAgainstData(cfg: Config, d: DataSize): void {
  const maxK = Math.max(...cfg.test.k);
  if (maxK > d.items) {
    throw new ConfigError(`test.k: k=${maxK} is more than the dataset's ${d.items} items (every k must be at most the number of items; set e.g. --set test.k=${[...new Set(cfg.test.k.map((k) => Math.min(k, d.items)))].join(',')})`);
  }
  const mem = estimateMemory(cfg, d);
  const budget = memoryBudget();
  if (mem.total <= budget) return;
  const sizes = `${d.users} users + ${d.items} items`;
  if (mem.eval > mem.model) {
    throw new ConfigError(`test.batch_size=${cfg.test.batch_size}: evaluation needs a ${Math.min(cfg.test.batch_size, d.users)} x ${d.items} score block (${formatBytes(mem.eval)}), which with the model (${formatBytes(mem.model)}) is more than the memory budget of ${formatBytes(budget)} (${BUDGET_ENV} sets it); lower test.batch_size`);
  }
  throw new ConfigError(`model.embedding_size=${cfg.model.embedding_size}: ${cfg.model.name} with ${cfg.model.layer_num} layers needs about ${formatBytes(mem.total)} for ${sizes} (embeddings, gradients, Adam moments, propagated layers), more than the memory budget of ${formatBytes(budget)} (${BUDGET_ENV} sets it); lower model.embedding_size or model.layer_num`);
}

/** How training scales (see Config.train.mode): null sample size in reference mode. */
export interface TrainingMode {
  mode: 'reference' | 'scalable';
  maxBatches: number;
  sampleSize: number | null;
  /** Neighbours per node for the sample's interaction intents (null: every edge). */
  intentFanout: number | null;
  /** Users the per-epoch validation ranks (null: every user with validation items). */
  validUsers: number | null;
  /** Negatives of the user-side contrast (null: the batch's users only). */
  userPool: number | null;
  /** TA/ITM on uniformly drawn nodes instead of the sample's. */
  taUniform: boolean;
}

export const SCALABLE_DEFAULTS = { maxBatches: 32, sampleSize: 4096, intentFanout: 32, validUsers: 50_000 } as const;

/**
 * The default alignment sample for text vectors `width` wide: 4096 triples up to 512 wide, then the
 * largest power of two (at least 256) with sample x width^2 <= 4096 x 512^2. A text tower's work per
 * row grows with the square of the width (its hidden layer is half as wide as its input), so this
 * keeps a step's tower work bounded: 1024 at 768 and 1024 wide, 256 at 1536 and 3072. Measured on a
 * planted-intent world with 1536/3072-wide text (docs/models.md): sample 256 keeps 88% of the
 * reference's gain over LightGCN at half the cost of sample 512 (95%).
 */
export function defaultSampleSize(width: number): number {
  let s = SCALABLE_DEFAULTS.sampleSize;
  while (s > 256 && s * width * width > SCALABLE_DEFAULTS.sampleSize * 512 * 512) s /= 2;
  return s;
}

/** `textWidth`: the widest text vectors the model reads (sets the default sample size). */
export function trainingMode(cfg: Config, textWidth = 0): TrainingMode {
  if (cfg.train.mode !== 'scalable') return { mode: 'reference', maxBatches: Infinity, sampleSize: null, intentFanout: null, validUsers: null, userPool: null, taUniform: false };
  const fanout = cfg.train.intent_fanout ?? SCALABLE_DEFAULTS.intentFanout;
  const validUsers = cfg.train.valid_users ?? SCALABLE_DEFAULTS.validUsers;
  // default 0 (in-batch users): the pool was measured not to help (docs/models.md)
  const userPool = cfg.train.user_pool ?? 0;
  return {
    mode: 'scalable',
    maxBatches: cfg.train.max_batches ?? SCALABLE_DEFAULTS.maxBatches,
    sampleSize: cfg.train.sample_size ?? defaultSampleSize(textWidth),
    intentFanout: fanout === 0 ? null : fanout,
    validUsers: validUsers === 0 ? null : validUsers,
    userPool: userPool === 0 ? null : userPool,
    // default on: on the 10k-user world w4 it restores the reference's gain (docs/models.md)
    taUniform: cfg.train.ta_uniform ?? true,
  };
}

/** The validation metric of a config: `train.valid_metric`, else the official recall at the last k. */
export function validMetric(cfg: Config): { key: string; metric: MetricName; k: number } {
  const key = cfg.train.valid_metric ?? `recall@${cfg.test.k[cfg.test.k.length - 1]}`;
  const { metric, k } = parseMetricKey(key, cfg.test.k);
  if (metricKind(metric) !== 'mean') throw new Error(`${metric} is a catalogue-level figure, not a per-user metric to select a model on`);
  return { key: `${metric}@${k}`, metric, k };
}
