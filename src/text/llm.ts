/**
 * A small client for OpenAI-compatible services (OpenAI, Azure OpenAI v1, Ollama, vLLM,
 * llama.cpp server, ...) on node:http(s) with keep-alive: `POST {base}/chat/completions` and `{base}/embeddings`.
 * Retries with exponential backoff and full jitter on 408/409/425/429/5xx, network errors,
 * timeouts and unreadable bodies, honouring Retry-After; other HTTP errors fail at once with the
 * service's own message. The API key comes from an environment variable and is only ever put in
 * a request header.
 */
import { setMaxListeners } from 'node:events';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { UsageError } from '../util/errors.js';
import type { ChatMessage } from './tasks.js';

/** Keep-alive agents (node:http is several times cheaper per request than fetch on loopback). */
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 256 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 256 }) };

interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Internal: a failed HTTP attempt, always turned into a (user-facing) LlmError by LlmClient.once; never escapes this module. */
class TransportError extends Error {
  constructor(message: string, readonly kind: 'timeout' | 'network' | 'read', readonly status: number | null = null) {
    super(message);
  }
}

/** One POST; rejects with TransportError (timeout / network / broken read) or the signal's reason. */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const u = new URL(url);
    const https = u.protocol === 'https:';
    const data = Buffer.from(body, 'utf8');
    let settled = false;
    let status: number | null = null;
    const finish = (err: unknown, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = (https ? httpsRequest : httpRequest)(
      u,
      { method: 'POST', agent: https ? agents.https : agents.http, headers: { ...headers, 'content-length': String(data.length) } },
      (res) => {
        status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(null, { status: status!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('aborted', () => finish(new TransportError('the connection broke while reading the answer', 'read', status)));
        res.on('error', (e) => finish(new TransportError(`the connection broke while reading the answer (${e.message})`, 'read', status)));
      },
    );
    const timer = setTimeout(() => {
      finish(new TransportError(status === null ? `no answer within ${timeoutMs / 1000}s (--timeout)` : `the answer did not complete within ${timeoutMs / 1000}s (--timeout)`, 'timeout', status));
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish(signal!.reason);
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => finish(new TransportError(`${e.code ?? ''} ${e.message}`.trim(), status === null ? 'network' : 'read', status)));
    req.end(data);
  });
}

export interface LlmConfig {
  baseUrl: string;
  model: string;
  /** the key itself (read from the environment by the caller); never logged */
  apiKey?: string;
  /** bearer: `Authorization: Bearer KEY` (OpenAI, vLLM, ...); api-key: `api-key: KEY` (Azure) */
  auth: 'bearer' | 'api-key';
  timeoutMs: number;
  maxRetries: number;
  /** first backoff delay; doubles per retry, capped at retryMaxMs */
  retryBaseMs: number;
  retryMaxMs: number;
  /** send response_format {"type":"json_object"} */
  jsonMode: boolean;
  temperature: number;
  /** 0: not sent */
  maxTokens: number;
  seed?: number;
  /** embeddings only: the `dimensions` parameter */
  dimensions?: number;
}

export const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export class LlmError extends UsageError {
  constructor(message: string, readonly status: number | null, readonly retryable: boolean, readonly retryAfterMs: number | null = null) {
    super(message);
    this.name = 'LlmError';
  }
}

export interface LlmCounters {
  requests: number;
  retries: number;
  failures: number;
  promptTokens: number;
  completionTokens: number;
  /** retries by cause: "429", "500", "timeout", "network", "body" */
  retryCauses: Record<string, number>;
}

export function newCounters(): LlmCounters {
  return { requests: 0, retries: 0, failures: 0, promptTokens: 0, completionTokens: 0, retryCauses: {} };
}

/** The base URL for messages: no credentials, no query. */
export function displayUrl(u: string): string {
  try {
    const x = new URL(u);
    x.username = '';
    x.password = '';
    x.search = '';
    return x.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

export function checkBaseUrl(u: string): void {
  let x: URL;
  try {
    x = new URL(u);
  } catch {
    throw new UsageError(`--base-url ${JSON.stringify(u)} is not a URL (e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1)`);
  }
  if (x.protocol !== 'http:' && x.protocol !== 'https:') throw new UsageError(`--base-url must be http(s), got ${x.protocol}`);
}

const RETRYABLE = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

function retryAfter(h: IncomingHttpHeaders): number | null {
  const ms = h['retry-after-ms'];
  if (typeof ms === 'string' && Number.isFinite(Number(ms))) return Number(ms);
  const s = h['retry-after'];
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s.trim())) return Number(s) * 1000;
  const d = Date.parse(s);
  return Number.isFinite(d) ? Math.max(0, d - Date.now()) : null;
}

/** Waits ms (or until the signal aborts); its abort listener is removed when the wait ends, so
 * retries on one long-lived signal do not pile listeners up (MaxListenersExceededWarning). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res, rej) => {
    if (signal?.aborted) return rej(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      rej(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class OpenAiClient {
  readonly counters = newCounters();
  /** the caller's signal -> this client's own signal that follows it (see `own`) */
  private readonly linked = new WeakMap<AbortSignal, AbortSignal>();

  constructor(readonly cfg: LlmConfig) {
    checkBaseUrl(cfg.baseUrl);
  }

  private url(path: string): string {
    const u = new URL(this.cfg.baseUrl);
    u.pathname = `${u.pathname.replace(/\/$/, '')}/${path}`;
    return u.toString();
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.cfg.apiKey) {
      if (this.cfg.auth === 'api-key') h['api-key'] = this.cfg.apiKey;
      else h.authorization = `Bearer ${this.cfg.apiKey}`;
    }
    return h;
  }

  /**
   * A signal of this client's own that aborts with the caller's. Every request in flight and every
   * backoff wait listens on it (and removes its listener when it ends), so the caller's signal, shared
   * by many concurrent workers, carries one listener per client instead of one per request, and
   * --concurrency above 10 does not set off MaxListenersExceededWarning.
   */
  private own(signal?: AbortSignal): AbortSignal | undefined {
    if (!signal) return undefined;
    let s = this.linked.get(signal);
    if (!s) {
      const c = new AbortController();
      setMaxListeners(0, c.signal);
      if (signal.aborted) c.abort(signal.reason);
      else signal.addEventListener('abort', () => c.abort(signal.reason), { once: true });
      s = c.signal;
      this.linked.set(signal, s);
    }
    return s;
  }

  /** One HTTP attempt; throws LlmError (retryable or not). */
  private async once(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const where = `POST ${displayUrl(this.url(path))}`;
    this.counters.requests++;
    let res: HttpResponse;
    try {
      res = await post(this.url(path), this.headers(), JSON.stringify(body), this.cfg.timeoutMs, signal);
    } catch (e) {
      if (e instanceof TransportError) throw new LlmError(`${where}: ${e.message}`, e.status, true);
      throw e;
    }
    const text = res.text;
    if (res.status < 200 || res.status >= 300) {
      let msg = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
        msg = (typeof j.error === 'string' ? j.error : j.error?.message) ?? j.message ?? msg;
      } catch {
        // not JSON: keep the raw start
      }
      msg = msg.replace(/\s+/g, ' ').trim();
      const status = res.status;
      const hint =
        status === 401 || status === 403
          ? ' (check the API key environment variable, --api-key-env, and --auth)'
          : status === 404
            ? ' (check --base-url, which should end in /v1, and --model)'
            : '';
      throw new LlmError(`${where}: HTTP ${status}${msg ? `: ${msg}` : ''}${hint}`, status, RETRYABLE.has(status) || status >= 500, retryAfter(res.headers));
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new LlmError(`${where}: HTTP ${res.status} but the body is not JSON: ${JSON.stringify(text.slice(0, 120))}`, res.status, true);
    }
  }

  private cause(e: LlmError): string {
    if (/not JSON/.test(e.message)) return 'body';
    if (/within .*s \(--timeout\)/.test(e.message)) return 'timeout';
    if (/connection broke/.test(e.message)) return 'network';
    return e.status !== null ? String(e.status) : 'network';
  }

  /** `once` with retries. */
  async post(path: string, body: unknown, outer?: AbortSignal): Promise<unknown> {
    const signal = this.own(outer);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(path, body, signal);
      } catch (e) {
        if (!(e instanceof LlmError) || !e.retryable || attempt >= this.cfg.maxRetries) {
          if (e instanceof LlmError && e.retryable) {
            this.counters.failures++;
            throw new LlmError(`${e.message} (gave up after ${attempt + 1} attempts)`, e.status, false);
          }
          throw e;
        }
        this.counters.retries++;
        const c = this.cause(e);
        this.counters.retryCauses[c] = (this.counters.retryCauses[c] ?? 0) + 1;
        const backoff = Math.min(this.cfg.retryMaxMs, this.cfg.retryBaseMs * 2 ** attempt);
        const wait = e.retryAfterMs !== null ? Math.min(Math.max(e.retryAfterMs, 0), this.cfg.retryMaxMs * 2) : Math.random() * backoff;
        await sleep(wait, signal);
      }
    }
  }

  async chat(messages: ChatMessage[], signal?: AbortSignal): Promise<{ content: string; finishReason: string | null; usage: { prompt_tokens: number; completion_tokens: number } }> {
    const body = chatBody(this.cfg, messages);
    for (let attempt = 0; ; attempt++) {
      const j = (await this.post('chat/completions', body, signal)) as {
        choices?: { message?: { content?: string | null }; finish_reason?: string | null }[];
        usage?: { prompt_tokens?: number; completion_tokens?: number };
      };
      const usage = { prompt_tokens: j.usage?.prompt_tokens ?? 0, completion_tokens: j.usage?.completion_tokens ?? 0 };
      this.counters.promptTokens += usage.prompt_tokens;
      this.counters.completionTokens += usage.completion_tokens;
      const c = j.choices?.[0];
      if (c && typeof c.message?.content === 'string') return { content: c.message.content, finishReason: c.finish_reason ?? null, usage };
      if (attempt >= this.cfg.maxRetries) throw new LlmError(`POST ${displayUrl(this.url('chat/completions'))}: the answer has no choices[0].message.content (gave up after ${attempt + 1} attempts)`, 200, false);
      this.counters.retries++;
      this.counters.retryCauses.body = (this.counters.retryCauses.body ?? 0) + 1;
    }
  }

  async embed(inputs: string[], signal?: AbortSignal): Promise<{ vectors: Float32Array[]; promptTokens: number }> {
    const body: Record<string, unknown> = { model: this.cfg.model, input: inputs };
    if (this.cfg.dimensions) body.dimensions = this.cfg.dimensions;
    const where = `POST ${displayUrl(this.url('embeddings'))}`;
    const j = (await this.post('embeddings', body, signal)) as { data?: { index?: number; embedding?: unknown }[]; usage?: { prompt_tokens?: number } };
    if (!Array.isArray(j.data) || j.data.length !== inputs.length) {
      throw new LlmError(`${where}: expected ${inputs.length} embeddings in "data", got ${Array.isArray(j.data) ? j.data.length : 'none'}`, 200, false);
    }
    const vectors: Float32Array[] = new Array(inputs.length);
    j.data.forEach((d, k) => {
      const idx = typeof d.index === 'number' ? d.index : k;
      const e = d.embedding;
      if (idx < 0 || idx >= inputs.length || vectors[idx]) throw new LlmError(`${where}: bad or repeated embedding index ${idx}`, 200, false);
      if (typeof e === 'string') {
        const buf = Buffer.from(e, 'base64');
        vectors[idx] = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      } else if (Array.isArray(e) && e.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        vectors[idx] = Float32Array.from(e as number[]);
      } else {
        throw new LlmError(`${where}: embedding ${idx} is not a list of finite numbers`, 200, false);
      }
    });
    const tokens = j.usage?.prompt_tokens ?? 0;
    this.counters.promptTokens += tokens;
    return { vectors, promptTokens: tokens };
  }
}

/** The chat request body (also what a batch line carries). */
export function chatBody(cfg: Pick<LlmConfig, 'model' | 'jsonMode' | 'temperature' | 'maxTokens' | 'seed'>, messages: ChatMessage[]): Record<string, unknown> {
  const body: Record<string, unknown> = { model: cfg.model, messages, temperature: cfg.temperature };
  if (cfg.maxTokens > 0) body.max_tokens = cfg.maxTokens;
  if (cfg.jsonMode) body.response_format = { type: 'json_object' };
  if (cfg.seed !== undefined) body.seed = cfg.seed;
  return body;
}
