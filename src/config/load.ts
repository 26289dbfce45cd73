/**
 * Resolves the run configuration: defaults (model x dataset section, chosen from the data's content or
 * a preset; see defaults.ts) <- config file <- --set. Model names and defaults come from the model
 * catalog (catalog.ts), which src/models/registry.ts installs.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { chooseDefaults, defaultConfig, hasDefaults, SECTIONS, type DataStats, type DatasetSection, type DefaultsChoice } from './defaults.js';
import { applyOverrides, checkConfigAgainstData, ConfigError, flatten, parseValue, validate, type Config } from './schema.js';
import { modelCatalog } from './catalog.js';

export interface ResolveOptions {
  /** Model name; default: the config file's model.name (and align), else lightgcn. */
  model?: string;
  /** --align (none, rlmrec-con, rlmrec-gen, irllrec); official model names imply it. */
  align?: string;
  /**
   * The training data's size: picks the defaults (recognised paper dataset, or the auto rules), and
   * the resolved config is checked against it (checkConfigAgainstData: k <= items, memory budget).
   */
  stats?: DataStats;
  /** An official section by name (`--preset`), overriding what the data would get. */
  preset?: string;
  configFile?: string;
  sets?: string[];
  seed?: number;
}

export interface ResolvedConfig {
  config: Config;
  section: DatasetSection;
  /** How the defaults were chosen, one line per decision (for the log). */
  defaults: DefaultsChoice;
}

export function parsePreset(p: string | undefined): DatasetSection | undefined {
  if (p === undefined) return undefined;
  if (!(SECTIONS as readonly string[]).includes(p)) throw new ConfigError(`--preset ${p}: expected one of ${SECTIONS.join(', ')}`);
  return p as DatasetSection;
}

/** The largest config file read (a config is a few hundred bytes; this only stops absurd input). */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/**
 * A YAML or JSON file (by extension) parsed, at most MAX_CONFIG_FILE_BYTES; unreadable or invalid
 * files are one-line ConfigErrors naming the file (`what`: "config file", "search space", ...).
 */
export function readYamlOrJson(file: string, what: string): unknown {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_FILE_BYTES) throw new ConfigError(`${file}: ${what} of ${size} bytes, more than the ${MAX_CONFIG_FILE_BYTES} accepted`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`${file}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`);
  }
}

function readConfigFile(file: string): Record<string, unknown> {
  return flatten(readYamlOrJson(file, 'config file') ?? {}, file);
}

export function resolveConfig(o: ResolveOptions): ResolvedConfig {
  const fromFile = o.configFile ? readConfigFile(o.configFile) : null;
  // without --model, a config file that names its model (e.g. tune's best.yaml) decides
  const model = o.model ?? (typeof fromFile?.['model.name'] === 'string' ? fromFile['model.name'] : 'lightgcn');
  const align = o.align ?? (o.model === undefined && typeof fromFile?.['model.align'] === 'string' ? fromFile['model.align'] : undefined);
  const catalog = modelCatalog();
  let parsed: { backbone: string; align: string };
  try {
    parsed = catalog.parseModelName(model, align);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const choice = chooseDefaults(o.stats, parsePreset(o.preset));
  const section = choice.section;
  if (!hasDefaults(parsed.backbone, parsed.align)) {
    throw new ConfigError(`${parsed.backbone} with alignment ${parsed.align} is not supported yet`);
  }
  let cfg = applyOverrides(defaultConfig(parsed.backbone, parsed.align, section), choice.sets, 'defaults');
  if (fromFile) cfg = applyOverrides(cfg, fromFile, o.configFile!);
  const sets: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const s of o.sets ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value`);
    const key = s.slice(0, eq).trim();
    sets[key] = parseValue(key, s.slice(eq + 1));
  }
  if (o.seed !== undefined) sets['train.seed'] = o.seed;
  cfg = applyOverrides(cfg, sets, '--set');
  if (cfg.model.name !== parsed.backbone || cfg.model.align !== parsed.align) {
    throw new ConfigError(`model.name/model.align (${cfg.model.name}, ${cfg.model.align}) in the config differ from --model ${model}${align ? ` --align ${align}` : ''}`);
  }
  const config = validate(cfg);
  // relations to the data, before the caller writes or allocates anything
  if (o.stats) checkConfigAgainstData(config, o.stats);
  return { config, section, defaults: choice };
}
