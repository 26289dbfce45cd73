/**
 * float16 text vectors: the binary16 codec (every bit pattern, subnormals, infinities, rounding to
 * nearest even against a reference, clamping), .npy `<f2` / `>f2` reading (numpy-written bytes,
 * block-wise conversion, validation, the memory budget), row access without loading
 * (`openNpyRows`), and `irllrec embed --dtype float16 --dim N` end to end (local and OpenAI-compatible)
 * into files `loadTextVectors` reads, training accepts and the run's data copy keeps as float16.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeFloat16, encodeFloat16, float16BitsToNumber, FLOAT16_MAX, isFloat16Exact, NPY_BLOCK_BYTES, numberToFloat16Bits, openNpyRows,
  readNpy, readNpyFloat32, readNpyHeader, roundToFloat16, writeNpy,
} from '../src/data/formats/numpy.js';
import { loadTextVectors, openTextRows } from '../src/data/text-vectors.js';
import { ingest } from '../src/ingest/index.js';
import { runEmbed } from '../src/text/embed.js';
import { runProfile } from '../src/text/profile.js';
import { openRun } from '../src/serve/run.js';
import { Rng } from '../src/util/rng.js';
import { repoRoot } from './shared.js';
import { runCli, startLlmServer, type LlmServer } from './helpers/llm-server.js';
import { miniRecbole, writeMovieLensSubset } from './helpers/datasets.js';
import { expectDataError } from './helpers/expect.js';

let tmp: string;
let server: LlmServer;
let ds: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'irllrec-f16-'));
  server = await startLlmServer({ embedDim: 24 });
  // a MovieLens subset (the first 15 users of the bundled ratings): 661 texts per kind, so 32 SVD components exist
  const ml = writeMovieLensSubset(join(tmp, 'ml'), 15);
  ds = join(tmp, 'ds');
  await ingest({ format: 'movielens', dir: ml, out: ds });
  await runProfile({ dir: ds, provider: 'offline' });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The nearest float16 of a float32 value by search over every finite float16, ties to the even pattern. */
function referenceBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7bff;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (float16BitsToNumber(mid) <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - float16BitsToNumber(lo);
  const dh = float16BitsToNumber(hi) - a;
  const pick = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

/** numpy.save of np.array([[0, -0., 1, 65504, -65504], [6e-8, inf, -inf, 0.1, 1/3]], dtype=np.float16). */
const NUMPY_F2 = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDUpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAACAADz/e//7AQAAfAD8Zi5VNQ==';
/** numpy.save of np.array([[1.5, -2, 0.000061], [65504, -0., 3.140625]], dtype='>f2'). */
const NUMPY_F2_BE = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo+AMAAA/97/4AAQkg=';

describe('float16 codec', () => {
  it('every bit pattern decodes and encodes back to itself (subnormals, +-0, +-Infinity; NaN stays NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, h) => h);
    const values = decodeFloat16(all);
    const again = encodeFloat16(values).bits;
    const bad: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = values[h]!;
      if (!Object.is(v, float16BitsToNumber(h)) && !(Number.isNaN(v) && Number.isNaN(float16BitsToNumber(h)))) bad.push(`decode 0x${h.toString(16)}`);
      if (Number.isNaN(v) ? (again[h]! & 0x7e00) !== 0x7e00 : again[h] !== h) bad.push(`0x${h.toString(16)} -> ${v} -> 0x${again[h]!.toString(16)}`);
    }
    expect(bad).toEqual([]);
    expect(values.filter(Number.isNaN).length).toBe(2 * 1023);
    expect([0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x8001].map(float16BitsToNumber))
      .toEqual([2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, FLOAT16_MAX, Infinity, -Infinity, -0, -(2 ** -24)]);
    expect(Object.is(float16BitsToNumber(0x8000), -0)).toBe(true);
    expect(numberToFloat16Bits(-0)).toBe(0x8000);
    expect(numberToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(numberToFloat16Bits(-Infinity)).toBe(0xfc00);
  });

  it('rounds to nearest, ties to even: random float32 values and exact midpoints against a reference', () => {
    const rng = new Rng(16);
    for (let k = 0; k < 20000; k++) {
      const x = Math.fround((rng.int(2) ? -1 : 1) * 2 ** (rng.int(46) - 28) * (1 + rng.int(1 << 20) / (1 << 20)));
      expect(numberToFloat16Bits(x)).toBe(referenceBits(x));
    }
    // midpoints between neighbours (exact in float32): the even pattern wins, normal and subnormal
    for (let k = 0; k < 3000; k++) {
      const h = rng.int(0x7bfe);
      const mid = (float16BitsToNumber(h) + float16BitsToNumber(h + 1)) / 2;
      expect(Math.fround(mid)).toBe(mid);
      expect(numberToFloat16Bits(mid)).toBe(h % 2 === 0 ? h : h + 1);
      expect(numberToFloat16Bits(-mid)).toBe(0x8000 | (h % 2 === 0 ? h : h + 1));
    }
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // tie, 1 is even
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie, rounds up to even
    expect(roundToFloat16(0.1)).toBe(0.0999755859375);
    expect(roundToFloat16(65519)).toBe(FLOAT16_MAX);
    expect(roundToFloat16(65520)).toBe(Infinity); // a tie with an odd mantissa: up, past the range
    expect(roundToFloat16(2 ** -25)).toBe(0); // half the smallest subnormal: tie to 0
    expect(roundToFloat16(Math.fround(2 ** -25 * 1.0001))).toBe(2 ** -24);
    expect(roundToFloat16(3 * 2 ** -25)).toBe(2 * 2 ** -24); // tie between 1 and 2 units: 2
    expect(roundToFloat16(1e-30)).toBe(0);
    expect(roundToFloat16(2 ** -14 - 2 ** -26)).toBe(2 ** -14); // subnormal rounding carries into the smallest normal
  });

  it('clamping: finite values beyond +-65504 become +-65504 and are counted; NaN is never written', () => {
    const src = Float32Array.from([70000, -1e30, 65519, 65504, 1, Infinity, -Infinity, -65505]);
    const { bits, clamped } = encodeFloat16(src, { clamp: true });
    expect([...decodeFloat16(bits)]).toEqual([65504, -65504, 65504, 65504, 1, Infinity, -Infinity, -65504]);
    expect(clamped).toBe(4);
    expect(encodeFloat16(src).clamped).toBe(0); // without clamp: IEEE overflow to Infinity
    expect(float16BitsToNumber(encodeFloat16(src).bits[0]!)).toBe(Infinity);
    expect(() => encodeFloat16(Float32Array.from([1, NaN]), { clamp: true })).toThrow(/element 1 is NaN/);

    const dir = join(tmp, 'clamp');
    mkdirSync(dir);
    expect(writeNpy(join(dir, 'c.npy'), [2, 4], src, { dtype: 'float16' })).toEqual({ clamped: 4 });
    expect([...readNpyFloat32(join(dir, 'c.npy')).data]).toEqual([65504, -65504, 65504, 65504, 1, Infinity, -Infinity, -65504]);
    expect(() => writeNpy(join(dir, 'n.npy'), [2], Float32Array.from([0, NaN]), { dtype: 'float16' })).toThrow(/element 1 is NaN/);
    expect(readdirSync(dir)).toEqual(['c.npy']); // nothing written, no temporary left
    expect(writeNpy(join(dir, 'f.npy'), [1], Float32Array.from([1e30]))).toEqual({ clamped: 0 }); // float32: unchanged
    expect(isFloat16Exact(Float32Array.from([0.5, -0, 65504, 2 ** -24]))).toBe(true);
    expect(isFloat16Exact(Float32Array.from([0.5, 0.1]))).toBe(false);
  });
});

