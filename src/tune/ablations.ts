/**
 * Ablation presets for IRLLRec and the names `irllrec compare` accepts for its grid.
 *
 * A grid entry is a model name as `train --model` takes it (a backbone or an official name:
 * `lightgcn`, `lightgcn_plus`, `sgl_int`, ...), optionally followed by ablation presets, each
 * `-<preset>`: `lightgcn_int-no-pa`, `sgl_int-no-ta-no-itm`. A preset is a documented config
 * overlay (a list of `--set key=value`), applied after the defaults, the config file and the
 * grid's own `--set`s. Every preset removes one part of IRLLRec (Wang et al., SIGIR 2025), so they
 * apply to IRLLRec models (`<backbone>_int`) only:
 *
 * | preset     | overlay                           | removes                                                         |
 * |------------|-----------------------------------|-----------------------------------------------------------------|
 * | `no-pa`    | model.kd_int_weight=0             | PA: the pairwise (InfoNCE) alignment of interaction and text intents |
 * | `no-ta`    | model.kd_int_weight_2=0           | TA: the translation alignment of text intents and embeddings (and ITM's TA part) |
 * | `no-itm`   | model.kd_int_weight_3=0           | ITM: interaction-text matching with the momentum teacher        |
 * | `no-prf`   | model.kd_weight=0                 | the profile alignment (RLMRec-Con's term, kept by IRLLRec)      |
 * | `no-proto` | model.intent_prototypes=false     | the learned intent prototypes (interaction intents)             |
 *
 * (docs/compare.md has the same table.) `no-proto` needs the `model.intent_prototypes` key; a
 * build without it refuses that preset with the config loader's one-line "unknown key" error
 * before anything trains.
 */
import { parseModelName, officialName } from '../models/registry.js';
import type { AlignName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';

export interface AblationPreset {
  /** The suffix after `-` in a grid name. */
  name: string;
  /** `--set` overlays, applied in order. */
  sets: readonly string[];
  /** What it removes, one line. */
  removes: string;
}

/** The IRLLRec ablation presets (see the module doc). */
export const ABLATIONS: readonly AblationPreset[] = [
  { name: 'no-pa', sets: ['model.kd_int_weight=0'], removes: 'PA: pairwise (InfoNCE) alignment of interaction intents and text intents' },
  { name: 'no-ta', sets: ['model.kd_int_weight_2=0'], removes: 'TA: translation alignment of text intents and embeddings (and the TA part of ITM)' },
  { name: 'no-itm', sets: ['model.kd_int_weight_3=0'], removes: 'ITM: interaction-text matching with the momentum teacher' },
  { name: 'no-prf', sets: ['model.kd_weight=0'], removes: 'the profile alignment (the RLMRec-Con term IRLLRec keeps)' },
  { name: 'no-proto', sets: ['model.intent_prototypes=false'], removes: 'the learned intent prototypes (interaction intents)' },
];

/** One model of a comparison grid. */
export interface GridEntry {
  /** The canonical grid name: official model name plus `-preset` suffixes ("lightgcn_int-no-pa"). */
  name: string;
  /** The official name of the trained model ("lightgcn_int"). */
  model: string;
  backbone: string;
  align: AlignName;
  /** Ablation presets, in the order given. */
  ablations: string[];
  /** Their overlays, in order. */
  sets: string[];
}

/** A grid name -> what to train. Throws a one-line UsageError for an unknown model or preset. */
export function parseGridEntry(name: string): GridEntry {
  const raw = name.trim();
  const dash = raw.indexOf('-');
  const head = dash < 0 ? raw : raw.slice(0, dash);
  let parsed: { backbone: string; align: AlignName };
  try {
    parsed = parseModelName(head);
  } catch (e) {
    throw new UsageError(`--models: ${(e as Error).message}`);
  }
  const model = officialName(parsed.backbone, parsed.align);
  const ablations: string[] = [];
  let rest = dash < 0 ? '' : raw.slice(dash + 1).toLowerCase();
  while (rest) {
    const p = ABLATIONS.find((a) => rest === a.name || rest.startsWith(`${a.name}-`));
    if (!p) throw new UsageError(`--models ${raw}: unknown ablation preset "${rest.split('-').slice(0, 2).join('-')}" (presets: ${ABLATIONS.map((a) => a.name).join(', ')}; e.g. ${model}-no-pa)`);
    if (ablations.includes(p.name)) throw new UsageError(`--models ${raw}: preset ${p.name} given twice`);
    ablations.push(p.name);
    rest = rest.slice(p.name.length + 1);
  }
  if (ablations.length && parsed.align !== 'irllrec') {
    throw new UsageError(`--models ${raw}: the ablation presets remove parts of IRLLRec and apply to IRLLRec models only (${parsed.backbone}_int-${ablations[0]}), not to ${model}`);
  }
  const sets = ablations.flatMap((a) => ABLATIONS.find((p) => p.name === a)!.sets);
  return { name: [model, ...ablations].join('-'), model, backbone: parsed.backbone, align: parsed.align, ablations, sets };
}
