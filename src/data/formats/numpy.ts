/**
 * numpy array I/O without Python:
 *
 * - `.npy` files (format versions 1, 2 and 3), read and (float32) write;
 * - pickled `numpy.ndarray`s (e.g. `usr_emb_np.pkl`), through the safe pickle
 *   interpreter in ./pickle.ts, for both the numpy 1.x (`numpy.core.*`) and
 *   numpy 2.x (`numpy._core.*`) module paths, protocols 2–5;
 * - helpers that turn pickled ndarray descriptions into typed arrays, shared
 *   with the scipy COO reader.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkDataAlloc, DataError, readFileForData } from '../errors.js';
import { describePy, loadPickle, PyGlobal, PyList, PyObject, PyTuple, type PyValue } from './pickle.js';

const HOST_LE = endianness() === 'LE';

// ---------------------------------------------------------------------------
// dtypes

export type NumpyDtypeKind = 'f' | 'i' | 'u' | 'b';

export interface NumpyDtype {
  /** numpy kind letter: float, signed int, unsigned int, bool. */
  kind: NumpyDtypeKind;
  /** bytes per element */
  itemsize: number;
  littleEndian: boolean;
  /** normalised descriptor, e.g. `<f4`, `|u1` */
  descr: string;
}

const VALID_SIZES: Record<NumpyDtypeKind, readonly number[]> = {
  f: [4, 8],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  b: [1],
};

function makeDtype(kind: string, itemsize: number, order: string): NumpyDtype | null {
  if (!(kind in VALID_SIZES)) return null;
  const k = kind as NumpyDtypeKind;
  if (!VALID_SIZES[k].includes(itemsize)) return null;
  let littleEndian: boolean;
  if (order === '<') littleEndian = true;
  else if (order === '>') littleEndian = false;
  else if (order === '=' || order === '' || order === '|') {
    // '|' = "not applicable" is only valid for one-byte types; '=' / none = native
    if (order === '|' && itemsize !== 1) return null;
    littleEndian = itemsize === 1 ? true : HOST_LE;
  } else return null;
  const descr = `${itemsize === 1 ? '|' : littleEndian ? '<' : '>'}${k}${itemsize}`;
  return { kind: k, itemsize, littleEndian, descr };
}

/** Parse a simple numpy type string (`<f4`, `f8`, `|b1`, `>i8`, ...). Returns null when unsupported. */
export function parseDtypeString(s: string, order?: string): NumpyDtype | null {
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(s);
  if (!m) return null;
  return makeDtype(m[2]!, Number(m[3]), order ?? m[1]!);
}

// ---------------------------------------------------------------------------
// typed-array decoding

/** Raw bytes + layout of one n-d array. */
export interface NdArrayBytes {
  shape: number[];
  dtype: NumpyDtype;
  /** true when the bytes are in Fortran (column-major) order */
  fortranOrder: boolean;
  bytes: Uint8Array;
}

function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

function readElement(view: DataView, off: number, dt: NumpyDtype): number {
  const le = dt.littleEndian;
  switch (dt.kind) {
    case 'f':
      return dt.itemsize === 4 ? view.getFloat32(off, le) : view.getFloat64(off, le);
    case 'b':
      return view.getUint8(off) ? 1 : 0;
    case 'i':
      switch (dt.itemsize) {
        case 1:
          return view.getInt8(off);
        case 2:
          return view.getInt16(off, le);
        case 4:
          return view.getInt32(off, le);
        default:
          return Number(view.getBigInt64(off, le));
      }
    case 'u':
      switch (dt.itemsize) {
        case 1:
          return view.getUint8(off);
        case 2:
          return view.getUint16(off, le);
        case 4:
          return view.getUint32(off, le);
        default:
          return Number(view.getBigUint64(off, le));
      }
  }
}

