/**
 * `irllrec compare`: a grid of models x seeds on one dataset, resumable, with confidence intervals
 * and paired tests against a baseline (src/tune/compare.ts; docs/compare.md).
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { loadDataset } from '../data/dataset.js';
import { ABLATIONS } from '../tune/ablations.js';
import { COMPARE_FILES, parseSeeds, runCompare } from '../tune/compare.js';
import { runCommand, UsageError } from './errors.js';
import { logDataset, parseIntOption } from './train.js';
import { collect, configOptions, type DataCliOptions } from './options.js';

export interface CompareCliOptions extends DataCliOptions {
  models?: string[];
  seeds?: string;
  baseline?: string;
  mode?: string;
  epochs?: string;
  force?: boolean;
  maxRuns?: string;
  keepRuns?: boolean;
  verbose?: boolean;
}

export async function compareCommand(o: CompareCliOptions): Promise<void> {
  const log = (s: string) => process.stderr.write(`${s}\n`);
  if (!o.data) throw new UsageError('--data DIR is required');
  if (!o.out) throw new UsageError('--out DIR is required (the comparison directory; the same command again continues it)');
  const models = (o.models ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  if (!models.length) throw new UsageError('--models is required, e.g. --models lightgcn,lightgcn_plus,lightgcn_int,lightgcn_int-no-pa');
  const seeds = parseSeeds(o.seeds ?? '5');
  const epochs = parseIntOption('--epochs', o.epochs, 1);
  const maxRuns = parseIntOption('--max-runs', o.maxRuns, 0);
  const ds = loadDataset(resolve(o.data));
  logDataset(ds, log);
  let where = '';
  const onSigint = () => {
    process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}irllrec: interrupted${where}; finished runs are kept and the run in progress continues from its last epoch: run the same command again\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runCompare({
      dataset: ds, textDir: o.textDir ? resolve(o.textDir) : undefined, models, seeds, baseline: o.baseline,
      configFile: o.config ? resolve(o.config) : undefined, sets: o.set, preset: o.preset, mode: o.mode, epochs, out: resolve(o.out), force: o.force,
      maxRuns, keepRuns: o.keepRuns, log, trainLog: o.verbose ? (s) => log(`  ${s}`) : undefined,
      onPhase: ({ model, seed, phase }) => { where = ` (${model} seed ${seed}${'final' in phase ? ', final evaluation' : `, epoch ${phase.epoch}`})`; },
    });
    log(`wrote ${join(o.out, COMPARE_FILES.table)} and ${join(o.out, COMPARE_FILES.json)} (${r.trained} run${r.trained === 1 ? '' : 's'} trained now, ${r.reused} finished before)`);
    process.stdout.write(o.json ? `${JSON.stringify(r.report)}\n` : r.markdown);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}


export function registerCompareCommand(program: Command): void {
  configOptions(program
    .command('compare')
    .description('train a grid of models (and IRLLRec ablations) over several seeds on one dataset, resumable; mean and confidence interval of every metric, paired tests against a baseline, metrics by user activity (docs/compare.md)')
    .option('--data <dir>', 'dataset directory')
    .option('--models <list>', `comma-separated models: official names (lightgcn, lightgcn_plus, lightgcn_gene, lightgcn_int, sgl_int, ...) and IRLLRec ablations <model>_int-<preset> with presets ${ABLATIONS.map((a) => a.name).join(', ')} (repeatable)`, collect)
    .option('--seeds <seeds>', 'a count (5 = seeds 1..5), a list (1,2,3) or a range (1-5); train.seed of each run', '5')
    .option('--baseline <model>', 'the model the others are compared with (default: the first of --models)'), 'every run')
    .option('--mode <mode>', 'reference or scalable (as for train)')
    .option('--epochs <n>', 'train exactly n epochs (no early stopping), then test')
    .option('--out <dir>', 'comparison directory: grid.json, results/ (one file per finished run), compare.md, compare.json; the same command again continues it')
    .option('--force', 'use an --out holding another grid: keep the results that match this one, remove the rest')
    .option('--max-runs <n>', 'train at most n runs now, then report what has finished (the same command again continues)')
    .option('--keep-runs', 'keep every run as a full run directory under OUT/runs/ (for report, serve, evaluate)')
    .option('--verbose', 'print the trainer\'s lines (every epoch) too')
    .option('--json', 'print compare.json on stdout instead of the Markdown table')
    .action((o) => runCommand(() => compareCommand(o)));
}
