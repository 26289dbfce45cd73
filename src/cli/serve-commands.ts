/**
 * Using a trained run: `recommend`, `export`, `serve` and `report`. See docs/serving.md.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXPORT_FORMATS, exportRun, type ExportFormat } from '../serve/export.js';
import { DEFAULT_MAX_COST, EXPLAIN_WEIGHT, serveRecommender } from '../serve/http.js';
import { Recommender, type Explanation, type RecommendOptions } from '../serve/recommender.js';
import { BASELINES, isBaselineName, type BaselineName } from '../baselines/index.js';
import { REPORT_EASE_MAX_ITEMS, writeReport } from '../report/report.js';
import { fsReason, outputProblem } from '../util/atomic.js';
import { runCommand, UsageError } from './errors.js';

/** Repeatable options: appended in place (copying the list per value would be quadratic in 10,000 --user flags). */
const collect = (v: string, prev?: string[]) => {
  const list = prev ?? [];
  list.push(v);
  return list;
};
const log = (s: string) => process.stderr.write(`${s}\n`);

function intOpt(name: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got "${v}"`);
  return Number(v);
}

function needRun(run: string | undefined): string {
  if (!run) throw new UsageError('--run DIR is required (a directory written by "irllrec train --out DIR")');
  return run;
}

export interface RecommendCli {
  run?: string; user?: string[]; k?: string; explain?: boolean; json?: boolean; excludeSeen?: string; exclude?: string[]; data?: string;
}

function fmtExplanation(e: Explanation): string[] {
  const lines: string[] = [];
  if (e.intents) {
    // each intent with its share of the score (a side's shares and its residual add up to 100%)
    const fmtSide = (ss: NonNullable<Explanation['intents']>['user'], explained: number) =>
      `${ss.map((s) => `${s.intent} ${(s.share * 100).toFixed(0)}%${s.text?.length ? ` (${s.text.join('; ')})` : s.label.terms.length ? ` [${s.label.terms.slice(0, 3).join(', ')}]` : ''}`).join(', ')}; all intents ${e.score !== 0 ? ((explained / e.score) * 100).toFixed(0) : 0}% of the score`;
    lines.push(`user intents: ${fmtSide(e.intents.user, e.intents.explained)}`);
    lines.push(`item intents: ${fmtSide(e.intents.item, e.intents.itemExplained)}; intent agreement ${e.intents.agreement.toFixed(3)}`);
  }
  if (e.text) {
    lines.push(`user wants: ${e.text.user.intent}`);
    lines.push(`item: ${e.text.item.intent}`);
  }
  if (e.because.length) lines.push(`because you liked: ${e.because.map((b) => b.title ?? b.item).join(', ')}`);
  return lines;
}

export async function recommendCommand(o: RecommendCli): Promise<void> {
  const run = needRun(o.run);
  if (!o.user?.length) throw new UsageError('--user ID is required (repeatable)');
  const k = intOpt('-k', o.k, 1) ?? 20;
  const es = o.excludeSeen ?? 'train';
  if (!['train', 'all', 'none'].includes(es)) throw new UsageError(`--exclude-seen must be train, all or none, got "${es}"`);
  await (async () => {
    const rec = await Recommender.open(run, { data: o.data, embedder: null });
    if (k > rec.numItems) throw new UsageError(`-k must be at most the number of items (${rec.numItems}), got ${k}`);
    const opts: RecommendOptions = { k, excludeSeen: es === 'none' ? false : (es as 'train' | 'all') };
    if (o.exclude?.length) opts.exclude = o.exclude;
    const results = rec.recommend(o.user!, opts);
    const withExp = results.map((r) => ({ ...r, ...(o.explain ? { explanations: r.items.map((it) => rec.explain(r.user, it.item)) } : {}) }));
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ model: rec.model, results: withExp })}\n`);
      return;
    }
    const out: string[] = [];
    for (const r of withExp) {
      out.push(`user ${r.user} (${rec.seenItems(r.user).length} training items), ${rec.model}:`);
      r.items.forEach((it, n) => {
        out.push(`${String(n + 1).padStart(4)}. ${it.item}${it.title ? `  ${it.title}` : ''}  ${it.score.toFixed(4)}`);
        if (r.explanations) for (const l of fmtExplanation(r.explanations[n]!)) out.push(`        ${l}`);
      });
    }
    process.stdout.write(`${out.join('\n')}\n`);
  })();
}

