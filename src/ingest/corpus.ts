/** Reads an ingested dataset directory's manifest and corpora back (for `profile` and `embed`). */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError, readFileForData } from '../data/errors.js';
import { jsonLines } from '../data/jsonl.js';
import type { CorpusRecord } from './pipeline.js';
import { DATASET_FILES } from './write.js';

export interface IngestManifest {
  kind: string;
  format: string;
  domain: string;
  options: { like_threshold: number | null; min_rating: number | null; split: string; seed: number };
  stats: { users: number; items: number };
}

export interface Corpus {
  dir: string;
  manifest: IngestManifest;
  users: CorpusRecord[];
  items: CorpusRecord[];
}

function readJsonl(file: string, expect: number): CorpusRecord[] {
  const out: CorpusRecord[] = [];
  for (const { value, line: no } of jsonLines(file)) {
    const r = value as CorpusRecord;
    if (typeof r !== 'object' || r === null || r.id !== out.length || typeof r.key !== 'string' || !Array.isArray(r.feedback) || typeof r.attributes !== 'object') {
      throw new DataError(file, `expected the record of id ${out.length} ({id, key, attributes, feedback, ...})`, { line: no });
    }
    out.push(r);
  }
  if (out.length !== expect) throw new DataError(file, `has ${out.length} records but ingest.json says ${expect}`);
  return out;
}

/** True when dir looks like an ingested dataset (has ingest.json). */
export function isIngested(dir: string): boolean {
  return existsSync(join(dir, DATASET_FILES.manifest));
}

export function readIngestManifest(dirArg: string): IngestManifest {
  const dir = resolve(dirArg);
  const file = join(dir, DATASET_FILES.manifest);
  if (!existsSync(dir)) throw new DataError(dirArg, 'dataset directory not found');
  if (!existsSync(file)) throw new DataError(dirArg, `not an ingested dataset (no ${DATASET_FILES.manifest}); create one with "irllrec ingest"`);
  let m: IngestManifest;
  try {
    m = JSON.parse(readFileForData(file).toString('utf8')) as IngestManifest;
  } catch (e) {
    throw new DataError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (m?.kind !== 'irllrec-dataset' || typeof m.stats?.users !== 'number' || typeof m.stats?.items !== 'number') {
    throw new DataError(file, 'not an irllrec dataset manifest (kind "irllrec-dataset" with stats.users and stats.items expected)');
  }
  return m;
}

export function readCorpus(dirArg: string): Corpus {
  const dir = resolve(dirArg);
  const manifest = readIngestManifest(dirArg);
  return {
    dir,
    manifest,
    users: readJsonl(join(dir, DATASET_FILES.userCorpus), manifest.stats.users),
    items: readJsonl(join(dir, DATASET_FILES.itemCorpus), manifest.stats.items),
  };
}
