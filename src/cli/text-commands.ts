/**
 * The text pipeline commands: `ingest` (raw data to a dataset directory), `profile` (LLM or
 * offline profiles and intents) and `embed` (text vectors for `train`). See docs/text-pipeline.md.
 */
import type { Command } from 'commander';
import { FORMATS, ingest, SPLITS, type Format, type IngestOptions } from '../ingest/index.js';
import type { SplitKind } from '../ingest/pipeline.js';
import { runEmbed, takesDimensions } from '../text/embed.js';
import { DEFAULT_BASE_URL, type LlmConfig } from '../text/llm.js';
import { DEFAULT_LOCAL } from '../text/local-embed.js';
import { runProfile } from '../text/profile.js';
import { outputProblem } from '../util/atomic.js';
import { DEFAULT_BUDGET } from '../text/tasks.js';
import { runCommand, UsageError } from './errors.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const log = (s: string) => process.stderr.write(`${s}\n`);

/** A number option: integer or not, within [min, max]. */
export function num(name: string, v: string | undefined, o: { min?: number; max?: number; int?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  const ok = o.int ? /^-?\d+$/.test(v.trim()) : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim());
  const x = Number(v);
  if (!ok || !Number.isFinite(x) || (o.min !== undefined && x < o.min) || (o.max !== undefined && x > o.max)) {
    const range = o.min !== undefined && o.max !== undefined ? ` in [${o.min}, ${o.max}]` : o.min !== undefined ? ` >= ${o.min}` : '';
    throw new UsageError(`${name} must be ${o.int ? 'an integer' : 'a number'}${range}, got ${JSON.stringify(v)}`);
  }
  return x;
}

function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!allowed.includes(v as T)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Exit 130 on Ctrl-C with a note on resuming (answers are on disk already). */
function onInterrupt(what: string): void {
  process.once('SIGINT', () => {
    process.stderr.write(`\nirllrec: interrupted; ${what}\n`);
    process.exit(130);
  });
}

export interface IngestCli {
  format?: string; out?: string; force?: boolean; dir?: string; reviews?: string; meta?: string; name?: string;
  interactions?: string; map?: string; items?: string; itemMap?: string; users?: string; userMap?: string; sep?: string; listSep?: string;
  domain?: string; minRating?: string; likeThreshold?: string; kcore?: string; dedup?: string; split?: string; ratios?: string;
  order?: string; seed?: string; negatives?: boolean; json?: boolean;
}

export function ingestOptions(o: IngestCli): IngestOptions {
  if (!o.format) throw new UsageError(`--format is required (${FORMATS.join(', ')})`);
  const format = oneOf('--format', o.format, FORMATS) as Format;
  if (!o.out) throw new UsageError('--out DIR is required (the dataset directory to create)');
  const orNone = (name: string, v: string | undefined) => (v === undefined ? undefined : v === 'none' ? null : num(name, v)!);
  let kcore: [number, number] | undefined;
  if (o.kcore !== undefined) {
    const parts = o.kcore.split(/[,/]/).map((p) => num('--kcore', p, { min: 0, int: true })!);
    if (parts.length < 1 || parts.length > 2) throw new UsageError(`--kcore takes K or USER_K,ITEM_K, got ${JSON.stringify(o.kcore)}`);
    kcore = [parts[0]!, parts[1] ?? parts[0]!];
  }
  let ratios: [number, number, number] | undefined;
  if (o.ratios !== undefined) {
    const parts = o.ratios.split(/[,:]/).map((p) => num('--ratios', p, { min: 0 })!);
    if (parts.length !== 3) throw new UsageError(`--ratios takes three numbers (train,valid,test), e.g. 3,1,1 or 8:1:1; got ${JSON.stringify(o.ratios)}`);
    ratios = parts as [number, number, number];
  }
  const out: IngestOptions = {
    format, out: o.out, force: Boolean(o.force), dir: o.dir, reviews: o.reviews, meta: o.meta, name: o.name,
    interactions: o.interactions, map: o.map, items: o.items, itemMap: o.itemMap, users: o.users, userMap: o.userMap,
    sep: o.sep, listSep: o.listSep, domain: o.domain,
    minRating: orNone('--min-rating', o.minRating), likeThreshold: orNone('--like-threshold', o.likeThreshold),
    kcore, dedup: oneOf('--dedup', o.dedup, ['first', 'last'] as const), split: oneOf('--split', o.split, SPLITS as SplitKind[]),
    ratios, order: oneOf('--order', o.order, ['time', 'random'] as const), seed: num('--seed', o.seed, { min: 0, int: true }),
    negatives: o.negatives,
  };
  for (const k of Object.keys(out) as (keyof IngestOptions)[]) if (out[k] === undefined) delete out[k];
  return out;
}

