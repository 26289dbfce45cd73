/**
 * `irllrec synth`: write a planted-intent synthetic world (train/valid/test.tsv, text vectors, the
 * ground truth, synth.json) of any size, for cost curves and quality checks. See docs/synthetic.md.
 */
import type { Command } from 'commander';
import { synthesize, WORLD_DEFAULTS, WorldParamError, type TextDtype, type WorldParams } from '../synth/world.js';
import { runCommand, UsageError } from './errors.js';

export interface SynthCliOptions {
  out?: string;
  users?: string;
  items?: string;
  interactions?: string;
  intents?: string;
  intentsPerUser?: string;
  profileDim?: string;
  intentDim?: string;
  textNoise?: string;
  popularity?: string;
  randomShare?: string;
  activitySigma?: string;
  ratios?: string;
  seed?: string;
  dtype?: string;
  text?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** A count such as 3300000, 3.3e6, 3_300_000 or 3,300,000 (an integer >= min). */
function parseCount(flag: string, v: string | undefined, min: number, required: boolean, dflt?: number): number {
  if (v === undefined) {
    if (required) throw new UsageError(`${flag} N is required`);
    return dflt!;
  }
  const s = v.trim().replace(/[_,]/g, '');
  const x = Number(s);
  if (s === '' || !/^[0-9.eE+]+$/.test(s) || !Number.isSafeInteger(x) || x < min) {
    throw new UsageError(`${flag} must be an integer >= ${min} (e.g. 300000 or 3e5), got "${v}"`);
  }
  return x;
}

function parseReal(flag: string, v: string | undefined, dflt: number, min: number, max = Infinity): number {
  if (v === undefined) return dflt;
  const x = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(x) || x < min || x > max) {
    throw new UsageError(`${flag} must be a number in [${min}, ${max === Infinity ? 'inf' : max}], got "${v}"`);
  }
  return x;
}

/** "3,1,1" -> [3, 1, 1]. */
export function parseRatios(v: string): [number, number, number] {
  const parts = v.split(/[,:]/).map((s) => s.trim());
  const xs = parts.map(Number);
  if (parts.length !== 3 || parts.some((s) => s === '') || !xs.every((x) => Number.isFinite(x) && x >= 0) || !(xs[0]! > 0)) {
    throw new UsageError(`--ratios must be three non-negative numbers train,valid,test with train > 0 (e.g. 3,1,1), got "${v}"`);
  }
  return xs as [number, number, number];
}

/** The world parameters from the flags (UsageError naming the flag when one is wrong). */
export function synthParams(o: SynthCliOptions): WorldParams {
  const d = WORLD_DEFAULTS;
  const users = parseCount('--users', o.users, 1, true);
  const items = parseCount('--items', o.items, 1, true);
  const interactions = parseCount('--interactions', o.interactions, 1, true);
  const intents = parseCount('--intents', o.intents, 1, false, d.intents);
  const intentsPerUser = parseCount('--intents-per-user', o.intentsPerUser, 1, false, d.intentsPerUser);
  if (intentsPerUser > intents) throw new UsageError(`--intents-per-user (${intentsPerUser}) must be at most --intents (${intents})`);
  const dtype = (o.dtype ?? d.dtype).trim().toLowerCase();
  if (dtype !== 'float32' && dtype !== 'float16') throw new UsageError(`--dtype must be float32 or float16, got "${o.dtype}"`);
  const seedStr = o.seed?.trim();
  if (seedStr !== undefined && !/^-?\d+$/.test(seedStr)) throw new UsageError(`--seed must be an integer, got "${o.seed}"`);
  const p: WorldParams = {
    users,
    items,
    interactions,
    intents,
    intentsPerUser,
    profileDim: parseCount('--profile-dim', o.profileDim, 1, false, d.profileDim),
    intentDim: parseCount('--intent-dim', o.intentDim, 1, false, d.intentDim),
    textNoise: parseReal('--text-noise', o.textNoise, d.textNoise, 0, 1e6),
    popularity: parseReal('--popularity', o.popularity, d.popularity, 0, 10),
    randomShare: parseReal('--random-share', o.randomShare, d.randomShare, 0, 1),
    activitySigma: parseReal('--activity-sigma', o.activitySigma, d.activitySigma, 0, 5),
    secondIntent: d.secondIntent,
    ratios: o.ratios === undefined ? d.ratios : parseRatios(o.ratios),
    seed: seedStr === undefined ? d.seed : Number(seedStr),
    text: o.text ?? true,
    dtype: dtype as TextDtype,
  };
  if (!Number.isSafeInteger(p.seed)) throw new UsageError(`--seed must be a safe integer, got "${o.seed}"`);
  return p;
}

