/**
 * `ingest`: raw data (MovieLens, Amazon 2018, RecBole atomic files, or a mapped CSV/TSV) to an
 * irllrec dataset directory:
 *
 *   train.tsv valid.tsv test.tsv     user<TAB>item, 0-based ids (what `irllrec train` reads)
 *   users.tsv items.tsv              id<TAB>key[<TAB>title]: the external id of every 0-based id
 *   corpus/users.jsonl items.jsonl   per-entity text from training data only (see pipeline.ts)
 *   ingest.json                      inputs, options, statistics
 */
import { mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import { manifestHeader } from '../util/package.js';
import { readAmazon2018 } from './amazon2018.js';
import { readGeneric, type GenericOptions } from './generic.js';
import { readMovieLensDir } from './movielens.js';
import { runPipelineColumns, sourceFromRaw, type PipelineOptions, type PipelineResult, type RowSource, type SplitKind } from './pipeline.js';
import { readRecBole } from './recbole.js';
import type { RawData } from './types.js';
import { checkOutDir, writeDatasetDir } from './write.js';

export const FORMATS = ['movielens', 'amazon2018', 'recbole', 'csv'] as const;
export type Format = (typeof FORMATS)[number];
export const SPLITS: SplitKind[] = ['random', 'loo', 'user-ratio'];

/** The csv inputs (and `domain`, what the items are, for prompts) are GenericOptions. */
export interface IngestOptions extends GenericOptions {
  format: Format;
  out: string;
  force?: boolean;
  /** movielens, recbole */
  dir?: string;
  /** amazon2018 */
  reviews?: string;
  meta?: string;
  /** recbole dataset name (file stem) */
  name?: string;
  /** undefined: the format's default (movielens 4, others none); null: none */
  minRating?: number | null;
  likeThreshold?: number | null;
  kcore?: [number, number];
  dedup?: 'first' | 'last';
  split?: SplitKind;
  ratios?: [number, number, number];
  order?: 'time' | 'random';
  seed?: number;
  negatives?: boolean;
}

export const DEFAULT_MIN_RATING: Record<Format, number | null> = { movielens: 4, amazon2018: null, recbole: null, csv: null };

/** Which input flags each format takes (the others are errors, not silently ignored). */
const INPUT_FLAGS: Record<Format, (keyof IngestOptions)[]> = {
  movielens: ['dir'],
  amazon2018: ['reviews', 'meta'],
  recbole: ['dir', 'name', 'map'],
  csv: ['interactions', 'map', 'items', 'itemMap', 'users', 'userMap', 'sep', 'listSep'],
};
const FLAG_NAME: Partial<Record<keyof IngestOptions, string>> = {
  dir: '--dir', reviews: '--reviews', meta: '--meta', name: '--name', interactions: '--interactions', map: '--map',
  items: '--items', itemMap: '--item-map', users: '--users', userMap: '--user-map', sep: '--sep', listSep: '--list-sep',
};

export function checkIngestOptions(o: IngestOptions): void {
  if (!FORMATS.includes(o.format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${o.format}"`);
  for (const [k, flag] of Object.entries(FLAG_NAME) as [keyof IngestOptions, string][]) {
    if (o[k] !== undefined && !INPUT_FLAGS[o.format].includes(k)) throw new UsageError(`${flag} does not apply to --format ${o.format} (it takes ${INPUT_FLAGS[o.format].map((f) => FLAG_NAME[f]).join(', ')})`);
  }
  if ((o.format === 'movielens' || o.format === 'recbole') && !o.dir) throw new UsageError(`--format ${o.format} needs --dir DIR`);
  if (o.format === 'amazon2018' && !o.reviews) throw new UsageError('--format amazon2018 needs --reviews FILE (e.g. Gift_Cards_5.json.gz) and, for item text, --meta FILE (meta_Gift_Cards.json.gz)');
  const r = o.ratios ?? [3, 1, 1];
  if (r.length !== 3 || r.some((x) => !(x >= 0) || !Number.isFinite(x)) || r[0] <= 0) throw new UsageError(`--ratios needs three non-negative numbers with a positive first one, got ${r.join(',')}`);
  if (o.split !== undefined && !SPLITS.includes(o.split)) throw new UsageError(`--split must be one of ${SPLITS.join(', ')}, got "${o.split}"`);
}

/** What ingest reads, whatever the format: rows column-wise (see pipeline.ts) plus provenance. */
export interface IngestSource extends RowSource {
  format: string;
  files: string[];
  domain: string;
}

/** Reads the formats that are read whole (MovieLens, RecBole, CSV); Amazon 2018 is streamed by readSource. */
export async function readRaw(o: IngestOptions): Promise<RawData> {
  switch (o.format) {
    case 'movielens':
      return readMovieLensDir(o.dir!);
    case 'recbole':
      return readRecBole(o.dir!, o.name, o.map, o.domain);
    case 'csv':
      return readGeneric(o);
    case 'amazon2018':
      throw new Error('amazon2018 is streamed: use readSource');
  }
}

/**
 * The rows of any format as an IngestSource. Amazon 2018 review files are streamed and their text
 * spilled to `spillFile` (next to the output; removed by `source.text.close()`).
 */
export async function readSource(o: IngestOptions, spillFile: string): Promise<IngestSource> {
  if (o.format === 'amazon2018') return readAmazon2018(o.reviews!, o.meta, spillFile);
  const raw = await readRaw(o);
  return { ...sourceFromRaw(raw), format: raw.format, files: raw.files, domain: raw.domain };
}

export function pipelineOptions(o: IngestOptions, src: RowSource): PipelineOptions {
  const minRating = o.minRating === undefined ? DEFAULT_MIN_RATING[o.format] : o.minRating;
  const t = src.table;
  let maxRating = -Infinity;
  let anyTime = false;
  for (let k = 0; k < t.n; k++) {
    if (t.rating[k]! > maxRating) maxRating = t.rating[k]!;
    if (!anyTime && t.time[k] === t.time[k]) anyTime = true;
  }
  const likeThreshold =
    o.likeThreshold !== undefined ? o.likeThreshold : minRating !== null ? minRating : Number.isFinite(maxRating) ? (maxRating <= 5 ? Math.min(4, maxRating) : 0.8 * maxRating) : null;
  return {
    minRating,
    likeThreshold,
    kcore: o.kcore ?? [0, 0],
    dedup: o.dedup ?? 'last',
    split: o.split ?? 'random',
    ratios: o.ratios ?? [3, 1, 1],
    order: o.order ?? (anyTime ? 'time' : 'random'),
    seed: o.seed ?? 2023,
    negatives: o.negatives ?? true,
  };
}

export interface IngestOutcome {
  dir: string;
  result: PipelineResult;
  manifest: Record<string, unknown>;
}

export async function ingest(o: IngestOptions, log: (s: string) => void = () => undefined): Promise<IngestOutcome> {
  checkIngestOptions(o);
  checkOutDir(o.out, Boolean(o.force));
  const t0 = performance.now();
  const out = resolve(o.out);
  mkdirSync(dirname(out), { recursive: true });
  const raw = await readSource(o, join(dirname(out), `.${basename(out)}.ingest-text-${process.pid}-${Date.now()}`));
  try {
    return finish(o, raw, t0, log);
  } finally {
    raw.text.close();
  }
}

function finish(o: IngestOptions, raw: IngestSource, t0: number, log: (s: string) => void): IngestOutcome {
  log(`read ${raw.table.n} ${o.format} rows, ${raw.items.size} item records, ${raw.users.size} user records, ${raw.tags.length} tags (${((performance.now() - t0) / 1000).toFixed(1)}s)`);
  const po = pipelineOptions(o, raw);
  const result = runPipelineColumns(raw, po);
  const s = result.stats;
  log(`dedup (${po.dedup}) removed ${s.duplicates_removed}; rating >= ${po.minRating ?? '(none)'} kept ${s.rows - s.duplicates_removed - s.below_threshold}, ${s.below_threshold} below; ` +
    `${po.kcore.join('/')}-core removed ${s.kcore_removed.rows} rows, ${s.kcore_removed.users} users, ${s.kcore_removed.items} items`);
  log(`${s.users} users, ${s.items} items, ${s.interactions} interactions (density ${(s.density * 100).toFixed(2)}%); ` +
    `split ${po.split}${po.split === 'loo' ? '' : ` ${po.ratios.join(':')}`} seed ${po.seed}: train ${s.train} / valid ${s.valid} / test ${s.test}`);
  log(`corpus (training data only): ${s.corpus.user_feedback_entries} feedback entries, ${s.corpus.reviews_with_text} with review text, ${s.corpus.tags} tags; ` +
    `withheld ${s.corpus.withheld_eval_pairs} on validation/test pairs${s.corpus.withheld_after_cutoff ? `, ${s.corpus.withheld_after_cutoff} after the split cutoff` : ''}`);
  const manifest = {
    ...manifestHeader('irllrec-dataset', 1),
    format: raw.format,
    domain: o.domain ?? raw.domain,
    inputs: raw.files.map((f) => ({ path: resolve(f), bytes: statSync(f).size })),
    options: {
      min_rating: po.minRating,
      like_threshold: po.likeThreshold,
      kcore: po.kcore,
      dedup: po.dedup,
      split: po.split,
      ratios: po.split === 'loo' ? null : po.ratios,
      order: po.split === 'user-ratio' ? po.order : null,
      seed: po.seed,
      negatives_in_corpus: po.negatives,
    },
    stats: s,
  };
  const dir = writeDatasetDir(o.out, result, manifest, Boolean(o.force));
  log(`wrote ${dir}`);
  return { dir, result, manifest };
}