/** Copy `bytes` into a fresh, aligned ArrayBuffer. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

/** Elements as float64 (any supported dtype), in storage order. */
export function ndarrayToFloat64(a: NdArrayBytes): Float64Array {
  const n = a.bytes.byteLength / a.dtype.itemsize;
  if (a.dtype.kind === 'f' && a.dtype.itemsize === 8 && a.dtype.littleEndian === HOST_LE) {
    return new Float64Array(alignedCopy(a.bytes));
  }
  if (a.dtype.kind === 'f' && a.dtype.itemsize === 4 && a.dtype.littleEndian === HOST_LE) {
    return new Float64Array(new Float32Array(alignedCopy(a.bytes)));
  }
  const out = new Float64Array(n);
  const view = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = readElement(view, i * a.dtype.itemsize, a.dtype);
  return out;
}

/** Elements as float32 (float64 is rounded), in storage order. */
export function ndarrayToFloat32(a: NdArrayBytes): Float32Array {
  if (a.dtype.kind === 'f' && a.dtype.itemsize === 4 && a.dtype.littleEndian === HOST_LE) {
    // zero-copy when the data are 4-byte aligned in the file buffer (.npy pads its header to 64
    // bytes), which halves the transient memory for multi-hundred-MB text vectors
    if (a.bytes.byteOffset % 4 === 0) return new Float32Array(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength / 4);
    return new Float32Array(alignedCopy(a.bytes));
  }
  return new Float32Array(ndarrayToFloat64(a));
}

/**
 * Elements of an integer array as int32, in storage order. Values outside
 * [min, max] (default the int32 range) raise a DataError naming `what`.
 */
export function ndarrayToInt32(
  a: NdArrayBytes,
  file: string,
  what: string,
  min = -0x8000_0000,
  max = 0x7fff_ffff,
): Int32Array {
  const dt = a.dtype;
  if (dt.kind !== 'i' && dt.kind !== 'u') {
    throw new DataError(file, `${what}: expected an integer array, found dtype ${dt.descr}`);
  }
  const n = a.bytes.byteLength / dt.itemsize;
  let out: Int32Array;
  if (dt.kind === 'i' && dt.itemsize === 4 && dt.littleEndian === HOST_LE) {
    out = new Int32Array(alignedCopy(a.bytes));
  } else if (dt.kind === 'i' && dt.itemsize === 8 && dt.littleEndian && HOST_LE) {
    // int64 little-endian: keep the low word, the high word must be its sign extension
    const words = new Int32Array(alignedCopy(a.bytes));
    out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const lo = words[2 * i]!;
      const hi = words[2 * i + 1]!;
      if (hi !== (lo < 0 ? -1 : 0)) {
        const big = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
        throw new DataError(file, `${what}[${i}] = ${big} does not fit in int32`);
      }
      out[i] = lo;
    }
  } else {
    out = new Int32Array(n);
    const view = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
    for (let i = 0; i < n; i++) {
      const v = readElement(view, i * dt.itemsize, dt);
      if (v < -0x8000_0000 || v > 0x7fff_ffff) {
        throw new DataError(file, `${what}[${i}] = ${v} does not fit in int32`);
      }
      out[i] = v;
    }
  }
  for (let i = 0; i < n; i++) {
    const v = out[i]!;
    if (v < min || v > max) {
      throw new DataError(file, `${what}[${i}] = ${v} is out of range [${min}, ${max}]`);
    }
  }
  return out;
}

/** Reorder a 2-D Fortran-order array into C order. */
function fortranToC<T extends Float32Array | Float64Array>(data: T, shape: readonly number[]): T {
  if (shape.length < 2) return data;
  const [rows, cols] = shape as [number, number];
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let j = 0; j < cols; j++) {
    const base = j * rows;
    for (let i = 0; i < rows; i++) out[i * cols + j] = data[base + i]!;
  }
  return out;
}

// ---------------------------------------------------------------------------
// pickled ndarrays

const RECONSTRUCT = new Set(['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct']);
const FROMBUFFER = new Set(['numpy.core.numeric._frombuffer', 'numpy._core.numeric._frombuffer']);
const SCALAR = new Set(['numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar']);

function isInstance(v: PyValue | undefined, qualnames: Set<string>): v is PyObject {
  return v instanceof PyObject && qualnames.has(v.cls.qualname);
}

