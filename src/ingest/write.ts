/**
 * Writes a dataset directory as one unit: everything goes to a hidden sibling directory, which is
 * renamed over the target only when complete, so a failed or killed ingest leaves no partial
 * dataset. Replacing an existing dataset (--force) keeps its `cache/` (LLM answers and embedding
 * caches are keyed by content hashes, so they stay valid whatever changed).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { Interactions } from '../data/dataset.js';
import { fsReason, outputProblem } from '../util/atomic.js';
import type { PipelineResult } from './pipeline.js';

export const DATASET_FILES = {
  splits: ['train.tsv', 'valid.tsv', 'test.tsv'] as const,
  users: 'users.tsv',
  items: 'items.tsv',
  userCorpus: join('corpus', 'users.jsonl'),
  itemCorpus: join('corpus', 'items.jsonl'),
  manifest: 'ingest.json',
  cache: 'cache',
};

/** Writes `chunks` to path with one fd, then fsyncs (the caller renames the directory). */
function writeChunks(path: string, chunks: Iterable<string>): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    let buf: string[] = [];
    let size = 0;
    const flush = () => {
      const b = Buffer.from(buf.join(''), 'utf8');
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      buf = [];
      size = 0;
    };
    for (const c of chunks) {
      buf.push(c);
      size += c.length;
      if (size > 1 << 20) flush();
    }
    flush();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Tabs and line breaks inside an id or title become spaces (the corpora keep the exact strings). */
function tsvField(s: string): string {
  return s.replace(/[\t\r\n]/g, ' ');
}

function* tsvLines(p: Interactions): Generator<string> {
  yield 'user\titem\n';
  for (let k = 0; k < p.user.length; k++) yield `${p.user[k]}\t${p.item[k]}\n`;
}

/** Fails early (before any work) when `out` cannot be written. */
export function checkOutDir(out: string, force: boolean): void {
  const dir = resolve(out);
  const problem = () => {
    const p = outputProblem(dir, 'dir');
    if (p) throw new UsageError(`--out ${out}: cannot write the dataset there: ${p}`);
  };
  if (!existsSync(dir)) return problem();
  if (!statSync(dir).isDirectory()) throw new UsageError(`--out ${out} exists and is not a directory`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return problem();
  if (!force) {
    const what = entries.includes(DATASET_FILES.manifest) ? 'already holds a dataset' : 'is not empty';
    throw new UsageError(`--out ${out} ${what}; pass --force to replace it (its cache/ of LLM answers is kept)`);
  }
  if (!entries.includes(DATASET_FILES.manifest)) {
    throw new UsageError(`--out ${out} is not empty and holds no ${DATASET_FILES.manifest}: refusing to replace a directory that is not an irllrec dataset`);
  }
  problem();
}

export function writeDatasetDir(out: string, r: PipelineResult, manifest: Record<string, unknown>, force: boolean): string {
  const dir = resolve(out);
  checkOutDir(out, force);
  const parent = dirname(dir);
  const tmp = join(parent, `.${basename(dir)}.ingest-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(tmp);
    DATASET_FILES.splits.forEach((f, s) => writeChunks(join(tmp, f), tsvLines(r.splits[s]!)));
    writeChunks(join(tmp, DATASET_FILES.users), (function* () {
      yield 'id\tkey\n';
      for (let i = 0; i < r.users.length; i++) yield `${i}\t${tsvField(r.users[i]!)}\n`;
    })());
    writeChunks(join(tmp, DATASET_FILES.items), (function* () {
      yield 'id\tkey\ttitle\n';
      for (let i = 0; i < r.items.length; i++) yield `${i}\t${tsvField(r.items[i]!)}\t${tsvField(r.itemTitle(i))}\n`;
    })());
    writeChunks(join(tmp, DATASET_FILES.userCorpus), r.corpusLines('user'));
    writeChunks(join(tmp, DATASET_FILES.itemCorpus), r.corpusLines('item'));
    writeChunks(join(tmp, DATASET_FILES.manifest), [`${JSON.stringify(manifest, null, 2)}\n`]);
    if (existsSync(dir)) {
      const old = join(parent, `.${basename(dir)}.old-${process.pid}-${Date.now()}`);
      renameSync(dir, old);
      const oldCache = join(old, DATASET_FILES.cache);
      const newCache = join(tmp, DATASET_FILES.cache);
      try {
        if (existsSync(oldCache)) renameSync(oldCache, newCache);
        renameSync(tmp, dir);
      } catch (e) {
        // put the old dataset (and its cache) back as it was
        if (existsSync(newCache) && !existsSync(oldCache)) renameSync(newCache, oldCache);
        if (!existsSync(dir)) renameSync(old, dir);
        throw e;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, dir);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // the disk filled up, the directory became read-only, ...: one line, not a stack trace
    const why = fsReason(e);
    if (why) throw new UsageError(`--out ${out}: could not write the dataset (${(e as NodeJS.ErrnoException).path ?? dir} ${why}); nothing was written`);
    throw e;
  }
  return dir;
}
