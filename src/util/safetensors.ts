/**
 * safetensors read/write (float32 only): an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw data.
 * Files load in Python with `safetensors.numpy.load_file` / `safetensors.torch.load_file` as-is.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { UserError } from './errors.js';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function encodeSafetensors(tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new RangeError(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  // pad the header with spaces so the data starts 8-byte aligned
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hbytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}

export function writeSafetensors(path: string, tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** A file that is not a valid safetensors file; the message names the file and the tensor. */
export class SafetensorsError extends UserError {
  constructor(readonly file: string, readonly why: string) {
    super(`${file}: not a valid safetensors file (${why})`);
    this.name = 'SafetensorsError';
  }
}

/** Bytes per element of every dtype the format defines. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** The largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Offsets of the tensor's bytes within the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Record<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Where the data section starts in the file. */
  dataStart: number;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/**
 * Parses and checks the header of a safetensors file held in `buf`: the header length lies within
 * the file, the header is a JSON object, every tensor has a known dtype, a shape of non-negative
 * integers and two non-negative integer data offsets whose span is exactly shape x dtype bytes, and
 * the tensors tile the data section exactly (sorted by offset, no overlap, no gap, nothing after).
 */
export function parseSafetensorsHeader(buf: Uint8Array, file = 'safetensors'): SafetensorsHeader {
  const fail = (why: string) => new SafetensorsError(file, why);
  if (buf.length < 8) throw fail(`${buf.length} bytes, shorter than the 8-byte header length: truncated`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlenBig = view.getBigUint64(0, true);
  if (hlenBig > BigInt(buf.length - 8)) throw fail(`the header length ${hlenBig} runs past the end of the file (${buf.length} bytes): truncated`);
  const hlen = Number(hlenBig);
  if (hlen > MAX_HEADER_BYTES) throw fail(`a header of ${hlen} bytes is larger than ${MAX_HEADER_BYTES}`);
  if (hlen < 2) throw fail('the header is empty');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + hlen));
  } catch {
    throw fail('the header is not UTF-8 text');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not JSON: ${(e as Error).message.replace(/\s+/g, ' ').slice(0, 160)}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('the header is not a JSON object');
  const dataStart = 8 + hlen;
  const dataLen = buf.length - dataStart;
  const tensors: Record<string, TensorInfo> = {};
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
        throw fail('__metadata__ must map names to strings');
      }
      metadata = { ...(v as Record<string, string>) };
      continue;
    }
    const t = JSON.stringify(name);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`tensor ${t}: not an object`);
    const { dtype, shape, data_offsets: off } = v as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPES)) throw fail(`tensor ${t}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw fail(`tensor ${t}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(off) || off.length !== 2) throw fail(`tensor ${t}: data_offsets ${JSON.stringify(off)} is not a pair [begin, end]`);
    const [begin, end] = off as unknown[];
    if (!isCount(begin) || !isCount(end)) throw fail(`tensor ${t}: data_offsets ${JSON.stringify(off)} are not non-negative integers`);
    if (end < begin) throw fail(`tensor ${t}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) throw fail(`tensor ${t}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): truncated`);
    let bytes = SAFETENSORS_DTYPES[dtype]!;
    for (const d of shape as number[]) bytes *= d;
    if (bytes !== end - begin) throw fail(`tensor ${t}: shape [${(shape as number[]).join(', ')}] of ${dtype} takes ${bytes} bytes, its data_offsets [${begin}, ${end}] span ${end - begin}`);
    tensors[name] = { dtype, shape: [...(shape as number[])], begin, end };
  }
  // the tensors tile the data section: sorted by offset, each starts where the previous ended
  const order = Object.entries(tensors).sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  let prev = '';
  for (const [name, t] of order) {
    if (t.begin < at) throw fail(`tensor ${JSON.stringify(name)}: data_offsets [${t.begin}, ${t.end}] overlap those of ${JSON.stringify(prev)}`);
    if (t.begin > at) throw fail(`tensor ${JSON.stringify(name)}: data_offsets [${t.begin}, ${t.end}] leave bytes ${at}..${t.begin} unused`);
    at = t.end;
    prev = name;
  }
  if (at !== dataLen) throw fail(`the tensors cover ${at} of the ${dataLen} data bytes`);
  return { tensors, metadata, dataStart };
}

/** Decodes a safetensors file held in memory (float32 tensors only; the header is checked first). */
export function decodeSafetensors(buf: Uint8Array, file = 'safetensors'): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  const h = parseSafetensorsHeader(buf, file);
  const tensors: Record<string, NamedArray> = {};
  for (const [name, t] of Object.entries(h.tensors)) {
    if (t.dtype !== 'F32') throw new SafetensorsError(file, `tensor ${JSON.stringify(name)}: dtype ${t.dtype} is not supported here (only F32)`);
    const data = new Float32Array((t.end - t.begin) / 4);
    new Uint8Array(data.buffer).set(buf.subarray(h.dataStart + t.begin, h.dataStart + t.end));
    tensors[name] = { shape: t.shape, data };
  }
  return { tensors, metadata: h.metadata };
}

/** Reads a safetensors file; every failure (missing, unreadable, malformed) is a SafetensorsError. */
export function readSafetensors(path: string): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SafetensorsError(path, code === 'ENOENT' ? 'the file is missing' : `cannot read it: ${code ?? (e as Error).message}`);
  }
  return decodeSafetensors(buf, path);
}
