/**
 * `embed`: the profile and intent texts of every user and item to the four text-vector files
 * `irllrec train` reads (usr_prf.npy, itm_prf.npy, usr_int.npy, itm_int.npy) plus embed.json
 * (provider, model, width, prompt hash, date, file hashes).
 *
 * Texts: profiles embed `profile.summarization`, intents embed the `intent` statement.
 * Providers: `local` (TF-IDF + truncated SVD, one fit per kind over users and items together, so
 * both sides share a space) and `openai` (/v1/embeddings, batched, retried; every vector is cached
 * in DIR/cache/embeddings.jsonl by sha256(model, dimensions, text), so a killed run resumes).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '../data/errors.js';
import { writeNpy } from '../data/formats/numpy.js';
import { TEXT_FILES } from '../data/text-vectors.js';
import { readIngestManifest } from '../ingest/corpus.js';
import { DATASET_FILES } from '../ingest/write.js';
import { writeFileAtomic } from '../util/atomic.js';
import { crashPoint } from '../util/fault.js';
import { Progress } from '../util/progress.js';
import { displayUrl, LlmError, OpenAiClient, type LlmConfig } from './llm.js';
import { DEFAULT_LOCAL, embedLocal, type LocalEmbedOptions } from './local-embed.js';
import { packageVersion } from './package.js';
import { PROFILE_FILES, readProfiles, type ProfileRecord } from './profile.js';
import { acquireLock, JsonlStore } from './store.js';

interface CachedVector {
  key: string;
  model: string;
  /** float32 little-endian, base64 */
  vector: string;
}

export const EMBED_MANIFEST = 'embed.json';
export const EMBED_CACHE = join(DATASET_FILES.cache, 'embeddings.jsonl');

export interface EmbedOptions {
  dir: string;
  /** where the .npy files go (default: the dataset directory, where `train` looks) */
  out?: string;
  provider: 'local' | 'openai';
  local?: Partial<LocalEmbedOptions>;
  llm?: LlmConfig;
  batchSize?: number;
  concurrency?: number;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

export interface EmbedSummary {
  dir: string;
  out: string;
  provider: string;
  model: string;
  width: number;
  files: string[];
  texts: number;
  requests: number;
  cached: number;
  prompt_tokens: number;
  retries: number;
  seconds: number;
}

type Kind = 'usrPrf' | 'itmPrf' | 'usrInt' | 'itmInt';
const KINDS: Kind[] = ['usrPrf', 'itmPrf', 'usrInt', 'itmInt'];

export function embeddingTexts(users: ProfileRecord[], items: ProfileRecord[]): Record<Kind, string[]> {
  const prf = (r: ProfileRecord) => String(r.profile.summarization ?? '');
  const int = (r: ProfileRecord) => String(r.intent.intent ?? '');
  return { usrPrf: users.map(prf), itmPrf: items.map(prf), usrInt: users.map(int), itmInt: items.map(int) };
}

function sha(b: string | Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function embedOpenAi(o: EmbedOptions, texts: Record<Kind, string[]>, dir: string, s: EmbedSummary, log: (s: string) => void): Promise<Record<Kind, Float32Array[]>> {
  const cfg = o.llm!;
  const client = new OpenAiClient(cfg);
  const cacheKey = (t: string) => sha(JSON.stringify([cfg.model, cfg.dimensions ?? null, t]));
  const cache = new JsonlStore<CachedVector>(join(dir, EMBED_CACHE), (r) => typeof r.vector === 'string');
  const unique = [...new Set(KINDS.flatMap((k) => texts[k]))];
  const missing = unique.filter((t) => !cache.has(cacheKey(t)));
  s.cached = unique.length - missing.length;
  const batchSize = Math.max(1, o.batchSize ?? 64);
  const batches: string[][] = [];
  for (let i = 0; i < missing.length; i += batchSize) batches.push(missing.slice(i, i + batchSize));
  log(`embed: ${unique.length} distinct texts, ${s.cached} cached, ${missing.length} to embed in ${batches.length} requests (model ${cfg.model} at ${displayUrl(cfg.baseUrl)})`);
  const bar = new Progress('embed', batches.length);
  let next = 0;
  let done = 0;
  let fatal: unknown = null;
  const worker = async () => {
    while (fatal === null && next < batches.length) {
      const b = batches[next++]!;
      try {
        const { vectors } = await client.embed(b, o.signal);
        b.forEach((t, k) => {
          cache.appendBuffered({ key: cacheKey(t), model: cfg.model, vector: Buffer.from(vectors[k]!.buffer, vectors[k]!.byteOffset, vectors[k]!.byteLength).toString('base64') });
        });
        cache.flush();
        crashPoint('embed-batch');
      } catch (e) {
        fatal = e;
      }
      bar.tick(++done, `tok ${(client.counters.promptTokens / 1000).toFixed(1)}k`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, batches.length)) }, worker));
  } finally {
    bar.done();
    cache.close();
  }
  s.requests = client.counters.requests;
  s.prompt_tokens = client.counters.promptTokens;
  s.retries = client.counters.retries;
  if (fatal) {
    const msg = fatal instanceof Error ? fatal.message : String(fatal);
    throw new LlmError(`${msg}; the vectors fetched so far are cached in ${join(dir, EMBED_CACHE)}, rerun to fetch only the rest`, null, false);
  }
  const vec = (t: string): Float32Array => {
    const b = Buffer.from(cache.get(cacheKey(t))!.vector, 'base64');
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };
  return Object.fromEntries(KINDS.map((k) => [k, texts[k].map(vec)])) as Record<Kind, Float32Array[]>;
}

