/**
 * Search spaces for `irllrec tune`: which config keys are searched and how values are drawn.
 *
 * A space maps dotted config keys to a distribution:
 *   { "optimizer.lr": { "log": [1e-3, 3e-2] },        log-uniform
 *     "model.layer_num": { "choice": [1, 2, 3] },      one of the values
 *     "model.cl_temperature": { "uniform": [0.1, 1] }, uniform
 *     "model.embedding_size": { "int": [16, 128] } }   uniform integer, bounds included
 * Every key must be a key the chosen model's config has (so a typo is an error, not a no-op), and
 * every drawn value passes the config's own validation.
 */
import { applyOverrides, ConfigError, CONFIG_KEYS, type Config } from '../config/schema.js';
import { searchableWeights } from '../models/registry.js';
import type { Rng } from '../util/rng.js';

export type Distribution = { log: [number, number] } | { uniform: [number, number] } | { int: [number, number] } | { choice: unknown[] };
export type SearchSpace = Record<string, Distribution>;

/**
 * The default space: what matters most for graph CF, plus the weights the model's backbone and
 * alignment mark as searchable (their descriptors) where the model has them on (> 0): TA and ITM
 * are off (0) on the backbones whose official code never reads them, and so not searched there.
 */
export function defaultSpace(cfg: Config): SearchSpace {
  const m = cfg.model;
  const space: SearchSpace = {
    'optimizer.lr': { log: [1e-3, 3e-2] },
    'model.embedding_size': { choice: [32, 64] },
    'model.layer_num': { choice: [1, 2, 3] },
    'model.reg_weight': { log: [1e-8, 1e-4] },
  };
  for (const { key, log } of searchableWeights(m.name, m.align)) {
    const v = m[key];
    if (typeof v === 'number' && v > 0) space[`model.${key}`] = { log: [log[0], log[1]] };
  }
  return space;
}

/** Checks a space (from a file or the default) against a config: known keys, the model's keys, sane bounds. */
export function checkSpace(space: unknown, cfg: Config, where: string): SearchSpace {
  if (typeof space !== 'object' || space === null || Array.isArray(space)) throw new ConfigError(`${where}: a search space is an object of "key": {log|uniform|int|choice: ...}`);
  const out: SearchSpace = {};
  for (const [key, dist] of Object.entries(space as Record<string, unknown>)) {
    if (!Object.prototype.hasOwnProperty.call(CONFIG_KEYS, key)) throw new ConfigError(`${where}: unknown config key ${key}`);
    const bad = (what: string) => new ConfigError(`${where}: ${key}: ${what}`);
    if (typeof dist !== 'object' || dist === null || Array.isArray(dist) || Object.keys(dist).length !== 1) {
      throw bad('expected exactly one of {"log": [lo, hi]}, {"uniform": [lo, hi]}, {"int": [lo, hi]}, {"choice": [...]}');
    }
    const [kind, arg] = Object.entries(dist)[0]!;
    if (kind === 'choice') {
      if (!Array.isArray(arg) || arg.length === 0) throw bad('choice needs a non-empty list');
    } else if (kind === 'log' || kind === 'uniform' || kind === 'int') {
      if (!Array.isArray(arg) || arg.length !== 2 || !arg.every((x) => typeof x === 'number' && Number.isFinite(x)) || arg[0] > arg[1]) {
        throw bad(`${kind} needs [lo, hi] with lo <= hi`);
      }
      if (kind === 'log' && arg[0] <= 0) throw bad('log needs lo > 0');
      if (kind === 'int' && !(Number.isInteger(arg[0]) && Number.isInteger(arg[1]))) throw bad('int needs integer bounds');
    } else throw bad(`unknown distribution "${kind}" (log, uniform, int, choice)`);
    out[key] = dist as Distribution;
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`${where}: the search space is empty`);
  // every value the space can produce must be a valid setting of this model (bounds and choices checked)
  for (const [key, d] of Object.entries(out)) {
    const probes = 'choice' in d ? d.choice : Object.values(d)[0] as [number, number];
    for (const v of probes) applyOverrides(cfg, { [key]: v }, `${where}: ${key}`);
  }
  return out;
}

/** Draws one setting per key, in the space's key order (so a seed gives the same trials). */
export function sample(space: SearchSpace, rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(space)) {
    const u = rng.float();
    if ('log' in d) out[key] = roundSig(Math.exp(Math.log(d.log[0]) + u * (Math.log(d.log[1]) - Math.log(d.log[0]))));
    else if ('uniform' in d) out[key] = roundSig(d.uniform[0] + u * (d.uniform[1] - d.uniform[0]));
    else if ('int' in d) out[key] = d.int[0] + Math.min(d.int[1] - d.int[0], Math.floor(u * (d.int[1] - d.int[0] + 1)));
    else out[key] = d.choice[Math.min(d.choice.length - 1, Math.floor(u * d.choice.length))];
  }
  return out;
}

/** Three significant digits: values a person can read and type back. */
function roundSig(x: number): number {
  return Number(x.toPrecision(3));
}
