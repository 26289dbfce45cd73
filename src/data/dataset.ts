/**
 * A dataset directory: train/valid/test interactions with 0-based ids, as either the reference's
 * pickled scipy matrices (`trn_mat.pkl`, `val_mat.pkl`, `tst_mat.pkl`) or `train.tsv`,
 * `valid.tsv`, `test.tsv` (header `user\titem`). Pickles win when both are present, since
 * they carry the exact matrix shape.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkDataAlloc, DataError, readFileForData } from './errors.js';
import { csrFind, csrFromPairs, csrNnz, type CsrPattern } from './csr.js';
import { readCooPickle } from './formats/sslrec-pkl.js';
import { countTsvRows, parseInteractionsTsv } from './formats/tsv.js';

export interface Interactions {
  user: Int32Array;
  item: Int32Array;
}

export interface Dataset {
  /** Directory name, e.g. `irllrec-amazon-book`. */
  name: string;
  dir: string;
  format: 'sslrec-pkl' | 'tsv' | 'memory';
  numUsers: number;
  numItems: number;
  /** Training pairs in file order (the sampler's epoch order is a shuffle of these). */
  trainPairs: Interactions;
  train: CsrPattern;
  valid: CsrPattern;
  test: CsrPattern;
  /**
   * What loading noticed but did not refuse, one line each, naming the file: duplicated rows
   * (ignored: each pair is trained on and evaluated once) and pairs found in both the training and
   * a held-out split (kept). Callers log them.
   */
  warnings?: string[];
}

/**
 * Ids are dense 0-based indices, so the number of users (items) is bounded by the data: at most
 * max(2^20, 64 x the number of interactions). Sparse-but-sane ids (users or items without any
 * interaction, up to 98% of the id space, or any id space up to 2^20) pass; an id or a declared
 * shape far beyond the data (2147483646 in a three-line file) is refused before anything is
 * allocated from it.
 */
export const ID_SPACE_FLOOR = 1 << 20;
export const ID_SPACE_PER_INTERACTION = 64;

/** The largest id space (users or items) accepted for `interactions` interactions. */
export function maxIdSpace(interactions: number): number {
  return Math.max(ID_SPACE_FLOOR, ID_SPACE_PER_INTERACTION * interactions);
}

/** The id-space rule in words, for error messages (`what`: what was counted). */
export function idSpaceRule(interactions: number, what = 'interactions'): string {
  return `ids must be dense 0-based indices: at most max(2^20, ${ID_SPACE_PER_INTERACTION} x ${interactions} ${what}) = ${maxIdSpace(interactions)} users or items; remap the ids (irllrec ingest does)`;
}

const PKL = ['trn_mat.pkl', 'val_mat.pkl', 'tst_mat.pkl'] as const;
const TSV = ['train.tsv', 'valid.tsv', 'test.tsv'] as const;

export function loadDataset(dirArg: string): Dataset {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new DataError(dirArg, 'dataset directory not found');
  const hasPkl = PKL.every((f) => existsSync(join(dir, f)));
  const hasTsv = TSV.every((f) => existsSync(join(dir, f)));
  if (hasPkl) return fromPickles(dir);
  if (hasTsv) return fromTsv(dir);
  throw new DataError(dirArg, `no dataset found: expected ${PKL.join(', ')} or ${TSV.join(', ')}`);
}

function fromPickles(dir: string): Dataset {
  const mats = PKL.map((f) => ({ file: join(dir, f), m: readCooPickle(join(dir, f)) }));
  const { rows, cols } = mats[0]!.m;
  for (const { file, m } of mats) {
    if (m.rows !== rows || m.cols !== cols) {
      throw new DataError(file, `matrix shape ${m.rows}x${m.cols} differs from trn_mat.pkl's ${rows}x${cols}`);
    }
  }
  const total = mats.reduce((a, { m }) => a + m.row.length, 0);
  if (rows > maxIdSpace(total) || cols > maxIdSpace(total)) {
    throw new DataError(mats[0]!.file, `coo_matrix _shape (${rows}, ${cols}) is far beyond the ${total} stored entries of the three splits: ${idSpaceRule(total)}`, { field: '_shape' });
  }
  const pairs = mats.map(({ m }) => nonZeroPairs(m.row, m.col, m.data));
  return assemble(dir, 'sslrec-pkl', rows, cols, pairs, PKL.map((f) => join(dir, f)));
}

/** The reference binarises with (mat != 0): explicit zeros are not interactions. */
function nonZeroPairs(row: Int32Array, col: Int32Array, data: Float64Array): Interactions {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) n++;
  if (n === data.length) return { user: row, item: col };
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  let w = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 0) {
      user[w] = row[i]!;
      item[w++] = col[i]!;
    }
  }
  return { user, item };
}

