/**
 * A dataset directory: train/valid/test interactions with 0-based ids, as either the reference's
 * pickled scipy matrices (`trn_mat.pkl`, `val_mat.pkl`, `tst_mat.pkl`) or `train.tsv`,
 * `valid.tsv`, `test.tsv` (header `user\titem`). Pickles win when both are present, since
 * they carry the exact matrix shape.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { csrFromPairs, type CsrPattern } from './csr.js';
import { readCooPickle } from './formats/sslrec-pkl.js';
import { readInteractionsTsv } from './formats/tsv.js';

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
  const pairs = files.map((f) => readInteractionsTsv(f));
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

/** Builds a dataset from train/valid/test pairs with 0-based ids (files name each split in errors). */
export function assemble(
  dir: string, format: Dataset['format'], numUsers: number, numItems: number,
  pairs: Interactions[], files: string[],
): Dataset {
  pairs.forEach((p, k) => {
    for (let i = 0; i < p.user.length; i++) {
      if (p.user[i]! < 0 || p.user[i]! >= numUsers || p.item[i]! < 0 || p.item[i]! >= numItems) {
        throw new DataError(files[k]!, `interaction ${i + 1} (${p.user[i]}, ${p.item[i]}) is outside ${numUsers} users x ${numItems} items`);
      }
    }
  });
  if (pairs[0]!.user.length === 0) throw new DataError(files[0]!, 'the training split is empty');
  const [train, valid, test] = pairs.map((p) => csrFromPairs(numUsers, numItems, p.user, p.item)) as [CsrPattern, CsrPattern, CsrPattern];
  return { name: basename(dir), dir, format, numUsers, numItems, trainPairs: pairs[0]!, train, valid, test };
}
