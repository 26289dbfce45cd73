/**
 * The one strict configuration. Keys mirror the official yml files (snake_case), so a reader can
 * cross-check against the reference; unknown keys are errors, and so are model keys the chosen
 * model does not read; defaults live in defaults.ts.
 */
import { metricKind, parseMetricKey, type MetricName } from '../eval/metrics.js';

export const ALIGNMENTS = ['none', 'rlmrec-con', 'rlmrec-gen', 'irllrec'] as const;
export type AlignName = (typeof ALIGNMENTS)[number];

export interface ModelSection {
  /** The backbone (lightgcn, ...). */
  name: string;
  /** The alignment plug-in. */
  align: AlignName;
  embedding_size: number;
  layer_num: number;
  reg_weight: number;
  keep_rate?: number;
  cl_weight?: number;
  cl_temperature?: number;
  eps?: number;
  intent_num?: number;
  cen_weight?: number;
  eval_noise?: boolean;
  kd_weight?: number;
  kd_temperature?: number;
  mask_ratio?: number;
  recon_weight?: number;
  re_temperature?: number;
  kd_int_weight?: number;
  kd_int_temperature?: number;
  kd_int_weight_2?: number;
  kd_int_weight_3?: number;
  teacher_shortcut?: boolean;
  teacher_resync_every?: number;
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
  };
  test: {
    k: number[];
    batch_size: number;
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'int' | 'posint' | 'number' | 'positive' | 'prob' | 'string' | 'intlist' | 'bool' | 'align' | 'metric';

/** Every accepted key and its type. */
export const CONFIG_KEYS: Record<string, Kind> = {
  'model.name': 'string',
  'model.align': 'align',
  'model.embedding_size': 'posint',
  'model.layer_num': 'posint',
  'model.reg_weight': 'number',
  'model.keep_rate': 'prob',
  'model.cl_weight': 'number',
  'model.cl_temperature': 'positive',
  'model.eps': 'number',
  'model.cen_weight': 'number',
  'model.eval_noise': 'bool',
  'model.kd_weight': 'number',
  'model.kd_temperature': 'positive',
  'model.mask_ratio': 'prob',
  'model.recon_weight': 'number',
  'model.re_temperature': 'positive',
  'model.intent_num': 'posint',
  'model.kd_int_weight': 'number',
  'model.kd_int_temperature': 'positive',
  'model.kd_int_weight_2': 'number',
  'model.kd_int_weight_3': 'number',
  'model.teacher_shortcut': 'bool',
  'model.teacher_resync_every': 'int',
  'optimizer.lr': 'positive',
  'train.epoch': 'int',
  'train.batch_size': 'posint',
  'train.test_step': 'posint',
  'train.patience': 'posint',
  'train.seed': 'int',
  'train.valid_metric': 'metric',
  'test.k': 'intlist',
  'test.batch_size': 'posint',
};

function check(key: string, kind: Kind, v: unknown, where: string): unknown {
  const bad = (what: string) => new ConfigError(`${where}: ${key} must be ${what}, got ${JSON.stringify(v)}`);
  const num = typeof v === 'number' && Number.isFinite(v);
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') throw bad('a non-empty string');
      return v;
    case 'align':
      if (typeof v !== 'string' || !(ALIGNMENTS as readonly string[]).includes(v)) throw bad(`one of ${ALIGNMENTS.join(', ')}`);
      return v;
    case 'metric':
      if (typeof v !== 'string' || !/^[a-z]+@[1-9][0-9]*$/i.test(v.trim())) throw bad('a metric at a cut-off, e.g. ndcg@10');
      return v.trim().toLowerCase();
    case 'bool':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v;
    case 'number':
      if (!num || (v as number) < 0) throw bad('a finite non-negative number');
      return v;
    case 'positive':
      if (!num || (v as number) <= 0) throw bad('a finite positive number');
      return v;
    case 'prob':
      if (!num || !((v as number) > 0 && (v as number) <= 1)) throw bad('a number in (0, 1]');
      return v;
    case 'int':
      if (!num || !Number.isInteger(v) || (v as number) < 0) throw bad('a non-negative integer');
      return v;
    case 'posint':
      if (!num || !Number.isInteger(v) || (v as number) <= 0) throw bad('a positive integer');
      return v;
    case 'intlist':
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x <= 0)) {
        throw bad('a non-empty list of positive integers');
      }
      return [...(v as number[])];
  }
}

/** Parses a `--set` value string into the key's type. */
export function parseValue(key: string, raw: string): unknown {
  const kind = CONFIG_KEYS[key];
  if (!kind) throw new ConfigError(`--set ${key}: unknown config key ${key} (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
  if (kind === 'string' || kind === 'align' || kind === 'metric') return raw;
  if (kind === 'bool') {
    if (raw === 'true' || raw === 'false') return raw === 'true';
    throw new ConfigError(`--set ${key}=${raw}: expected true or false`);
  }
  if (kind === 'intlist') return raw.split(',').map((s) => Number(s.trim()));
  const n = Number(raw);
  if (raw.trim() === '' || Number.isNaN(n)) throw new ConfigError(`--set ${key}=${raw}: not a number`);
  return n;
}

/** Flattens a nested object to dotted keys, rejecting unknown keys. */
export function flatten(obj: unknown, where: string, prefix = ''): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`${where}: expected an object${prefix ? ` at ${prefix.slice(0, -1)}` : ''}`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (CONFIG_KEYS[key]) out[key] = v;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(CONFIG_KEYS).some((c) => c.startsWith(`${key}.`))) {
      Object.assign(out, flatten(v, where, `${key}.`));
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
  for (const [key, v] of Object.entries(overrides)) {
    const kind = CONFIG_KEYS[key];
    if (!kind) throw new ConfigError(`${where}: unknown config key ${key}`);
    const [sec, field] = key.split('.') as [string, string];
    // optional keys outside the model section (train.valid_metric) may be absent from the base
    if (sec === 'model' && !(field in next[sec]!)) throw new ConfigError(`${where}: ${key} is not a parameter of ${modelLabel(base)}`);
    next[sec]![field] = check(key, kind, v, where);
  }
  return next as unknown as Config;
}

export function validate(cfg: Config, where = 'config'): Config {
  const flat: Record<string, unknown> = {};
  for (const [sec, fields] of Object.entries(cfg as unknown as Record<string, Record<string, unknown>>)) {
    for (const [field, v] of Object.entries(fields)) flat[`${sec}.${field}`] = v;
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

/** The validation metric of a config: `train.valid_metric`, else the official recall at the last k. */
export function validMetric(cfg: Config): { key: string; metric: MetricName; k: number } {
  const key = cfg.train.valid_metric ?? `recall@${cfg.test.k[cfg.test.k.length - 1]}`;
  const { metric, k } = parseMetricKey(key, cfg.test.k);
  if (metricKind(metric) !== 'mean') throw new Error(`${metric} is a catalogue-level figure, not a per-user metric to select a model on`);
  return { key: `${metric}@${k}`, metric, k };
}
