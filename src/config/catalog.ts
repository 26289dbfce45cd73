/**
 * What config/ needs to know about models, without importing them (models/ is a higher layer): the
 * model keys and their validation, the default model keys of a composition, how model names parse.
 * src/models/registry.ts builds this catalog from the variants' descriptors and installs it when it
 * loads (every entry point loads the registry: the CLI, the library's index, the trainer), and again
 * whenever a variant is registered.
 */
import type { DatasetSection } from './defaults.js';

/**
 * A key's type; the lower bound comes with it: `number`/`int` >= 0, `positive` > 0, `posint` >= 1,
 * `prob` in (0, 1], `intlist` a non-empty list of integers >= 1.
 */
export type KeyKind = 'int' | 'posint' | 'number' | 'positive' | 'prob' | 'string' | 'intlist' | 'bool' | 'align' | 'metric' | 'mode';

/** How a config key is validated. */
export interface KeySpec {
  readonly kind: KeyKind;
  /** The largest accepted value (numbers; for `intlist`, of each item). */
  readonly max?: number;
  /** Configs written before the key existed may lack it: the model then reads its documented fallback. */
  readonly optional?: boolean;
}

export type ModelKeyValue = number | boolean | string;

/** The model keys of a composition beyond name, align and embedding_size (layer_num, reg_weight and the variants' own). */
export type ModelKeyValues = Readonly<Record<string, ModelKeyValue>>;

/** A model's official training values where they differ from the common ones (see defaultConfig). */
export interface TrainingDefaults {
  readonly batch_size?: number;
  readonly test_step?: number;
  readonly patience?: number;
}

export interface ModelCatalog {
  /** The backbone and alignment a model name stands for (a backbone or an official alias); throws a UserError. */
  parseModelName(name: string, align?: string): { backbone: string; align: string };
  backbones(): readonly string[];
  /** Alignment names, `none` first. */
  alignments(): readonly string[];
  /** The model keys the variants declare (without the `model.` prefix), with their validation. */
  keys(): Readonly<Record<string, KeySpec>>;
  /** The default model keys of a composition for a dataset section; null when it is not supported. */
  defaults(backbone: string, align: string, section: DatasetSection): ModelKeyValues | null;
  /** Graph views a training step propagates (the memory estimate). */
  views(backbone: string): number;
  /** The backbone's own official training values, if any. */
  training(backbone: string): TrainingDefaults;
}

let installed: ModelCatalog | null = null;
const refreshers: (() => void)[] = [];

/** Makes `catalog` the one config/ reads, and rebuilds the tables derived from it. */
export function installModelCatalog(catalog: ModelCatalog): void {
  installed = catalog;
  for (const refresh of refreshers) refresh();
}

export function modelCatalog(): ModelCatalog {
  if (!installed) throw new Error('no model catalog installed: load src/models/registry.ts first (every entry point does)');
  return installed;
}

/** Registers a rebuild of a table derived from the catalog (run now if one is installed, and on every install). */
export function onModelCatalog(refresh: () => void): void {
  refreshers.push(refresh);
  if (installed) refresh();
}
