/**
 * The one strict configuration. Keys mirror the official yml files (snake_case), so a reader can
 * cross-check against the reference; unknown keys are errors; defaults live in defaults.ts.
 */
export interface ModelSection {
  name: string;
  embedding_size: number;
  layer_num: number;
  reg_weight: number;
  keep_rate: number;
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

type Kind = 'int' | 'posint' | 'number' | 'prob' | 'string' | 'intlist';

/** Every accepted key and its type. */
export const CONFIG_KEYS: Record<string, Kind> = {
  'model.name': 'string',
  'model.embedding_size': 'posint',
  'model.layer_num': 'int',
  'model.reg_weight': 'number',
  'model.keep_rate': 'prob',
  'optimizer.lr': 'number',
  'train.epoch': 'int',
  'train.batch_size': 'posint',
  'train.test_step': 'posint',
  'train.patience': 'posint',
  'train.seed': 'int',
  'test.k': 'intlist',
  'test.batch_size': 'posint',
};

function check(key: string, kind: Kind, v: unknown, where: string): unknown {
  const bad = (what: string) => new ConfigError(`${where}: ${key} must be ${what}, got ${JSON.stringify(v)}`);
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') throw bad('a non-empty string');
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad('a finite non-negative number');
      return v;
    case 'prob':
      if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw bad('a number in (0, 1]');
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad('a non-negative integer');
      return v;
    case 'posint':
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad('a positive integer');
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
  if (kind === 'string') return raw;
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

/** Applies dotted overrides onto a config (validated), returning a new config. */
export function applyOverrides(base: Config, overrides: Record<string, unknown>, where: string): Config {
  const next = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  for (const [key, v] of Object.entries(overrides)) {
    const kind = CONFIG_KEYS[key];
    if (!kind) throw new ConfigError(`${where}: unknown config key ${key}`);
    const [sec, field] = key.split('.') as [string, string];
    next[sec]![field] = check(key, kind, v, where);
  }
  return next as unknown as Config;
}

export function validate(cfg: Config, where = 'config'): Config {
  const flat: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS)) {
    const [sec, field] = key.split('.') as [string, string];
    flat[key] = (cfg as unknown as Record<string, Record<string, unknown>>)[sec]?.[field];
  }
  return applyOverrides(cfg, flat, where);
}
