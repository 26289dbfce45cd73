/**
 * A small, safe interpreter for Python pickles (protocols 2–5).
 *
 * Nothing is ever executed: globals are only *named*, and only names on a
 * whitelist are accepted at all. Calls (REDUCE / NEWOBJ / NEWOBJ_EX) and
 * BUILD on whitelisted globals produce inert {@link PyObject} descriptions
 * that the format-specific readers (numpy.ts, sslrec-pkl.ts) interpret.
 *
 * The opcode set covers what CPython's pickler emits for plain containers,
 * ints, floats, strings, bytes and the objects numpy / scipy pickle through
 * __reduce__ (ndarray, dtype, coo_matrix), including protocol-2 bytes
 * (`_codecs.encode(str, 'latin1')`) and protocol-5 in-band buffers
 * (BYTEARRAY8). Text-mode opcodes of protocols 0/1 that need string parsing
 * of Python literals (INT, LONG, FLOAT, STRING, UNICODE), object creation
 * through INST/OBJ, the extension registry, persistent ids and out-of-band
 * buffers are rejected with a DataError.
 *
 * Hostile input is bounded: the VM is a loop over opcodes with an explicit
 * stack (no recursion, so nesting depth costs heap, not call stack), declared
 * lengths are checked against the bytes left in the file before anything is
 * sliced, and what the opcodes build is metered: the estimated memory of the
 * Python objects built (containers, stack slots, memo entries, container
 * items) may not exceed {@link LoadPickleOptions.maxObjectBytes} (default
 * 16 MiB; a numpy array or scipy matrix pickle needs a few KiB of them), and
 * bytes copied or work redone on memoised values may not exceed a small
 * multiple of the file size. An opcode flood (millions of EMPTY_LIST, MARK,
 * MEMOIZE, ...) is refused long before it costs real memory.
 */
import { DataError, readFileForData } from '../errors.js';
import { allocProblem, formatBytes } from '../../util/limits.js';

// ---------------------------------------------------------------------------
// Value model

export class PyTuple {
  readonly kind = 'tuple' as const;
  constructor(readonly items: PyValue[]) {}
}

export class PyList {
  readonly kind = 'list' as const;
  constructor(readonly items: PyValue[]) {}
}

export class PyDict {
  readonly kind = 'dict' as const;
  readonly entries: Array<[PyValue, PyValue]> = [];
  /** normalised hashable key -> index into entries */
  private readonly index = new Map<string, number>();

  /** Python-style `d[key] = value` (an equal key is replaced in place). */
  set(key: PyValue, value: PyValue): void {
    const k = hashKey(key);
    const i = k === null ? undefined : this.index.get(k);
    if (i !== undefined) {
      this.entries[i] = [this.entries[i]![0], value];
      return;
    }
    if (k !== null) this.index.set(k, this.entries.length);
    this.entries.push([key, value]);
  }

  /** Value for a string / number / bool / None key, or undefined. */
  get(key: string | number | bigint | boolean | null): PyValue | undefined {
    const i = this.index.get(hashKey(key)!);
    return i === undefined ? undefined : this.entries[i]![1];
  }

  has(key: string | number | bigint | boolean | null): boolean {
    return this.index.has(hashKey(key)!);
  }

  keys(): PyValue[] {
    return this.entries.map((e) => e[0]);
  }
}

/** Longest str / bytes key that is deduplicated (longer keys are kept as distinct entries). */
const MAX_HASHED_KEY = 1024;
/** Largest tuple key that is deduplicated (only tuples of scalars; others are kept as distinct entries). */
const MAX_HASHED_TUPLE = 16;

/**
 * A string that is equal for keys Python considers equal (1 == 1.0 == True,
 * int vs bigint, small tuples of such), or null for keys we do not
 * deduplicate (long strings / bytes, nested or long tuples, containers):
 * such entries are kept in order and can only be reached through `entries`.
 * Never recursive, and bounded in time, whatever the key.
 */
