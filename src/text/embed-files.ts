/**
 * The artifacts `irllrec embed` writes beside the text vectors, and their readers, for everything
 * that only reads them (serving, run copies, the demo). Imports nothing of the LLM client (./llm.ts).
 *
 * - embed.json (EMBED_MANIFEST): provider, model, width, dtype, prompt hash, file hashes; for the
 *   local provider its options and `local.model`, the saved fit (./local-model.ts).
 * - which text each vector file embeds: `embeddingTexts`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_FILES } from '../ingest/write.js';
import type { ProfileRecord } from './profile-files.js';

export const EMBED_MANIFEST = 'embed.json';
export const EMBED_CACHE = join(DATASET_FILES.cache, 'embeddings.jsonl');

export type EmbedKind = 'usrPrf' | 'itmPrf' | 'usrInt' | 'itmInt';

/** The texts behind the four vector files: profiles embed `profile.summarization`, intents the `intent` statement. */
export function embeddingTexts(users: ProfileRecord[], items: ProfileRecord[]): Record<EmbedKind, string[]> {
  const prf = (r: ProfileRecord) => String(r.profile.summarization ?? '');
  const int = (r: ProfileRecord) => String(r.intent.intent ?? '');
  return { usrPrf: users.map(prf), itmPrf: items.map(prf), usrInt: users.map(int), itmInt: items.map(int) };
}

/** What serving reads of embed.json. */
export interface EmbedManifest {
  provider: 'local' | 'openai';
  model: string;
  width: number;
  dimensions?: number | null;
  base_url?: string | null;
  local?: {
    dim: number; seed: number; max_features: number; max_df_ratio: number; iterations: number;
    /** The saved fit (irllrec >= the exact fold-in); absent in older manifests. */
    model?: { file: string; sha256: string };
  } | null;
}

/** embed.json of a directory, or null when there is none (or it is not JSON). */
export function readEmbedManifest(dir: string): EmbedManifest | null {
  const f = join(dir, EMBED_MANIFEST);
  if (!existsSync(f)) return null;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as EmbedManifest;
  } catch {
    return null;
  }
}
