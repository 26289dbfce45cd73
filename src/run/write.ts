/**
 * Writing a run directory (the layout is ./layout.ts), shared by `irllrec train --out` and the
 * demo: `startRun` before training (config, run.json, the data copy, the manifest), `finishRun`
 * after it (the evaluated model, history, summary, the manifest again). Every file is written
 * atomically and the manifest never lists a checksum of a file about to be replaced.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Dataset } from '../data/dataset.js';
import type { TrainingText } from '../data/text-rows.js';
import type { TrainResult } from '../train/trainer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { writeSafetensors } from '../util/safetensors.js';
import { RUN_FILES } from './layout.js';
import { ensureRunData, runDataBytes, writeRunData } from './snapshot.js';
import { RUN_MANIFEST_FILES, RUN_START_FILES, writeManifest, type RunMetaFile } from './verify.js';

export interface RunWriteContext {
  dataset: Dataset;
  text: TrainingText;
  meta: RunMetaFile;
  log: (line: string) => void;
}

/** Config, run.json and the run's own copy of the data (a new run, or one started again). */
export function startRun(runDir: string, config: Config, c: RunWriteContext): void {
  writeFileAtomic(join(runDir, RUN_FILES.config), `${JSON.stringify(config, null, 2)}\n`);
  writeFileAtomic(join(runDir, RUN_FILES.meta), `${JSON.stringify(c.meta, null, 2)}\n`);
  writeManifest(runDir, [RUN_FILES.config, RUN_FILES.meta]);
  // the run's own copy of what serving and evaluation read (self-contained runs)
  const m = writeRunData(runDir, { dataset: c.dataset, text: c.text, textDir: c.meta.textDir, log: c.log });
  writeManifest(runDir, RUN_START_FILES);
  c.log(`copied the data serving needs to ${join(runDir, RUN_FILES.data)} (${(runDataBytes(m) / 1048576).toFixed(1)} MiB)`);
}

/** The evaluated model (best weights under the protocol, final ones with --epochs), history and summary. */
export function finishRun(runDir: string, result: TrainResult, summary: Record<string, unknown>, c: RunWriteContext): void {
  // a run resumed from before runs were self-contained gets its data copy now
  if (ensureRunData(runDir, { dataset: c.dataset, text: c.text, textDir: c.meta.textDir, log: c.log })) {
    c.log(`copied the data serving needs to ${join(runDir, RUN_FILES.data)}`);
  }
  // the outputs are written again: the manifest forgets them first, so it never lists stale sums
  writeManifest(runDir, RUN_START_FILES);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [n, t] of result.model.params.entries()) tensors[n] = { shape: [...t.shape], data: t.data };
  writeSafetensors(join(runDir, RUN_FILES.model), tensors, { model: result.model.name, best_epoch: String(result.bestEpoch) });
  writeFileAtomic(join(runDir, RUN_FILES.history), `${JSON.stringify(result.history)}\n`);
  writeFileAtomic(join(runDir, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  writeManifest(runDir, RUN_MANIFEST_FILES);
}
