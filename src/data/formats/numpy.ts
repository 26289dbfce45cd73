/**
 * numpy array I/O without Python:
 *
 * - `.npy` files (format versions 1, 2 and 3), read and (float32 / float16) write; reads are
 *   positional (`fs.readSync` at offsets, block by block), so converting a file to float32 never
 *   holds the file's bytes and the result at once, and {@link openNpyRows} reads any row range of a
 *   2-D file without loading the rest;
 * - float16 (IEEE 754 binary16) encode / decode, round-to-nearest-even;
 * - pickled `numpy.ndarray`s (e.g. `usr_emb_np.pkl`), through the safe pickle
 *   interpreter in ./pickle.ts, for both the numpy 1.x (`numpy.core.*`) and
 *   numpy 2.x (`numpy._core.*`) module paths, protocols 2–5;
 * - helpers that turn pickled ndarray descriptions into typed arrays, shared
 *   with the scipy COO reader.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkDataAlloc, DataError, describeReadError, readFileForData } from '../errors.js';
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
  f: [2, 4, 8],
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
// float16 (IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits; largest finite 65504)

/** The largest finite float16 value. */
export const FLOAT16_MAX = 65504;

/** The value of float16 bit pattern `h` (subnormals, +-0, +-Infinity and NaN included). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

let HALF_TABLE: Float32Array | null = null;
/** Every float16 bit pattern's value (256 KiB, built on first use). */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = float16BitsToNumber(h);
    HALF_TABLE = t;
  }
  return HALF_TABLE;
}

/**
 * float16 bit pattern of a float32 given by its bits, rounded to nearest, ties to even (IEEE 754
 * default): magnitudes from 65520 up become Infinity, below 2^-25 (and 2^-25 itself) +-0, and the
 * range between is subnormal. NaN becomes the quiet NaN 0x7e00 (sign kept).
 */
function float32BitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 = 65504 + half an ulp: a tie with an odd mantissa rounds up
  if (a < 0x38800000) {
    // below 2^-14, the smallest normal half: a subnormal m * 2^-24
    if (a < 0x33000000) return sign; // below 2^-25 (float32 subnormals included)
    const shift = 126 - (a >>> 23); // 14..24
    const mant = (a & 0x7fffff) | 0x800000;
    let m = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && m & 1)) m++; // m = 1024 is the smallest normal: the bits agree
    return sign | m;
  }
  // normal: rebias the exponent (127 -> 15), keep 10 mantissa bits, round; a carry goes into the exponent
  let h = (a - 0x38000000) >>> 13;
  const rem = a & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

/**
 * float16 bit pattern of `x` (first rounded to float32: inputs here are float32 data), rounded to
 * nearest, ties to even. No clamping: out-of-range magnitudes become +-Infinity, NaN stays NaN.
 */
export function numberToFloat16Bits(x: number): number {
  F32_SCRATCH[0] = x;
  return float32BitsToHalf(U32_SCRATCH[0]!);
}

/** `x` rounded to the nearest float16 (ties to even), as a number. */
export function roundToFloat16(x: number): number {
  return float16BitsToNumber(numberToFloat16Bits(x));
}

/** Decodes float16 bit patterns into float32 (exact: every float16 is a float32). */
export function decodeFloat16(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length), outOffset = 0): Float32Array {
  if (out.length - outOffset < bits.length) throw new RangeError(`decodeFloat16: output has room for ${out.length - outOffset} values, ${bits.length} given`);
  const t = halfTable();
  for (let i = 0; i < bits.length; i++) out[outOffset + i] = t[bits[i]!]!;
  return out;
}

export interface Float16Encoding {
  bits: Uint16Array;
  /** finite values beyond +-65504 that were clamped to +-65504 (only with `clamp`) */
  clamped: number;
}

/**
 * Encodes float32 values as float16 bit patterns, rounded to nearest, ties to even.
 * With `clamp` (what the .npy writer does), finite values beyond +-65504 become +-65504 (counted in
 * `clamped`) instead of +-Infinity, and NaN is refused (RangeError): a NaN is never written.
 * +-Infinity stays +-Infinity (exactly representable).
 */