function hashKey(v: PyValue): string | null {
  if (v instanceof PyTuple) {
    if (v.items.length > MAX_HASHED_TUPLE) return null;
    const parts: string[] = [];
    for (const x of v.items) {
      const h = x instanceof PyTuple ? null : scalarKey(x);
      if (h === null) return null;
      parts.push(`${h.length}:${h}`);
    }
    return 't' + parts.join('');
  }
  return scalarKey(v);
}

function scalarKey(v: PyValue): string | null {
  if (v === null) return 'N';
  if (typeof v === 'string') return v.length <= MAX_HASHED_KEY ? 's' + v : null;
  if (typeof v === 'boolean') return v ? 'n1' : 'n0';
  if (typeof v === 'number') return Number.isInteger(v) ? 'n' + BigInt(v).toString() : 'n' + String(v);
  if (typeof v === 'bigint') return 'n' + v.toString();
  if (v instanceof Uint8Array) {
    return v.length <= MAX_HASHED_KEY ? 'b' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1') : null;
  }
  return null;
}

/** A reference to a Python global (`module.name`), never resolved to code. */
export class PyGlobal {
  readonly kind = 'global' as const;
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * The description of an object a pickle would construct: `cls(*args)` (REDUCE),
 * `cls.__new__(cls, *args, **kwargs)` (NEWOBJ / NEWOBJ_EX), then optionally
 * `__setstate__(state)` / `__dict__.update(state)` (BUILD).
 */
export class PyObject {
  readonly kind = 'object' as const;
  state: PyValue | undefined = undefined;
  constructor(
    readonly cls: PyGlobal,
    readonly args: PyValue[],
    readonly via: 'reduce' | 'newobj',
    readonly kwargs: PyDict | undefined = undefined,
  ) {}
}

/**
 * A decoded pickle value. Python `int` becomes a number when it is a safe
 * integer and a bigint otherwise; `float` a number; `str` (and protocol-2
 * Python-2 `str`, decoded as latin-1) a string; `bytes` / `bytearray` a
 * Uint8Array (possibly a view into the file buffer — copy before mutating).
 */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyTuple
  | PyList
  | PyDict
  | PyGlobal
  | PyObject;

/** Short human description of a value, for error messages. */
export function describePy(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  switch (v.kind) {
    case 'tuple':
      return `tuple of ${v.items.length}`;
    case 'list':
      return `list of ${v.items.length}`;
    case 'dict':
      return `dict of ${v.entries.length}`;
    case 'global':
      return `global ${v.qualname}`;
    case 'object':
      return `${v.cls.qualname} object`;
  }
}

// ---------------------------------------------------------------------------
// Whitelist

/** Globals produced by numpy (1.x and 2.x module paths) for ndarray / dtype / scalars. */
export const NUMPY_GLOBALS: readonly string[] = [
  'numpy.ndarray',
  'numpy.dtype',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.core.numeric._frombuffer',
  'numpy._core.numeric._frombuffer',
];

/** Globals for scipy COO sparse matrices/arrays (scipy >= 1.8 and the older module path). */
export const SCIPY_COO_GLOBALS: readonly string[] = [
  'scipy.sparse._coo.coo_matrix',
  'scipy.sparse._coo.coo_array',
  'scipy.sparse.coo.coo_matrix',
];

/**
 * Globals the pickle machinery itself uses to encode bytes in protocol 2;
 * the VM evaluates these directly (they are pure data conversions).
 */
const BUILTIN_DATA_GLOBALS = new Set([
  '_codecs.encode',
  'builtins.bytearray',
  '__builtin__.bytearray',
  'builtins.bytes',
  '__builtin__.bytes',
]);

export const DEFAULT_ALLOWED_GLOBALS: readonly string[] = [...NUMPY_GLOBALS, ...SCIPY_COO_GLOBALS];

export interface LoadPickleOptions {
  /** `module.name` strings that may appear in GLOBAL / STACK_GLOBAL. Default: {@link DEFAULT_ALLOWED_GLOBALS}. */
  allowedGlobals?: Iterable<string>;
  /**
   * Upper bound on the estimated memory of the Python objects the opcodes build (containers,
   * stack slots, memo entries, container items; byte payloads are views into the file and not
   * counted). Default {@link DEFAULT_MAX_OBJECT_BYTES}.
   */
  maxObjectBytes?: number;
}

/** Default {@link LoadPickleOptions.maxObjectBytes}: 16 MiB (a numpy / scipy pickle needs a few KiB). */
export const DEFAULT_MAX_OBJECT_BYTES = 16 * 1024 * 1024;

// Estimated V8 cost of what the VM builds (measured: an empty list with its stack slot is ~82 bytes,
// a Map entry ~52 bytes).
const COST_SLOT = 8;
const COST_CONTAINER = 96;
const COST_ITEM = 16;
const COST_DICT_ENTRY = 64;
const COST_MEMO = 56;
/** Longest LONG4 integer accepted, in bytes (a 65536-bit integer; numpy / scipy use machine ints). */
const MAX_LONG_BYTES = 8192;
/** Longest module or name of a global (real ones are a few dozen characters). */
const MAX_GLOBAL_NAME = 256;

// ---------------------------------------------------------------------------
// Opcodes

const OP = {
  MARK: 0x28, // (
  EMPTY_TUPLE: 0x29, // )
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  REDUCE: 0x52, // R
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  APPENDS: 0x65, // e
  GET: 0x67, // g
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  PUT: 0x70, // p
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

/** OP's names by opcode byte: the messages name the opcode being executed. */
const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OP).map(([name, code]) => [code, name]));