export async function synthCommand(o: SynthCliOptions): Promise<void> {
  if (!o.out) throw new UsageError('--out DIR is required (the directory the world is written to)');
  const params = synthParams(o);
  const log = o.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  const t0 = performance.now();
  let r;
  try {
    r = synthesize(o.out, params, { force: o.force, log });
  } catch (e) {
    if (e instanceof WorldParamError) throw new UsageError(e.message);
    throw e;
  }
  const c = r.manifest.counts;
  const secs = (performance.now() - t0) / 1000;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ dir: r.dir, seconds: Number(secs.toFixed(2)), files: r.files, ...r.manifest })}\n`);
    return;
  }
  const pct = (a: number) => `${((100 * a) / c.users).toFixed(1)}%`;
  process.stdout.write(
    `${r.dir}: ${c.users} users, ${c.items} items (${c.itemsDropped} never drawn, dropped), ${c.interactions} interactions ` +
      `(train ${c.train} / valid ${c.valid} / test ${c.test}; density ${c.density.toExponential(2)}); ` +
      `users with train / test items ${pct(c.usersWithTrain)} / ${pct(c.usersWithTest)}; ${params.intents} intents; ` +
      `${params.text ? `text ${params.profileDim}/${params.intentDim} ${params.dtype}` : 'no text'}; ${secs.toFixed(1)} s\n`,
  );
}

export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('write a planted-intent synthetic dataset of any size (train/valid/test.tsv, text vectors, ground truth); see docs/synthetic.md')
    .option('--out <dir>', 'directory to write (created atomically; an existing one needs --force)')
    .option('--users <n>', 'number of users (each gets at least one interaction)')
    .option('--items <n>', 'number of items (items never drawn are dropped and the ids compacted)')
    .option('--interactions <n>', 'number of (user, item) interactions, at least --users (3.3e6 or 3300000)')
    .option('--intents <k>', `number of planted intents (default ${WORLD_DEFAULTS.intents})`)
    .option('--intents-per-user <m>', `distinct intents per user, Dirichlet(1) weights (default ${WORLD_DEFAULTS.intentsPerUser})`)
    .option('--profile-dim <d>', `width of usr_prf.npy / itm_prf.npy (default ${WORLD_DEFAULTS.profileDim})`)
    .option('--intent-dim <d>', `width of usr_int.npy / itm_int.npy (default ${WORLD_DEFAULTS.intentDim})`)
    .option('--text-noise <r>', `noise-to-signal ratio of the text vectors; 0 = exact intents (default ${WORLD_DEFAULTS.textNoise})`)
    .option('--popularity <s>', `Zipf exponent of item popularity; 0 = uniform (default ${WORLD_DEFAULTS.popularity})`)
    .option('--random-share <p>', `share of interactions drawn uniformly over all items, ignoring intents (default ${WORLD_DEFAULTS.randomShare})`)
    .option('--activity-sigma <s>', `sigma of the log-normal number of interactions per user (default ${WORLD_DEFAULTS.activitySigma})`)
    .option('--ratios <t,v,t>', 'train,valid,test ratios of the per-interaction random split (default 3,1,1)')
    .option('--seed <s>', `random seed; the same flags and seed give byte-identical files (default ${WORLD_DEFAULTS.seed})`)
    .option('--dtype <type>', 'float32 or float16 text vectors (float16 only when the .npy reader reads it)')
    .option('--no-text', 'write no text vectors (interactions and ground truth only)')
    .option('--force', 'replace an existing world directory')
    .option('--json', 'print synth.json (plus the directory, file sizes and seconds) on stdout')
    .option('--quiet', 'no progress lines on stderr')
    .action((o: SynthCliOptions) => runCommand(() => synthCommand(o)));
}