export async function runEmbed(o: EmbedOptions): Promise<EmbedSummary> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const dir = resolve(o.dir);
  const im = readIngestManifest(o.dir);
  const { users, items, manifest: pm } = readProfiles(dir);
  if (users.length !== im.stats.users || items.length !== im.stats.items) {
    throw new DataError(join(dir, PROFILE_FILES.manifest), `profiles cover ${users.length} users / ${items.length} items but the dataset has ${im.stats.users} / ${im.stats.items}: rerun "irllrec profile"`);
  }
  const out = resolve(o.out ?? dir);
  const release = acquireLock(join(dir, DATASET_FILES.cache, 'embed.lock'), `${dir} (embed)`);
  const texts = embeddingTexts(users, items);
  const s: EmbedSummary = { dir, out, provider: o.provider, model: '', width: 0, files: [], texts: users.length * 2 + items.length * 2, requests: 0, cached: 0, prompt_tokens: 0, retries: 0, seconds: 0 };
  try {
    const mats: Partial<Record<Kind, { data: Float32Array; rows: number; width: number }>> = {};
    let local: Record<string, unknown> | null = null;
    if (o.provider === 'local') {
      const lo: LocalEmbedOptions = { ...DEFAULT_LOCAL, ...o.local };
      s.model = `tfidf-svd-${lo.dim}`;
      local = { dim: lo.dim, seed: lo.seed, max_features: lo.maxFeatures, max_df_ratio: lo.maxDfRatio, iterations: lo.iterations, vocabulary: {}, explained_variance: {} };
      for (const [u, i, name] of [['usrPrf', 'itmPrf', 'profile'], ['usrInt', 'itmInt', 'intent']] as const) {
        const t1 = performance.now();
        const e = embedLocal([...texts[u], ...texts[i]], lo);
        const nu = texts[u].length;
        mats[u] = { data: e.vectors.slice(0, nu * e.width), rows: nu, width: e.width };
        mats[i] = { data: e.vectors.slice(nu * e.width), rows: e.rows - nu, width: e.width };
        (local.vocabulary as Record<string, number>)[name] = e.vocabulary;
        (local.explained_variance as Record<string, number>)[name] = Math.round(e.explained * 10000) / 10000;
        if (e.width < lo.dim) log(`embed ${name}: only ${e.width} components exist (${e.rows} texts, vocabulary ${e.vocabulary}), so the width is ${e.width}, not ${lo.dim}`);
        log(`embed ${name}: ${e.rows} texts, vocabulary ${e.vocabulary}, width ${e.width}, explained ${(e.explained * 100).toFixed(1)}% (${((performance.now() - t1) / 1000).toFixed(1)}s)`);
      }
    } else {
      s.model = o.llm!.model;
      const vecs = await embedOpenAi(o, texts, dir, s, log);
      for (const k of KINDS) {
        const rows = vecs[k];
        const width = rows[0]?.length ?? 0;
        const data = new Float32Array(rows.length * width);
        rows.forEach((v, r) => {
          if (v.length !== width) throw new LlmError(`the service returned vectors of different widths (${width} and ${v.length})`, null, false);
          for (let c = 0; c < width; c++) {
            if (!Number.isFinite(v[c]!)) throw new LlmError(`the service returned a non-finite value for ${k} row ${r}`, null, false);
          }
          data.set(v, r * width);
        });
        mats[k] = { data, rows: rows.length, width };
      }
    }
    s.width = mats.usrPrf!.width;
    const files: Record<string, { rows: number; width: number; sha256: string }> = {};
    for (const k of KINDS) {
      const m = mats[k]!;
      const path = join(out, TEXT_FILES[k].npy);
      writeNpy(path, [m.rows, m.width], m.data);
      files[TEXT_FILES[k].npy] = { rows: m.rows, width: m.width, sha256: sha(readFileSync(path)) };
      s.files.push(path);
    }
    const prompts = pm.prompts as { hash?: string } | undefined;
    const manifest = {
      kind: 'irllrec-embeddings',
      version: 1,
      irllrec: packageVersion(),
      created: new Date().toISOString(),
      provider: o.provider,
      model: s.model,
      width: s.width,
      dimensions: o.provider === 'openai' ? (o.llm!.dimensions ?? null) : null,
      base_url: o.provider === 'openai' ? displayUrl(o.llm!.baseUrl) : null,
      prompt_hash: prompts?.hash ?? null,
      profiles: { provider: pm.provider, model: pm.model, offline: pm.offline, created: pm.created, manifest_sha256: sha(readFileSync(join(dir, PROFILE_FILES.manifest))) },
      texts: { usr_prf: 'user profile.summarization', itm_prf: 'item profile.summarization', usr_int: 'user intent.intent', itm_int: 'item intent.intent' },
      local,
      counts: { users: users.length, items: items.length },
      files,
    };
    const mf = join(out, EMBED_MANIFEST);
    writeFileAtomic(mf, `${JSON.stringify(manifest, null, 2)}\n`);
    s.files.push(mf);
    s.seconds = Math.round((performance.now() - t0) / 100) / 10;
    log(`wrote ${s.files.join(', ')} (${s.width} wide, ${s.seconds}s)`);
    return s;
  } finally {
    release();
  }
}

/** True when out already holds embeddings made from the current profiles (demo reuse). */
export function embeddingsCurrent(dir: string, out = dir): boolean {
  const mf = join(out, EMBED_MANIFEST);
  if (!existsSync(mf) || !existsSync(join(dir, PROFILE_FILES.manifest))) return false;
  try {
    const m = JSON.parse(readFileSync(mf, 'utf8')) as { profiles?: { manifest_sha256?: string } };
    return m.profiles?.manifest_sha256 === sha(readFileSync(join(dir, PROFILE_FILES.manifest)));
  } catch {
    return false;
  }
}