describe('.npy float16', () => {
  it('reads numpy-written <f2 and >f2 files; writeNpy writes the bytes numpy.save does', () => {
    const le = join(tmp, 'np_f2.npy');
    writeFileSync(le, Buffer.from(NUMPY_F2, 'base64'));
    const a = readNpy(le);
    expect(a.descr).toBe('<f2');
    expect(a.shape).toEqual([2, 5]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect([...a.data]).toEqual([0, -0, 1, 65504, -65504, 5.960464477539063e-8, Infinity, -Infinity, 0.0999755859375, 0.333251953125]);
    expect(Object.is(a.data[1], -0)).toBe(true);
    expect(readNpyHeader(le)).toEqual({ shape: [2, 5], descr: '<f2', dtype: 'float16' });
    const mine = join(tmp, 'mine_f2.npy');
    writeNpy(mine, [2, 5], a.data as Float32Array, { dtype: 'float16' });
    expect(readFileSync(mine).equals(readFileSync(le))).toBe(true);

    const be = join(tmp, 'np_f2_be.npy');
    writeFileSync(be, Buffer.from(NUMPY_F2_BE, 'base64'));
    const b = readNpyFloat32(be);
    expect(b.shape).toEqual([2, 3]);
    expect([...b.data]).toEqual([1.5, -2, 6.097555160522461e-5, 65504, -0, 3.140625]);
    expect(readNpy(be).descr).toBe('<f2');
  });

  it('a float16 file larger than a block reads exactly as its float32 conversion, with any block size', () => {
    const rows = 1100;
    const cols = 2048; // 4.3 MiB of float16, more than NPY_BLOCK_BYTES
    expect(rows * cols * 2).toBeGreaterThan(NPY_BLOCK_BYTES);
    const rng = new Rng(5);
    const src = Float32Array.from({ length: rows * cols }, () => rng.normal() * 0.3);
    const want = decodeFloat16(encodeFloat16(src).bits);
    const p = join(tmp, 'big_f2.npy');
    writeNpy(p, [rows, cols], src, { dtype: 'float16' });
    expect(readFileSync(p).length).toBe(128 + rows * cols * 2);
    for (const blockBytes of [undefined, 1001, 6 * cols + 2]) {
      const got = readNpyFloat32(p, blockBytes === undefined ? {} : { blockBytes });
      expect(got.shape).toEqual([rows, cols]);
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
    // each value equals the float32 value rounded to float16
    for (const i of [0, 1, 12345, rows * cols - 1]) expect(want[i]).toBe(roundToFloat16(src[i]!));
  });

  it('validation applies to float16: shape against the file length, trailing bytes, header nesting, memory budget', () => {
    const good = Buffer.from(NUMPY_F2, 'base64');
    const cut = join(tmp, 'cut_f2.npy');
    writeFileSync(cut, good.subarray(0, good.length - 3));
    expect(expectDataError(() => readNpyFloat32(cut)).message).toBe(`${cut}: truncated .npy data: 17 bytes, expected 20 for shape (2, 5) <f2`);
    const long = join(tmp, 'long_f2.npy');
    writeFileSync(long, Buffer.concat([good, Buffer.alloc(2)]));
    expect(expectDataError(() => openNpyRows(long)).message).toMatch(/\.npy data has 2 unexpected trailing byte/);
    const deep = join(tmp, 'deep_f2.npy');
    const dict = `{'descr': '<f2', 'fortran_order': False, 'shape': ${'('.repeat(40)}1${',)'.repeat(40)}, }`;
    const head = Buffer.alloc(10);
    head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    head.writeUInt16LE(dict.length, 8);
    writeFileSync(deep, Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.alloc(2)]));
    expect(expectDataError(() => readNpy(deep)).message).toMatch(/nested deeper than 32 levels/);
    const fortran = join(tmp, 'fortran_f2.npy');
    writeFileSync(fortran, Buffer.from(Buffer.from(NUMPY_F2, 'base64').toString('latin1').replace("'fortran_order': False", "'fortran_order': True "), 'latin1'));
    expect(expectDataError(() => readNpy(fortran)).message).toMatch(/Fortran-ordered \.npy arrays are not supported/);

    const p = join(tmp, 'budget_f2.npy');
    writeNpy(p, [1000, 300], new Float32Array(300000), { dtype: 'float16' }); // 600 KB on disk, 1.2 MB as float32
    const saved = process.env.IRLLREC_MEMORY_BUDGET;
    process.env.IRLLREC_MEMORY_BUDGET = '1M';
    try {
      expect(expectDataError(() => readNpyFloat32(p)).message).toMatch(/budget_f2\.npy: the array of shape \(1000, 300\) as float32 would need 1\.7 MiB, more than the memory budget of 1\.0 MiB/);
      const r = openNpyRows(p);
      expect(r.read(10, 2).length).toBe(600); // a few rows fit
      expect(expectDataError(() => r.read(0, 1000)).message).toMatch(/rows 0\.\.999 as float32 would need 1\.1 MiB/);
      r.close();
    } finally {
      if (saved === undefined) delete process.env.IRLLREC_MEMORY_BUDGET;
      else process.env.IRLLREC_MEMORY_BUDGET = saved;
    }
  });

  it('as text vectors: loadTextVectors reads float16; an Infinity is refused with its row and column', () => {
    const dir = join(tmp, 'tv');
    mkdirSync(dir);
    const u = Float32Array.from({ length: 3 * 4 }, (_, i) => Math.sin(i));
    const it = Float32Array.from({ length: 2 * 4 }, (_, i) => Math.cos(i));
    writeNpy(join(dir, 'usr_prf.npy'), [3, 4], u, { dtype: 'float16' });
    writeNpy(join(dir, 'itm_prf.npy'), [2, 4], it); // float32 and float16 mix
    const t = loadTextVectors(dir, 3, 2, ['usrPrf', 'itmPrf']);
    expect([...t.usrPrf!.data]).toEqual([...u].map(roundToFloat16));
    expect([...t.itmPrf!.data]).toEqual([...it]);
    u[6] = Infinity;
    writeNpy(join(dir, 'usr_prf.npy'), [3, 4], u, { dtype: 'float16' });
    expect(expectDataError(() => loadTextVectors(dir, 3, 2, ['usrPrf'])).message).toBe(
      `${join(dir, 'usr_prf.npy')}: user profile vectors: row 1 column 2 is Infinity (NaN/Inf are not allowed)`,
    );
    u[6] = 1e6; // finite but beyond float16: clamped on write, read back as 65504
    expect(writeNpy(join(dir, 'usr_prf.npy'), [3, 4], u, { dtype: 'float16' }).clamped).toBe(1);
    expect(loadTextVectors(dir, 3, 2, ['usrPrf']).usrPrf!.data[6]).toBe(65504);
    const rows = openTextRows(dir, 'usrPrf', 3);
    expect([...rows.read(1, 1)]).toEqual([...loadTextVectors(dir, 3, 2, ['usrPrf']).usrPrf!.data.subarray(4, 8)]);
    rows.close();
    expect(() => openTextRows(dir, 'usrPrf', 4)).toThrow(/have 3 rows but the dataset has 4/);
  });
});

