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
 *
 * dtypes: .npy files may be float16 (`<f2`, what `irllrec embed --dtype float16` writes: half the
 * disk), float32 or float64 (and integers); pickles float16/32/64. The models use float32, so every
 * file is converted on load: .npy files block by block with positional reads (the peak is the
 * float32 result plus one block, never the file's bytes besides it). Code that needs only some rows
 * (a batch's) can read them without loading the file: `openTextRows` (built on `openNpyRows`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import type { TextVectors } from './text-types.js';
import { DataError } from './errors.js';
import { openNpyRows, readNpyFloat32, readNumpyPickle, type NpyRows } from './formats/numpy.js';

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
  const [r, c] = checkTextShape(path, a.shape, rows, what);
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) throw nonFiniteText(path, what, i, c, a.data[i]!);
  }
  return new Tensor(a.data, [r, c]);
}

/** A text table's shape checked: 2-D, `rows` rows, width > 0 (DataErrors naming the file). */
export function checkTextShape(path: string, shape: readonly number[], rows: number, what: string): [number, number] {
  if (shape.length !== 2) throw new DataError(path, `${what} must be a 2-D array, got shape (${shape.join(', ')})`);
  const [r, c] = shape as [number, number];
  if (r !== rows) throw new DataError(path, `${what} have ${r} rows but the dataset has ${rows}`);
  if (c === 0) throw new DataError(path, `${what} have width 0`);
  return [r, c];
}

/** The error for a NaN/Inf at flat index i of a table `cols` wide. */
export function nonFiniteText(path: string, what: string, i: number, cols: number, value: number): DataError {
  return new DataError(path, `${what}: row ${Math.floor(i / cols)} column ${i % cols} is ${value} (NaN/Inf are not allowed)`);
}

/** Loads the kinds `need` from dir; a missing file is an error naming the expected names. */
export function loadTextVectors(dir: string, numUsers: number, numItems: number, need: (keyof TextVectors)[]): TextVectors {
  return loadTextKinds(dir, numUsers, numItems, need, (path, rows, what) => readTextMatrix(path, rows, what));
}

/**
 * The kinds `need` from dir, each read by `read` (its file, expected rows, what it holds); a
 * missing file, or users and items of one kind with different widths, is a DataError.
 */
export function loadTextKinds<T extends { cols: number }>(
  dir: string, numUsers: number, numItems: number, need: (keyof TextVectors)[], read: (path: string, rows: number, what: string) => T,
): Partial<Record<keyof TextVectors, T>> {
  const out: Partial<Record<keyof TextVectors, T>> = {};
  for (const kind of need) {
    const path = findTextFile(dir, kind);
    const f = TEXT_FILES[kind];
    if (!path) throw new DataError(dir, `missing ${f.what}: expected ${f.npy} or ${f.pkl}`);
    out[kind] = read(path, kind.startsWith('usr') ? numUsers : numItems, f.what);
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

/**
 * Row access to the .npy text vectors of `kind` in dir without loading them (see `openNpyRows`):
 * the shape is checked like {@link loadTextVectors} does (2-D, `rows` rows, width > 0); values are
 * checked as rows are read (a NaN/Inf is a DataError naming row and column). Official pickles
 * cannot be read by rows: convert them to .npy. Close it when done.
 */
export function openTextRows(dir: string, kind: keyof TextVectors, rows: number): NpyRows {
  const f = TEXT_FILES[kind];
  const path = findTextFile(dir, kind);
  if (!path) throw new DataError(dir, `missing ${f.what}: expected ${f.npy} or ${f.pkl}`);
  if (!path.endsWith('.npy')) throw new DataError(path, `${f.what}: row access needs an .npy file (${f.npy}); pickles are read whole`);
  const src = openNpyRows(path);
  try {
    checkTextShape(path, [src.rows, src.cols], rows, f.what);
  } catch (e) {
    src.close();
    throw e;
  }
  const cols = src.cols;
  const check = (out: Float32Array, rowOf: (k: number) => number, n: number): Float32Array => {
    for (let i = 0; i < n * cols; i++) {
      if (!Number.isFinite(out[i]!)) {
        throw new DataError(path, `${f.what}: row ${rowOf(Math.floor(i / cols))} column ${i % cols} is ${out[i]} (NaN/Inf are not allowed)`);
      }
    }
    return out;
  };
  return {
    ...src,
    read: (rowStart, rowCount, out) => check(src.read(rowStart, rowCount, out), (k) => rowStart + k, rowCount),
    gather: (ids, out) => check(src.gather(ids, out), (k) => ids[k]!, ids.length),
    close: () => src.close(),
  };
}