/** Decode a pickled `numpy.dtype` object. */
export function dtypeFromPy(v: PyValue | undefined, file: string, what: string): NumpyDtype {
  if (!(v instanceof PyObject) || v.cls.qualname !== 'numpy.dtype') {
    throw new DataError(file, `${what}: expected a numpy.dtype, found ${describePy(v)}`);
  }
  const typestr = v.args[0];
  if (typeof typestr !== 'string') {
    throw new DataError(file, `${what}: dtype type string missing (found ${describePy(typestr)})`);
  }
  let order = '=';
  const st = v.state;
  if (st !== undefined) {
    if (!(st instanceof PyTuple) || st.items.length < 8) {
      throw new DataError(file, `${what}: unexpected dtype state ${describePy(st)}`);
    }
    const [, byteorder, subarray, names, fields] = st.items;
    if (typeof byteorder !== 'string') {
      throw new DataError(file, `${what}: dtype byte order is ${describePy(byteorder)}, expected a string`);
    }
    if (subarray !== null || names !== null || fields !== null) {
      throw new DataError(file, `${what}: structured / sub-array dtypes are not supported`);
    }
    order = byteorder;
  }
  const dt = parseDtypeString(typestr, order);
  if (!dt) {
    throw new DataError(
      file,
      `${what}: unsupported dtype ${JSON.stringify(order + typestr)} (supported: float32/64, (u)int8..64, bool)`,
    );
  }
  return dt;
}

/** A Python int (number, bigint, bool or a pickled numpy integer scalar) as a JS number, or null. */
export function pyToInt(v: PyValue | undefined, file: string): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (isInstance(v, SCALAR)) {
    const dt = dtypeFromPy(v.args[0], file, 'numpy scalar');
    const raw = v.args[1];
    if ((dt.kind !== 'i' && dt.kind !== 'u') || !(raw instanceof Uint8Array) || raw.length !== dt.itemsize) {
      return null;
    }
    const x = readElement(new DataView(raw.buffer, raw.byteOffset, raw.byteLength), 0, dt);
    return Number.isSafeInteger(x) ? x : null;
  }
  return null;
}

function shapeFromPy(v: PyValue | undefined, file: string, what: string): number[] {
  if (!(v instanceof PyTuple)) throw new DataError(file, `${what}: shape is ${describePy(v)}, expected a tuple`);
  return v.items.map((x) => {
    const d = pyToInt(x, file);
    if (d === null || d < 0) throw new DataError(file, `${what}: bad shape entry ${describePy(x)}`);
    return d;
  });
}

function rawBytesFromPy(v: PyValue | undefined, file: string, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') {
    // Python-2 str payload decoded as latin-1 by the pickle reader
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = v.charCodeAt(i) & 0xff;
    return out;
  }
  if (v instanceof PyList) throw new DataError(file, `${what}: object arrays are not supported`);
  throw new DataError(file, `${what}: array data is ${describePy(v)}, expected bytes`);
}

/**
 * Interpret a decoded pickle value as a numpy ndarray:
 * `_reconstruct(ndarray, (0,), b'b')` + BUILD state (protocols 2–4), or
 * `_frombuffer(buffer, dtype, shape, order)` (protocol 5 in-band).
 */
