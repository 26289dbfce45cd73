/**
 * safetensors read/write (float32 only): an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw data.
 * Files load in Python with `safetensors.numpy.load_file` / `safetensors.torch.load_file` as-is.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

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

export function readSafetensors(path: string): { tensors: Record<string, NamedArray>; metadata: Record<string, string> } {
  const buf = readFileSync(path);
  const fail = (why: string) => new Error(`${path}: not a valid safetensors file (${why})`);
  if (buf.length < 8) throw fail('too short');
  const hlen = Number(buf.readBigUInt64LE(0));
  if (hlen > buf.length - 8) throw fail('header length beyond the end of the file');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
  } catch {
    throw fail('header is not JSON');
  }
  const base = 8 + hlen;
  const tensors: Record<string, NamedArray> = {};
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (t.dtype !== 'F32') throw fail(`${name} has dtype ${t.dtype}; only F32 is supported`);
    const [s, e] = t.data_offsets;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (e - s !== 4 * n || base + e > buf.length) throw fail(`${name}: bad data offsets`);
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buf.subarray(base + s, base + e));
    tensors[name] = { shape: t.shape, data };
  }
  return { tensors, metadata };
}
