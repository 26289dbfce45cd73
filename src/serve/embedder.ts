/**
 * Text embedders for cold start from raw text: new text must land in the same vector space as the
 * text vectors the model was trained on (usr_prf.npy, usr_int.npy, ...). Which embedder that is
 * comes from the dataset's embed.json (written by `irllrec embed`):
 *
 * - `openai`: the same model (and `dimensions`) through any OpenAI-compatible /v1/embeddings
 *   service; base URL from $OPENAI_BASE_URL (or embed.json's), key from $OPENAI_API_KEY (or the
 *   variable named by $IRLLREC_API_KEY_ENV). Keys are only ever read from the environment. The
 *   LLM client (src/text/llm.ts) is loaded on the first request, not when serving starts.
 * - `local` (TF-IDF + truncated SVD): `irllrec embed` saves its fit beside the vectors
 *   (embed-local.json and its projections, src/text/local-model.ts); `localEmbedder` applies it,
 *   so new text gets exactly the vector `embed` would have written for it.
 * - `local`, embedded by an older irllrec (embed.json without `local.model`): no fit was saved, so
 *   `localFoldInEmbedder` folds new text in approximately, with a linear map fitted once, on first
 *   use, from the dataset's own texts to their stored vectors (ridge regression,
 *   src/text/local-fold-in.ts); `foldInFidelity` reports the mean cosine between re-embedded
 *   training texts and their stored vectors (1 = exact). Re-running `irllrec embed` (and training
 *   on its vectors) makes cold start exact.
 */
import { join } from 'node:path';
import { embeddingTexts, EMBED_MANIFEST, readEmbedManifest, type EmbedManifest } from '../text/embed-files.js';
import { DEFAULT_LOCAL, applyLocalModel, type LocalTextModel } from '../text/local-embed.js';
import { fitRidgeFoldIn, type RidgeFoldIn } from '../text/local-fold-in.js';
import { readLocalModels } from '../text/local-model.js';
import type { LlmConfig, OpenAiClient } from '../text/llm.js';
import { readProfiles } from '../text/profile-files.js';
import { UnavailableError } from './errors.js';

export { readEmbedManifest, type EmbedManifest };

/** The OpenAI API base (text/llm.ts's DEFAULT_BASE_URL; not imported, so serving does not load the LLM client). */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export type TextKind = 'profile' | 'intent';

export interface TextEmbedder {
  /** e.g. "openai text-embedding-3-small", "local tfidf-svd-64", "local tfidf-svd-64 (approximate fold-in)" */
  readonly name: string;
  /** One vector per text, in the space of the training vectors of that kind. */
  embed(texts: string[], kind: TextKind, signal?: AbortSignal): Promise<Float32Array[]>;
}

/** An embedder on an OpenAI-compatible service (the one the training vectors came from). */
export function openAiEmbedder(cfg: LlmConfig): TextEmbedder {
  let client: Promise<OpenAiClient> | null = null;
  return {
    name: `openai ${cfg.model}`,
    async embed(texts) {
      client ??= import('../text/llm.js').then((m) => new m.OpenAiClient(cfg));
      const c = await client;
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += 64) out.push(...(await c.embed(texts.slice(i, i + 64))).vectors);
      return out;
    },
  };
}