export function ndarrayFromPy(v: PyValue | undefined, file: string, what = 'array'): NdArrayBytes {
  let shape: number[];
  let dtype: NumpyDtype;
  let fortranOrder: boolean;
  let bytes: Uint8Array;
  if (isInstance(v, RECONSTRUCT)) {
    const sub = v.args[0];
    if (!(sub instanceof PyGlobal) || sub.qualname !== 'numpy.ndarray') {
      throw new DataError(file, `${what}: expected a plain numpy.ndarray, found ${describePy(sub)}`);
    }
    const st = v.state;
    if (!(st instanceof PyTuple)) {
      throw new DataError(file, `${what}: ndarray state is ${describePy(st)}, expected a tuple`);
    }
    // (version, shape, dtype, is_fortran, rawdata), or the older 4-tuple without version
    const items = st.items.length === 5 ? st.items.slice(1) : st.items;
    if (items.length !== 4) {
      throw new DataError(file, `${what}: ndarray state has ${st.items.length} items, expected 4 or 5`);
    }
    shape = shapeFromPy(items[0], file, what);
    dtype = dtypeFromPy(items[1], file, `${what} dtype`);
    if (typeof items[2] !== 'boolean' && items[2] !== 0 && items[2] !== 1) {
      throw new DataError(file, `${what}: bad Fortran-order flag ${describePy(items[2])}`);
    }
    fortranOrder = Boolean(items[2]);
    bytes = rawBytesFromPy(items[3], file, what);
  } else if (isInstance(v, FROMBUFFER)) {
    const [buf, dt, shp, order] = v.args;
    if (v.args.length !== 4) {
      throw new DataError(file, `${what}: _frombuffer called with ${v.args.length} arguments, expected 4`);
    }
    bytes = rawBytesFromPy(buf, file, what);
    dtype = dtypeFromPy(dt, file, `${what} dtype`);
    shape = shapeFromPy(shp, file, what);
    if (order !== 'C' && order !== 'F') {
      throw new DataError(file, `${what}: bad array order ${describePy(order)}`);
    }
    fortranOrder = order === 'F';
  } else {
    throw new DataError(file, `${what}: expected a pickled numpy.ndarray, found ${describePy(v)}`);
  }
  const count = elementCount(shape);
  if (!Number.isSafeInteger(count) || count * dtype.itemsize !== bytes.byteLength) {
    throw new DataError(
      file,
      `${what}: array data has ${bytes.byteLength} bytes, expected ${count} x ${dtype.itemsize} for shape (${shape.join(', ')}) ${dtype.descr}`,
    );
  }
  return { shape, dtype, fortranOrder, bytes };
}

/**
 * Read a pickled float32/float64 numpy ndarray (e.g. `usr_emb_np.pkl`).
 * float64 is rounded to float32. Fortran-ordered 2-D arrays are returned in C order.
 */
export function readNumpyPickle(path: string): { shape: number[]; data: Float32Array } {
  const value = loadPickle(readFileForData(path), path);
  const a = ndarrayFromPy(value, path);
  if (a.dtype.kind !== 'f') {
    throw new DataError(path, `expected a float32/float64 array, found dtype ${a.dtype.descr}`);
  }
  if (a.fortranOrder && a.shape.length > 2) {
    throw new DataError(path, `Fortran-ordered arrays with ${a.shape.length} dimensions are not supported`);
  }
  const count = elementCount(a.shape);
  checkDataAlloc(path, count * 4 * (a.fortranOrder ? 2 : 1) + (a.dtype.itemsize === 8 ? count * 8 : 0), `the array of shape (${a.shape.join(', ')}) as float32`);
  let data = ndarrayToFloat32(a);
  if (a.fortranOrder) data = fortranToC(data, a.shape);
  return { shape: a.shape, data };
}

// ---------------------------------------------------------------------------
// .npy

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array;

export interface NpyArray {
  shape: number[];
  /** descriptor as stored, normalised: `<f4`, `<f8`, `<i4`, `<i8` (big-endian input is converted) */
  descr: '<f4' | '<f8' | '<i4' | '<i8';
  data: NpyData;
}

type PyLit = string | number | boolean | null | PyLit[] | { [k: string]: PyLit };

/**
 * Deepest nesting of tuples / lists / dicts accepted in an .npy header (a real header is a dict
 * holding one shape tuple: depth 2).
 */
export const NPY_HEADER_MAX_DEPTH = 32;
/**
 * Longest .npy header accepted, in bytes. numpy writes a few hundred bytes (and itself refuses
 * headers over 10000 bytes by default); the cap only stops absurd input.
 */
export const NPY_HEADER_MAX_BYTES = 1 << 20;

