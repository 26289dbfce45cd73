/**
 * Checking a trained run: `evaluate` (re-score it under the training protocol) and `score` (the
 * model's score of given user/item pairs). See docs/serving.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { METRIC_NAMES, type MetricName } from '../eval/index.js';
import { evaluateRun, type EvalSplit } from '../run/evaluate.js';
import { Recommender } from '../serve/recommender.js';
import { openRun } from '../run/open.js';
import { runCommand, UsageError } from './errors.js';

function needRun(run: string | undefined): string {
  if (!run) throw new UsageError('--run DIR is required (a directory written by "irllrec train --out DIR")');
  return run;
}

/** "5,10,20" -> [5, 10, 20] (positive integers, no duplicates). */
export function parseKs(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const ks: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1) throw new UsageError(`--k must be a comma-separated list of positive integers, e.g. 5,10,20; got "${v}"`);
    if (ks.includes(Number(p))) throw new UsageError(`--k lists ${p} twice`);
    ks.push(Number(p));
  }
  return ks;
}

export interface EvaluateCli {
  run?: string; split?: string; data?: string; k?: string; metrics?: string; json?: boolean;
}

export async function evaluateCommand(o: EvaluateCli): Promise<void> {
  const run = needRun(o.run);
  const split = (o.split ?? 'test') as EvalSplit;
  if (split !== 'test' && split !== 'valid') throw new UsageError(`--split must be test or valid, got "${o.split}"`);
  const ks = o.k !== undefined ? parseKs(o.k) : undefined;
  let metrics: MetricName[] | undefined;
  if (o.metrics !== undefined) {
    metrics = o.metrics.split(',').map((s) => s.trim().toLowerCase()) as MetricName[];
    for (const m of metrics) if (!(METRIC_NAMES as readonly string[]).includes(m)) throw new UsageError(`--metrics: unknown metric "${m}" (known: ${METRIC_NAMES.join(', ')})`);
    if (!metrics.includes('recall')) metrics.unshift('recall');
  }
  await (async () => {
    const loaded = openRun(run, { data: o.data });
    const max = ks ? Math.max(...ks) : Math.max(...loaded.config.test.k);
    if (max > loaded.dataset.numItems) throw new UsageError(`--k must be at most the number of items (${loaded.dataset.numItems}), got ${max}`);
    const r = evaluateRun(loaded, { split, ks, metrics });
    if (o.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return;
    }
    const out: string[] = [];
    out.push(`${r.model} on ${r.dataset}, ${r.split} split: ${r.users} users, ${r.protocol}`);
    const w = Math.max(8, ...r.metrics.map((m) => m.length + 2));
    out.push(`${'metric'.padEnd(w)}${r.ks.map((k) => `@${k}`.padStart(9)).join('')}`);
    for (const m of r.metrics) {
      const row = r.ks.map((k) => r.values[`${m}@${k}`]);
      if (row.every((v) => v === undefined)) continue;
      out.push(`${m.padEnd(w)}${row.map((v) => (v === undefined ? '-' : v.toFixed(4)).padStart(9)).join('')}`);
    }
    if (r.noise) out.push(`scoring noise (${r.model}'s reference evaluation): ${r.noise === 'checkpoint' ? 'replayed from the run\'s checkpoint' : 'drawn from the seed (no checkpoint): numbers vary with the draw'}`);
    if (r.matchesSummary !== null) {
      const both = Object.keys(r.reference!).filter((k) => k in r.values);
      const diff = both.filter((k) => r.values[k] !== r.reference![k]);
      out.push(r.matchesSummary
        ? `summary.json ${r.split}: identical (${both.length} values)`
        : `summary.json ${r.split}: differs in ${diff.length} of ${both.length} values (${diff.slice(0, 4).map((k) => `${k} ${r.values[k]!.toFixed(4)} vs ${r.reference![k]!.toFixed(4)}`).join(', ')}${diff.length > 4 ? ', ...' : ''})`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  })();
}

/** One CSV field list, with "quoted, fields" and "" escapes. */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += c;
    } else if (c === '"' && cur === '') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const USER_HEADER = /user|uid|reviewer|customer|^u$/i;
const ITEM_HEADER = /item|iid|asin|movie|product|book|^i$/i;

/**
 * (user, item) pairs from a TSV (user<TAB>item) or CSV (user,item) file: further columns are
 * ignored, blank lines skipped, and a first line naming the columns (user / item ...) is a header.
 */
export function readPairsFile(file: string, known?: { user: (id: string) => boolean; item: (id: string) => boolean }): { user: string; item: string; line: number }[] {
  if (!existsSync(file)) throw new UsageError(`--pairs ${file}: file not found`);
  if (statSync(file).isDirectory()) throw new UsageError(`--pairs ${file}: is a directory, expected a TSV or CSV file`);
  let text = readFileSync(file, 'utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  const first = lines.find((l) => l.trim() !== '') ?? '';
  const csv = /\.csv$/i.test(file) || (!first.includes('\t') && first.includes(','));
  const out: { user: string; item: string; line: number }[] = [];
  let seenFirst = false;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const f = (csv ? splitCsv(line) : line.split('\t')).map((s) => s.trim());
    if (f.length < 2 || f[0] === '' || f[1] === '') {
      throw new UsageError(`${file}:${n + 1}: expected user${csv ? ',' : '<TAB>'}item, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (!seenFirst) {
      seenFirst = true;
      const isHeader = USER_HEADER.test(f[0]!) && ITEM_HEADER.test(f[1]!) && !(known?.user(f[0]!) || known?.item(f[1]!));
      if (isHeader) continue;
    }
    out.push({ user: f[0]!, item: f[1]!, line: n + 1 });
  }
  return out;
}

export interface ScoreCli {
  run?: string; pairs?: string; data?: string; json?: boolean;
}

export async function scoreCommand(o: ScoreCli): Promise<void> {
  const run = needRun(o.run);
  if (!o.pairs) throw new UsageError('--pairs FILE is required (user<TAB>item per line, or user,item in a .csv; header optional)');
  const file = o.pairs;
  if (!existsSync(file)) throw new UsageError(`--pairs ${file}: file not found`);
  await (async () => {
    const rec = await Recommender.open(run, { data: o.data, embedder: null });
    const pairs = readPairsFile(file, { user: (id) => rec.hasUser(id), item: (id) => rec.hasItem(id) });
    if (!pairs.length) throw new UsageError(`${file}: no pairs`);
    for (const p of pairs) {
      if (!rec.hasUser(p.user)) throw new UsageError(`${file}:${p.line}: unknown user ${JSON.stringify(p.user)}`);
      if (!rec.hasItem(p.item)) throw new UsageError(`${file}:${p.line}: unknown item ${JSON.stringify(p.item)}`);
    }
    const scores = rec.score(pairs);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ model: rec.model, scores })}\n`);
      return;
    }
    const out = ['user\titem\tscore'];
    for (const s of scores) out.push(`${s.user}\t${s.item}\t${s.score}`);
    process.stdout.write(`${out.join('\n')}\n`);
  })();
}

