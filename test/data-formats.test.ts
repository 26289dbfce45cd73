import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { DataError } from '../src/data/errors.js';
import { loadPickle, PyObject } from '../src/data/formats/pickle.js';
import { parseCooPickle, readCooPickle } from '../src/data/formats/sslrec-pkl.js';
import { readNpy, readNpyFloat32, readNumpyPickle, writeNpy } from '../src/data/formats/numpy.js';
import { parseInteractionsTsv, readInteractionsTsv } from '../src/data/formats/tsv.js';
import { parseCsv, parseCsvLine } from '../src/data/formats/csv.js';
import { readMovieLens } from '../src/data/formats/movielens.js';
import { expectDataError } from './helpers/expect.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(REPO, '../shared/datasets');
const HAVE_SHARED = existsSync(join(SHARED, 'irllrec-amazon-book', 'trn_mat.pkl'));
const FIX = join(REPO, 'test', 'fixtures', 'formats');
if (!HAVE_SHARED) console.warn(`data-formats: skipping real-dataset tests, ${SHARED} not found`);
const ML_DIR = join(REPO, 'data', 'movielens-latest-small');

const tmp = mkdtempSync(join(tmpdir(), 'irllrec-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------

describe('DataError', () => {
  it('formats file:line: message on one line and keeps the parts', () => {
    const e = new DataError('a/b.tsv', 'field "user" is bad\nreally', { line: 7, field: 'user' });
    expect(e.message).toBe('a/b.tsv:7: field "user" is bad really');
    expect(e.file).toBe('a/b.tsv');
    expect(e.line).toBe(7);
    expect(e.field).toBe('user');
    expect(e).toBeInstanceOf(Error);
    expect(new DataError('x.pkl', 'bad').message).toBe('x.pkl: bad');
  });

  it('reports a missing file', () => {
    const p = join(tmp, 'nope.pkl');
    const e = expectDataError(() => readCooPickle(p));
    expect(e.message).toBe(`${p}: file not found`);
  });
});

// ---------------------------------------------------------------------------

const SPLITS = [
  ['trn_mat.pkl', 'train.tsv'],
  ['val_mat.pkl', 'valid.tsv'],
  ['tst_mat.pkl', 'test.tsv'],
] as const;

const DATASETS: Record<string, { rows: number; cols: number; nnz: [number, number, number] }> = {
  'irllrec-amazon-book': { rows: 11000, cols: 9332, nnz: [120464, 40290, 40106] },
  'irllrec-yelp': { rows: 11091, cols: 11010, nnz: [166620, 55479, 55436] },
  'irllrec-amazon-movie': { rows: 16994, cols: 9370, nnz: [134649, 16799, 16795] },
};

describe.skipIf(!HAVE_SHARED)(
  HAVE_SHARED ? 'real SSLRec pickles (../shared/datasets)' : `real SSLRec pickles — SKIPPED: ${SHARED} not found`,
  () => {
    for (const [name, want] of Object.entries(DATASETS)) {
      it(`${name}: pkl splits match the TSV files entry by entry`, () => {
        SPLITS.forEach(([pkl, tsv], s) => {
          const m = readCooPickle(join(SHARED, name, pkl));
          expect([m.rows, m.cols]).toEqual([want.rows, want.cols]);
          expect(m.row.length).toBe(want.nnz[s]);
          expect(m.col.length).toBe(want.nnz[s]);
          expect(m.data.length).toBe(want.nnz[s]);
          expect(m.data.every((v) => v === 1)).toBe(true);
          const t = readInteractionsTsv(join(SHARED, name, tsv));
          expect(t.user.length).toBe(want.nnz[s]);
          // exact equality, entry order included
          expect(Buffer.from(m.row.buffer).equals(Buffer.from(t.user.buffer))).toBe(true);
          expect(Buffer.from(m.col.buffer).equals(Buffer.from(t.item.buffer))).toBe(true);
        });
      });
    }

    it('amazon-book README statistics hold (users/items present, disjoint splits)', () => {
      const dir = join(SHARED, 'irllrec-amazon-book');
      const [trn, val, tst] = SPLITS.map(([pkl]) => readCooPickle(join(dir, pkl)));
      const users = new Set(trn!.row);
      const items = new Set(trn!.col);
      expect(users.size).toBe(11000);
      expect(items.size).toBe(9332);
      expect(new Set(val!.row).size).toBe(9857);
      expect(new Set(tst!.row).size).toBe(9860);
      const key = (m: typeof trn, i: number) => m!.row[i]! * 9332 + m!.col[i]!;
      const seen = new Set<number>();
      for (const m of [trn, val, tst]) for (let i = 0; i < m!.row.length; i++) seen.add(key(m, i));
      expect(seen.size).toBe(120464 + 40290 + 40106);
    });

    it('a truncated copy of trn_mat.pkl is a DataError naming the file', () => {
      const src = readFileSync(join(SHARED, 'irllrec-amazon-book', 'trn_mat.pkl'));
      for (const cut of [src.length - 1, Math.floor(src.length / 2), 1000, 100, 12, 1]) {
        const p = join(tmp, `trn_cut_${cut}.pkl`);
        writeFileSync(p, src.subarray(0, cut));
        const e = expectDataError(() => readCooPickle(p));
        expect(e.file).toBe(p);
        expect(e.message.startsWith(`${p}: `)).toBe(true);
        expect(e.message).toMatch(/truncated/);
      }
    });

    it('a flipped opcode byte in trn_mat.pkl is a DataError with the byte offset', () => {
      const src = Buffer.from(readFileSync(join(SHARED, 'irllrec-amazon-book', 'trn_mat.pkl')));
      expect(src[47]).toBe(0x81); // NEWOBJ
      src[47] = 0xff;
      const p = join(tmp, 'trn_flipped.pkl');
      writeFileSync(p, src);
      const e = expectDataError(() => readCooPickle(p));
      expect(e.file).toBe(p);
      expect(e.offset).toBe(47);
      expect(e.message).toBe(`${p}: corrupt or unsupported pickle: unknown opcode 0xff at byte offset 47`);

      // STACK_GLOBAL (0x93) -> MEMOIZE (0x94): the stack is left with two values at STOP, etc.
      const src2 = Buffer.from(readFileSync(join(SHARED, 'irllrec-amazon-book', 'trn_mat.pkl')));
      expect(src2[44]).toBe(0x93);
      src2[44] = 0x94;
      const p2 = join(tmp, 'trn_flipped2.pkl');
      writeFileSync(p2, src2);
      expect(expectDataError(() => readCooPickle(p2)).file).toBe(p2);
    });

    it('a TSV file is not a pickle', () => {
      const p = join(SHARED, 'irllrec-amazon-book', 'train.tsv');
      const e = expectDataError(() => readCooPickle(p));
      expect(e.message).toBe(
        `${p}: not a pickle file (protocol 2-5): expected PROTO opcode 0x80 at byte offset 0, found 0x75`,
      );
    });
  },
);

// ---------------------------------------------------------------------------

describe('pickle VM', () => {
  const enc = (s: string) => [...Buffer.from(s, 'utf8')];
  const sbu = (s: string) => [0x8c, Buffer.byteLength(s), ...enc(s)];

  it('rejects globals that are not whitelisted, naming file and offset, without running anything', () => {
    // pickle of os.system('echo pwned') — would run a shell in Python
    const bytes = Uint8Array.from([0x80, 4, ...sbu('os'), ...sbu('system'), 0x93, ...sbu('echo pwned'), 0x85, 0x52, 0x2e]);
    const p = join(tmp, 'evil.pkl');
    writeFileSync(p, bytes);
    const e = expectDataError(() => readCooPickle(p));
    expect(e.file).toBe(p);
    expect(e.offset).toBe(2 + 4 + 8);
    expect(e.message).toContain('global os.system is not allowed');
    expect(e.message).toContain(`byte offset ${2 + 4 + 8}`);
    // protocol-2 GLOBAL spelling as well
    const g = Uint8Array.from([0x80, 2, 0x63, ...enc('builtins\neval\n'), 0x2e]);
    expect(expectDataError(() => loadPickle(g, 'g.pkl')).message).toContain('global builtins.eval is not allowed');
    expect(expectDataError(() => readNumpyPickle(p)).message).toContain('os.system');
  });

  it('decodes plain containers and scalars', () => {
    // {'a': [1, -2, 3.5, None, True], 'b': (b'xy', 'é', 70000, 2**70)}
    const big = [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x40]; // LONG1 2**70
    const bytes = Uint8Array.from([
      0x80, 4, 0x7d, 0x94, 0x28, // PROTO 4, EMPTY_DICT, MEMOIZE, MARK
      ...sbu('a'), 0x5d, 0x28, 0x4b, 1, 0x4a, 0xfe, 0xff, 0xff, 0xff, // 'a', EMPTY_LIST, MARK, 1, -2
      0x47, 0x40, 0x0c, 0, 0, 0, 0, 0, 0, 0x4e, 0x88, 0x65, // 3.5, None, True, APPENDS
      ...sbu('b'), 0x28, 0x43, 2, 0x78, 0x79, ...sbu('é'), 0x4a, 0x70, 0x11, 0x01, 0x00, ...big, 0x74, // 'b', (...)
      0x75, 0x2e, // SETITEMS, STOP
    ]);
    const v = loadPickle(bytes, 'x.pkl');
    expect(v).toMatchObject({ kind: 'dict' });
    const d = v as import('../src/data/formats/pickle.js').PyDict;
    const a = d.get('a') as import('../src/data/formats/pickle.js').PyList;
    expect(a.items).toEqual([1, -2, 3.5, null, true]);
    const b = d.get('b') as import('../src/data/formats/pickle.js').PyTuple;
    expect(b.items[0]).toEqual(Uint8Array.from([0x78, 0x79]));
    expect(b.items[1]).toBe('é');
    expect(b.items[2]).toBe(70000);
    expect(b.items[3]).toBe(2n ** 70n);
  });

  it('dict keys follow Python equality (later value wins, 1 == True)', () => {
    // {'k': 1, 'k': 2, 1: 'x', True: 'y'}  (as a pickle could spell it with SETITEM)
    const bytes = Uint8Array.from([
      0x80, 4, 0x7d, ...sbu('k'), 0x4b, 1, 0x73, ...sbu('k'), 0x4b, 2, 0x73,
      0x4b, 1, ...sbu('x'), 0x73, 0x88, ...sbu('y'), 0x73, 0x2e,
    ]);
    const d = loadPickle(bytes, 'd.pkl') as import('../src/data/formats/pickle.js').PyDict;
    expect(d.entries.length).toBe(2);
    expect(d.get('k')).toBe(2);
    expect(d.get(1)).toBe('y');
    expect(d.get(true)).toBe('y');
  });

  it('turns every corruption of a small COO pickle into a DataError (never a crash)', () => {
    const src = readFileSync(join(FIX, 'coo_coords_i8_f4_scipy2x_p4.pkl'));
    let errors = 0;
    for (let i = 0; i < src.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const b = Uint8Array.from(src);
        b[i] = b[i]! ^ x;
        try {
          parseCooPickle(b, 'fuzz.pkl');
        } catch (e) {
          if (!(e instanceof DataError)) throw new Error(`offset ${i} xor ${x}: ${String(e)}`);
          expect(e.file).toBe('fuzz.pkl');
          errors++;
        }
      }
      try {
        parseCooPickle(src.subarray(0, i), 'cut.pkl');
        throw new Error(`truncation at ${i} accepted`);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
      }
    }
    expect(errors).toBeGreaterThan(src.length);
  });

  it('rejects out-of-range indices and non-COO pickles', () => {
    const p = join(FIX, 'ndarray_f32_numpy2_p4.pkl');
    expect(expectDataError(() => readCooPickle(p)).message).toBe(
      `${p}: expected a pickled scipy.sparse.coo_matrix, found numpy._core.multiarray._reconstruct object`,
    );
    // shrink the shape of the small COO fixture: _shape (3, 5) -> (3, 3); col 3 is then out of range
    const src = Buffer.from(readFileSync(join(FIX, 'coo_coords_i8_f4_scipy2x_p4.pkl')));
    const at = src.indexOf(Buffer.from([0x4b, 3, 0x4b, 5, 0x86]));
    expect(at).toBeGreaterThan(0);
    src[at + 3] = 3;
    const e = expectDataError(() => parseCooPickle(src, 'small.pkl'));
    expect(e.message).toBe('small.pkl: coo_matrix col[0] = 3 is out of range [0, 2]');
  });

  it('reads a scipy >= 1.13 COO pickle (coords, int64 indices, float32 data)', () => {
    const m = readCooPickle(join(FIX, 'coo_coords_i8_f4_scipy2x_p4.pkl'));
    expect([m.rows, m.cols]).toEqual([3, 5]);
    expect([...m.row]).toEqual([2, 0, 1, 2]);
    expect([...m.col]).toEqual([3, 1, 0, 0]);
    expect([...m.data]).toEqual([1, 2, 0.5, 4]);
  });
});

// ---------------------------------------------------------------------------

describe('numpy pickles', () => {
  const F32 = Array.from({ length: 12 }, (_, i) => i * 0.25 - 1);
  const F64 = [0.1, -2.5, 3.0, 1e-3, 123456.789, -0.0].map(Math.fround);

  for (const proto of [2, 4, 5]) {
    it(`numpy 2.x path, protocol ${proto}, float32`, () => {
      const a = readNumpyPickle(join(FIX, `ndarray_f32_numpy2_p${proto}.pkl`));
      expect(a.shape).toEqual([3, 4]);
      expect(a.data).toBeInstanceOf(Float32Array);
      expect([...a.data]).toEqual(F32);
    });
    it(`numpy 1.x path, protocol ${proto}, float64 -> float32`, () => {
      const a = readNumpyPickle(join(FIX, `ndarray_f64_numpy1_p${proto}.pkl`));
      expect(a.shape).toEqual([2, 3]);
      expect([...a.data]).toEqual(F64);
      expect(Object.is(a.data[5], -0)).toBe(true);
    });
  }

  it('Fortran-ordered arrays come back in C order', () => {
    const a = readNumpyPickle(join(FIX, 'ndarray_f64_fortran_numpy2_p4.pkl'));
    expect(a.shape).toEqual([2, 3]);
    expect([...a.data]).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  });

  it('a COO pickle is not an ndarray', () => {
    const p = join(FIX, 'coo_coords_i8_f4_scipy2x_p4.pkl');
    expect(expectDataError(() => readNumpyPickle(p)).message).toBe(
      `${p}: array: expected a pickled numpy.ndarray, found scipy.sparse._coo.coo_matrix object`,
    );
  });

  it('truncated numpy pickle -> DataError', () => {
    const src = readFileSync(join(FIX, 'ndarray_f32_numpy2_p4.pkl'));
    const p = join(tmp, 'emb_cut.pkl');
    writeFileSync(p, src.subarray(0, src.length - 20));
    expect(expectDataError(() => readNumpyPickle(p)).message).toMatch(/^.*emb_cut\.pkl: truncated pickle/);
  });

  it('leaves the globals inert', () => {
    const v = loadPickle(readFileSync(join(FIX, 'ndarray_f32_numpy2_p4.pkl')), 'x');
    expect(v).toBeInstanceOf(PyObject);
    expect((v as PyObject).cls.qualname).toBe('numpy._core.multiarray._reconstruct');
  });
});

// ---------------------------------------------------------------------------

describe('.npy', () => {
  it('round-trips float32 through writeNpy / readNpy', () => {
    const p = join(tmp, 'emb.npy');
    const data = Float32Array.from({ length: 35 }, (_, i) => Math.fround(Math.sin(i) * 1e3));
    writeNpy(p, [5, 7], data);
    const a = readNpy(p);
    expect(a.descr).toBe('<f4');
    expect(a.shape).toEqual([5, 7]);
    expect([...a.data]).toEqual([...data]);
    expect((readFileSync(p).length - 35 * 4) % 64).toBe(0); // header padded to a multiple of 64 bytes
    // atomic write leaves no temp files behind; overwriting works
    writeNpy(p, [35], data);
    expect(readNpy(p).shape).toEqual([35]);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('writeNpy produces the same bytes as numpy.save', () => {
    const p = join(tmp, 'same.npy');
    writeNpy(p, [2, 3], Float32Array.from([1.5, -2.0, 0.0, 3.25, 1e-8, -7.0]));
    expect(readFileSync(p).equals(readFileSync(join(FIX, 'f32_2x3.npy')))).toBe(true);
  });

  it('writeNpy checks the shape and wraps I/O errors', () => {
    expect(() => writeNpy(join(tmp, 'bad.npy'), [2, 2], new Float32Array(3))).toThrow(RangeError);
    const p = join(tmp, 'no-such-dir', 'x.npy');
    expect(expectDataError(() => writeNpy(p, [1], new Float32Array(1))).file).toBe(p);
  });

  it('reads numpy-written files of every supported kind', () => {
    const f32 = readNpy(join(FIX, 'f32_2x3.npy'));
    expect(f32.shape).toEqual([2, 3]);
    expect([...f32.data]).toEqual([1.5, -2.0, 0.0, 3.25, Math.fround(1e-8), -7.0]);

    const v3 = readNpy(join(FIX, 'f64_v3.npy'));
    expect(v3).toMatchObject({ descr: '<f8', shape: [3] });
    expect([...v3.data]).toEqual([0.1, 0.2, -0.3]);

    const be = readNpy(join(FIX, 'f64_v2_be.npy'));
    expect(be).toMatchObject({ descr: '<f8', shape: [1, 2] });
    expect([...be.data]).toEqual([1, 2]);

    const i4 = readNpy(join(FIX, 'i4.npy'));
    expect(i4.data).toBeInstanceOf(Int32Array);
    expect([...i4.data]).toEqual([1, -2, 2147483647]);

    const i8 = readNpy(join(FIX, 'i8_2x2.npy'));
    expect(i8.shape).toEqual([2, 2]);
    expect([...i8.data]).toEqual([1n, -2n, 2n ** 40n, 7n]);

    expect(readNpy(join(FIX, 'f32_scalar.npy'))).toMatchObject({ shape: [] });
    expect([...readNpyFloat32(join(FIX, 'f32_scalar.npy')).data]).toEqual([2.5]);
    const empty = readNpyFloat32(join(FIX, 'f32_empty_0x4.npy'));
    expect(empty.shape).toEqual([0, 4]);
    expect(empty.data.length).toBe(0);
    expect([...readNpyFloat32(join(FIX, 'f64_v3.npy')).data]).toEqual([0.1, 0.2, -0.3].map(Math.fround));
  });

  it('rejects Fortran order, truncation and non-npy files', () => {
    const f = join(FIX, 'f32_fortran.npy');
    expect(expectDataError(() => readNpy(f)).message).toMatch(/^.*f32_fortran\.npy: Fortran-ordered \.npy arrays are not supported/);
    const cut = join(tmp, 'cut.npy');
    writeFileSync(cut, readFileSync(join(FIX, 'f32_2x3.npy')).subarray(0, 140));
    expect(expectDataError(() => readNpy(cut)).message).toBe(
      `${cut}: truncated .npy data: 12 bytes, expected 24 for shape (2, 3) <f4`,
    );
    const pkl = join(FIX, 'ndarray_f32_numpy2_p4.pkl');
    expect(expectDataError(() => readNpy(pkl)).message).toBe(`${pkl}: not a .npy file (missing \\x93NUMPY magic)`);
  });
});

// ---------------------------------------------------------------------------

describe('interaction TSV', () => {
  it('parses header / no header, LF / CRLF, with or without a final newline', () => {
    const want = { user: Int32Array.from([0, 0, 5]), item: Int32Array.from([3, 1, 2]) };
    expect(parseInteractionsTsv('user\titem\n0\t3\n0\t1\n5\t2\n', 'a')).toEqual(want);
    expect(parseInteractionsTsv('user\titem\r\n0\t3\r\n0\t1\r\n5\t2', 'a')).toEqual(want);
    expect(parseInteractionsTsv('0\t3\n0\t1\n5\t2\n\n', 'a')).toEqual(want);
    expect(parseInteractionsTsv('\ufeffuser\titem\n0\t3\n0\t1\n5\t2', 'a')).toEqual(want);
    expect(parseInteractionsTsv('user\titem\n', 'a').user.length).toBe(0);
  });

  it('reports bad ids with file, 1-based line and field', () => {
    const p = join(tmp, 'bad.tsv');
    writeFileSync(p, 'user\titem\n0\t1\n2\t1x\n');
    const e = expectDataError(() => readInteractionsTsv(p));
    expect(e.message).toBe(`${p}:3: field "item" is not a non-negative integer: "1x"`);
    expect(e.line).toBe(3);
    expect(e.field).toBe('item');

    const neg = expectDataError(() => parseInteractionsTsv('user\titem\r\n0\t1\r\n-4\t1\r\n', 'n.tsv'));
    expect(neg.message).toBe('n.tsv:3: field "user" is negative (-4)');
    expect(expectDataError(() => parseInteractionsTsv('user\titem\n1\t2\t3\n', 'w.tsv')).message).toBe(
      'w.tsv:2: expected 2 tab-separated fields (user, item), found 3',
    );
    expect(expectDataError(() => parseInteractionsTsv('u,i\n1,2\n', 'h.tsv')).line).toBe(1);
    expect(expectDataError(() => parseInteractionsTsv('1\t2\n\n3\t4\n', 'e.tsv')).message).toBe('e.tsv:2: empty line');
    expect(expectDataError(() => parseInteractionsTsv('1\t99999999999\n', 'big.tsv')).field).toBe('item');
    expect(expectDataError(() => parseInteractionsTsv('1\t\n', 'x.tsv')).message).toBe('x.tsv:1: expected the header "user<TAB>item" or a "<user><TAB><item>" line, found "1\\t"');
  });
});

// ---------------------------------------------------------------------------

describe('CSV', () => {
  it('handles quoting, escaped quotes, commas and empty fields', () => {
    expect(parseCsvLine('1,Toy Story (1995),Adventure|Animation')).toEqual(['1', 'Toy Story (1995)', 'Adventure|Animation']);
    expect(parseCsvLine('11,"American President, The (1995)",Comedy|Drama|Romance')).toEqual([
      '11',
      'American President, The (1995)',
      'Comedy|Drama|Romance',
    ]);
    expect(parseCsvLine(`7789,"11'09""01 - September 11 (2002)",Drama`)).toEqual([
      '7789',
      `11'09"01 - September 11 (2002)`,
      'Drama',
    ]);
    expect(parseCsvLine('567,4552,"""artsy""",1525285878')).toEqual(['567', '4552', '"artsy"', '1525285878']);
    expect(parseCsvLine('a,,"",b,')).toEqual(['a', '', '', 'b', '']);
    expect(parseCsvLine('')).toEqual(['']);
  });

  it('allows line breaks inside quotes and tracks record start lines', () => {
    const recs = parseCsv('h1,h2\r\n1,"two\r\nlines"\r\n3,x', 'f.csv');
    expect(recs).toEqual([
      { fields: ['h1', 'h2'], line: 1 },
      { fields: ['1', 'two\r\nlines'], line: 2 },
      { fields: ['3', 'x'], line: 4 },
    ]);
  });

  it('reports malformed quoting with file:line', () => {
    expect(expectDataError(() => parseCsv('a,b\n1,"open\n2,3\n', 'q.csv')).message).toBe(
      'q.csv:2: unterminated quoted field (starting in column 2)',
    );
    expect(expectDataError(() => parseCsv('a\n"x"y\n', 'q.csv')).message).toBe(
      'q.csv:2: unexpected character "y" after the closing quote of column 1',
    );
    expect(expectDataError(() => parseCsvLine('1,ab"c', 'q.csv', 9)).message).toBe(
      'q.csv:9: stray double quote in unquoted column 2 (quote the whole field and double inner quotes)',
    );
  });
});

// ---------------------------------------------------------------------------

describe('MovieLens', () => {
  it('reads the bundled ml-latest-small', () => {
    const ml = readMovieLens(ML_DIR);
    expect(ml.ratings.userId.length).toBe(100836);
    expect(new Set(ml.ratings.userId).size).toBe(610);
    expect(new Set(ml.ratings.movieId).size).toBe(9724);
    expect([ml.ratings.userId[0], ml.ratings.movieId[0], ml.ratings.rating[0], ml.ratings.timestamp[0]]).toEqual([
      1, 1, 4, 964982703,
    ]);
    let half = 0;
    for (const r of ml.ratings.rating) if (r === 0.5) half++;
    expect(half).toBe(1370);
    expect(ml.movies.length).toBe(9742);
    expect(ml.movies[ml.movieIndex.get(7789)!]!.title).toBe(`11'09"01 - September 11 (2002)`);
    expect(ml.movies[ml.movieIndex.get(11)!]!.title).toBe('American President, The (1995)');
    expect(ml.movies[0]!.genres).toEqual(['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']);
    expect(ml.movies.filter((m) => m.genres.length === 0).length).toBe(34);
    expect(ml.tags.length).toBe(3683);
    expect(new Set(ml.tags.map((t) => t.userId)).size).toBe(58);
    expect(ml.tags.some((t) => t.tag === '"artsy"')).toBe(true);
    expect(ml.links!.length).toBe(9742);
    expect(ml.links![0]).toEqual({ movieId: 1, imdbId: '0114709', tmdbId: 862 });
    expect(ml.links!.filter((l) => l.tmdbId === null).length).toBe(8);
  });

  it('reports malformed rows with file:line and field', () => {
    const dir = mkdtempSync(join(tmp, 'ml-'));
    for (const f of ['movies.csv', 'tags.csv']) copyFileSync(join(ML_DIR, f), join(dir, f));
    const ratings = join(dir, 'ratings.csv');
    writeFileSync(ratings, 'userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,four,964981247\r\n');
    const e = expectDataError(() => readMovieLens(dir));
    expect(e.message).toBe(`${ratings}:3: field "rating" is not a number: "four"`);
    expect(e.field).toBe('rating');

    writeFileSync(ratings, 'userId,movieId,rating,timestamp\n1,1,4.0\n');
    expect(expectDataError(() => readMovieLens(dir)).message).toBe(
      `${ratings}:2: expected 4 comma-separated fields (userId,movieId,rating,timestamp), found 3`,
    );
    writeFileSync(ratings, 'user,item\n');
    expect(expectDataError(() => readMovieLens(dir)).line).toBe(1);

    writeFileSync(ratings, 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n');
    const movies = join(dir, 'movies.csv');
    writeFileSync(movies, 'movieId,title,genres\n1,"Toy Story (1995),Comedy\n');
    expect(expectDataError(() => readMovieLens(dir)).message).toBe(
      `${movies}:2: unterminated quoted field (starting in column 2)`,
    );
  });
});
