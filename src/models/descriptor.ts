/**
 * Self-describing variants. Every backbone file (backbones/*.ts) and every alignment file
 * (alignment/*.ts) exports one descriptor: its name, the config keys it reads and how they are
 * validated, its default values per dataset section, the text vectors it needs and a factory.
 * registry.ts lists the descriptors (the only place that does) and builds from them the model names,
 * the config catalog (config/catalog.ts: keys, defaults) and the models. Quirks of one combination
 * live in the descriptor that owns them, through the context's `align` / `backbone` names.
 */
import type { KeySpec, ModelKeyValues, TrainingDefaults } from '../config/catalog.js';
import type { DatasetSection } from '../config/defaults.js';
import type { Config } from '../config/schema.js';
import type { NormalizedAdjacency } from '../data/graph.js';
import type { Alignment, TextVectors, TrainingText } from './alignment/types.js';
import type { Backbone } from './backbones/types.js';

export type TextKind = keyof TextVectors;

/** A variant's config key: its validation and, for a weight worth tuning, the default range `irllrec tune` searches. */
export interface VariantKey extends KeySpec {
  readonly search?: { readonly log: readonly [number, number] };
}
export type VariantKeys = Readonly<Record<string, VariantKey>>;

type ValueOf<S extends KeySpec> = S['kind'] extends 'bool' ? boolean : S['kind'] extends 'string' ? string : number;

/** The values of declared keys in a validated config (an optional key may be absent from an older config). */
export type KeyValues<S extends VariantKeys> = {
  readonly [K in keyof S]: S[K] extends { optional: true } ? ValueOf<S[K]> | undefined : ValueOf<S[K]>;
};

/** The model keys every model has (config/schema.ts validates them). */
export interface BaseKeyValues {
  readonly embedding_size: number;
  readonly layer_num: number;
  readonly reg_weight: number;
}

/** Model key values per dataset section (`amazon` = Amazon-book, `yelp`, `movie` = Amazon-movie). */
export type SectionDefaults = Readonly<Record<DatasetSection, ModelKeyValues>>;

interface VariantContext<S extends VariantKeys> {
  /** The whole validated config. */
  readonly cfg: Config;
  /** `cfg.model`, typed with the descriptor's keys. */
  readonly model: BaseKeyValues & KeyValues<S>;
  readonly adj: NormalizedAdjacency;
  readonly text: TrainingText;
}

export interface BackboneContext<S extends VariantKeys = VariantKeys> extends VariantContext<S> {
  /**
   * The alignment the backbone is composed with: the hook for combination quirks a backbone owns
   * (BIGCF registers the reference's unused ITM parameters when composed with IRLLRec).
   */
  readonly align: string;
}

export interface AlignmentContext<S extends VariantKeys = VariantKeys> extends VariantContext<S> {
  /** The backbone it is composed with, for combination quirks the alignment owns (SimGCL_int's PA has no negative term). */
  readonly backbone: string;
}

export interface BackboneDescriptor<S extends VariantKeys = VariantKeys> {
  /** Lower-case letters and digits; the official names append the alignment's suffix (`lightgcn_int`). */
  readonly name: string;
  /** The model keys it reads beyond embedding_size, layer_num and reg_weight. */
  readonly keys: S;
  /** layer_num, reg_weight and its own keys per dataset section: its official values without alignment. */
  readonly defaults: SectionDefaults;
  /** Text vectors the backbone itself needs (e.g. to initialise from text embeddings). */
  readonly text?: readonly TextKind[];
  /** Graph views a training step propagates (memory estimate; default 1). */
  readonly views?: number;
  /** The alignments it may be composed with (default: every registered one). */
  readonly alignments?: readonly string[];
  /** Its official training values where they differ from the other models' (batch 4096, validate every 3 epochs, patience 5). */
  readonly training?: TrainingDefaults;
  create(ctx: BackboneContext<S>): Backbone;
}

export interface AlignmentDescriptor<S extends VariantKeys = VariantKeys> {
  /** The value of model.align (`irllrec`). */
  readonly name: string;
  /** The official names' suffix (`_int`; `''` for no alignment). */
  readonly suffix: string;
  readonly keys: S;
  /**
   * Its key values per dataset section, laid over the backbone's defaults (a row may change the
   * backbone's keys too, as the official configs do): `byBackbone[name]` where the official code
   * runs the combination, `generic` on any other backbone.
   */
  readonly defaults: { readonly byBackbone: Readonly<Record<string, SectionDefaults>>; readonly generic: SectionDefaults };
  readonly text: readonly TextKind[];
  /** The plug-in, or null when there is nothing to add. */
  create(ctx: AlignmentContext<S>): Alignment | null;
}

/** Identity functions that infer the keys' types for the factory (`ctx.model.cl_weight` is a number). */
export function defineBackbone<const S extends VariantKeys>(d: BackboneDescriptor<S>): BackboneDescriptor<S> {
  return d;
}
export function defineAlignment<const S extends VariantKeys>(d: AlignmentDescriptor<S>): AlignmentDescriptor<S> {
  return d;
}

// Shared key validation (the bounds say what is sane, not what is official).
/** Loss weights: 0 .. 1e6 (official <= 0.1). */
export const WEIGHT = { kind: 'number', max: 1e6 } as const;
/** Temperatures: (0, 100] (official 0.1 .. 1). */
export const TEMPERATURE = { kind: 'positive', max: 100 } as const;
/** Probabilities (keep rate, mask ratio): (0, 1]. */
export const PROBABILITY = { kind: 'prob' } as const;
/** Intent prototypes per side: 1 .. 4096 (official 128). */
export const INTENT_NUM = { kind: 'posint', max: 4096 } as const;
export const FLAG = { kind: 'bool' } as const;

/** The contrastive term of SGL, SimGCL, DCCF and BIGCF. */
export const CL_KEYS = {
  cl_weight: { ...WEIGHT, search: { log: [1e-3, 0.3] } },
  cl_temperature: TEMPERATURE,
} as const;

/** The same values in every dataset section. */
export function everySection(v: ModelKeyValues): SectionDefaults {
  return { amazon: v, yelp: v, movie: v };
}

/**
 * An alignment's defaults from its official rows by backbone (`official.lightgcn` among them); on
 * another backbone, its own keys of the LightGCN rows.
 */
export function lightgcnFallback(official: { readonly lightgcn: SectionDefaults } & Readonly<Record<string, SectionDefaults>>, keys: VariantKeys): AlignmentDescriptor['defaults'] {
  return { byBackbone: official, generic: onlyKeys(official.lightgcn, keys) };
}

/** The rows of `table` restricted to `keys` (an alignment's own keys of an official row). */
export function onlyKeys(table: SectionDefaults, keys: VariantKeys): SectionDefaults {
  const pick = (row: ModelKeyValues) => Object.fromEntries(Object.entries(row).filter(([k]) => Object.hasOwn(keys, k)));
  return { amazon: pick(table.amazon), yelp: pick(table.yelp), movie: pick(table.movie) };
}