/** Parse the Python-literal dict of an .npy header (strings, ints, bools, None, tuples, lists, dicts). */
function parseHeaderLiteral(src: string, file: string): PyLit {
  let i = 0;
  let depth = 0;
  const bad = (what: string): never => {
    const shown = src.trim();
    throw new DataError(file, `bad .npy header: ${what} at header character ${i}: ${JSON.stringify(shown.length > 200 ? `${shown.slice(0, 200)}...` : shown)}`);
  };
  const ws = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const value = (): PyLit => {
    ws();
    const c = src[i];
    if (c === '{' || c === '(' || c === '[') {
      // recursion is bounded: a header nesting 60000 lists is refused at depth NPY_HEADER_MAX_DEPTH
      if (++depth > NPY_HEADER_MAX_DEPTH) bad(`nested deeper than ${NPY_HEADER_MAX_DEPTH} levels`);
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyLit[] = [];
      // no prototype: a '__proto__' key is an ordinary key
      const obj: { [k: string]: PyLit } = Object.create(null) as { [k: string]: PyLit };
      for (;;) {
        ws();
        if (src[i] === close) {
          i++;
          break;
        }
        const v = value();
        if (c === '{') {
          if (typeof v !== 'string') bad('non-string dict key');
          ws();
          if (src[i] !== ':') bad("expected ':'");
          i++;
          obj[v as string] = value();
        } else items.push(v);
        ws();
        if (src[i] === ',') i++;
        else if (src[i] !== close) bad(`expected ',' or '${close}'`);
      }
      depth--;
      return c === '{' ? obj : items;
    }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) bad('unterminated string');
      const s = src.slice(i + 1, end);
      if (s.includes('\\')) bad('escaped strings are not supported');
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+)/.exec(src.slice(i, i + 32));
    if (!m) return bad('unexpected token');
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0]);
  };
  const v = value();
  ws();
  if (i !== src.length) bad('trailing characters');
  return v;
}

function npyHeader(buf: Uint8Array, path: string): { header: { [k: string]: PyLit }; dataOffset: number } {
  for (let k = 0; k < NPY_MAGIC.length; k++) {
    if (buf[k] !== NPY_MAGIC[k]) throw new DataError(path, 'not a .npy file (missing \\x93NUMPY magic)', { offset: 0 });
  }
  if (buf.length < 10) throw new DataError(path, 'truncated .npy header');
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new DataError(path, 'truncated .npy header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new DataError(path, `unsupported .npy format version ${major}.${buf[7]}`, { offset: 6 });
  }
  if (headerLen > NPY_HEADER_MAX_BYTES) {
    throw new DataError(path, `.npy header of ${headerLen} bytes, more than the ${NPY_HEADER_MAX_BYTES} accepted (numpy writes a few hundred)`, { offset: 8 });
  }
  if (start + headerLen > buf.length) {
    throw new DataError(path, `truncated .npy header: needs ${headerLen} bytes, file has ${buf.length - start}`);
  }
  const hb = Buffer.from(buf.buffer, buf.byteOffset + start, headerLen);
  const text = major === 3 ? hb.toString('utf8') : hb.toString('latin1');
  const lit = parseHeaderLiteral(text, path);
  if (lit === null || typeof lit !== 'object' || Array.isArray(lit)) {
    throw new DataError(path, 'bad .npy header: not a dict');
  }
  return { header: lit, dataOffset: start + headerLen };
}