function fromTsv(dir: string): Dataset {
  const files = TSV.map((f) => join(dir, f));
  const bufs = files.map((f) => readFileForData(f));
  // the id-space rule needs the size of the whole dataset (a short test split may hold large ids)
  const rows = bufs.reduce((a, b) => a + countTsvRows(b), 0);
  const maxId = maxIdSpace(rows) - 1;
  const pairs = bufs.map((b, k) => parseInteractionsTsv(b.toString('utf8'), files[k]!, { maxId, maxIdRule: idSpaceRule(rows, 'rows in train/valid/test.tsv') }));
  let users = 0;
  let items = 0;
  for (const p of pairs) {
    for (let i = 0; i < p.user.length; i++) {
      if (p.user[i]! >= users) users = p.user[i]! + 1;
      if (p.item[i]! >= items) items = p.item[i]! + 1;
    }
  }
  return assemble(dir, 'tsv', users, items, pairs, files);
}

/**
 * Builds a dataset from train/valid/test pairs with 0-based ids (files name each split in errors).
 * Sizes are checked before anything is allocated from them (the id-space rule and the memory
 * budget). Duplicated pairs within a split are dropped (the first occurrence is kept, in file
 * order), so every pair is trained on once and the logged counts are what is trained on; the
 * Dataset's `warnings` say how many, and how many held-out pairs are also training pairs.
 */
export function assemble(
  dir: string, format: Dataset['format'], numUsers: number, numItems: number,
  pairs: Interactions[], files: string[],
): Dataset {
  const total = pairs.reduce((a, p) => a + p.user.length, 0);
  if (!Number.isSafeInteger(numUsers) || !Number.isSafeInteger(numItems) || numUsers < 0 || numItems < 0) {
    throw new DataError(files[0]!, `bad dataset size ${numUsers} users x ${numItems} items`);
  }
  if (numUsers > maxIdSpace(total) || numItems > maxIdSpace(total)) {
    throw new DataError(files[0]!, `${numUsers} users x ${numItems} items is far beyond the ${total} interactions: ${idSpaceRule(total)}`);
  }
  // the three CSR patterns (and their build buffers), the pairs and the training graph built from them
  checkDataAlloc(files[0]!, 3 * 16 * (numUsers + 1) + 8 * (numUsers + numItems) + 48 * total, `${numUsers} users x ${numItems} items with ${total} interactions`);
  pairs.forEach((p, k) => {
    for (let i = 0; i < p.user.length; i++) {
      if (p.user[i]! < 0 || p.user[i]! >= numUsers || p.item[i]! < 0 || p.item[i]! >= numItems) {
        throw new DataError(files[k]!, `interaction ${i + 1} (${p.user[i]}, ${p.item[i]}) is outside ${numUsers} users x ${numItems} items`);
      }
    }
  });
  if (pairs[0]!.user.length === 0) throw new DataError(files[0]!, 'the training split is empty');
  const [train, valid, test] = pairs.map((p) => csrFromPairs(numUsers, numItems, p.user, p.item)) as [CsrPattern, CsrPattern, CsrPattern];
  const warnings: string[] = [];
  const label = (k: number) => basename(files[k]!);
  const splits = [train, valid, test];
  pairs.forEach((p, k) => {
    const dups = p.user.length - csrNnz(splits[k]!);
    if (dups > 0) warnings.push(`${label(k)}: ${dups} duplicate row${dups === 1 ? '' : 's'} ignored (each (user, item) pair counts once)`);
  });
  for (const k of [1, 2]) {
    const both = overlap(train, splits[k]!);
    if (both > 0) {
      warnings.push(`${label(k)}: ${both} (user, item) pair${both === 1 ? ' is' : 's are'} also in ${label(0)} (kept; training items are masked when ranking, so these cannot be hit)`);
    }
  }
  const trainPairs = firstOccurrences(pairs[0]!, train);
  return { name: basename(dir), dir, format, numUsers, numItems, trainPairs, train, valid, test, warnings };
}

/** The pairs in order with later repeats of a pair dropped (the pairs themselves when there are none). */
function firstOccurrences(p: Interactions, m: CsrPattern): Interactions {
  const nnz = csrNnz(m);
  if (nnz === p.user.length) return p;
  const seen = new Uint8Array(nnz);
  const user = new Int32Array(nnz);
  const item = new Int32Array(nnz);
  let w = 0;
  for (let i = 0; i < p.user.length; i++) {
    const at = csrFind(m.indptr, m.indices, p.user[i]!, p.item[i]!);
    if (seen[at]) continue;
    seen[at] = 1;
    user[w] = p.user[i]!;
    item[w++] = p.item[i]!;
  }
  return { user, item };
}

/** How many pairs of `b` are also in `a` (same shape). */
function overlap(a: CsrPattern, b: CsrPattern): number {
  let n = 0;
  for (let r = 0; r < b.rows; r++) {
    if (a.indptr[r + 1]! === a.indptr[r]!) continue;
    for (let p = b.indptr[r]!; p < b.indptr[r + 1]!; p++) if (csrFind(a.indptr, a.indices, r, b.indices[p]!) >= 0) n++;
  }
  return n;
}