describe('openNpyRows', () => {
  it('random row ranges and gathers equal the full load (float16 / float32 / float64 / big-endian, blocks smaller than a row)', () => {
    const rng = new Rng(9);
    const rows = 700;
    const cols = 37;
    const src = Float32Array.from({ length: rows * cols }, () => rng.normal());
    const files: [string, () => void][] = [
      ['f2', () => writeNpy(join(tmp, 'rows_f2.npy'), [rows, cols], src, { dtype: 'float16' })],
      ['f4', () => writeNpy(join(tmp, 'rows_f4.npy'), [rows, cols], src)],
    ];
    for (const [, make] of files) make();
    // float64 and big-endian float16, written by hand (numpy's layout)
    const raw = (descr: string, body: Buffer) => {
      const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`.padEnd(117, ' ') + '\n';
      const head = Buffer.alloc(10);
      head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
      head.writeUInt16LE(dict.length, 8);
      return Buffer.concat([head, Buffer.from(dict, 'latin1'), body]);
    };
    const f8 = Buffer.alloc(rows * cols * 8);
    src.forEach((v, i) => f8.writeDoubleLE(v * 1.000001, 8 * i));
    writeFileSync(join(tmp, 'rows_f8.npy'), raw('<f8', f8));
    const be = Buffer.alloc(rows * cols * 2);
    encodeFloat16(src).bits.forEach((h, i) => be.writeUInt16BE(h, 2 * i));
    writeFileSync(join(tmp, 'rows_f2be.npy'), raw('>f2', be));

    for (const [name, dtype] of [['f2', 'float16'], ['f4', 'float32'], ['f8', 'float64'], ['f2be', 'float16']] as const) {
      const p = join(tmp, `rows_${name}.npy`);
      const full = readNpyFloat32(p).data;
      for (const blockBytes of [undefined, 50, 4096]) {
        const r = openNpyRows(p, blockBytes === undefined ? {} : { blockBytes });
        expect([r.rows, r.cols, r.dtype]).toEqual([rows, cols, dtype]);
        const out = new Float32Array(40 * cols);
        for (let k = 0; k < 30; k++) {
          const start = rng.int(rows);
          const n = rng.int(Math.min(40, rows - start) + 1);
          r.read(start, n, out);
          expect(Buffer.from(out.buffer, 0, 4 * n * cols).equals(Buffer.from(full.buffer, 4 * start * cols, 4 * n * cols))).toBe(true);
        }
        expect([...r.read(rows - 1, 1)]).toEqual([...full.subarray((rows - 1) * cols)]);
        const ids = [5, 6, 7, 699, 0, 5, 300, 301];
        const g = r.gather(ids);
        ids.forEach((id, k) => expect([...g.subarray(k * cols, (k + 1) * cols)]).toEqual([...full.subarray(id * cols, (id + 1) * cols)]));
        expect(() => r.read(690, 11)).toThrow(/rows \[690, 690 \+ 11\) are outside \[0, 700\)/);
        expect(() => r.read(0, 2, new Float32Array(cols))).toThrow(/the output holds 37 values/);
        expect(() => r.gather([700])).toThrow(/row 700 \(ids\[0\]\) is outside/);
        r.close();
        expect(() => r.read(0, 1)).toThrow(/read after close/);
      }
    }
    expect(readNpy(join(tmp, 'rows_f8.npy')).data[3]).toBe(src[3]! * 1.000001);
    const one = join(tmp, 'one_d.npy');
    writeNpy(one, [5], new Float32Array(5), { dtype: 'float16' });
    expect(expectDataError(() => openNpyRows(one)).message).toBe(`${one}: expected a 2-D array, got shape (5)`);
    expect(expectDataError(() => openNpyRows(join(tmp, 'nope.npy'))).message).toMatch(/nope\.npy: file not found/);
  });
});

describe('irllrec embed --dtype float16 --dim N', () => {
  it('local: float16 files of width 32 that loadTextVectors reads, training accepts and the run copy keeps as float16', async () => {
    const r = await runCli(['embed', '--data', ds, '--dtype', 'float16', '--dim', '32', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ provider: 'local', width: 32, dtype: 'float16', dim: 32, clamped: 0 });
    const m = JSON.parse(readFileSync(join(ds, 'embed.json'), 'utf8'));
    expect(m).toMatchObject({ model: 'tfidf-svd-32', width: 32, dtype: 'float16', dim: 32, float16_clamped: 0 });
    expect(m.files['usr_int.npy']).toMatchObject({ rows: 15, width: 32, dtype: 'float16' });
    for (const f of ['usr_prf.npy', 'itm_prf.npy', 'usr_int.npy', 'itm_int.npy']) {
      expect(readNpyHeader(join(ds, f))).toMatchObject({ descr: '<f2', dtype: 'float16' });
      expect(readNpyHeader(join(ds, f)).shape[1]).toBe(32);
    }
    expect(readFileSync(join(ds, 'itm_prf.npy')).length).toBe(128 + 646 * 32 * 2);
    const t = loadTextVectors(ds, 15, 646, ['usrPrf', 'itmPrf', 'usrInt', 'itmInt']);
    expect([t.usrPrf!.cols, t.itmInt!.rows]).toEqual([32, 646]);
    expect(isFloat16Exact(t.itmPrf!.data)).toBe(true);
    // rows stay (nearly) unit length after rounding
    let n2 = 0;
    for (let c = 0; c < 32; c++) n2 += t.usrInt!.data[c]! ** 2;
    expect(Math.sqrt(n2)).toBeCloseTo(1, 2);

    const run = join(tmp, 'run');
    const tr = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'train', '--data', ds, '--model', 'lightgcn_int', '--epochs', '1', '--json', '--set', 'train.batch_size=1024', '--out', run], {
      encoding: 'utf8', env: { ...process.env, IRLLREC_NO_PROGRESS: '1' },
    });
    expect(tr.status, tr.stderr).toBe(0);
    expect(JSON.parse(tr.stdout).model).toBe('lightgcn_int');
    expect(readNpyHeader(join(run, 'data', 'usr_int.npy')).descr).toBe('<f2'); // the copy keeps the dtype
    expect(readFileSync(join(run, 'data', 'usr_int.npy')).equals(readFileSync(join(ds, 'usr_int.npy')))).toBe(true);
    const loaded = openRun(run);
    expect(loaded.textDir).toBe(join(run, 'data'));
    expect([...loaded.text.itmInt!.data]).toEqual([...t.itmInt!.data]);
  });

  it('openai: --dim is sent as "dimensions"; the cache holds float32, so another --dtype refetches nothing', async () => {
    const dir = join(tmp, 'oa');
    await ingest({ format: 'recbole', dir: miniRecbole, out: dir, minRating: 3 });
    await runProfile({ dir, provider: 'offline' });
    const base = ['embed', '--data', dir, '--provider', 'openai', '--base-url', server.url, '--auth', 'none', '--json'];
    const n0 = server.requests.length;
    const a = await runCli([...base, '--model', 'text-embedding-3-small', '--dim', '8', '--dtype', 'float16']);
    expect(a.code, a.stderr).toBe(0);
    const sent = server.requests.slice(n0);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((q) => q.body.dimensions === 8)).toBe(true);
    expect(JSON.parse(a.stdout)).toMatchObject({ width: 8, dtype: 'float16', dim: 8 });
    expect(JSON.parse(readFileSync(join(dir, 'embed.json'), 'utf8'))).toMatchObject({ dtype: 'float16', dim: 8, dimensions: 8, width: 8 });
    const half = readNpyFloat32(join(dir, 'usr_int.npy'));
    expect(readNpyHeader(join(dir, 'usr_int.npy')).descr).toBe('<f2');
    expect(half.shape).toEqual([12, 8]);

    const n1 = server.requests.length;
    const b = await runCli([...base, '--model', 'text-embedding-3-small', '--dim', '8', '--dtype', 'float32']);
    expect(b.code, b.stderr).toBe(0);
    expect(server.requests.length).toBe(n1); // all cached
    const full = readNpyFloat32(join(dir, 'usr_int.npy'));
    expect(readNpyHeader(join(dir, 'usr_int.npy')).descr).toBe('<f4');
    expect([...half.data]).toEqual([...full.data].map(roundToFloat16)); // float16 = the cached float32, rounded once

    const refused = await runCli([...base, '--model', 'emb-1', '--dim', '8']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--dim 8: model "emb-1" cannot shorten its vectors \(the "dimensions" parameter of \/v1\/embeddings is for text-embedding-3-\* models\)/);
    expect(server.requests.length).toBe(n1);
    const llm = { baseUrl: server.url, model: 'text-embedding-3-small', auth: 'bearer' as const, timeoutMs: 2000, maxRetries: 0, retryBaseMs: 1, retryMaxMs: 5, jsonMode: false, temperature: 0, maxTokens: 0 };
    await expect(runEmbed({ dir, provider: 'openai', llm: { ...llm, dimensions: 16 }, dim: 8 })).rejects.toThrow(/--dim 8 and --dimensions 16 differ/);
    await expect(runEmbed({ dir, provider: 'openai', llm: { ...llm, model: 'emb-1' }, dim: 8 })).rejects.toThrow(/model "emb-1" cannot shorten/);
    // a service that ignores "dimensions" (always 4 wide) is caught by the width check
    const deaf = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const input = (JSON.parse(body) as { input: string[] }).input;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: input.map((_, index) => ({ index, embedding: [0.5, 0.5, 0.5, 0.5] })) }));
      });
    });
    await new Promise<void>((ok) => deaf.listen(0, '127.0.0.1', ok));
    try {
      const url = `http://127.0.0.1:${(deaf.address() as AddressInfo).port}/v1`;
      await expect(runEmbed({ dir, out: join(tmp, 'deaf'), provider: 'openai', llm: { ...llm, baseUrl: url, model: 'text-embedding-3-large' }, dim: 8, batchSize: 100 }))
        .rejects.toThrow(/the service returned 4-wide vectors although dimensions=8 was asked/);
      const cached = readFileSync(join(dir, 'cache', 'embeddings.jsonl'), 'utf8');
      expect(cached).not.toContain('text-embedding-3-large'); // nothing of the wrong width was cached
    } finally {
      deaf.close();
    }
    const badType = await runCli(['embed', '--data', dir, '--dtype', 'bfloat16']);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/--dtype must be one of float32, float16, got "bfloat16"/);
    expect(existsSync(join(dir, 'cache', 'embeddings.jsonl'))).toBe(true);
  });
});
