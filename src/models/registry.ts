/**
 * Model names -> compositions. A model is `backbone x alignment`; the official config names are
 * accepted as aliases: `<backbone>` (no alignment), `<backbone>_plus` (RLMRec-Con),
 * `<backbone>_gene` (RLMRec-Gen), `<backbone>_int` (IRLLRec).
 */
import { ALIGNMENTS, trainingMode, type AlignName, type Config } from '../config/schema.js';
import { edgeListOf, type NormalizedAdjacency } from '../data/graph.js';
import type { Rng } from '../util/rng.js';
import { IntentAlignment } from './alignment/irllrec.js';
import { ProfileContrast } from './alignment/rlmrec-con.js';
import { MaskedReconstruction } from './alignment/rlmrec-gen.js';
import type { Alignment, TextVectors, TrainingText } from './alignment/types.js';
import { LightGCNBackbone } from './backbones/lightgcn.js';
import { SGLBackbone } from './backbones/sgl.js';
import { SimGCLBackbone } from './backbones/simgcl.js';
import { DCCFBackbone } from './backbones/dccf.js';
import { BIGCFBackbone } from './backbones/bigcf.js';
import type { Backbone } from './backbones/types.js';
import { ComposedModel } from './composed.js';
import type { RecModel } from './types.js';
import { UserError } from '../util/errors.js';

export const BACKBONES = ['lightgcn', 'sgl', 'simgcl', 'dccf', 'bigcf'] as const;

const SUFFIX: Record<string, AlignName> = { '': 'none', _plus: 'rlmrec-con', _gene: 'rlmrec-gen', _int: 'irllrec' };
const ALIGN_SUFFIX: Record<AlignName, string> = { none: '', 'rlmrec-con': '_plus', 'rlmrec-gen': '_gene', irllrec: '_int' };

export class UnknownModelError extends UserError {}

/** Splits a model name (official alias or backbone) and an optional --align into the pair. */
export function parseModelName(name: string, align?: string): { backbone: string; align: AlignName } {
  const lower = name.toLowerCase();
  for (const b of BACKBONES) {
    for (const [suffix, a] of Object.entries(SUFFIX)) {
      if (lower === b + suffix) {
        if (align !== undefined && suffix !== '' && align !== a) {
          throw new UnknownModelError(`model "${name}" already implies --align ${a}, but --align ${align} was given`);
        }
        const chosen = (suffix === '' ? (align ?? 'none') : a) as AlignName;
        if (!(ALIGNMENTS as readonly string[]).includes(chosen)) {
          throw new UnknownModelError(`unknown alignment "${align}" (supported: ${ALIGNMENTS.join(', ')})`);
        }
        return { backbone: b, align: chosen };
      }
    }
  }
  throw new UnknownModelError(`unknown model "${name}" (supported: ${supportedModels().join(', ')})`);
}

/** The official name of a composition (lightgcn_int, ...). */
export function officialName(backbone: string, align: AlignName): string {
  return backbone + ALIGN_SUFFIX[align];
}

export function supportedModels(): string[] {
  return BACKBONES.flatMap((b) => Object.keys(SUFFIX).map((s) => b + s));
}

/** Which text vectors an alignment needs. */
export function requiredText(align: AlignName): (keyof TextVectors)[] {
  switch (align) {
    case 'none':
      return [];
    case 'rlmrec-con':
    case 'rlmrec-gen':
      return ['usrPrf', 'itmPrf'];
    case 'irllrec':
      return ['usrPrf', 'itmPrf', 'usrInt', 'itmInt'];
  }
}

function createBackbone(cfg: Config, adj: NormalizedAdjacency): Backbone {
  const m = cfg.model;
  const lgc = { embeddingSize: m.embedding_size, layerNum: m.layer_num, keepRate: m.keep_rate ?? 1 };
  switch (m.name) {
    case 'lightgcn':
      return new LightGCNBackbone(adj, lgc);
    case 'sgl':
      return new SGLBackbone(adj, lgc, { clWeight: m.cl_weight!, clTemperature: m.cl_temperature! });
    case 'simgcl':
      return new SimGCLBackbone(adj, { ...lgc, keepRate: 1 }, { clWeight: m.cl_weight!, clTemperature: m.cl_temperature! }, m.eps!);
    case 'dccf':
      return new DCCFBackbone(adj, { embeddingSize: m.embedding_size, layerNum: m.layer_num, intentNum: m.intent_num!, clWeight: m.cl_weight!, clTemperature: m.cl_temperature! });
    case 'bigcf':
      return new BIGCFBackbone(adj, {
        embeddingSize: m.embedding_size, layerNum: m.layer_num, intentNum: m.intent_num!, clWeight: m.cl_weight!,
        clTemperature: m.cl_temperature!, cenWeight: m.cen_weight!, evalNoise: m.eval_noise!, referenceItmParams: m.align === 'irllrec',
      });
    default:
      throw new UnknownModelError(`unknown backbone "${m.name}"`);
  }
}

function createAlignment(cfg: Config, adj: NormalizedAdjacency, text: TrainingText): Alignment[] {
  const m = cfg.model;
  const d = m.embedding_size;
  switch (m.align) {
    case 'none':
      return [];
    case 'rlmrec-con':
      return [new ProfileContrast(text, { kdWeight: m.kd_weight!, kdTemperature: m.kd_temperature!, embeddingSize: d })];
    case 'rlmrec-gen':
      return [new MaskedReconstruction(text, {
        maskRatio: m.mask_ratio!, reconWeight: m.recon_weight!, reTemperature: m.re_temperature!, embeddingSize: d,
        maskInput: m.name !== 'bigcf', // the reference's BIGCF_gene draws its mask after the forward and discards it
      })];
    case 'irllrec':
      return [new IntentAlignment(text, edgeListOf(adj), {
        embeddingSize: d, intentNum: m.intent_num!, kdWeight: m.kd_weight!, kdTemperature: m.kd_temperature!,
        kdIntWeight: m.kd_int_weight!, kdIntTemperature: m.kd_int_temperature!, kdIntWeight2: m.kd_int_weight_2!,
        kdIntWeight3: m.kd_int_weight_3!, teacherShortcut: m.teacher_shortcut, teacherResyncEvery: m.teacher_resync_every,
        paNegTerm: m.name !== 'simgcl',
        withTeacher: m.name === 'lightgcn' || m.kd_int_weight_3 !== 0,
      })];
  }
}

export function createModel(cfg: Config, adj: NormalizedAdjacency, rng: Rng, text: TrainingText = {}): RecModel {
  const missing = requiredText(cfg.model.align).filter((k) => !text[k]);
  if (missing.length) throw new UserError(`${officialName(cfg.model.name, cfg.model.align)} needs text vectors: ${missing.join(', ')}`);
  const model = new ComposedModel(officialName(cfg.model.name, cfg.model.align), createBackbone(cfg, adj), createAlignment(cfg, adj, text), cfg.model.reg_weight, rng);
  const tm = trainingMode(cfg, textWidth(text));
  model.sampleSize = tm.sampleSize;
  model.intentFanout = tm.intentFanout;
  model.userPool = tm.userPool;
  model.taUniform = tm.taUniform;
  return model;
}

/** The widest text vectors of a model's inputs (0 without text). */
export function textWidth(text: TrainingText): number {
  return Math.max(0, ...Object.values(text).map((t) => t?.cols ?? 0));
}
