/**
 * The variants and their compositions. A model is `backbone x alignment`, each described by the one
 * descriptor its file exports (descriptor.ts); the lists below are the only place that names them.
 * The official config names stay accepted as aliases: the backbone plus its alignment's suffix,
 * `<backbone>` (no alignment), `<backbone>_plus` (RLMRec-Con), `<backbone>_gene` (RLMRec-Gen),
 * `<backbone>_int` (IRLLRec).
 *
 * Loading this module installs the config catalog built from the descriptors (config/catalog.ts:
 * names, keys, defaults), so config/ validates and resolves model keys without importing models/.
 */
import { installModelCatalog, type KeySpec, type ModelCatalog, type ModelKeyValues } from '../config/catalog.js';
import { SECTIONS, type DatasetSection } from '../config/defaults.js';
import { trainingMode, type AlignName, type Config } from '../config/schema.js';
import type { NormalizedAdjacency } from '../data/graph.js';
import { UserError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import { IRLLREC } from './alignment/irllrec.js';
import { NO_ALIGNMENT } from './alignment/none.js';
import { RLMREC_CON } from './alignment/rlmrec-con.js';
import { RLMREC_GEN } from './alignment/rlmrec-gen.js';
import type { TrainingText } from './alignment/types.js';
import { BIGCF } from './backbones/bigcf.js';
import { ALPHAREC } from './backbones/alpharec.js';
import { DCCF } from './backbones/dccf.js';
import { LIGHTGCN } from './backbones/lightgcn.js';
import { SGL } from './backbones/sgl.js';
import { SIMGCL } from './backbones/simgcl.js';
import { ComposedModel } from './composed.js';
import type { AlignmentDescriptor, BackboneContext, BackboneDescriptor, TextKind, VariantKey, VariantKeys } from './descriptor.js';
import type { RecModel } from './types.js';

export class UnknownModelError extends UserError {}

const backbones: BackboneDescriptor[] = [];
const alignments: AlignmentDescriptor[] = [];
const backboneNames: string[] = [];

/** The backbone names, in registration order (kept current by registerBackbone). */
export const BACKBONES: readonly string[] = backboneNames;

/** Keys of every model (config/schema.ts validates them); a variant neither redeclares them nor omits their defaults. */
const BASE_KEYS = ['embedding_size', 'layer_num', 'reg_weight'];
const RESERVED_KEYS = new Set(['name', 'align', ...BASE_KEYS]);
/** The order text kinds are listed and loaded in. */
const TEXT_KINDS: readonly TextKind[] = ['usrPrf', 'itmPrf', 'usrInt', 'itmInt'];

const backboneOf = (name: string) => backbones.find((b) => b.name === name);
const alignmentOf = (name: string) => alignments.find((a) => a.name === name);
const combines = (b: BackboneDescriptor, a: AlignmentDescriptor) => !b.alignments || b.alignments.includes(a.name);

/** Splits a model name (official alias or backbone) and an optional --align into the pair. */
export function parseModelName(name: string, align?: string): { backbone: string; align: AlignName } {
  const lower = name.toLowerCase();
  for (const b of backbones) {
    for (const a of alignments) {
      if (lower !== b.name + a.suffix) continue;
      if (align !== undefined && a.suffix !== '' && align !== a.name) {
        throw new UnknownModelError(`model "${name}" already implies --align ${a.name}, but --align ${align} was given`);
      }
      const chosen = a.suffix === '' ? alignmentOf(align ?? NO_ALIGNMENT.name) : a;
      if (!chosen) throw new UnknownModelError(`unknown alignment "${align}" (supported: ${alignments.map((x) => x.name).join(', ')})`);
      if (!combines(b, chosen)) {
        throw new UnknownModelError(`${b.name} does not combine with alignment ${chosen.name} (it takes: ${alignments.filter((x) => combines(b, x)).map((x) => x.name).join(', ')})`);
      }
      return { backbone: b.name, align: chosen.name };
    }
  }
  throw new UnknownModelError(`unknown model "${name}" (supported: ${supportedModels().join(', ')})`);
}

/** The official name of a composition (lightgcn_int, ...). */
export function officialName(backbone: string, align: AlignName): string {
  const a = alignmentOf(align);
  if (!a) throw new UnknownModelError(`unknown alignment "${align}"`);
  return backbone + a.suffix;
}

export function supportedModels(): string[] {
  return backbones.flatMap((b) => alignments.filter((a) => combines(b, a)).map((a) => b.name + a.suffix));
}

/** Which text vectors a composition needs: the alignment's, and the backbone's when it is given. */
export function requiredText(align: AlignName, backbone?: string): TextKind[] {
  const a = alignmentOf(align);
  if (!a) throw new UnknownModelError(`unknown alignment "${align}"`);
  const b = backbone === undefined ? undefined : backboneOf(backbone);
  const need = new Set([...a.text, ...(b?.text ?? [])]);
  return TEXT_KINDS.filter((k) => need.has(k));
}

export function createModel(cfg: Config, adj: NormalizedAdjacency, rng: Rng, text: TrainingText = {}): RecModel {
  const b = backboneOf(cfg.model.name);
  const a = alignmentOf(cfg.model.align);
  if (!b) throw new UnknownModelError(`unknown backbone "${cfg.model.name}"`);
  if (!a) throw new UnknownModelError(`unknown alignment "${cfg.model.align}"`);
  const name = officialName(b.name, a.name);
  const missing = requiredText(a.name, b.name).filter((k) => !text[k]);
  if (missing.length) throw new UserError(`${name} needs text vectors: ${missing.join(', ')}`);
  const model = cfg.model as unknown as BackboneContext['model'];
  const backbone = b.create({ cfg, model, adj, text, align: a.name });
  const plugin = a.create({ cfg, model, adj, text, backbone: b.name });
  const composed = new ComposedModel(name, backbone, plugin ? [plugin] : [], cfg.model.reg_weight, rng);
  const tm = trainingMode(cfg, textWidth(text));
  composed.sampleSize = tm.sampleSize;
  composed.intentFanout = tm.intentFanout;
  composed.userPool = tm.userPool;
  composed.taUniform = tm.taUniform;
  return composed;
}

/** The widest text vectors of a model's inputs (0 without text). */
export function textWidth(text: TrainingText): number {
  return Math.max(0, ...Object.values(text).map((t) => t?.cols ?? 0));
}

/** The `--model` help text. */
export function modelHelp(): string {
  const aliases = alignments.filter((a) => a.suffix !== '').map((a) => `${a.suffix}: ${a.name}`).join(', ');
  return `backbone (${backboneNames.join(', ')}) or an official name, the backbone with its alignment's suffix (${aliases}; e.g. ${backboneNames[0]}${alignments.at(-1)?.suffix ?? ''}); default: the --config file's model, else lightgcn`;
}

/** The `--align` help text. */
export function alignHelp(): string {
  return `alignment plug-in: ${alignments.map((a) => a.name).join(', ')}`;
}

/** The weights `irllrec tune` searches by default for a composition, with their ranges (backbone's first). */
export function searchableWeights(backbone: string, align: AlignName): { key: string; log: readonly [number, number] }[] {
  const out = new Map<string, readonly [number, number]>();
  for (const keys of [backboneOf(backbone)?.keys, alignmentOf(align)?.keys]) {
    for (const [key, spec] of Object.entries(keys ?? {})) if (spec.search && !out.has(key)) out.set(key, spec.search.log);
  }
  return [...out].map(([key, log]) => ({ key, log }));
}

// ---------------------------------------------------------------------------------------------
// the config catalog

/**
 * The default model keys of a composition: the backbone's, with the alignment's row for this backbone
 * (its official values, else its generic ones) laid over them; null when they do not combine.
 */
function compositionDefaults(backbone: string, align: string, section: DatasetSection): ModelKeyValues | null {
  const b = backboneOf(backbone);
  const a = alignmentOf(align);
  if (!b || !a || !combines(b, a)) return null;
  const row = { ...b.defaults[section], ...(a.defaults.byBackbone[b.name] ?? a.defaults.generic)[section] };
  const declared = new Set([...BASE_KEYS, ...Object.keys(b.keys), ...Object.keys(a.keys)]);
  const where = `${officialName(b.name, a.name)} (${section})`;
  for (const k of Object.keys(row)) if (!declared.has(k)) throw new Error(`${where}: default for ${k}, a key neither variant declares`);
  for (const k of declared) if (k !== 'embedding_size' && !Object.hasOwn(row, k)) throw new Error(`${where}: no default for ${k}`);
  return row;
}

/** Every variant key with its validation (a key two variants share must be declared alike). */
function declaredKeys(): Record<string, KeySpec> {
  const out: Record<string, KeySpec> = {};
  for (const d of [...backbones, ...alignments]) {
    for (const [k, spec] of Object.entries(d.keys)) out[k] ??= spec;
  }
  return out;
}

const CATALOG: ModelCatalog = {
  parseModelName,
  backbones: () => backboneNames,
  alignments: () => alignments.map((a) => a.name),
  keys: declaredKeys,
  defaults: compositionDefaults,
  views: (backbone) => backboneOf(backbone)?.views ?? 1,
  training: (backbone) => backboneOf(backbone)?.training ?? {},
};

/** Publishes the current lists: BACKBONES and the config catalog. */
function install(): void {
  backboneNames.splice(0, backboneNames.length, ...backbones.map((b) => b.name));
  installModelCatalog(CATALOG);
}

const sameSpec = (x: VariantKey, y: VariantKey) =>
  x.kind === y.kind && x.max === y.max && !x.optional === !y.optional && JSON.stringify(x.search) === JSON.stringify(y.search);

/** A descriptor's keys against the reserved ones and those other variants already declare. */
function checkKeys(name: string, keys: VariantKeys): void {
  const known = declaredKeys();
  for (const [k, spec] of Object.entries(keys)) {
    if (RESERVED_KEYS.has(k)) throw new Error(`${name}: model.${k} is a key of every model, not a variant's`);
    if (known[k] && !sameSpec(known[k] as VariantKey, spec)) throw new Error(`${name}: model.${k} is declared differently by another variant`);
  }
}

/**
 * Adds `d` to `list` and installs the updated catalog, once every composition it takes part in has
 * consistent defaults; on an error the registry is left as it was. Returns the removal.
 */
function register<D extends BackboneDescriptor | AlignmentDescriptor>(list: D[], d: D): () => void {
  checkKeys(d.name, d.keys);
  const remove = () => {
    list.splice(list.indexOf(d), 1);
    install();
  };
  list.push(d);
  try {
    for (const b of backbones) for (const a of alignments) for (const s of SECTIONS) compositionDefaults(b.name, a.name, s);
  } catch (e) {
    list.pop();
    throw e;
  }
  install();
  return remove;
}

/**
 * Adds a backbone (see descriptor.ts), e.g. a library user's own; returns a function that removes it
 * again. It combines with every alignment unless it lists its own.
 */
export function registerBackbone(d: BackboneDescriptor): () => void {
  if (!/^[a-z][a-z0-9]*$/.test(d.name)) throw new Error(`backbone name "${d.name}": lower-case letters and digits only (the official names append a suffix)`);
  if (backboneOf(d.name)) throw new Error(`backbone ${d.name} is registered already`);
  return register(backbones, d);
}

/** Adds an alignment (see descriptor.ts); returns a function that removes it again. */
export function registerAlignment(d: AlignmentDescriptor): () => void {
  if (!/^[a-z][a-z0-9-]*$/.test(d.name) || !/^(_[a-z0-9]+)?$/.test(d.suffix)) throw new Error(`alignment ${d.name}: bad name or suffix "${d.suffix}"`);
  if (alignmentOf(d.name) || alignments.some((a) => a.suffix === d.suffix)) throw new Error(`alignment ${d.name} or suffix "${d.suffix}" is registered already`);
  return register(alignments, d);
}

// The variants this package ships, in the order names and help list them.
const SHIPPED_ALIGNMENTS: AlignmentDescriptor[] = [NO_ALIGNMENT, RLMREC_CON, RLMREC_GEN, IRLLREC];
const SHIPPED_BACKBONES: BackboneDescriptor[] = [LIGHTGCN, SGL, SIMGCL, DCCF, BIGCF, ALPHAREC];
for (const a of SHIPPED_ALIGNMENTS) registerAlignment(a);
for (const b of SHIPPED_BACKBONES) registerBackbone(b);
