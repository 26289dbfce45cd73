/** `irllrec tune`: successive-halving hyperparameter search over a declared space (src/tune/). */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readYamlOrJson, resolveConfig } from '../config/load.js';
import { loadDataset } from '../data/dataset.js';
import { loadTextVectors } from '../data/text-vectors.js';
import { officialName, requiredText } from '../models/registry.js';
import { checkSpace, defaultSpace } from '../tune/space.js';
import { TUNE_FILES, tune } from '../tune/tuner.js';
import { runCommand, UsageError } from './errors.js';
import { datasetStats, logDataset, parseIntOption } from './train.js';
import { configOptions, type ModelCliOptions } from './options.js';

export interface TuneCliOptions extends ModelCliOptions {
  space?: string;
  trials: string;
  eta: string;
  minEpochs?: string;
  searchSeed: string;
}

export async function tuneCommand(o: TuneCliOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (!o.data) throw new UsageError('--data DIR is required');
  const trials = parseIntOption('--trials', o.trials, 1)!;
  const eta = parseIntOption('--eta', o.eta, 2)!;
  const minEpochs = parseIntOption('--min-epochs', o.minEpochs, 1);
  const searchSeed = parseIntOption('--search-seed', o.searchSeed, 0)!;
  const ds = loadDataset(resolve(o.data));
  const { config: base, defaults } = resolveConfig({
    model: o.model ?? 'lightgcn', align: o.align, stats: datasetStats(ds), preset: o.preset, configFile: o.config, sets: o.set,
  });
  const space = o.space ? checkSpace(readYamlOrJson(o.space, 'the search space'), base, o.space) : checkSpace(defaultSpace(base), base, 'default space');
  const model = officialName(base.model.name, base.model.align);
  const dir = resolve(o.out ?? `tune-${basename(ds.dir)}-${model}`);
  const need = requiredText(base.model.align, base.model.name);
  const textDir = o.textDir ? resolve(o.textDir) : ds.dir;
  const text = need.length ? loadTextVectors(textDir, ds.numUsers, ds.numItems, need) : {};
  logDataset(ds, log);
  for (const line of defaults.reasons) log(`defaults: ${line}`);
  log(`tune ${model}: ${trials} trials, successive halving (eta ${eta}), space: ${Object.entries(space).map(([k, d]) => `${k} ${JSON.stringify(d)}`).join(', ')}`);
  log(`search directory ${dir} (run the same command again to continue it)`);
  const identity = { data: ds.dir, text: need.length ? textDir : null, model, searchSeed, base };
  const r = tune({ base, space, dataset: ds, text, trials, eta, minEpochs, seed: searchSeed, dir, identity, log });
  const last = r.best.rungs.at(-1)!;
  log(`best: trial ${r.best.id} ${JSON.stringify(r.best.params)}: valid ${r.state.metric} ${last.valid.toFixed(4)}, test ${Object.entries(last.test ?? {}).filter(([k]) => /^(recall|ndcg)@/.test(k)).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
  log(`wrote ${join(dir, TUNE_FILES.table)} and ${join(dir, TUNE_FILES.best)}; train with it: irllrec train --data ${o.data} --config ${join(dir, TUNE_FILES.best)} --out RUN`);
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ model, dataset: ds.name, metric: r.state.metric, trials, best_trial: r.best.id, best_params: r.best.params, valid: last.validMetrics ?? {}, test: last.test ?? {}, dir })}\n`);
  } else process.stdout.write(readFileSync(join(dir, TUNE_FILES.table), 'utf8'));
}


export function registerTuneCommand(program: Command): void {
  configOptions(program
    .command('tune')
    .description('hyperparameter search (successive halving over random draws), resumable; writes a results table and best.yaml for train --config')
    .option('--data <dir>', 'dataset directory')
    .option('--model <name>', 'model to tune (as for train)', 'lightgcn')
    .option('--align <name>', 'alignment plug-in (as for train)'), 'the base config the trials start from')
    .option('--space <file>', 'search space (YAML/JSON: {"optimizer.lr": {"log": [1e-3, 3e-2]}, "model.layer_num": {"choice": [1, 2, 3]}, ...}); default: lr, width, layers, L2 and the model\'s alignment weights')
    .option('--trials <n>', 'number of random draws', '24')
    .option('--eta <n>', 'keep the best 1/eta of each rung', '3')
    .option('--min-epochs <n>', 'epochs of the first rung (default: train.test_step + 1)')
    .option('--search-seed <s>', 'seed of the draws', '0')
    .option('--out <dir>', 'search directory (default: ./tune-<dataset>-<model>); the same command again continues it')
    .option('--json', 'print a JSON summary on stdout instead of the table')
    .action((o) => runCommand(() => tuneCommand(o)));
}
