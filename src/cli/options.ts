/** Options several commands share: how a run's config and text are found (train, tune, compare). */
import type { Command } from 'commander';

/** Commander collector of a repeatable option. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];

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
