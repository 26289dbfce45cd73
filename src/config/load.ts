/** Resolves the run configuration: defaults (model x dataset section) <- config file <- --set. */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { defaultConfig, hasDefaults, inferSection, type DatasetSection } from './defaults.js';
import { applyOverrides, ConfigError, flatten, parseValue, validate, type Config } from './schema.js';
import { parseModelName } from '../models/registry.js';

export interface ResolveOptions {
  model: string;
  /** --align (none, rlmrec-con, rlmrec-gen, irllrec); official model names imply it. */
  align?: string;
  datasetName: string;
  section?: DatasetSection;
  configFile?: string;
  sets?: string[];
  seed?: number;
}

export function resolveConfig(o: ResolveOptions): { config: Config; section: DatasetSection } {
  let parsed: ReturnType<typeof parseModelName>;
  try {
    parsed = parseModelName(o.model, o.align);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const section = o.section ?? inferSection(o.datasetName);
  if (!hasDefaults(parsed.backbone, parsed.align)) {
    throw new ConfigError(`${parsed.backbone} with alignment ${parsed.align} is not supported yet`);
  }
  let cfg = defaultConfig(parsed.backbone, parsed.align, section);
  if (o.configFile) {
    let text: string;
    try {
      text = readFileSync(o.configFile, 'utf8');
    } catch (e) {
      throw new ConfigError(`${o.configFile}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    let obj: unknown;
    try {
      obj = o.configFile.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (e) {
      throw new ConfigError(`${o.configFile}: not valid ${o.configFile.endsWith('.json') ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`);
    }
    cfg = applyOverrides(cfg, flatten(obj ?? {}, o.configFile), o.configFile);
  }
  const sets: Record<string, unknown> = {};
  for (const s of o.sets ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value`);
    const key = s.slice(0, eq).trim();
    sets[key] = parseValue(key, s.slice(eq + 1));
  }
  if (o.seed !== undefined) sets['train.seed'] = o.seed;
  cfg = applyOverrides(cfg, sets, '--set');
  if (cfg.model.name !== parsed.backbone || cfg.model.align !== parsed.align) {
    throw new ConfigError(`model.name/model.align (${cfg.model.name}, ${cfg.model.align}) in the config differ from --model ${o.model}${o.align ? ` --align ${o.align}` : ''}`);
  }
  return { config: validate(cfg), section };
}
