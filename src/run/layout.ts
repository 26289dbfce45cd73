/**
 * The layout of a run directory (what `irllrec train --out RUN` writes), in one place for the
 * writers (src/cli/train.ts, ./snapshot.ts) and the readers (./open.ts, ./evaluate.ts):
 *
 * ```text
 * RUN/
 *   config.json          the resolved config
 *   run.json             {data, textDir, epochs}: where the run was started from (for --resume)
 *   model.safetensors    the evaluated model (best weights; final ones with --epochs)
 *   history.json         per-epoch losses and validation metrics
 *   summary.json         protocol, timing, final valid/test metrics
 *   manifest.json        size and SHA-256 of the five files above (src/run/verify.ts checks them)
 *   checkpoint/          weights, optimizer, RNG states after the last epoch (for --resume), and
 *                        its own manifest.json (size and SHA-256 of each of its files)
 *   data/                the run's own copy of what serving and evaluation read:
 *     dataset.json       what the copy holds, with each file's size and SHA-256 (written last:
 *                        without it the copy is incomplete)
 *     train.tsv valid.tsv test.tsv      the splits (user<TAB>item, 0-based indices)
 *     users.tsv items.tsv               the id maps (or the official *_user.json / *_item.json)
 *     usr_prf.npy itm_prf.npy usr_int.npy itm_int.npy   the text vectors the model used (float32, or float16 when the source was)
 *     text/users.jsonl text/items.jsonl text/profile.json   profiles and intents (explanations,
 *                                                        the approximate fold-in of older datasets)
 *     embed.json         the text embedder (cold start from raw text)
 *     embed-local.json embed-local-profile.npy embed-local-intent.npy   the local embedder's saved
 *                        fit, when embed.json refers to it (exact cold start from raw text)
 * ```
 */
import { join } from 'node:path';
import { TEXT_FILES } from '../data/text-vectors.js';
import type { TextVectors } from '../data/text-types.js';
import { EMBED_MANIFEST } from '../text/embed-files.js';
import { LOCAL_MODEL_FILES } from '../text/local-model.js';
import { PROFILE_FILES } from '../text/profile-files.js';

/** Files at the top of a run directory. */
export const RUN_FILES = {
  config: 'config.json',
  meta: 'run.json',
  model: 'model.safetensors',
  history: 'history.json',
  summary: 'summary.json',
  /** Size and SHA-256 of config, run, model, history and summary (written after each of them). */
  manifest: 'manifest.json',
  checkpoint: 'checkpoint',
  /** The run's own copy of the data (a directory). */
  data: 'data',
} as const;

/** Files inside RUN/data/ (paths relative to it). */
export const RUN_DATA_FILES = {
  manifest: 'dataset.json',
  splits: { train: 'train.tsv', valid: 'valid.tsv', test: 'test.tsv' },
  /** Id maps as `irllrec ingest` writes them; official mappers keep their own names. */
  users: 'users.tsv',
  items: 'items.tsv',
  /** The official mappers' suffixes (kept under their original names). */
  userMapperSuffix: '_user.json',
  itemMapperSuffix: '_item.json',
  /** Text vectors, always as float32 .npy (official pickles are converted). */
  text: Object.fromEntries(Object.entries(TEXT_FILES).map(([k, v]) => [k, v.npy])) as Record<keyof TextVectors, string>,
  /** The names readProfiles reads (text/users.jsonl, text/items.jsonl, text/profile.json). */
  profiles: PROFILE_FILES,
  /** The name readEmbedManifest reads. */
  embed: EMBED_MANIFEST,
  /** The local embedder's saved fit (beside embed.json, copied when embed.json refers to it). */
  localModel: LOCAL_MODEL_FILES,
} as const;

/** Version of dataset.json's format. */
export const RUN_DATA_VERSION = 1;

/** dataset.json: what RUN/data/ holds. */
export interface RunDataManifest {
  version: number;
  dataset: {
    /** The dataset's name (the original directory's name). */
    name: string;
    /** The directory the copy was made from. */
    source: string;
    /** The original format (sslrec-pkl splits are written as TSV here). */
    format: string;
    users: number;
    items: number;
  };
  /** Interactions per split, as written. */
  splits: { train: number; valid: number; test: number };
  /** Text-vector kinds copied, with their shape and where they came from. */
  text: { kind: keyof TextVectors; file: string; rows: number; cols: number; source: string | null }[];
  /** Id-map files (relative to RUN/data/), null where the index is the id. */
  ids: { users: string | null; items: string | null };
  /** Profiles and intents were copied (text/). */
  profiles: boolean;
  /** embed.json was copied. */
  embed: boolean;
  /** Every file of the copy with its size in bytes (a truncated copy is refused). */
  files: Record<string, number>;
  /** Every file's SHA-256 (a changed copy is refused); absent in copies of an older irllrec. */
  sha256?: Record<string, string>;
  created: string;
}

export function runPath(runDir: string, f: keyof typeof RUN_FILES): string {
  return join(runDir, RUN_FILES[f]);
}

export function runDataDir(runDir: string): string {
  return join(runDir, RUN_FILES.data);
}
