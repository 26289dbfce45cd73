/**
 * Small synthetic datasets and data directories for the tests that train or serve tiny runs, and a
 * guard that keeps the trainer's progress lines off the test output.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, type Dataset } from '../../src/data/dataset.js';
import { writeNpy } from '../../src/data/formats/numpy.js';
import { ingest } from '../../src/ingest/index.js';
import { repoRoot } from '../shared.js';

export interface SplitsOptions {
  /** default 60 */
  users?: number;
  /** default 40 (used by the default `item` only) */
  items?: number;
  /** interactions per user before duplicates are dropped (default 8) */
  perUser?: number;
  /** [train end, valid end]: interaction k goes to train when k < the first, valid when k < the second, else test (default [5, 7]) */
  splitAt?: [number, number];
  /** the item of user u's k-th interaction (default (11u + 5k + u mod 3) mod items) */
  item?: (u: number, k: number) => number;
}

/**
 * Writes train/valid/test.tsv into `dir`: a "user<TAB>item" header, then each user's interactions
 * (see SplitsOptions), a pair repeated within a split written once.
 */
export function writeSplits(dir: string, o: SplitsOptions = {}): void {
  const { users = 60, items = 40, perUser = 8, splitAt: [trainEnd, validEnd] = [5, 7] } = o;
  const item = o.item ?? ((u: number, k: number) => (u * 11 + k * 5 + (u % 3)) % items);
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < users; u++) {
    for (let k = 0; k < perUser; k++) {
      lines[k < trainEnd ? 'train' : k < validEnd ? 'valid' : 'test']!.push(`${u}\t${item(u, k)}`);
    }
  }
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(dir, `${s}.tsv`), `user\titem\n${[...new Set(lines[s])].join('\n')}\n`);
}

/** A new temporary directory (name starting with `prefix`) holding the splits of {@link writeSplits}. */
export function splitsDataset(prefix: string, o: SplitsOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeSplits(dir, o);
  return dir;
}

/**
 * Writes the four text-vector files usr_prf / itm_prf (profileDim wide) and usr_int / itm_int
 * (intentDim wide); element i of a file w wide is value(i, w).
 */
export function writeTextVectors(
  dir: string, o: { users: number; items: number; profileDim: number; intentDim: number; value: (i: number, w: number) => number },
): void {
  const files = [['usr_prf', o.users, o.profileDim], ['itm_prf', o.items, o.profileDim], ['usr_int', o.users, o.intentDim], ['itm_int', o.items, o.intentDim]] as const;
  for (const [name, rows, w] of files) {
    writeNpy(join(dir, `${name}.npy`), [rows, w], Float32Array.from({ length: rows * w }, (_, i) => o.value(i, w)));
  }
}

/**
 * Writes text/users.jsonl and text/items.jsonl (one JSON line per entry) and the text/profile.json
 * an offline `irllrec profile` leaves, with the files' SHA-256.
 */
export function writeOfflineProfiles(dir: string, users: string[], items: string[]): void {
  mkdirSync(join(dir, 'text'));
  const files: Record<string, string> = {};
  for (const [f, body] of [['text/users.jsonl', users], ['text/items.jsonl', items]] as const) {
    const text = `${body.join('\n')}\n`;
    writeFileSync(join(dir, f), text);
    files[f] = createHash('sha256').update(text).digest('hex');
  }
  writeFileSync(join(dir, 'text', 'profile.json'), JSON.stringify({ provider: 'offline', model: 'test', offline: true, files }));
}

/**
 * An in-memory dataset of two communities: odd users interact with the first half of the items,
 * even users with the second half; user u's k-th interaction (k < perUser) goes to split 0 when
 * k < splitAt[0], 1 when k < splitAt[1], else 2.
 */
export function twoCommunities(path: string, users: number, items: number, perUser: number, splitAt: [number, number]): Dataset {
  const parts = [0, 1, 2].map(() => ({ user: [] as number[], item: [] as number[] }));
  for (let u = 0; u < users; u++) {
    const base = u % 2 ? 0 : items / 2;
    for (let k = 0; k < perUser; k++) {
      const s = k < splitAt[0] ? 0 : k < splitAt[1] ? 1 : 2;
      parts[s]!.user.push(u);
      parts[s]!.item.push(base + ((u * 3 + k * 7) % (items / 2)));
    }
  }
  return assemble(path, 'memory', users, items, parts.map((p) => ({ user: Int32Array.from(p.user), item: Int32Array.from(p.item) })), ['a', 'b', 'c']);
}

/** The bundled MovieLens directory (ratings, movies, tags). */
export const bundledMovieLens = join(repoRoot, 'data', 'movielens-latest-small');

/**
 * Creates `dir` as a MovieLens subset: the ratings of users 1..maxUser of the bundled data (sorted
 * by user), all its movies and tags. Returns dir.
 */
export function writeMovieLensSubset(dir: string, maxUser: number): string {
  mkdirSync(dir);
  const ratings = readFileSync(join(bundledMovieLens, 'ratings.csv'), 'utf8').split(/\r?\n/);
  writeFileSync(join(dir, 'ratings.csv'), `${ratings.filter((l, k) => k === 0 || (l && Number(l.split(',')[0]) <= maxUser)).join('\n')}\n`);
  for (const f of ['movies.csv', 'tags.csv']) writeFileSync(join(dir, f), readFileSync(join(bundledMovieLens, f)));
  return dir;
}

/** The small RecBole fixture the text-pipeline tests ingest. */
export const miniRecbole = join(repoRoot, 'test', 'fixtures', 'text', 'recbole', 'mini');

/** A new temporary directory (name starting with `prefix`) holding {@link miniRecbole} ingested (ratings >= 3) at ds/. */
export async function miniRecboleBase(prefix: string): Promise<string> {
  const base = mkdtempSync(join(tmpdir(), prefix));
  await ingest({ format: 'recbole', dir: miniRecbole, out: join(base, 'ds'), minRating: 3 });
  return base;
}

/** Runs fn with process.stderr muted (the trainer's progress lines), restoring it afterwards. */
export async function withQuietStderr<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return await fn();
  } finally {
    process.stderr.write = write;
  }
}