export interface LlmCli {
  baseUrl?: string; model?: string; apiKeyEnv?: string; auth?: string; timeout?: string; maxRetries?: string;
  retryBaseMs?: string; temperature?: string; maxTokens?: string; seed?: string; jsonMode?: boolean; dimensions?: string;
}

/** The service configuration; the key is read from the environment variable named by --api-key-env. */
export function llmConfig(o: LlmCli, defaults: { model: string; timeoutS: number }): LlmConfig {
  const baseUrl = o.baseUrl ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL;
  const envName = o.apiKeyEnv ?? 'OPENAI_API_KEY';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) throw new UsageError(`--api-key-env takes the NAME of an environment variable (the key itself never goes on the command line), got ${JSON.stringify(envName.slice(0, 4))}...`);
  const auth = oneOf('--auth', o.auth, ['bearer', 'api-key', 'none'] as const) ?? 'bearer';
  const apiKey = auth === 'none' ? undefined : process.env[envName] || undefined;
  let host = '';
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    // checked by the client with a clear message
  }
  if (!apiKey && auth !== 'none' && (host === 'api.openai.com' || host.endsWith('.openai.azure.com'))) {
    throw new UsageError(`${host} needs an API key: set the environment variable ${envName} (or name another one with --api-key-env)`);
  }
  const timeoutS = num('--timeout', o.timeout, { min: 1 }) ?? defaults.timeoutS;
  const cfg: LlmConfig = {
    baseUrl,
    model: o.model ?? defaults.model,
    auth: auth === 'api-key' ? 'api-key' : 'bearer',
    timeoutMs: timeoutS * 1000,
    maxRetries: num('--max-retries', o.maxRetries, { min: 0, max: 100, int: true }) ?? 6,
    retryBaseMs: num('--retry-base-ms', o.retryBaseMs, { min: 0 }) ?? 1000,
    retryMaxMs: 60_000,
    jsonMode: o.jsonMode !== false,
    temperature: num('--temperature', o.temperature, { min: 0, max: 2 }) ?? 0,
    maxTokens: num('--max-tokens', o.maxTokens, { min: 0, int: true }) ?? 1024,
  };
  if (apiKey) cfg.apiKey = apiKey;
  const seed = num('--seed', o.seed, { min: 0, int: true });
  if (seed !== undefined) cfg.seed = seed;
  const dims = num('--dimensions', o.dimensions, { min: 1, int: true });
  if (dims !== undefined) cfg.dimensions = dims;
  return cfg;
}

export interface ProfileCli extends LlmCli {
  data?: string; provider?: string; concurrency?: string; maxReasks?: string; priceIn?: string; priceOut?: string; prompts?: string;
  maxReviews?: string; maxHistory?: string; maxChars?: string; exportBatch?: string; importBatch?: string[]; dryRun?: boolean; json?: boolean;
}

