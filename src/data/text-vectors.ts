/**
 * Per-entity text vectors (frozen inputs of the text tower), found by convention in a directory
 * (the dataset directory, or --text-dir):
 *
 * | kind            | irllrec name (.npy)          | official name (pickled numpy array) |
 * |-----------------|------------------------------|-------------------------------------|
 * | user profile    | usr_prf.npy                  | usr_emb_np.pkl                      |
 * | item profile    | itm_prf.npy                  | itm_emb_np.pkl                      |
 * | user intent     | usr_int.npy                  | user_intent_emb_3.pkl               |
 * | item intent     | itm_int.npy                  | item_intent_emb_3.pkl               |
 *
 * .npy wins when both exist. Rows must equal the number of users / items, every value must be
 * finite, and users and items of one kind must have the same width.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import type { TextVectors } from '../models/alignment/types.js';
import { DataError } from './errors.js';
import { readNpyFloat32, readNumpyPickle } from './formats/numpy.js';

export const TEXT_FILES: Record<keyof TextVectors, { npy: string; pkl: string; what: string }> = {
  usrPrf: { npy: 'usr_prf.npy', pkl: 'usr_emb_np.pkl', what: 'user profile vectors' },
  itmPrf: { npy: 'itm_prf.npy', pkl: 'itm_emb_np.pkl', what: 'item profile vectors' },
  usrInt: { npy: 'usr_int.npy', pkl: 'user_intent_emb_3.pkl', what: 'user intent vectors' },
  itmInt: { npy: 'itm_int.npy', pkl: 'item_intent_emb_3.pkl', what: 'item intent vectors' },
};

/** Path of the file holding `kind` in dir, or null. */
export function findTextFile(dir: string, kind: keyof TextVectors): string | null {
  const f = TEXT_FILES[kind];
  for (const name of [f.npy, f.pkl]) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

export function readTextMatrix(path: string, rows: number, what: string): Tensor {
  const a = path.endsWith('.npy') ? readNpyFloat32(path) : readNumpyPickle(path);
  if (a.shape.length !== 2) throw new DataError(path, `${what} must be a 2-D array, got shape (${a.shape.join(', ')})`);
  const [r, c] = a.shape as [number, number];
  if (r !== rows) throw new DataError(path, `${what} have ${r} rows but the dataset has ${rows}`);
  if (c === 0) throw new DataError(path, `${what} have width 0`);
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) {
      throw new DataError(path, `${what}: row ${Math.floor(i / c)} column ${i % c} is ${a.data[i]} (NaN/Inf are not allowed)`);
    }
  }
  return new Tensor(a.data, [r, c]);
}

/** Loads the kinds `need` from dir; a missing file is an error naming the expected names. */
export function loadTextVectors(dir: string, numUsers: number, numItems: number, need: (keyof TextVectors)[]): TextVectors {
  const out: TextVectors = {};
  for (const kind of need) {
    const path = findTextFile(dir, kind);
    const f = TEXT_FILES[kind];
    if (!path) throw new DataError(dir, `missing ${f.what}: expected ${f.npy} or ${f.pkl}`);
    out[kind] = readTextMatrix(path, kind.startsWith('usr') ? numUsers : numItems, f.what);
  }
  for (const [u, i] of [['usrPrf', 'itmPrf'], ['usrInt', 'itmInt']] as const) {
    const a = out[u];
    const b = out[i];
    if (a && b && a.cols !== b.cols) {
      throw new DataError(findTextFile(dir, i)!, `${TEXT_FILES[i].what} have width ${b.cols} but ${TEXT_FILES[u].what} have width ${a.cols}`);
    }
  }
  return out;
}
