/** Options several commands share: how a run's config and text are found (train, tune, compare). */
import type { Command } from 'commander';

/** Commander collector of a repeatable option. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The flags configOptions() adds, as commander hands them over. */
export interface ConfigCliOptions {
  textDir?: string;
  config?: string;
  set?: string[];
  preset?: string;
}

/** The dataset, output and --json flags of the commands that train (train, tune, compare). */
export interface DataCliOptions extends ConfigCliOptions {
  data?: string;
  out?: string;
  json?: boolean;
}

/** A command that trains one model (train, tune): --model and --align too. */
export interface ModelCliOptions extends DataCliOptions {
  model?: string;
  align?: string;
}

/**
 * --text-dir, --config, --set and --preset, as `train` reads them; `whose` says what they apply to in
 * this command ("every run", "the base config the trials start from").
 */
export function configOptions(cmd: Command, whose: string): Command {
  return cmd
    .option('--text-dir <dir>', 'directory with the text vectors (default: the dataset directory); see docs')
    .option('--config <file>', `config file for ${whose} (YAML or JSON); unknown keys are errors`)
    .option('--set <key=value>', `override one config key of ${whose}, e.g. --set model.reg_weight=1e-5 (repeatable)`, collect)
    .option('--preset <name>', 'official per-dataset hyperparameters: amazon, yelp or movie (default: recognised from the data, else rules from its size; the log says which)');
}
