/**
 * The profile artifacts `irllrec profile` writes (DIR/text/users.jsonl, items.jsonl, profile.json)
 * and their reader, for everything that only reads them (embed, serving, the demo, run copies).
 * Imports nothing of the LLM client (./llm.ts): serving reads profiles without loading it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_FILES } from '../ingest/write.js';
import { UserError } from '../util/errors.js';
import type { Answer } from './schema.js';

export const TEXT_DIR = 'text';
/** The answer store of `irllrec profile` (one JSON line per answer). */
export const STORE_FILE = join(DATASET_FILES.cache, 'llm.jsonl');
export const PROFILE_FILES = { users: join(TEXT_DIR, 'users.jsonl'), items: join(TEXT_DIR, 'items.jsonl'), manifest: join(TEXT_DIR, 'profile.json') };

export interface ProfileRecord {
  id: number;
  key: string;
  title?: string;
  profile: Answer;
  intent: Answer;
  source: { provider: string; model: string; offline: boolean };
}

/** Profiles missing, unfinished or not matching their manifest (rerun `irllrec profile`). */
export class ProfileFilesError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileFilesError';
  }
}

/** SHA-256 of a file (hex). */
export function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Reads the profile outputs back (for embed, serving and the demo), checking them against profile.json. */
export function readProfiles(dir: string): { users: ProfileRecord[]; items: ProfileRecord[]; manifest: Record<string, unknown> } {
  const mf = join(dir, PROFILE_FILES.manifest);
  if (!existsSync(mf)) {
    const store = join(dir, STORE_FILE);
    throw new ProfileFilesError(`${dir}: no ${PROFILE_FILES.manifest}: run "irllrec profile --data ${dir}" first${existsSync(store) ? ' (an unfinished run left answers in the store; rerun it to finish)' : ''}`);
  }
  const manifest = JSON.parse(readFileSync(mf, 'utf8')) as Record<string, unknown> & { files: Record<string, string> };
  const read = (f: string): ProfileRecord[] => {
    const path = join(dir, f);
    if (!existsSync(path) || fileHash(path) !== manifest.files[f]) {
      throw new ProfileFilesError(`${path} does not match ${mf} (an interrupted or concurrent profile run?); rerun "irllrec profile --data ${dir}" (answers come from the store)`);
    }
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as ProfileRecord);
  };
  return { users: read(PROFILE_FILES.users), items: read(PROFILE_FILES.items), manifest };
}