export function registerEvaluateCommands(program: Command): void {
  program
    .command('evaluate')
    .description('re-score a trained run under the training protocol (full ranking, training items masked) and print every metric')
    .option('--run <dir>', 'run directory written by "irllrec train --out DIR"')
    .option('--split <name>', 'test (default) or valid')
    .option('--k <list>', 'cut-offs, comma-separated (default: the run\'s test.k, e.g. 5,10,20)')
    .option('--metrics <list>', `metrics, comma-separated (default: all reported ones; known: ${METRIC_NAMES.join(', ')})`)
    .option('--data <dir>', 'read the dataset from this directory instead of the run\'s own copy (RUN/data/)')
    .option('--json', 'print JSON on stdout')
    .action((o: EvaluateCli) => runCommand(() => evaluateCommand(o)));

  program
    .command('score')
    .description('the model\'s score of user/item pairs (the scores recommend ranks by)')
    .option('--run <dir>', 'run directory')
    .option('--pairs <file>', 'user<TAB>item per line (a .csv: user,item); header optional; further columns ignored')
    .option('--data <dir>', 'read the dataset from this directory instead of the run\'s own copy (RUN/data/)')
    .option('--json', 'print JSON on stdout')
    .action((o: ScoreCli) => runCommand(() => scoreCommand(o)));
}