/** Width in bytes of the unsigned length before the data of the string and bytes opcodes. */
const LENGTH_PREFIX: Record<number, 1 | 4 | 8> = {
  [OP.SHORT_BINUNICODE]: 1, [OP.BINUNICODE]: 4, [OP.BINUNICODE8]: 8, [OP.SHORT_BINSTRING]: 1,
  [OP.SHORT_BINBYTES]: 1, [OP.BINBYTES]: 4, [OP.BINBYTES8]: 8, [OP.BYTEARRAY8]: 8,
};

/** Names of opcodes we recognise but refuse, for clearer messages. */
const REFUSED: Record<number, string> = {
  0x46: 'FLOAT (protocol 0 text float)',
  0x49: 'INT (protocol 0 text int)',
  0x4c: 'LONG (protocol 0 text long)',
  0x53: 'STRING (protocol 0 text string)',
  0x56: 'UNICODE (protocol 0 text unicode)',
  0x50: 'PERSID (persistent id)',
  0x51: 'BINPERSID (persistent id)',
  0x69: 'INST (protocol 0 instance creation)',
  0x6f: 'OBJ (protocol 1 instance creation)',
  0x82: 'EXT1 (extension registry)',
  0x83: 'EXT2 (extension registry)',
  0x84: 'EXT4 (extension registry)',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x97: 'NEXT_BUFFER (out-of-band buffer)',
  0x98: 'READONLY_BUFFER (out-of-band buffer)',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Decode a little-endian two's-complement integer (LONG1 / LONG4 payload), in linear time. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  const be = Buffer.from(bytes).reverse();
  let v = BigInt('0x' + be.toString('hex'));
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return v;
}

// ---------------------------------------------------------------------------
// The VM

/**
 * Interpret a pickle held in `buf`. `file` is used only in error messages.
 * Throws DataError (with the byte offset) on truncated or corrupt input,
 * unsupported opcodes, and globals that are not whitelisted.
 */
