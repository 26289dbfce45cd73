/**
 * `embed`: the profile and intent texts of every user and item to the four text-vector files
 * `irllrec train` reads (usr_prf.npy, itm_prf.npy, usr_int.npy, itm_int.npy) plus embed.json
 * (provider, model, width, prompt hash, date, file hashes).
 *
 * Texts: profiles embed `profile.summarization`, intents embed the `intent` statement.
 * Providers: `local` (TF-IDF + truncated SVD, one fit per kind over users and items together, so
 * both sides share a space) and `openai` (/v1/embeddings, batched, retried; every vector is cached
 * in DIR/cache/embeddings.jsonl by sha256(model, dimensions, text), so a killed run resumes).
 *
 * Width and dtype: `dim` reduces the width (local: SVD components; openai: the `dimensions`
 * request parameter, text-embedding-3-* models only); `dtype: 'float16'` writes the four files as
 * float16 (`<f2`, half the size: round-to-nearest-even, finite values beyond +-65504 clamped and
 * counted, NaN never written). The cache always holds the service's float32 vectors: the dtype is
 * applied when the files are written, so changing it never refetches anything.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError } from '../data/errors.js';
import { writeNpy, type NpyWriteDtype } from '../data/formats/numpy.js';
import { TEXT_FILES } from '../data/text-vectors.js';
import { readIngestManifest } from '../ingest/corpus.js';
import { DATASET_FILES } from '../ingest/write.js';
import { writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { crashPoint } from '../util/fault.js';
import { Progress } from '../util/progress.js';
import { displayUrl, LlmError, OpenAiClient, type LlmConfig } from './llm.js';
import { EMBED_CACHE, EMBED_MANIFEST, embeddingTexts, type EmbedKind } from './embed-files.js';
import { DEFAULT_LOCAL, embedLocal, type LocalEmbedOptions, type LocalTextModel } from './local-embed.js';
import { writeLocalModels, type LocalKind } from './local-model.js';
import { manifestHeader } from '../util/package.js';
import { PROFILE_FILES, readProfiles } from './profile-files.js';
import { acquireLock, JsonlStore } from './store.js';

export { EMBED_CACHE, EMBED_MANIFEST, embeddingTexts } from './embed-files.js';

interface CachedVector {
  key: string;
  model: string;
  /** float32 little-endian, base64 */
  vector: string;
}


export interface EmbedOptions {
  dir: string;
  /** where the .npy files go (default: the dataset directory, where `train` looks) */
  out?: string;
  provider: 'local' | 'openai';
  /**
   * Vector width: local, the SVD components (default 64; same as `local.dim`); openai, the
   * `dimensions` request parameter (same as `llm.dimensions`), refused for models that do not take
   * it (only text-embedding-3-* do; set `llm.dimensions` directly for other services that do).
   */
  dim?: number;
  /** dtype of the four .npy files (default float32); the cache stays float32 */
  dtype?: NpyWriteDtype;
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
  /** dtype of the .npy files */
  dtype: NpyWriteDtype;
  /** the width asked for (local: --dim, openai: dimensions), null when the model's own */
  dim: number | null;
  /** float16: finite values beyond +-65504 written as +-65504, over the four files */
  clamped: number;
  files: string[];
  texts: number;
  requests: number;
  cached: number;
  prompt_tokens: number;
  retries: number;
  seconds: number;
}

type Kind = EmbedKind;
const KINDS: Kind[] = ['usrPrf', 'itmPrf', 'usrInt', 'itmInt'];

/** OpenAI models that take the `dimensions` parameter (shortened embeddings). */
export function takesDimensions(model: string): boolean {
  return /(^|[/:])text-embedding-3-/.test(model);
}