/** Read an .npy file with dtype float32/float64/int32/int64 (either byte order), C order. */
export function readNpy(path: string): NpyArray {
  const buf = readFileForData(path);
  const { header, dataOffset } = npyHeader(buf, path);
  const descr = header['descr'];
  const fortran = header['fortran_order'];
  const shapeLit = header['shape'];
  if (typeof descr !== 'string') throw new DataError(path, `unsupported .npy dtype ${JSON.stringify(descr)}`);
  const dt = parseDtypeString(descr);
  if (!dt || !((dt.kind === 'f' || dt.kind === 'i') && (dt.itemsize === 4 || dt.itemsize === 8))) {
    throw new DataError(path, `unsupported .npy dtype ${JSON.stringify(descr)} (supported: <f4 <f8 <i4 <i8)`);
  }
  if (typeof fortran !== 'boolean') throw new DataError(path, 'bad .npy header: fortran_order missing');
  if (fortran) {
    throw new DataError(path, 'Fortran-ordered .npy arrays are not supported; save with C order (np.ascontiguousarray)');
  }
  if (!Array.isArray(shapeLit) || !shapeLit.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new DataError(path, `bad .npy header: shape ${JSON.stringify(shapeLit)}`);
  }
  const shape = shapeLit as number[];
  const count = elementCount(shape);
  const expected = count * dt.itemsize;
  const have = buf.length - dataOffset;
  // the declared shape is checked against the file's length before anything is allocated from it
  if (!Number.isSafeInteger(expected) || have !== expected) {
    throw new DataError(
      path,
      !(have > expected)
        ? `truncated .npy data: ${have} bytes, expected ${Number.isSafeInteger(expected) ? expected : expected.toPrecision(3)} for shape (${shape.join(', ')}) ${descr}`
        : `.npy data has ${have - expected} unexpected trailing byte(s)`,
      { field: 'shape' },
    );
  }
  // conversions below allocate at most one array of the file's data size (float32 / int32 widen nothing)
  checkDataAlloc(path, expected, `the array of shape (${shape.join(', ')})`);
  const raw = buf.subarray(dataOffset);
  const a: NdArrayBytes = { shape, dtype: dt, fortranOrder: false, bytes: raw };
  const sameOrder = dt.littleEndian === HOST_LE;
  if (dt.kind === 'f') {
    if (dt.itemsize === 4) return { shape, descr: '<f4', data: ndarrayToFloat32(a) };
    return { shape, descr: '<f8', data: ndarrayToFloat64(a) };
  }
  if (dt.itemsize === 4) {
    if (sameOrder) return { shape, descr: '<i4', data: new Int32Array(alignedCopy(raw)) };
    const out = new Int32Array(count);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, dt.littleEndian);
    return { shape, descr: '<i4', data: out };
  }
  if (sameOrder) return { shape, descr: '<i8', data: new BigInt64Array(alignedCopy(raw)) };
  const out = new BigInt64Array(count);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getBigInt64(8 * i, dt.littleEndian);
  return { shape, descr: '<i8', data: out };
}

/** Read a float .npy (or integer, converted) as float32: `{ shape, data }`. */
export function readNpyFloat32(path: string): { shape: number[]; data: Float32Array } {
  const a = readNpy(path);
  if (!(a.data instanceof Float32Array)) checkDataAlloc(path, a.data.length * 4, `the array of shape (${a.shape.join(', ')}) as float32`);
  if (a.data instanceof Float32Array) return { shape: a.shape, data: a.data };
  if (a.data instanceof BigInt64Array) {
    const out = new Float32Array(a.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]!);
    return { shape: a.shape, data: out };
  }
  return { shape: a.shape, data: new Float32Array(a.data) };
}

/**
 * Write a C-order little-endian float32 .npy file (format 1.0, or 2.0 for huge
 * headers). Atomic: the data go to a temporary file in the same directory,
 * which is fsynced and then renamed over `path`.
 */
export function writeNpy(path: string, shape: readonly number[], data: Float32Array): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`writeNpy: bad shape (${shape.join(', ')})`);
  }
  if (elementCount(shape) !== data.length) {
    throw new RangeError(`writeNpy: shape (${shape.join(', ')}) has ${elementCount(shape)} elements, data has ${data.length}`);
  }
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  if (dict.length + 1 + pre > 0xffff) {
    major = 2;
    pre = 12;
  }
  const pad = (64 - ((pre + dict.length + 1) % 64)) % 64;
  dict = dict + ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(pre + dict.length);
  head.set(NPY_MAGIC, 0);
  head[6] = major;
  head[7] = 0;
  if (major === 1) head.writeUInt16LE(dict.length, 8);
  else head.writeUInt32LE(dict.length, 8);
  head.write(dict, pre, 'latin1');

  let body: Uint8Array;
  if (HOST_LE) {
    body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    const b = Buffer.alloc(data.byteLength);
    for (let i = 0; i < data.length; i++) b.writeFloatLE(data[i]!, 4 * i);
    body = b;
  }

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    writeAll(fd, head);
    writeAll(fd, body);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* ignore */
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
    throw new DataError(path, `cannot write .npy file: ${(e as Error).message}`, { cause: e });
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) {
    off += writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 30));
  }
}
