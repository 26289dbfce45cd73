/**
 * Reader for the interaction splits of the SSLRec / RLMRec / IRLLRec code
 * bases (`trn_mat.pkl`, `val_mat.pkl`, `tst_mat.pkl`): a pickled
 * `scipy.sparse.coo_matrix` (or `coo_array`) whose state dict holds `_shape`
 * and either `row` / `col` (scipy < 1.13) or `coords` (scipy >= 1.13), plus
 * `data`.
 */
import { checkDataAlloc, DataError, readFileForData } from '../errors.js';
import { describePy, loadPickle, PyDict, PyObject, PyTuple, SCIPY_COO_GLOBALS } from './pickle.js';
import { ndarrayFromPy, ndarrayToFloat64, ndarrayToInt32, pyToInt, type NdArrayBytes } from './numpy.js';

export interface CooMatrix {
  /** number of rows (users) */
  rows: number;
  /** number of columns (items) */
  cols: number;
  /** row index of each stored entry, in file order */
  row: Int32Array;
  /** column index of each stored entry, in file order */
  col: Int32Array;
  /** value of each stored entry (1.0 for implicit feedback) */
  data: Float64Array;
}

const COO_CLASSES = new Set(SCIPY_COO_GLOBALS);

/** Decode a COO matrix from pickle bytes; `file` is used in error messages. */
export function parseCooPickle(buf: Uint8Array, file: string): CooMatrix {
  const top = loadPickle(buf, file);
  if (!(top instanceof PyObject) || !COO_CLASSES.has(top.cls.qualname)) {
    throw new DataError(file, `expected a pickled scipy.sparse.coo_matrix, found ${describePy(top)}`);
  }
  const state = top.state;
  if (!(state instanceof PyDict)) {
    throw new DataError(file, `coo_matrix state is ${describePy(state)}, expected a dict`);
  }

  const shapeV = state.get('_shape') ?? state.get('shape');
  if (!(shapeV instanceof PyTuple) || shapeV.items.length !== 2) {
    throw new DataError(file, `coo_matrix shape is ${describePy(shapeV)}, expected a 2-tuple`);
  }
  const rows = pyToInt(shapeV.items[0], file);
  const cols = pyToInt(shapeV.items[1], file);
  if (rows === null || cols === null || rows < 0 || cols < 0 || rows > 0x7fff_ffff || cols > 0x7fff_ffff) {
    throw new DataError(file, `coo_matrix has a bad shape (${shapeV.items.map(describePy).join(', ')})`);
  }

  let rowV = state.get('row');
  let colV = state.get('col');
  const coords = state.get('coords');
  if (rowV === undefined && colV === undefined && coords !== undefined) {
    if (!(coords instanceof PyTuple) || coords.items.length !== 2) {
      throw new DataError(file, `coo_matrix coords is ${describePy(coords)}, expected a 2-tuple of arrays`);
    }
    [rowV, colV] = coords.items;
  }
  if (rowV === undefined || colV === undefined) {
    throw new DataError(file, 'coo_matrix state has no row/col (or coords) arrays');
  }
  const dataV = state.get('data');
  if (dataV === undefined) throw new DataError(file, 'coo_matrix state has no data array');

  const oneD = (v: typeof rowV, what: string): NdArrayBytes => {
    const a = ndarrayFromPy(v, file, what);
    if (a.shape.length !== 1) {
      throw new DataError(file, `coo_matrix ${what} has shape (${a.shape.join(', ')}), expected 1-D`);
    }
    return a;
  };
  const rowA = oneD(rowV, 'row');
  const colA = oneD(colV, 'col');
  const dataA = oneD(dataV, 'data');
  const nnz = rowA.shape[0]!;
  if (colA.shape[0] !== nnz || dataA.shape[0] !== nnz) {
    throw new DataError(
      file,
      `coo_matrix arrays differ in length: row ${nnz}, col ${colA.shape[0]}, data ${dataA.shape[0]}`,
    );
  }
  if (dataA.dtype.kind !== 'f' && dataA.dtype.kind !== 'i' && dataA.dtype.kind !== 'u' && dataA.dtype.kind !== 'b') {
    throw new DataError(file, `coo_matrix data has unsupported dtype ${dataA.dtype.descr}`);
  }
  // the arrays' sizes were checked against the file (their bytes are in it); the decoded copies are
  // int32 / float64, so check what they will take before converting
  checkDataAlloc(file, nnz * (4 + 4 + 8), `decoding ${nnz} coo_matrix entries`);
  const row = ndarrayToInt32(rowA, file, 'coo_matrix row', 0, rows - 1);
  const col = ndarrayToInt32(colA, file, 'coo_matrix col', 0, cols - 1);
  const data = ndarrayToFloat64(dataA);
  return { rows, cols, row, col, data };
}

/**
 * Read a pickled scipy COO matrix file (row/col int32 or int64, data float32
 * or float64, either byte order). Indices are validated against the shape.
 * Any problem -> DataError naming the file.
 */
export function readCooPickle(path: string): CooMatrix {
  return parseCooPickle(readFileForData(path), path);
}