export async function profileCommand(o: ProfileCli): Promise<void> {
  if (!o.data) throw new UsageError('--data DIR is required (a directory made by "irllrec ingest")');
  const provider = oneOf('--provider', o.provider ?? 'offline', ['offline', 'openai'] as const)!;
  const llmFlags = ['baseUrl', 'model', 'apiKeyEnv', 'auth', 'timeout', 'maxRetries', 'retryBaseMs', 'temperature', 'maxTokens', 'seed', 'priceIn', 'priceOut', 'exportBatch', 'importBatch'] as const;
  if (provider === 'offline') {
    const given = llmFlags.filter((k) => o[k] !== undefined);
    if (given.length) throw new UsageError(`--${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --provider openai`);
  }
  if (o.exportBatch && o.importBatch?.length) throw new UsageError('--export-batch and --import-batch go in separate runs');
  const budget = {
    maxReviews: num('--max-reviews', o.maxReviews, { min: 0, int: true }) ?? DEFAULT_BUDGET.maxReviews,
    maxHistory: num('--max-history', o.maxHistory, { min: 1, int: true }) ?? DEFAULT_BUDGET.maxHistory,
    maxChars: num('--max-chars', o.maxChars, { min: 20, int: true }) ?? DEFAULT_BUDGET.maxChars,
  };
  const offlineModelDefault = process.env.IRLLREC_LLM_MODEL ?? 'gpt-4o-mini';
  const llm = provider === 'openai' ? llmConfig(o, { model: offlineModelDefault, timeoutS: 120 }) : undefined;
  onInterrupt(`answers received so far are in ${o.data}/cache/llm.jsonl; rerun the same command to continue`);
  const s = await runProfile({
    dir: o.data, provider, llm, budget, promptsDir: o.prompts,
    concurrency: num('--concurrency', o.concurrency, { min: 1, max: 256, int: true }) ?? 4,
    maxReasks: num('--max-reasks', o.maxReasks, { min: 0, max: 10, int: true }) ?? 2,
    priceIn: num('--price-in', o.priceIn, { min: 0 }), priceOut: num('--price-out', o.priceOut, { min: 0 }),
    exportBatch: o.exportBatch, importBatch: o.importBatch, dryRun: o.dryRun, log,
  });
  if (provider === 'openai' && !o.dryRun && !o.exportBatch) {
    log(`tokens: ${s.prompt_tokens} prompt + ${s.completion_tokens} completion${s.cost_usd !== null ? `, cost $${s.cost_usd.toFixed(4)}` : ' (pass --price-in/--price-out, USD per million tokens, for a cost figure)'}; ` +
      `${s.retries} retries, ${s.reasks} re-asks, ${s.repaired} repaired replies (${s.seconds}s)`);
  }
  if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
}

export interface EmbedCli extends LlmCli {
  data?: string; provider?: string; out?: string; dim?: string; dtype?: string; maxFeatures?: string; batchSize?: string; concurrency?: string; json?: boolean;
}

export async function embedCommand(o: EmbedCli): Promise<void> {
  if (!o.data) throw new UsageError('--data DIR is required (a directory with "irllrec profile" outputs)');
  const provider = oneOf('--provider', o.provider ?? 'local', ['local', 'openai'] as const)!;
  if (provider === 'local') {
    const llmOnly = (['baseUrl', 'model', 'apiKeyEnv', 'auth', 'timeout', 'maxRetries', 'retryBaseMs', 'dimensions', 'batchSize', 'concurrency'] as const).filter((k) => o[k] !== undefined);
    if (llmOnly.length) throw new UsageError(`--${llmOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --provider openai`);
  } else if (o.maxFeatures !== undefined || o.seed !== undefined) {
    throw new UsageError('--max-features and --seed are for --provider local');
  }
  const dim = num('--dim', o.dim, { min: 1, max: 4096, int: true });
  const dtype = oneOf('--dtype', o.dtype, ['float32', 'float16'] as const) ?? 'float32';
  const local = {
    seed: num('--seed', o.seed, { min: 0, int: true }) ?? DEFAULT_LOCAL.seed,
    maxFeatures: num('--max-features', o.maxFeatures, { min: 1, int: true }) ?? DEFAULT_LOCAL.maxFeatures,
  };
  const llm = provider === 'openai' ? llmConfig({ ...o, seed: undefined }, { model: process.env.IRLLREC_EMBED_MODEL ?? 'text-embedding-3-small', timeoutS: 60 }) : undefined;
  if (llm && dim !== undefined) {
    // checked before any text is read (runEmbed checks the same)
    if (llm.dimensions !== undefined && llm.dimensions !== dim) throw new UsageError(`--dim ${dim} and --dimensions ${llm.dimensions} differ (give one)`);
    if (llm.dimensions === undefined && !takesDimensions(llm.model)) {
      throw new UsageError(`--dim ${dim}: model ${JSON.stringify(llm.model)} cannot shorten its vectors (the "dimensions" parameter of /v1/embeddings is for text-embedding-3-* models); use a text-embedding-3 model, leave --dim out for the full width, or pass --dimensions N if your service supports it for this model`);
    }
  }
  if (o.out !== undefined) {
    // before any text is read or embedded
    const problem = outputProblem(o.out, 'dir', { inside: true });
    if (problem) throw new UsageError(`--out ${o.out}: cannot write the vectors there: ${problem}`);
  }
  onInterrupt(`vectors fetched so far are in ${o.data}/cache/embeddings.jsonl; rerun the same command to continue`);
  const s = await runEmbed({
    dir: o.data, out: o.out, provider, local, llm, dim, dtype,
    batchSize: num('--batch-size', o.batchSize, { min: 1, max: 2048, int: true }),
    concurrency: num('--concurrency', o.concurrency, { min: 1, max: 64, int: true }),
    log,
  });
  if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
}