export function encodeFloat16(src: Float32Array, o: { clamp?: boolean; out?: Uint16Array; srcOffset?: number; count?: number } = {}): Float16Encoding {
  const start = o.srcOffset ?? 0;
  const n = o.count ?? src.length - start;
  const bits = o.out ?? new Uint16Array(n);
  if (bits.length < n) throw new RangeError(`encodeFloat16: output has room for ${bits.length} values, ${n} given`);
  const words = new Uint32Array(src.buffer, src.byteOffset + 4 * start, n);
  let clamped = 0;
  for (let i = 0; i < n; i++) {
    const w = words[i]!;
    let h = float32BitsToHalf(w);
    if (o.clamp && (h & 0x7c00) === 0x7c00) {
      if (h & 0x3ff) throw new RangeError(`encodeFloat16: element ${start + i} is NaN (NaN is never written)`);
      if ((w & 0x7fffffff) !== 0x7f800000) {
        h = (h & 0x8000) | 0x7bff; // a finite value beyond the range: +-65504
        clamped++;
      }
    } else if (o.clamp && (h & 0x7fff) === 0x7bff && (w & 0x7fffffff) > 0x477fe000) clamped++; // (65504, 65520) rounds to 65504: clamped too
    bits[i] = h;
  }
  return { bits, clamped };
}

/** True when every value of `data` is exactly a float16 value (so a float16 copy loses nothing). */
export function isFloat16Exact(data: Float32Array): boolean {
  const t = halfTable();
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== v) return false; // NaN: refused by the writer
    if (t[float32BitsToHalf(words[i]!)]! !== v) return false;
  }
  return true;
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

type ElementReader = (view: DataView, off: number, le: boolean) => number;

/** How one element is read, by kind and then itemsize (every size VALID_SIZES allows). */
const READERS: Record<NumpyDtypeKind, Record<number, ElementReader>> = {
  f: { 2: (v, o, le) => float16BitsToNumber(v.getUint16(o, le)), 4: (v, o, le) => v.getFloat32(o, le), 8: (v, o, le) => v.getFloat64(o, le) },
  b: { 1: (v, o) => (v.getUint8(o) ? 1 : 0) },
  i: { 1: (v, o) => v.getInt8(o), 2: (v, o, le) => v.getInt16(o, le), 4: (v, o, le) => v.getInt32(o, le), 8: (v, o, le) => Number(v.getBigInt64(o, le)) },
  u: { 1: (v, o) => v.getUint8(o), 2: (v, o, le) => v.getUint16(o, le), 4: (v, o, le) => v.getUint32(o, le), 8: (v, o, le) => Number(v.getBigUint64(o, le)) },
};

