/**
 * The saved fit of the local embedder (./local-embed.ts): what `irllrec embed --provider local`
 * writes beside its vectors so that new text (cold start from raw text) is embedded exactly as
 * the fit embedded its own documents. Imports nothing of the LLM client (./llm.ts).
 *
 * ```text
 * embed-local.json           {kind, version, options, models: {profile, intent}}: per kind the
 *                            vocabulary, idf, fallback direction, width, fit_error, and its
 *                            projection file with shape and SHA-256
 * embed-local-profile.npy    the profile projection, float64 [vocabulary, width]
 * embed-local-intent.npy     the intent projection, float64 [vocabulary, width]
 * ```
 *
 * The projections are written first, the JSON (with their hashes) after them, and embed.json
 * (with the JSON's hash in `local.model`) last, each atomically: a reader that finds embed.json's
 * reference finds a complete model. Numbers in the JSON are float64 written by JSON.stringify,
 * which reads back to the same doubles.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/errors.js';
import { readNpy } from '../data/formats/numpy.js';
import { writeFileAtomic } from '../util/atomic.js';
import { manifestHeader } from '../util/package.js';
import { makeLocalModel, type LocalTextModel } from './local-embed.js';

export type LocalKind = 'profile' | 'intent';
export const LOCAL_KINDS: readonly LocalKind[] = ['profile', 'intent'];

export const LOCAL_MODEL_FILES = {
  manifest: 'embed-local.json',
  projection: { profile: 'embed-local-profile.npy', intent: 'embed-local-intent.npy' } as Record<LocalKind, string>,
} as const;

export const LOCAL_MODEL_KIND = 'irllrec-local-embedder';
export const LOCAL_MODEL_VERSION = 1;

/** embed.json's `local.model`: which file holds the fit, and its SHA-256. */
export interface LocalModelRef {
  file: string;
  sha256: string;
}

interface SavedKind {
  texts: number;
  width: number;
  vocabulary: string[];
  idf: number[];
  fallback: number[];
  fit_error: number;
  projection: { file: string; shape: [number, number]; dtype: 'float64'; sha256: string };
}

interface SavedModels {
  kind: string;
  version: number;
  models: Partial<Record<LocalKind, SavedKind>>;
}

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** A C-order little-endian float64 .npy (v1.0 header, padded to 64 bytes as numpy.save does). */
function npyFloat64(shape: readonly [number, number], data: Float64Array): Buffer {
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = `${dict}${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

/**
 * Writes the fits (projections, then embed-local.json) into `dir`; returns the files written and
 * the reference embed.json keeps.
 */
export function writeLocalModels(
  dir: string, fits: Partial<Record<LocalKind, { model: LocalTextModel; texts: number; fitError: number }>>, options: Record<string, unknown>,
): { files: string[]; ref: LocalModelRef } {
  const files: string[] = [];
  const models: Partial<Record<LocalKind, SavedKind>> = {};
  for (const kind of LOCAL_KINDS) {
    const f = fits[kind];
    if (!f) continue;
    const m = f.model;
    const rel = LOCAL_MODEL_FILES.projection[kind];
    const shape: [number, number] = [m.vocabulary.length, m.width];
    const bytes = npyFloat64(shape, m.projection);
    writeFileAtomic(join(dir, rel), bytes);
    files.push(join(dir, rel));
    models[kind] = {
      texts: f.texts, width: m.width, vocabulary: m.vocabulary, idf: Array.from(m.idf), fallback: Array.from(m.fallback), fit_error: f.fitError,
      projection: { file: rel, shape, dtype: 'float64', sha256: sha(bytes) },
    };
  }
  const json = `${JSON.stringify({ ...manifestHeader(LOCAL_MODEL_KIND, LOCAL_MODEL_VERSION), options, tokenizer: 'terms() of src/text/tokenize.ts', models })}\n`;
  const mf = join(dir, LOCAL_MODEL_FILES.manifest);
  writeFileAtomic(mf, json);
  files.push(mf);
  return { files, ref: { file: LOCAL_MODEL_FILES.manifest, sha256: sha(json) } };
}

/** A plain file name (the model's files sit beside embed.json). */
function plainName(f: unknown): f is string {
  return typeof f === 'string' && f !== '' && f !== '.' && f !== '..' && !/[/\\]/.test(f);
}

function readSaved(dir: string, ref: LocalModelRef): { file: string; saved: SavedModels } {
  if (!ref || !plainName(ref.file)) throw new DataError(join(dir, 'embed.json'), `local.model.file must be a file name beside embed.json, got ${JSON.stringify(ref?.file)}`);
  const file = join(dir, ref.file);
  if (!existsSync(file)) throw new DataError(file, 'missing (embed.json refers to it): re-run "irllrec embed --provider local", or copy it with the vectors');
  const text = readFileSync(file);
  if (typeof ref.sha256 === 'string' && sha(text) !== ref.sha256) throw new DataError(file, 'its SHA-256 differs from the one embed.json recorded (written by another embed run?): re-run "irllrec embed --provider local"');
  let saved: SavedModels;
  try {
    saved = JSON.parse(text.toString('utf8')) as SavedModels;
  } catch (e) {
    throw new DataError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (saved?.kind !== LOCAL_MODEL_KIND || typeof saved.models !== 'object' || saved.models === null) throw new DataError(file, `not a saved local embedder (kind ${JSON.stringify(saved?.kind)})`);
  if (typeof saved.version !== 'number' || saved.version > LOCAL_MODEL_VERSION) throw new DataError(file, `version ${saved.version} is newer than this irllrec understands (${LOCAL_MODEL_VERSION}); upgrade irllrec`);
  return { file, saved };
}

/** The files a saved model consists of (names beside embed.json): the JSON, then the projections. */
export function localModelFiles(dir: string, ref: LocalModelRef): string[] {
  const { saved } = readSaved(dir, ref);
  return [ref.file, ...LOCAL_KINDS.flatMap((k) => (saved.models[k] ? [saved.models[k]!.projection.file] : []))];
}

/** Reads the saved fits of `dir` (checked against their hashes and shapes). */
export function readLocalModels(dir: string, ref: LocalModelRef): Partial<Record<LocalKind, LocalTextModel>> {
  const { file, saved } = readSaved(dir, ref);
  const out: Partial<Record<LocalKind, LocalTextModel>> = {};
  for (const kind of LOCAL_KINDS) {
    const s = saved.models[kind];
    if (!s) continue;
    const p = s.projection;
    if (!p || !plainName(p.file)) throw new DataError(file, `models.${kind}.projection.file must be a file name, got ${JSON.stringify(p?.file)}`);
    const pf = join(dir, p.file);
    if (!existsSync(pf)) throw new DataError(pf, `missing (${file} refers to it)`);
    if (typeof p.sha256 === 'string' && sha(readFileSync(pf)) !== p.sha256) throw new DataError(pf, `its SHA-256 differs from the one ${file} recorded`);
    const a = readNpy(pf);
    const V = s.vocabulary?.length;
    if (a.descr !== '<f8' || a.shape.length !== 2 || a.shape[0] !== V || a.shape[1] !== s.width) {
      throw new DataError(pf, `expected float64 [${V}, ${s.width}], got ${a.descr} [${a.shape.join(', ')}]`);
    }
    try {
      out[kind] = makeLocalModel(s.vocabulary, Float64Array.from(s.idf), s.width, a.data as Float64Array, Float64Array.from(s.fallback));
    } catch (e) {
      throw new DataError(file, `models.${kind}: ${(e as Error).message}`);
    }
  }
  return out;
}