/** The service configuration from embed.json and the environment (never from files for keys). */
export function openAiConfigFromManifest(m: EmbedManifest, env: NodeJS.ProcessEnv = process.env): LlmConfig {
  const keyVar = env.IRLLREC_API_KEY_ENV || 'OPENAI_API_KEY';
  const baseUrl = env.OPENAI_BASE_URL || (m.base_url && /^https?:\/\//.test(m.base_url) ? m.base_url : OPENAI_DEFAULT_BASE_URL);
  const cfg: LlmConfig = {
    baseUrl, model: m.model, auth: 'bearer', timeoutMs: 60_000, maxRetries: 4, retryBaseMs: 500, retryMaxMs: 10_000,
    jsonMode: false, temperature: 0, maxTokens: 0,
  };
  const key = env[keyVar];
  if (key) cfg.apiKey = key;
  if (m.dimensions) cfg.dimensions = m.dimensions;
  return cfg;
}

/** True when embed.json carries the local embedder's saved fit (exact cold start). */
export function hasLocalModel(m: EmbedManifest | null): boolean {
  return m?.provider === 'local' && typeof m.local?.model?.file === 'string';
}

/**
 * The local embedder saved beside `dir`'s embed.json (`manifest`): new text goes through the fit's
 * own TF-IDF and projection, exactly as `irllrec embed` embedded its texts.
 */
export function localEmbedder(dir: string, manifest: EmbedManifest): TextEmbedder {
  const ref = manifest.local?.model;
  if (manifest.provider !== 'local' || !ref) throw new UnavailableError(`${join(dir, EMBED_MANIFEST)} holds no saved local embedder (re-run "irllrec embed --provider local")`);
  let models: Partial<Record<TextKind, LocalTextModel>> | null = null;
  return {
    name: `local ${manifest.model}`,
    async embed(list, kind) {
      models ??= readLocalModels(dir, ref);
      const m = models[kind];
      if (!m) throw new UnavailableError(`the saved local embedder in ${dir} has no ${kind} model`);
      return list.map((t) => applyLocalModel(m, t));
    },
  };
}

/**
 * The approximate fold-in of one kind (datasets embedded before the fit was saved; see the module
 * doc): `docs` are the training texts, `stored` their vectors (rows of width `width`, same order).
 * @deprecated Kept for datasets embedded by older versions; new ones use `localEmbedder`.
 */
export function fitFoldIn(docs: string[], stored: Float32Array, width: number, o: { maxFeatures: number; maxDfRatio: number }): RidgeFoldIn {
  return fitRidgeFoldIn(docs, stored, width, o);
}

export interface LocalFoldInEmbedder extends TextEmbedder {
  /** Mean cosine between re-embedded training texts and their stored vectors, per kind fitted so far. */
  readonly foldInFidelity: Partial<Record<TextKind, number>>;
}

/**
 * The approximate fold-in for a dataset directory whose embed.json has no saved fit (see the
 * module doc). `stored` gives the training vectors of each kind: users' rows then items' rows.
 */
export function localFoldInEmbedder(
  datasetDir: string, manifest: EmbedManifest,
  stored: (kind: TextKind) => { data: Float32Array; width: number } | null,
): LocalFoldInEmbedder {
  const fits: Partial<Record<TextKind, RidgeFoldIn>> = {};
  const fidelity: Partial<Record<TextKind, number>> = {};
  let texts: ReturnType<typeof embeddingTexts> | null = null;
  const lo = manifest.local;
  const fit = (kind: TextKind): RidgeFoldIn => {
    const have = fits[kind];
    if (have) return have;
    const s = stored(kind);
    if (!s) throw new UnavailableError(`the model has no ${kind} text vectors to fold new text into`);
    if (!texts) {
      const { users, items } = readProfiles(datasetDir);
      texts = embeddingTexts(users, items);
    }
    const docs = kind === 'profile' ? [...texts.usrPrf, ...texts.itmPrf] : [...texts.usrInt, ...texts.itmInt];
    if (docs.length * s.width !== s.data.length) {
      throw new UnavailableError(`${datasetDir}: the profiles (${docs.length} texts) do not match the ${kind} vectors (${s.data.length / s.width} rows); re-run "irllrec embed"`);
    }
    const f = fitRidgeFoldIn(docs, s.data, s.width, { maxFeatures: lo?.max_features ?? DEFAULT_LOCAL.maxFeatures, maxDfRatio: lo?.max_df_ratio ?? DEFAULT_LOCAL.maxDfRatio });
    fits[kind] = f;
    fidelity[kind] = f.fidelity;
    return f;
  };
  return {
    name: `local ${manifest.model} (approximate fold-in)`,
    foldInFidelity: fidelity,
    async embed(list, kind) {
      const f = fit(kind);
      return list.map((t) => f.embed(t));
    },
  };
}