export function loadPickle(buf: Uint8Array, file: string, options: LoadPickleOptions = {}): PyValue {
  const allowed = new Set(options.allowedGlobals ?? DEFAULT_ALLOWED_GLOBALS);
  const n = buf.length;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  let opPos = 0; // offset of the opcode being executed
  let opName = '';
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  // metering (see the module comment)
  const maxObjectBytes = options.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  let objectBytes = 0;
  /** Bytes copied and items revisited for memoised values: at most a small multiple of the file. */
  const maxWork = 4 * n + (1 << 20);
  let work = 0;

  const fail = (what: string, at: number = opPos): never => {
    throw new DataError(file, `corrupt or unsupported pickle: ${what} at byte offset ${at}`, { offset: at });
  };
  /** Meters what the opcodes build; refuses before the estimate passes the limit. */
  const cost = (bytes: number): void => {
    objectBytes += bytes;
    if (objectBytes > maxObjectBytes) {
      fail(`the opcodes build more than ${formatBytes(maxObjectBytes)} of Python objects (${stack.length} values on the stack, ${memo.size} memo entries); a numpy array or scipy matrix pickle needs a few KiB`);
    }
  };
  /** Meters bytes copied / items revisited (memoised values can be reused many times). */
  const spend = (units: number, what: string): void => {
    work += units;
    if (work > maxWork) fail(`${what} copies or revisits more than ${maxWork} bytes/items in total, out of proportion to the ${n}-byte file`);
    const p = allocProblem(units, what);
    if (p !== null) fail(p);
  };
  const push = (v: PyValue, containerCost = 0): void => {
    cost(COST_SLOT + containerCost);
    stack.push(v);
  };
  const need = (k: number): void => {
    if (k > n - pos) {
      throw new DataError(
        file,
        `truncated pickle: ${opName} at byte offset ${opPos} needs ${k} more byte(s) but the file ends at ${n}`,
        { offset: opPos },
      );
    }
  };
  /** Reads the k-byte argument at pos with get(pos), then moves past it. */
  const read = <T>(k: number, get: (at: number) => T): T => {
    need(k);
    const v = get(pos);
    pos += k;
    return v;
  };
  const u8 = (): number => read(1, (at) => buf[at]!);
  const u16 = (): number => read(2, (at) => view.getUint16(at, true));
  const i32 = (): number => read(4, (at) => view.getInt32(at, true));
  const u32 = (): number => read(4, (at) => view.getUint32(at, true));
  const u64 = (): number => {
    need(8);
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    pos += 8;
    const v = hi * 0x1_0000_0000 + lo;
    if (hi >= 0x20_0000) fail(`length ${BigInt(hi) * 0x1_0000_0000n + BigInt(lo)} is too large`);
    return v;
  };
  const bytes = (k: number): Uint8Array => read(k, (at) => buf.subarray(at, at + k));
  /** The argument of a string/bytes opcode: its unsigned length (LENGTH_PREFIX[op] bytes), then that many bytes. */
  const lengthPrefixed = (op: number): Uint8Array => {
    const width = LENGTH_PREFIX[op];
    return bytes(width === 1 ? u8() : width === 4 ? u32() : u64());
  };
  const line = (): string => {
    // newline-terminated ASCII argument (GLOBAL, GET, PUT)
    const start = pos;
    while (pos < n && buf[pos] !== 0x0a) pos++;
    if (pos >= n) {
      throw new DataError(file, `truncated pickle: ${opName} at byte offset ${opPos} has no terminating newline`, {
        offset: opPos,
      });
    }
    const s = latin1(buf.subarray(start, pos));
    pos++; // skip \n
    return s;
  };
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = (): PyValue => {
    const floor = marks.length ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail(`${opName} on an empty stack`);
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    const floor = marks.length ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail(`${opName} on an empty stack`);
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) return fail(`${opName} without a preceding MARK`);
    return stack.splice(m);
  };
  const memoGet = (idx: number): PyValue => {
    const v = memo.get(idx);
    if (v === undefined) fail(`memo entry ${idx} was never stored`);
    return v as PyValue;
  };
  /** The memo index argument: 1 byte (BINPUT, BINGET), 4 bytes (LONG_BINPUT, LONG_BINGET) or a decimal line (PUT, GET). */
  const memoIndex = (op: number): number => {
    if (op === OP.BINPUT || op === OP.BINGET) return u8();
    if (op === OP.LONG_BINPUT || op === OP.LONG_BINGET) return u32();
    const s = line();
    if (!/^\d+$/.test(s)) fail(`${opName} with a bad index ${JSON.stringify(s)}`);
    return Number(s);
  };
  const memoPut = (idx: number): void => {
    const v = top();
    if (!memo.has(idx)) cost(COST_MEMO);
    memo.set(idx, v);
  };
  const makeGlobal = (module: string, name: string): PyGlobal => {
    if (module.length > MAX_GLOBAL_NAME || name.length > MAX_GLOBAL_NAME) fail(`global name longer than ${MAX_GLOBAL_NAME} characters`);
    const q = `${module}.${name}`;
    if (!allowed.has(q) && !BUILTIN_DATA_GLOBALS.has(q)) {
      fail(`global ${q} is not allowed (only numpy arrays and scipy COO matrices can be read)`);
    }
    return new PyGlobal(module, name);
  };
  const asTupleItems = (v: PyValue, what: string): PyValue[] => {
    if (!(v instanceof PyTuple)) return fail(`${what} must be a tuple, found ${describePy(v)}`);
    return v.items;
  };
  const call = (callable: PyValue, args: PyValue[]): PyValue => {
    if (!(callable instanceof PyGlobal)) return fail(`REDUCE on ${describePy(callable)}, expected a global`);
    switch (callable.qualname) {
      case '_codecs.encode': {
        // protocol 2 spelling of bytes: _codecs.encode(<latin-1 str>, 'latin1')
        const [s, enc] = args;
        if (args.length !== 2 || typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) {
          return fail(`unsupported _codecs.encode call (${args.map(describePy).join(', ')})`);
        }
        spend(s.length, '_codecs.encode');
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 0xff) fail('_codecs.encode: character outside latin-1');
          out[i] = c;
        }
        return out;
      }
      case 'builtins.bytearray':
      case '__builtin__.bytearray':
      case 'builtins.bytes':
      case '__builtin__.bytes': {
        if (args.length === 0) return new Uint8Array(0);
        const [a0, enc] = args;
        if (args.length === 1 && a0 instanceof Uint8Array) {
          spend(a0.length, callable.qualname);
          return a0.slice();
        }
        if (args.length === 1 && a0 instanceof PyList) {
          spend(a0.items.length, callable.qualname);
          const out = new Uint8Array(a0.items.length);
          a0.items.forEach((x, i) => {
            if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) fail('bytearray(): bad item');
            out[i] = x as number;
          });
          return out;
        }
        if (args.length === 2 && typeof a0 === 'string' && (enc === 'latin-1' || enc === 'latin1')) {
          spend(a0.length, callable.qualname);
          const out = new Uint8Array(a0.length);
          for (let i = 0; i < a0.length; i++) {
            const c = a0.charCodeAt(i);
            if (c > 0xff) fail(`${callable.qualname}(): character outside latin-1`);
            out[i] = c;
          }
          return out;
        }
        return fail(`unsupported ${callable.qualname} call`);
      }
      default:
        return new PyObject(callable, args, 'reduce');
    }
  };

  if (n === 0) throw new DataError(file, 'not a pickle file: the file is empty', { offset: 0 });
  if (buf[0] !== OP.PROTO) {
    throw new DataError(
      file,
      `not a pickle file (protocol 2-5): expected PROTO opcode 0x80 at byte offset 0, found 0x${buf[0]!
        .toString(16)
        .padStart(2, '0')}`,
      { offset: 0 },
    );
  }

  try {
    for (;;) {
      if (pos >= n) {
        throw new DataError(file, `truncated pickle: the file ends at byte offset ${n} before the STOP opcode`, {
          offset: n,
        });
      }
      opPos = pos;
      const op = buf[pos++]!;
      opName = OP_NAMES[op] ?? '';
      switch (op) {
        case OP.PROTO: {
          const p = u8();
          if (opPos !== 0) fail('PROTO opcode not at the start of the pickle');
          if (p < 2 || p > 5) fail(`unsupported pickle protocol ${p} (expected 2-5)`);
          break;
        }
        case OP.FRAME: {
          const len = u64();
          if (len > n - pos) {
            throw new DataError(
              file,
              `truncated pickle: FRAME at byte offset ${opPos} announces ${len} bytes but only ${n - pos} remain`,
              { offset: opPos },
            );
          }
          break;
        }
        case OP.STOP: {
          if (marks.length) fail('STOP inside an unclosed MARK');
          if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack (expected 1)`);
          if (pos !== n) fail(`${n - pos} unexpected trailing byte(s) after STOP`, pos);
          return stack[0] as PyValue;
        }

        // --- constants
        case OP.NONE:
          push(null);
          break;
        case OP.NEWTRUE:
          push(true);
          break;
        case OP.NEWFALSE:
          push(false);
          break;
        case OP.BININT:
          push(i32());
          break;
        case OP.BININT1:
          push(u8());
          break;
        case OP.BININT2:
          push(u16());
          break;
        case OP.LONG1:
          push(decodeLong(bytes(u8())));
          break;
        case OP.LONG4: {
          const len = i32();
          if (len < 0) fail('LONG4 with negative length');
          if (len > MAX_LONG_BYTES) fail(`LONG4 integer of ${len} bytes (at most ${MAX_LONG_BYTES} accepted)`);
          push(decodeLong(bytes(len)));
          break;
        }
        case OP.BINFLOAT:
          push(read(8, (at) => view.getFloat64(at, false)));
          break;

        // --- strings and bytes
        case OP.SHORT_BINUNICODE:
        case OP.BINUNICODE:
        case OP.BINUNICODE8:
          push(text(lengthPrefixed(op)));
          break;
        case OP.SHORT_BINSTRING:
          // Python 2 str; decoded as latin-1 (like pickle.load(..., encoding='latin1'))
          push(latin1(lengthPrefixed(op)));
          break;
        case OP.BINSTRING: {
          const len = i32();
          if (len < 0) fail('BINSTRING with negative length');
          push(latin1(bytes(len)));
          break;
        }
        case OP.SHORT_BINBYTES:
        case OP.BINBYTES:
        case OP.BINBYTES8:
        case OP.BYTEARRAY8:
          push(lengthPrefixed(op));
          break;

        // --- containers
        case OP.MARK:
          cost(COST_SLOT);
          marks.push(stack.length);
          break;
        case OP.EMPTY_TUPLE:
          push(new PyTuple([]), COST_CONTAINER);
          break;
        case OP.TUPLE1: {
          const a = pop();
          push(new PyTuple([a]), COST_CONTAINER + COST_ITEM);
          break;
        }
        case OP.TUPLE2: {
          const b = pop();
          const a = pop();
          push(new PyTuple([a, b]), COST_CONTAINER + 2 * COST_ITEM);
          break;
        }
        case OP.TUPLE3: {
          const c = pop();
          const b = pop();
          const a = pop();
          push(new PyTuple([a, b, c]), COST_CONTAINER + 3 * COST_ITEM);
          break;
        }
        case OP.TUPLE:
          push(new PyTuple(popMark()), COST_CONTAINER);
          break;
        case OP.EMPTY_LIST:
          push(new PyList([]), COST_CONTAINER);
          break;
        case OP.LIST:
          push(new PyList(popMark()), COST_CONTAINER);
          break;
        case OP.APPEND: {
          const v = pop();
          const l = top();
          if (!(l instanceof PyList)) fail(`APPEND to ${describePy(l)}`);
          cost(COST_ITEM);
          (l as PyList).items.push(v);
          break;
        }
        case OP.APPENDS: {
          const items = popMark();
          const l = top();
          if (!(l instanceof PyList)) fail(`APPENDS to ${describePy(l)}`);
          cost(items.length * COST_ITEM);
          const dst = (l as PyList).items;
          for (let i = 0; i < items.length; i++) dst.push(items[i]!);
          break;
        }
        case OP.EMPTY_DICT:
          push(new PyDict(), COST_CONTAINER * 2);
          break;
        case OP.DICT: {
          const items = popMark();
          if (items.length % 2) fail('DICT with an odd number of items');
          const d = new PyDict();
          cost(COST_CONTAINER * 2 + (items.length / 2) * COST_DICT_ENTRY);
          for (let i = 0; i < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
          push(d);
          break;
        }
        case OP.SETITEM: {
          const v = pop();
          const k = pop();
          const d = top();
          if (!(d instanceof PyDict)) fail(`SETITEM on ${describePy(d)}`);
          cost(COST_DICT_ENTRY);
          (d as PyDict).set(k, v);
          break;
        }
        case OP.SETITEMS: {
          const items = popMark();
          if (items.length % 2) fail('SETITEMS with an odd number of items');
          const d = top();
          if (!(d instanceof PyDict)) fail(`SETITEMS on ${describePy(d)}`);
          cost((items.length / 2) * COST_DICT_ENTRY);
          for (let i = 0; i < items.length; i += 2) (d as PyDict).set(items[i]!, items[i + 1]!);
          break;
        }

        // --- stack manipulation
        case OP.POP:
          if (marks.length && marks[marks.length - 1] === stack.length) marks.pop();
          else pop();
          break;
        case OP.POP_MARK:
          popMark();
          break;
        case OP.DUP:
          push(top());
          break;

        // --- memo
        case OP.MEMOIZE:
          memoPut(memo.size);
          break;
        case OP.BINPUT:
        case OP.LONG_BINPUT:
        case OP.PUT:
          memoPut(memoIndex(op));
          break;
        case OP.BINGET:
        case OP.LONG_BINGET:
        case OP.GET:
          push(memoGet(memoIndex(op)));
          break;

        // --- globals and objects
        case OP.GLOBAL: {
          const module = line();
          const name = line();
          push(makeGlobal(module, name), COST_CONTAINER);
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            fail(`STACK_GLOBAL needs two strings, found ${describePy(module)} and ${describePy(name)}`);
          }
          push(makeGlobal(module as string, name as string), COST_CONTAINER);
          break;
        }
        case OP.REDUCE: {
          const args = asTupleItems(pop(), 'REDUCE arguments');
          const callable = pop();
          push(call(callable, args), COST_CONTAINER);
          break;
        }
        case OP.NEWOBJ: {
          const args = asTupleItems(pop(), 'NEWOBJ arguments');
          const cls = pop();
          if (!(cls instanceof PyGlobal)) fail(`NEWOBJ on ${describePy(cls)}, expected a class`);
          push(new PyObject(cls as PyGlobal, args, 'newobj'), COST_CONTAINER);
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = pop();
          const args = asTupleItems(pop(), 'NEWOBJ_EX arguments');
          const cls = pop();
          if (!(cls instanceof PyGlobal)) fail(`NEWOBJ_EX on ${describePy(cls)}, expected a class`);
          if (!(kwargs instanceof PyDict)) fail(`NEWOBJ_EX keyword arguments must be a dict`);
          push(new PyObject(cls as PyGlobal, args, 'newobj', kwargs as PyDict), COST_CONTAINER);
          break;
        }
        case OP.BUILD: {
          const state = pop();
          const obj = top();
          if (!(obj instanceof PyObject)) fail(`BUILD on ${describePy(obj)}, expected an object`);
          const o = obj as PyObject;
          if (o.state instanceof PyDict && state instanceof PyDict) {
            spend(state.entries.length, 'BUILD');
            cost(state.entries.length * COST_DICT_ENTRY);
            for (const [k, v] of state.entries) o.state.set(k, v);
          } else {
            o.state = state;
          }
          break;
        }

        default: {
          const refused = REFUSED[op];
          if (refused) fail(`unsupported opcode ${refused} (0x${op.toString(16)})`);
          fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
        }
      }
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    // Anything else (e.g. a RangeError from a pathological input) is still a data problem.
    throw new DataError(file, `corrupt pickle near byte offset ${opPos}: ${(e as Error).message}`, {
      offset: opPos,
      cause: e,
    });
  }
}

/** Read and interpret a pickle file (see {@link loadPickle}). */
export function readPickleFile(path: string, options: LoadPickleOptions = {}): PyValue {
  return loadPickle(readFileForData(path), path, options);
}
