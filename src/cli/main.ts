#!/usr/bin/env node
/** The `irllrec` command line. */
import { Command } from 'commander';
import { packageVersion } from '../util/package.js';
import { alignHelp, modelHelp } from '../models/registry.js';
import { runCommand } from './errors.js';
import { trainCommand } from './train.js';
import { configOptions } from './options.js';
import { registerDemoCommand } from './demo.js';
import { registerTuneCommand } from './tune.js';
import { registerCompareCommand } from './compare-command.js';
import { registerBaselineCommand } from './baseline-command.js';
import { registerSynthCommand } from './synth-command.js';
import { registerTextCommands } from './text-commands.js';
import { registerServeCommands } from './serve-commands.js';
import { registerEvaluateCommands } from './evaluate-commands.js';


const program = new Command();
program
  .name('irllrec')
  .description('LLM-enhanced, intent-aware graph recommendation (IRLLRec, RLMRec, LightGCN, ...)')
  .version(packageVersion());

configOptions(
  program
    .command('train')
    .description('train a model on a dataset directory (trn/val/tst_mat.pkl or train/valid/test.tsv)')
    .option('--data <dir>', 'dataset directory')
    .option('--model <name>', modelHelp())
    .option('--align <name>', alignHelp()),
  'the run',
)
  .option('--mode <mode>', 'reference (the official computation) or scalable (cost per epoch linear in the data); default: by data size, see docs/models.md')
  .option('--epochs <n>', 'train exactly n epochs (no early stopping), then test')
  .option('--seed <s>', 'random seed (train.seed)')
  .option('--out <dir>', 'run directory: config, checkpoints after every epoch, history, summary')
  .option('--resume <run>', 'continue an interrupted run from its last checkpoint, exactly')
  .option('--json', 'print a JSON summary on stdout')
  .action((o) => runCommand(() => trainCommand(o)));

registerDemoCommand(program);
registerTuneCommand(program);
registerCompareCommand(program);
registerBaselineCommand(program);
registerSynthCommand(program);

registerTextCommands(program);
registerServeCommands(program);
registerEvaluateCommands(program);

program.showHelpAfterError();
program.exitOverride((err) => {
  process.exit(err.exitCode === 0 ? 0 : 2);
});
await program.parseAsync(process.argv);