function readElement(view: DataView, off: number, dt: NumpyDtype): number {
  return READERS[dt.kind][dt.itemsize]!(view, off, dt.littleEndian);
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

/** Elements as float32 (float64 is rounded, float16 is exact), in storage order. */
export function ndarrayToFloat32(a: NdArrayBytes): Float32Array {
  if (a.dtype.kind === 'f' && a.dtype.itemsize === 4 && a.dtype.littleEndian === HOST_LE) {
    // zero-copy when the data are 4-byte aligned in the file buffer (.npy pads its header to 64
    // bytes), which halves the transient memory for multi-hundred-MB text vectors
    if (a.bytes.byteOffset % 4 === 0) return new Float32Array(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength / 4);
    return new Float32Array(alignedCopy(a.bytes));
  }
  if (a.dtype.kind === 'f' && a.dtype.itemsize === 2) {
    // straight to float32, no float64 intermediate
    const n = a.bytes.byteLength / 2;
    const out = new Float32Array(n);
    const t = halfTable();
    const view = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = t[view.getUint16(2 * i, a.dtype.littleEndian)]!;
    return out;
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
      `${what}: unsupported dtype ${JSON.stringify(order + typestr)} (supported: float16/32/64, (u)int8..64, bool)`,
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
 * Read a pickled float16/float32/float64 numpy ndarray (e.g. `usr_emb_np.pkl`).
 * float64 is rounded to float32 (float16 converts exactly). Fortran-ordered 2-D arrays are returned in C order.
 */
export function readNumpyPickle(path: string): { shape: number[]; data: Float32Array } {
  const value = loadPickle(readFileForData(path), path);
  const a = ndarrayFromPy(value, path);
  if (a.dtype.kind !== 'f') {
    throw new DataError(path, `expected a float16/float32/float64 array, found dtype ${a.dtype.descr}`);
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

/** The default size of one positional read (raw file bytes) when converting or reading rows. */
export const NPY_BLOCK_BYTES = 4 << 20;

/** An open .npy file whose header has been read and checked against the file's length. */
interface NpyFile {
  path: string;
  fd: number;
  shape: number[];
  dtype: NumpyDtype;
  /** elements */
  count: number;
  /** byte offset of the first element */
  dataOffset: number;
}

const NPY_DTYPE_NAMES: Record<string, NpyDtypeName> = { f2: 'float16', f4: 'float32', f8: 'float64', i4: 'int32', i8: 'int64' };

/** Reads `target.byteLength` bytes at `pos` (several reads where the OS returns fewer). */
function preadFully(f: { fd: number; path: string }, target: Uint8Array, pos: number): void {
  let off = 0;
  while (off < target.byteLength) {
    let n: number;
    try {
      n = readSync(f.fd, target, off, Math.min(target.byteLength - off, 1 << 30), pos + off);
    } catch (e) {
      throw new DataError(f.path, describeReadError(e), { cause: e });
    }
    if (n <= 0) throw new DataError(f.path, `truncated .npy data: the file ended at byte ${pos + off} (was it changed while being read?)`);
    off += n;
  }
}

/**
 * Opens an .npy file and checks its header (magic, version, header length and nesting, dtype,
 * C order, shape against the file's length) with positional reads: nothing sized from the file
 * is allocated. The caller closes `fd`.
 */
function openNpyFile(path: string): NpyFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new DataError(path, describeReadError(e), { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new DataError(path, 'is a directory, expected a file');
    const size = st.size;
    const f = { fd, path };
    // the fixed part (magic, version, header length), then the header itself
    const pre = Buffer.alloc(Math.min(size, 12));
    preadFully(f, pre, 0);
    let need = pre.length;
    if (pre.length >= 10 && NPY_MAGIC.every((b, k) => pre[k] === b)) {
      const major = pre[6]!;
      if (major === 1) need = 10 + pre.readUInt16LE(8);
      else if ((major === 2 || major === 3) && pre.length >= 12) need = 12 + pre.readUInt32LE(8);
    }
    // npyHeader refuses a header over NPY_HEADER_MAX_BYTES before reading it and reports truncation
    const buf = need - pre.length > NPY_HEADER_MAX_BYTES || need <= pre.length ? pre : Buffer.alloc(Math.min(size, need));
    if (buf !== pre) preadFully(f, buf, 0);
    const { header, dataOffset } = npyHeader(buf, path);
    const descr = header['descr'];
    const fortran = header['fortran_order'];
    const shapeLit = header['shape'];
    if (typeof descr !== 'string') throw new DataError(path, `unsupported .npy dtype ${JSON.stringify(descr)}`);
    const dt = parseDtypeString(descr);
    if (!dt || !((dt.kind === 'f' && dt.itemsize !== 1) || (dt.kind === 'i' && (dt.itemsize === 4 || dt.itemsize === 8)))) {
      throw new DataError(path, `unsupported .npy dtype ${JSON.stringify(descr)} (supported: <f2 <f4 <f8 <i4 <i8)`);
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
    const have = size - dataOffset;
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
    return { path, fd, shape, dtype: dt, count, dataOffset };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Swaps the byte order of `n` items of `itemsize` bytes in place. */
function swapBytes(b: Uint8Array, itemsize: number): void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (itemsize === 2) buf.swap16();
  else if (itemsize === 4) buf.swap32();
  else if (itemsize === 8) buf.swap64();
}

/**
 * Decodes `n` elements held in `raw` (an aligned scratch block, mutated when the byte order differs
 * from the host's) into `out[outOffset...]` as float32.
 */
function decodeBlockFloat32(raw: Uint8Array, n: number, dt: NumpyDtype, out: Float32Array, outOffset: number): void {
  if (dt.littleEndian !== HOST_LE) swapBytes(raw.subarray(0, n * dt.itemsize), dt.itemsize);
  const b = raw.buffer;
  const o = raw.byteOffset;
  if (dt.kind === 'f') {
    if (dt.itemsize === 2) {
      const t = halfTable();
      const h = new Uint16Array(b, o, n);
      for (let i = 0; i < n; i++) out[outOffset + i] = t[h[i]!]!;
    } else if (dt.itemsize === 4) out.set(new Float32Array(b, o, n), outOffset);
    else out.set(new Float64Array(b, o, n), outOffset); // rounds to nearest float32
  } else if (dt.itemsize === 4) out.set(new Int32Array(b, o, n), outOffset);
  else {
    const w = new BigInt64Array(b, o, n);
    for (let i = 0; i < n; i++) out[outOffset + i] = Number(w[i]!);
  }
}

/** A reusable aligned block of at most `blockBytes` (whole elements, at least one). */
function scratchFor(dt: NumpyDtype, elements: number, blockBytes: number): { raw: Uint8Array; perBlock: number } {
  const perBlock = Math.max(1, Math.min(elements, Math.floor(blockBytes / dt.itemsize)));
  return { raw: new Uint8Array(new ArrayBuffer(perBlock * dt.itemsize)), perBlock };
}

/**
 * Reads elements [start, start + n) of an open file into `out[outOffset...]` as float32: host-order
 * float32 straight into `out`, everything else through one scratch block.
 */
function readElementsFloat32(
  f: NpyFile,
  start: number,
  n: number,
  out: Float32Array,
  outOffset: number,
  scratch: () => { raw: Uint8Array; perBlock: number },
): void {
  const dt = f.dtype;
  if (n === 0) return;
  if (dt.kind === 'f' && dt.itemsize === 4 && dt.littleEndian === HOST_LE) {
    preadFully(f, new Uint8Array(out.buffer, out.byteOffset + 4 * outOffset, 4 * n), f.dataOffset + 4 * start);
    return;
  }
  const { raw, perBlock } = scratch();
  for (let done = 0; done < n; ) {
    const k = Math.min(perBlock, n - done);
    const bytes = raw.subarray(0, k * dt.itemsize);
    preadFully(f, bytes, f.dataOffset + (start + done) * dt.itemsize);
    decodeBlockFloat32(bytes, k, dt, out, outOffset + done);
    done += k;
  }
}

export type NpyDtypeName = 'float16' | 'float32' | 'float64' | 'int32' | 'int64';

export interface NpyArray {
  shape: number[];
  /**
   * descriptor as stored, normalised: `<f2`, `<f4`, `<f8`, `<i4`, `<i8` (big-endian input is
   * converted). `<f2` (float16) data are decoded to a Float32Array (exact).
   */
  descr: '<f2' | '<f4' | '<f8' | '<i4' | '<i8';
  data: NpyData;
}

/** Shape and dtype of an .npy file, from its header alone (checked against the file's length). */
export function readNpyHeader(path: string): { shape: number[]; descr: string; dtype: NpyDtypeName } {
  const f = openNpyFile(path);
  closeSync(f.fd);
  return { shape: f.shape, descr: f.dtype.descr, dtype: NPY_DTYPE_NAMES[`${f.dtype.kind}${f.dtype.itemsize}`]! };
}

/**
 * Read an .npy file with dtype float16/float32/float64/int32/int64 (either byte order), C order.
 * float16 comes back as float32 (exact). The file is read with positional reads straight into the
 * result (float16 through one block at a time): the peak is the result plus one block.
 */
export function readNpy(path: string, o: { blockBytes?: number } = {}): NpyArray {
  const f = openNpyFile(path);
  try {
    const { shape, dtype: dt, count } = f;
    const wide = dt.itemsize === 2 ? 4 : dt.itemsize;
    checkDataAlloc(path, count * wide, `the array of shape (${shape.join(', ')})`);
    if (dt.kind === 'f' && dt.itemsize !== 8) {
      const data = new Float32Array(count);
      readElementsFloat32(f, 0, count, data, 0, () => scratchFor(dt, count, o.blockBytes ?? NPY_BLOCK_BYTES));
      return { shape, descr: dt.itemsize === 2 ? '<f2' : '<f4', data };
    }
    // same width in memory as on disk: read into the result, then fix the byte order in place
    const data = dt.kind === 'f' ? new Float64Array(count) : dt.itemsize === 4 ? new Int32Array(count) : new BigInt64Array(count);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    preadFully(f, bytes, f.dataOffset);
    if (dt.littleEndian !== HOST_LE) swapBytes(bytes, dt.itemsize);
    return { shape, descr: `<${dt.kind}${dt.itemsize}` as NpyArray['descr'], data };
  } finally {
    closeSync(f.fd);
  }
}

/**
 * Read a float .npy (or integer, converted) as float32: `{ shape, data }`. Positional reads, one
 * block at a time (float32 files straight into the result): the peak is the float32 result plus
 * one block (`blockBytes`, default {@link NPY_BLOCK_BYTES}), never the file's bytes besides it.
 */
export function readNpyFloat32(path: string, o: { blockBytes?: number } = {}): { shape: number[]; data: Float32Array } {
  const f = openNpyFile(path);
  try {
    const { shape, dtype: dt, count } = f;
    const block = dt.kind === 'f' && dt.itemsize === 4 && dt.littleEndian === HOST_LE ? 0 : Math.min(count * dt.itemsize, o.blockBytes ?? NPY_BLOCK_BYTES);
    checkDataAlloc(path, count * 4 + block, `the array of shape (${shape.join(', ')}) as float32`);
    const data = new Float32Array(count);
    readElementsFloat32(f, 0, count, data, 0, () => scratchFor(dt, count, o.blockBytes ?? NPY_BLOCK_BYTES));
    return { shape, data };
  } finally {
    closeSync(f.fd);
  }
}

/**
 * A float16 .npy file's values as their raw bits (`<f2` or `>f2`, converted to the host's order):
 * half the memory of {@link readNpyFloat32}, for tables decoded a few rows at a time
 * (`HalfRows`). One positional read into the result.
 */
export function readNpyFloat16Bits(path: string): { shape: number[]; bits: Uint16Array } {
  const f = openNpyFile(path);
  try {
    const { shape, dtype: dt, count } = f;
    if (dt.kind !== 'f' || dt.itemsize !== 2) throw new DataError(path, `expected float16 values, the file holds ${dt.descr}`);
    checkDataAlloc(path, count * 2, `the float16 array of shape (${shape.join(', ')})`);
    const bits = new Uint16Array(count);
    const bytes = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
    preadFully(f, bytes, f.dataOffset);
    if (dt.littleEndian !== HOST_LE) swapBytes(bytes, 2);
    return { shape, bits };
  } finally {
    closeSync(f.fd);
  }
}

/**
 * Row access to a 2-D .npy file without loading it: the building block for training modes that
 * touch only a batch's rows (and for converting files larger than memory block by block).
 */
export interface NpyRows {
  readonly file: string;
  readonly rows: number;
  readonly cols: number;
  /** the stored element type (`float16`, `float32`, ...); reads always give float32 */
  readonly dtype: NpyDtypeName;
  /** the stored descriptor, e.g. `<f2` */
  readonly descr: string;
  /**
   * Rows [rowStart, rowStart + rowCount) as float32, row-major, into `out` (allocated when
   * omitted; at least rowCount x cols long). Positional reads: nothing else of the file is read.
   */
  read(rowStart: number, rowCount: number, out?: Float32Array): Float32Array;
  /** The rows `ids` (any order, repeats allowed) as float32, row-major; runs of consecutive ids are read together. */
  gather(ids: ArrayLike<number>, out?: Float32Array): Float32Array;
  /** Closes the file; later reads throw. */
  close(): void;
}

/**
 * Opens a 2-D .npy file (float16/float32/float64/int32/int64, either byte order, C order) for row
 * reads. The header is checked like {@link readNpy} does (shape against the file's length, header
 * size and nesting); rows are read on demand with `fs.readSync` at offsets, converted to float32
 * through one scratch block of at most `blockBytes` (default {@link NPY_BLOCK_BYTES}). Close it.
 */
export function openNpyRows(file: string, o: { blockBytes?: number } = {}): NpyRows {
  const f = openNpyFile(file);
  if (f.shape.length !== 2) {
    closeSync(f.fd);
    throw new DataError(file, `expected a 2-D array, got shape (${f.shape.join(', ')})`);
  }
  const [rows, cols] = f.shape as [number, number];
  const blockBytes = o.blockBytes ?? NPY_BLOCK_BYTES;
  let scratch: { raw: Uint8Array; perBlock: number } | null = null;
  const getScratch = () => (scratch ??= scratchFor(f.dtype, Math.max(1, f.count), blockBytes));
  let open = true;
  const alloc = (n: number, what: string) => {
    checkDataAlloc(file, n * 4, what);
    return new Float32Array(n);
  };
  const target = (out: Float32Array | undefined, n: number, what: string): Float32Array => {
    if (!open) throw new Error(`${file}: read after close`);
    if (out === undefined) return alloc(n * cols, what);
    if (out.length < n * cols) throw new RangeError(`${file}: the output holds ${out.length} values, ${n} rows x ${cols} need ${n * cols}`);
    return out;
  };
  return {
    file,
    rows,
    cols,
    dtype: NPY_DTYPE_NAMES[`${f.dtype.kind}${f.dtype.itemsize}`]!,
    descr: f.dtype.descr,
    read(rowStart, rowCount, out) {
      if (!Number.isSafeInteger(rowStart) || !Number.isSafeInteger(rowCount) || rowStart < 0 || rowCount < 0 || rowStart + rowCount > rows) {
        throw new RangeError(`${file}: rows [${rowStart}, ${rowStart} + ${rowCount}) are outside [0, ${rows})`);
      }
      const dst = target(out, rowCount, `rows ${rowStart}..${rowStart + rowCount - 1} as float32`);
      readElementsFloat32(f, rowStart * cols, rowCount * cols, dst, 0, getScratch);
      return dst;
    },
    gather(ids, out) {
      const n = ids.length;
      for (let i = 0; i < n; i++) {
        const r = ids[i]!;
        if (!Number.isSafeInteger(r) || r < 0 || r >= rows) throw new RangeError(`${file}: row ${r} (ids[${i}]) is outside [0, ${rows})`);
      }
      const dst = target(out, n, `${n} rows as float32`);
      for (let i = 0; i < n; ) {
        let j = i + 1;
        while (j < n && ids[j]! === ids[j - 1]! + 1) j++;
        readElementsFloat32(f, ids[i]! * cols, (j - i) * cols, dst, i * cols, getScratch);
        i = j;
      }
      return dst;
    },
    close() {
      if (open) {
        open = false;
        closeSync(f.fd);
      }
    },
  };
}

export type NpyWriteDtype = 'float32' | 'float16';

export interface NpyWriteResult {
  /** float16 only: finite values beyond +-65504 written as +-65504 */
  clamped: number;
}

/**
 * The header of a C-order little-endian .npy file (v1.0, v2.0 when the header needs it), as
 * numpy.save writes it; the data follow it directly.
 */
export function npyWriteHeader(descr: '<f4' | '<f2', shape: readonly number[]): Buffer {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
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
  return head;
}

/**
 * Write a C-order little-endian float32 (default) or float16 .npy file (format 1.0, or 2.0 for huge
 * headers). Atomic: the data go to a temporary file in the same directory, which is fsynced and
 * then renamed over `path`.
 *
 * float16: values are rounded to nearest, ties to even; finite values beyond +-65504 are clamped to
 * +-65504 (counted in the result), +-Infinity is kept, and a NaN is refused (RangeError, before
 * anything is written). The conversion runs block by block: no whole float16 copy is held.
 */
export function writeNpy(path: string, shape: readonly number[], data: Float32Array, o: { dtype?: NpyWriteDtype } = {}): NpyWriteResult {
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') throw new RangeError(`writeNpy: dtype must be float32 or float16, got ${JSON.stringify(dtype)}`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`writeNpy: bad shape (${shape.join(', ')})`);
  }
  if (elementCount(shape) !== data.length) {
    throw new RangeError(`writeNpy: shape (${shape.join(', ')}) has ${elementCount(shape)} elements, data has ${data.length}`);
  }
  if (dtype === 'float16') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v !== v) throw new RangeError(`writeNpy: element ${i} is NaN (a NaN is never written as float16)`);
    }
  }
  const head = npyWriteHeader(dtype === 'float16' ? '<f2' : '<f4', shape);

  const result: NpyWriteResult = { clamped: 0 };
  /** the body, one block at a time */
  function* body(): Generator<Uint8Array> {
    if (dtype === 'float16') {
      const per = Math.max(1, Math.min(data.length, NPY_BLOCK_BYTES / 2));
      const bits = new Uint16Array(per);
      for (let i = 0; i < data.length; i += per) {
        const n = Math.min(per, data.length - i);
        result.clamped += encodeFloat16(data, { clamp: true, out: bits, srcOffset: i, count: n }).clamped;
        const bytes = new Uint8Array(bits.buffer, 0, 2 * n);
        if (!HOST_LE) swapBytes(bytes, 2);
        yield bytes;
      }
    } else if (HOST_LE) {
      yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      const b = Buffer.alloc(data.byteLength);
      for (let i = 0; i < data.length; i++) b.writeFloatLE(data[i]!, 4 * i);
      yield b;
    }
  }

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    writeAll(fd, head);
    for (const b of body()) writeAll(fd, b);
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
  return result;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) {
    off += writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 30));
  }
}