function llmOptions(c: Command, defaults: { model: string; timeout: number }): Command {
  return c
    .option('--base-url <url>', `OpenAI-compatible API base (default: $OPENAI_BASE_URL or ${DEFAULT_BASE_URL}); e.g. http://127.0.0.1:11434/v1 (Ollama), http://HOST:8000/v1 (vLLM)`)
    .option('--model <name>', `model name (default: ${defaults.model})`)
    .option('--api-key-env <VAR>', 'environment variable holding the API key (default: OPENAI_API_KEY); keys are never read from flags or files')
    .option('--auth <how>', 'bearer (Authorization: Bearer, default), api-key (Azure "api-key" header) or none')
    .option('--timeout <s>', `seconds per HTTP request (default ${defaults.timeout})`)
    .option('--max-retries <n>', 'retries per request on 429/5xx/timeouts/network errors, exponential backoff with jitter (default 6)')
    .option('--retry-base-ms <ms>', 'first backoff delay, doubled per retry, capped at 60 s (default 1000); Retry-After wins');
}

export function registerTextCommands(program: Command): void {
  program
    .command('ingest')
    .description('raw data (MovieLens, Amazon 2018, RecBole atomic files, CSV/TSV) to a dataset directory: splits with 0-based ids, id maps, training-only text corpora')
    .option('--format <name>', `input format: ${FORMATS.join(', ')}`)
    .option('--out <dir>', 'dataset directory to create')
    .option('--force', 'replace an existing dataset directory (its cache/ of LLM answers is kept)')
    .option('--dir <dir>', 'movielens: the directory with ratings.csv, movies.csv, tags.csv; recbole: the directory with NAME.inter/.item/.user')
    .option('--reviews <file>', 'amazon2018: reviews, e.g. Gift_Cards_5.json.gz (JSON lines, gzip optional)')
    .option('--meta <file>', 'amazon2018: item metadata, e.g. meta_Gift_Cards.json.gz')
    .option('--name <stem>', 'recbole: dataset name, the file stem (default: the directory name)')
    .option('--interactions <file>', 'csv: the interactions file (header row; .tsv/.tab are tab-separated)')
    .option('--map <spec>', 'csv/recbole: columns, e.g. user=userId,item=movieId,rating=rating,time=timestamp,text=review,summary=title')
    .option('--items <file>', 'csv: item file')
    .option('--item-map <spec>', 'csv: item columns, e.g. id=movieId,title=title,description=plot,genres=genres (other keys become attributes)')
    .option('--users <file>', 'csv: user file')
    .option('--user-map <spec>', 'csv: user columns, e.g. id=userId,age=age')
    .option('--sep <c>', 'csv: field separator (comma, tab, semicolon, pipe or one character; default by extension)')
    .option('--list-sep <c>', 'csv: separator inside attribute values (default |)')
    .option('--domain <word>', 'what the items are, used in prompts (default: movie for movielens, product for amazon2018, else item)')
    .option('--min-rating <x>', 'keep ratings >= x as interactions, or none (default: 4 for movielens, none otherwise); lower ones become "disliked" text')
    .option('--like-threshold <x>', 'a rating >= x reads as liked in the corpora (default: --min-rating, else 4 on a 5-star scale)')
    .option('--kcore <k>', 'k-core filter: K or USER_K,ITEM_K (default 0: off)')
    .option('--dedup <which>', 'repeated (user, item) pairs: keep the last (default) or first by time')
    .option('--split <kind>', 'random (official per-interaction random split, default), loo (leave-one-out by time), user-ratio (per user)')
    .option('--ratios <r>', 'train,valid,test ratios for random and user-ratio (default 3,1,1)')
    .option('--order <o>', 'user-ratio: time (default when timestamps exist) or random')
    .option('--seed <n>', 'split seed (default 2023)')
    .option('--no-negatives', 'leave below-threshold ratings out of the text corpora')
    .option('--json', 'print the manifest (options and statistics) on stdout')
    .action((o: IngestCli) =>
      runCommand(async () => {
        const r = await ingest(ingestOptions(o), log);
        if (o.json) process.stdout.write(`${JSON.stringify(r.manifest)}\n`);
      }),
    );

  llmOptions(
    program
      .command('profile')
      .description('profiles (RLMRec) and intents (IRLLRec) for every user and item, offline or from an OpenAI-compatible LLM; resumable')
      .option('--data <dir>', 'dataset directory made by "irllrec ingest"')
      .option('--provider <name>', 'offline (default: deterministic, no LLM) or openai (any OpenAI-compatible service)'),
    { model: '$IRLLREC_LLM_MODEL or gpt-4o-mini', timeout: 120 },
  )
    .option('--concurrency <n>', 'requests in flight (default 4)')
    .option('--max-reasks <n>', 're-asks when a reply is not the JSON asked for (default 2)')
    .option('--temperature <t>', 'sampling temperature (default 0)')
    .option('--max-tokens <n>', 'max_tokens per reply (default 1024; 0: not sent)')
    .option('--seed <n>', 'seed sent with each request (services that support it)')
    .option('--no-json-mode', 'do not send response_format {"type":"json_object"} (for servers that reject it)')
    .option('--price-in <usd>', 'USD per million prompt tokens, for the cost counter')
    .option('--price-out <usd>', 'USD per million completion tokens, for the cost counter')
    .option('--prompts <dir>', 'prompt template directory (default: the package prompts/)')
    .option('--max-reviews <n>', `reviews quoted per item prompt (default ${DEFAULT_BUDGET.maxReviews})`)
    .option('--max-history <n>', `history entries per user prompt (default ${DEFAULT_BUDGET.maxHistory})`)
    .option('--max-chars <n>', `characters kept per review, description or quoted profile (default ${DEFAULT_BUDGET.maxChars})`)
    .option('--export-batch <file>', 'write the pending requests as OpenAI Batch JSONL (also for vllm run-batch) instead of asking')
    .option('--import-batch <file>', 'store the answers of a batch output file (repeatable)', collect)
    .option('--dry-run', 'count what would be asked (and the prompt tokens, roughly); ask nothing')
    .option('--json', 'print a run summary on stdout')
    .action((o: ProfileCli) => runCommand(() => profileCommand(o)));

  llmOptions(
    program
      .command('embed')
      .description('embed the profiles and intents into usr_prf/itm_prf/usr_int/itm_int.npy (what "irllrec train" reads) + embed.json')
      .option('--data <dir>', 'dataset directory with "irllrec profile" outputs')
      .option('--provider <name>', 'local (default: TF-IDF + truncated SVD, no weights) or openai (/v1/embeddings)')
      .option('--out <dir>', 'where to write the vectors (default: the dataset directory; elsewhere, pass it to train as --text-dir)'),
    { model: '$IRLLREC_EMBED_MODEL or text-embedding-3-small', timeout: 60 },
  )
    .option('--dim <n>', `vector width: local, SVD components (default ${DEFAULT_LOCAL.dim}); openai, sent as "dimensions" (text-embedding-3-* models; default: the model's full width)`)
    .option('--dtype <t>', 'float32 (default) or float16 (half the disk and read memory; rounded to nearest even, beyond +-65504 clamped)')
    .option('--max-features <n>', `local: vocabulary cap (default ${DEFAULT_LOCAL.maxFeatures})`)
    .option('--seed <n>', `local: SVD seed (default ${DEFAULT_LOCAL.seed})`)
    .option('--dimensions <n>', 'openai: the "dimensions" request parameter, sent for any model (for services that support it beyond text-embedding-3; otherwise use --dim)')
    .option('--batch-size <n>', 'openai: texts per request (default 64)')
    .option('--concurrency <n>', 'openai: requests in flight (default 4)')
    .option('--json', 'print a run summary on stdout')
    .action((o: EmbedCli) => runCommand(() => embedCommand(o)));
}