function sha(b: string | Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** SHA-256 of a file read in 1 MiB chunks (text-vector files can exceed what one read holds). */
function shaFile(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
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
        // a service that ignores "dimensions" must not fill the cache with vectors of another width
        const off = cfg.dimensions === undefined ? undefined : vectors.find((v) => v.length !== cfg.dimensions);
        if (off) throw new LlmError(`the service returned ${off.length}-wide vectors although dimensions=${cfg.dimensions} was asked (does model ${cfg.model} take "dimensions"?)`, null, false);
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
  const dtype = o.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') throw new UserError(`embed: dtype must be float32 or float16, got ${JSON.stringify(dtype)}`);
  if (o.dim !== undefined && (!Number.isSafeInteger(o.dim) || o.dim < 1)) throw new UserError(`embed: dim must be a positive integer, got ${o.dim}`);
  let llm = o.llm;
  let dimAsked: number | null = null;
  if (o.provider === 'local') {
    if (o.dim !== undefined && o.local?.dim !== undefined && o.local.dim !== o.dim) throw new UserError(`embed: dim ${o.dim} and local.dim ${o.local.dim} differ`);
    dimAsked = o.dim ?? o.local?.dim ?? DEFAULT_LOCAL.dim;
  } else {
    if (!llm) throw new UserError('embed: the openai provider needs the service configuration (llm)');
    if (o.dim !== undefined) {
      if (llm.dimensions !== undefined && llm.dimensions !== o.dim) throw new UserError(`embed: --dim ${o.dim} and --dimensions ${llm.dimensions} differ (give one)`);
      if (llm.dimensions === undefined && !takesDimensions(llm.model)) {
        throw new UserError(
          `embed: --dim ${o.dim}: model ${JSON.stringify(llm.model)} cannot shorten its vectors (the "dimensions" parameter of /v1/embeddings is for text-embedding-3-* models); ` +
            'use a text-embedding-3 model, leave --dim out for the full width, or pass --dimensions N if your service supports it for this model',
        );
      }
      llm = { ...llm, dimensions: o.dim };
    }
    dimAsked = llm.dimensions ?? null;
  }
  const release = acquireLock(join(dir, DATASET_FILES.cache, 'embed.lock'), `${dir} (embed)`);
  const texts = embeddingTexts(users, items);
  const s: EmbedSummary = { dir, out, provider: o.provider, model: '', width: 0, dtype, dim: dimAsked, clamped: 0, files: [], texts: users.length * 2 + items.length * 2, requests: 0, cached: 0, prompt_tokens: 0, retries: 0, seconds: 0 };
  try {
    const mats: Partial<Record<Kind, { data: Float32Array; rows: number; width: number }>> = {};
    let local: Record<string, unknown> | null = null;
    const fits: Partial<Record<LocalKind, { model: LocalTextModel; texts: number; fitError: number }>> = {};
    if (o.provider === 'local') {
      const lo: LocalEmbedOptions = { ...DEFAULT_LOCAL, ...o.local, dim: dimAsked! };
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
        fits[name] = { model: e.model, texts: e.rows, fitError: e.fitError };
        if (e.fitError > 1e-6) log(`embed ${name}: the saved model reproduces the vectors to ${e.fitError.toExponential(1)} only (numerically degenerate texts?)`);
        if (e.width < lo.dim) log(`embed ${name}: only ${e.width} components exist (${e.rows} texts, vocabulary ${e.vocabulary}), so the width is ${e.width}, not ${lo.dim}`);
        log(`embed ${name}: ${e.rows} texts, vocabulary ${e.vocabulary}, width ${e.width}, explained ${(e.explained * 100).toFixed(1)}% (${((performance.now() - t1) / 1000).toFixed(1)}s)`);
      }
    } else {
      s.model = llm!.model;
      const vecs = await embedOpenAi({ ...o, llm }, texts, dir, s, log);
      for (const k of KINDS) {
        const rows = vecs[k];
        const width = rows[0]?.length ?? 0;
        if (llm!.dimensions !== undefined && rows.length && width !== llm!.dimensions) {
          throw new LlmError(`the service returned ${width}-wide vectors although dimensions=${llm!.dimensions} was asked (does model ${llm!.model} take "dimensions"?)`, null, false);
        }
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
    const files: Record<string, { rows: number; width: number; dtype: NpyWriteDtype; sha256: string }> = {};
    for (const k of KINDS) {
      const m = mats[k]!;
      const path = join(out, TEXT_FILES[k].npy);
      // float32 in memory (and in the cache); the dtype applies here only
      const { clamped } = writeNpy(path, [m.rows, m.width], m.data, { dtype });
      if (clamped) log(`embed: ${clamped} value(s) of ${TEXT_FILES[k].npy} beyond the float16 range were clamped to +-65504`);
      s.clamped += clamped;
      files[TEXT_FILES[k].npy] = { rows: m.rows, width: m.width, dtype, sha256: shaFile(path) };
      s.files.push(path);
    }
    if (local) {
      // the fit, for cold start from raw text (written before embed.json, which refers to it)
      const { files: written, ref } = writeLocalModels(out, fits, { dim: local.dim, seed: local.seed, max_features: local.max_features, min_df: o.local?.minDf ?? null, max_df_ratio: local.max_df_ratio, iterations: local.iterations });
      local.model = ref;
      s.files.push(...written);
    }
    const prompts = pm.prompts as { hash?: string } | undefined;
    const manifest = {
      ...manifestHeader('irllrec-embeddings', 1),
      provider: o.provider,
      model: s.model,
      width: s.width,
      dtype,
      dim: dimAsked,
      float16_clamped: dtype === 'float16' ? s.clamped : null,
      dimensions: o.provider === 'openai' ? (llm!.dimensions ?? null) : null,
      base_url: o.provider === 'openai' ? displayUrl(llm!.baseUrl) : null,
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
    log(`wrote ${s.files.join(', ')} (${s.width} wide, ${dtype}, ${s.seconds}s)`);
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