export interface ExportCli {
  run?: string; format?: string; out?: string; force?: boolean; json?: boolean; data?: string;
}

export async function exportCommand(o: ExportCli): Promise<void> {
  const run = needRun(o.run);
  if (!o.format) throw new UsageError(`--format is required (${EXPORT_FORMATS.join(', ')})`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${o.format}"`);
  const out = o.out ?? resolve(run, `export-${o.format}`);
  // before the run is read: a parent that is a file, a read-only directory, ...
  const problem = outputProblem(out, 'dir') ?? (o.format === 'lancedb' ? outputProblem(out, 'dir', { inside: true }) : null);
  if (problem) throw new UsageError(`--out ${out}: cannot write the export there: ${problem}`);
  await (async () => {
    const rec = await Recommender.open(run, { data: o.data, embedder: null });
    const s = await exportRun(rec, o.format as ExportFormat, out, { force: o.force }).catch((e: unknown) => {
      const why = fsReason(e);
      if (why) throw new UsageError(`--out ${out}: could not write the export (${(e as NodeJS.ErrnoException).path ?? out} ${why})`);
      throw e;
    });
    log(`wrote ${s.out} (${s.format}: ${s.users} users, ${s.items} items, dim ${s.dim})`);
    if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
  })();
}

export interface ServeCli {
  run?: string; port?: string; host?: string; accessLog?: boolean; maxK?: string; maxBatch?: string; maxCost?: string; data?: string;
}

export async function serveCommand(o: ServeCli): Promise<void> {
  const run = needRun(o.run);
  const port = intOpt('--port', o.port, 0, 65535) ?? 8080;
  const maxK = intOpt('--max-k', o.maxK, 1);
  const maxBatch = intOpt('--max-batch', o.maxBatch, 1, 100_000);
  const maxCost = intOpt('--max-cost', o.maxCost, 1, 100_000_000);
  await (async () => {
    const t0 = performance.now();
    const rec = await Recommender.open(run, { data: o.data, log });
    const info = rec.info;
    log(`loaded ${info.model} on ${info.dataset}: ${info.users} users, ${info.items} items, dim ${info.dim}${info.intents ? `, ${info.intents} intents` : ''}` +
      `${info.coldStartText ? `, cold start from text via ${info.embedder}` : ''} (${((performance.now() - t0) / 1000).toFixed(1)}s, kernels ${info.kernels})`);
    if (info.coldStartText) {
      const t1 = performance.now();
      try {
        await rec.prepareColdStart();
        log(`cold start from text ready (${((performance.now() - t1) / 1000).toFixed(1)}s)`);
      } catch (e) {
        log(`cold start from text unavailable: ${(e as Error).message}`);
        rec.setEmbedder(null);
      }
    }
    // the first explanation and similar-items call fill caches (item norms, intent labels, the
    // normalised item table) and warm the code up: here, not inside the first request that asks
    if (rec.numUsers > 0 && rec.numItems > 0) {
      try {
        rec.explain(rec.users.key(0), rec.items.key(0));
        rec.similarItems(rec.items.key(0), { k: 1 });
      } catch {
        // nothing to warm up
      }
    }
    let svc;
    try {
      svc = await serveRecommender(rec, { port, host: o.host ?? '127.0.0.1', maxK, maxBatch, maxCost, accessLog: o.accessLog ? log : undefined });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new UsageError(`port ${port} is already in use (pick another with --port)`);
      if (err.code === 'EACCES') throw new UsageError(`no permission to listen on port ${port}`);
      throw e;
    }
    log(`listening on ${svc.url} (GET /health, /recommend?user=ID, /similar?item=ID, /explain?user=ID&item=ID; POST /coldstart); Ctrl-C stops`);
    await new Promise<void>((done) => {
      const stop = (sig: string) => {
        log(`${sig}: closing`);
        void svc.close().then(done);
        setTimeout(done, 3000).unref();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  })();
}

export interface ReportCli {
  run?: string[]; out?: string; title?: string; examples?: string; json?: boolean;
  /** `--baselines a,b` (a string), `--no-baselines` (false), or absent (all). */
  baselines?: string | boolean;
}

/** `--baselines mostpop,itemknn` / `--no-baselines` as the names to fit (an empty list: none). */
export function reportBaselineNames(v: string | boolean | undefined): BaselineName[] {
  if (v === undefined || v === true) return [...BASELINES];
  if (v === false) return [];
  const names = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!names.length) throw new UsageError(`--baselines needs a comma-separated list of ${BASELINES.join(', ')} (or --no-baselines), got "${v}"`);
  for (const n of names) if (!isBaselineName(n)) throw new UsageError(`--baselines: unknown baseline "${n}" (known: ${BASELINES.join(', ')})`);
  return [...new Set(names)] as BaselineName[];
}

export async function reportCommand(o: ReportCli): Promise<void> {
  if (!o.run?.length) throw new UsageError('--run DIR is required (repeatable: one per run to compare)');
  if (!o.out) throw new UsageError('--out FILE.html is required');
  const examples = intOpt('--examples', o.examples, 0, 20) ?? 3;
  const baselines = reportBaselineNames(o.baselines);
  await (async () => {
    const s = await writeReport({ runs: o.run!, out: o.out!, title: o.title, examples, baselines, log, progress: log });
    log(`wrote ${s.out} (${s.runs} runs${s.baselines ? `, ${s.baselines} baselines` : ''}, ${(s.bytes / 1024).toFixed(0)} KiB)`);
    if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
  })();
}

export function registerServeCommands(program: Command): void {
  program
    .command('recommend')
    .description('top-k recommendations (and why) for users of a trained run, by their external ids')
    .option('--run <dir>', 'run directory written by "irllrec train --out DIR"')
    .option('--user <id>', 'user id (repeatable)', collect)
    .option('-k, --k <n>', 'items per user (default 20)')
    .option('--explain', 'explain each item: interaction intents, matching text intents, similar training items')
    .option('--exclude-seen <which>', 'train (default: leave out training items), all (also validation/test items), none')
    .option('--exclude <id>', 'item never to recommend (repeatable)', collect)
    .option('--data <dir>', 'read the dataset from this directory instead of the run\'s own copy (RUN/data/)')
    .option('--json', 'print JSON on stdout')
    .action((o: RecommendCli) => runCommand(() => recommendCommand(o)));

  program
    .command('export')
    .description('export user/item embeddings with id maps: npy, safetensors, or a LanceDB vector store')
    .option('--run <dir>', 'run directory')
    .option('--format <f>', `one of ${EXPORT_FORMATS.join(', ')}`)
    .option('--out <dir>', 'output directory (default: RUN/export-FORMAT)')
    .option('--force', 'replace an earlier export in --out')
    .option('--data <dir>', 'read the dataset from this directory instead of the run\'s own copy (RUN/data/)')
    .option('--json', 'print a summary on stdout')
    .action((o: ExportCli) => runCommand(() => exportCommand(o)));

  program
    .command('serve')
    .description('HTTP JSON service: /recommend, /similar, /explain, /coldstart, /health')
    .option('--run <dir>', 'run directory')
    .option('--port <n>', 'TCP port (default 8080; 0 picks a free one)')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--max-k <n>', 'largest k a request may ask for (default min(1000, items))')
    .option('--max-batch <n>', 'most users/items per request (default 1000)')
    .option('--max-cost <n>', `most work per /recommend or /similar request, in results: users x k, an explanation counting ${EXPLAIN_WEIGHT} (default ${DEFAULT_MAX_COST}); more is answered 413`)
    .option('--access-log', 'one stderr line per request')
    .option('--data <dir>', 'read the dataset from this directory instead of the run\'s own copy (RUN/data/)')
    .action((o: ServeCli) => runCommand(() => serveCommand(o)));

  program
    .command('report')
    .description('one self-contained HTML page: training curves, validation metrics, test comparison, intent map, example explanations')
    .option('--run <dir>', 'run directory (repeatable)', collect)
    .option('--out <file>', 'the HTML file to write (an existing directory: DIR/report.html)')
    .option('--title <text>', 'page title')
    .option('--examples <n>', 'example users with explained recommendations (default 3)')
    .option('--baselines <list>', `baselines fitted on each dataset of the runs (its RUN/data/ copy) and shown beside them: some of ${BASELINES.join(',')} (default all; EASE only up to ${REPORT_EASE_MAX_ITEMS.toLocaleString('en-US')} items)`)
    .option('--no-baselines', 'no baselines (faster on large datasets)')
    .option('--json', 'print a summary on stdout')
    .action((o: ReportCli) => runCommand(() => reportCommand(o)));
}
