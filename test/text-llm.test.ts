/**
 * The OpenAI-compatible client and the profile run against the loopback server with injected
 * faults: 429 (Retry-After), 500/503, hangs (client timeout), resets, non-JSON bodies, malformed /
 * fenced / schema-violating replies, 401; counters; the key stays out of errors.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { llmConfig } from '../src/cli/text-commands.js';
import { ingest } from '../src/ingest/index.js';
import { LlmError, OpenAiClient, type LlmConfig } from '../src/text/llm.js';
import { runProfile } from '../src/text/profile.js';
import { parseLooseJson, readAnswer, validateAnswer } from '../src/text/schema.js';
import { miniRecbole } from './helpers/datasets.js';
import { startLlmServer, type Fault, type LlmServer } from './helpers/llm-server.js';

let server: LlmServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const cfg = (url: string, over: Partial<LlmConfig> = {}): LlmConfig => ({
  baseUrl: url, model: 'mock-1', auth: 'bearer', timeoutMs: 2000, maxRetries: 4, retryBaseMs: 5, retryMaxMs: 20,
  jsonMode: true, temperature: 0, maxTokens: 256, ...over,
});

const schedule = (faults: Record<number, Fault>) => (n: number) => faults[n] ?? null;
const msgs = [{ role: 'system' as const, content: 'Answer {"summarization": "...", "reasoning": "..."}' }, { role: 'user' as const, content: '{"title":"X"}' }];

describe('client: retries and errors', () => {
  it('retries 429 (Retry-After), 500, 503, resets and non-JSON bodies, then succeeds', async () => {
    server = await startLlmServer({ faults: schedule({ 1: '429', 2: '500', 3: 'reset', 4: 'html' }) });
    const c = new OpenAiClient(cfg(server.url));
    const r = await c.chat(msgs);
    expect(JSON.parse(r.content)).toHaveProperty('summarization');
    expect(server.requests).toHaveLength(5);
    expect(c.counters.retries).toBe(4);
    expect(c.counters.retryCauses).toMatchObject({ 429: 1, 500: 1, network: 1, body: 1 });
    expect(server.requests[0]!.body).toMatchObject({ model: 'mock-1', temperature: 0, max_tokens: 256, response_format: { type: 'json_object' } });
    expect(c.counters.promptTokens).toBeGreaterThan(0);
  });

  it('a hung request times out and is retried', async () => {
    server = await startLlmServer({ faults: schedule({ 1: 'timeout' }) });
    const c = new OpenAiClient(cfg(server.url, { timeoutMs: 300 }));
    const t = performance.now();
    await c.chat(msgs);
    expect(performance.now() - t).toBeGreaterThanOrEqual(280);
    expect(c.counters.retryCauses.timeout).toBe(1);
  });

  it('gives up after --max-retries with a message naming the URL and the status', async () => {
    server = await startLlmServer({ faults: () => '503' });
    const c = new OpenAiClient(cfg(server.url, { maxRetries: 2 }));
    const e = await c.chat(msgs).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LlmError);
    expect((e as Error).message).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions: HTTP 503: The server had an error \(gave up after 3 attempts\)/);
    expect(server.requests).toHaveLength(3);
  });

  it('401 is not retried, says what to check, and never shows the key', async () => {
    server = await startLlmServer({ requireKey: 'right-key' });
    const c = new OpenAiClient(cfg(server.url, { apiKey: 'sk-wrong-secret-123' }));
    const e = await c.chat(msgs).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/HTTP 401: Incorrect API key provided \(check the API key environment variable/);
    expect((e as Error).message).not.toContain('sk-wrong-secret-123');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.authorization).toBe('Bearer sk-wrong-secret-123');
    const az = new OpenAiClient(cfg(server.url, { apiKey: 'k2', auth: 'api-key' }));
    await az.chat(msgs).catch(() => undefined);
    expect(server.requests[1]!.apiKeyHeader).toBe('k2');
    expect(server.requests[1]!.authorization).toBeUndefined();
  });

  it('embeddings: batched, retried, order by index', async () => {
    server = await startLlmServer({ faults: schedule({ 1: '429' }), embedDim: 8 });
    const c = new OpenAiClient(cfg(server.url, { model: 'emb-1' }));
    const r = await c.embed(['a', 'b', 'c']);
    expect(r.vectors.map((v) => v.length)).toEqual([8, 8, 8]);
    expect(server.requests.map((q) => q.path)).toEqual(['/v1/embeddings', '/v1/embeddings']);
  });

  it('llmConfig: the key comes from the named environment variable; api.openai.com needs one', () => {
    process.env.IRLLREC_TEST_KEY = 'sk-from-env';
    expect(llmConfig({ baseUrl: 'http://127.0.0.1:1/v1', apiKeyEnv: 'IRLLREC_TEST_KEY' }, { model: 'm', timeoutS: 5 }).apiKey).toBe('sk-from-env');
    delete process.env.IRLLREC_TEST_KEY;
    expect(() => llmConfig({ baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'IRLLREC_TEST_KEY' }, { model: 'm', timeoutS: 5 })).toThrow(/needs an API key: set the environment variable IRLLREC_TEST_KEY/);
    expect(() => llmConfig({ apiKeyEnv: 'sk-abc123' }, { model: 'm', timeoutS: 5 })).toThrow(/takes the NAME of an environment variable/);
    expect(llmConfig({ baseUrl: 'http://127.0.0.1:11434/v1' }, { model: 'm', timeoutS: 5 }).apiKey).toBeUndefined();
  });
});

describe('reading replies', () => {
  it('repairs fences, prose and trailing commas; coerces lists; reports what is wrong', () => {
    expect(parseLooseJson('```json\n{"a": 1,}\n```')).toEqual({ value: { a: 1 }, repaired: true });
    expect(parseLooseJson('Here you go: {"a": "x}"} thanks')).toEqual({ value: { a: 'x}' }, repaired: true });
    expect(parseLooseJson('{"a": ')).toHaveProperty('error');
    expect(validateAnswer('user_intent', { key_attributes: 'a; b', liked: ['x'], disliked: [], intent: 'likes x / dislikes y', extra: 1 })).toEqual({
      answer: { key_attributes: ['a', 'b'], liked: ['x'], disliked: [], intent: 'likes x / dislikes y' }, coerced: true,
    });
    expect(readAnswer('item_profile', '{"summary": "x"}')).toEqual({ error: 'the key "summarization" is missing' });
    expect(readAnswer('item_profile', '{"summarization": "", "reasoning": ""}')).toEqual({ error: '"summarization" is empty' });
  });
});

describe('profile against the loopback server with faults', () => {
  async function dataset(): Promise<string> {
    const out = join(mkdtempSync(join(tmpdir(), 'irllrec-llm-')), 'ds');
    await ingest({ format: 'recbole', dir: miniRecbole, out, minRating: 3 });
    return out;
  }

  it('every fault kind on the way; every entity answered once; re-asks and repairs counted', async () => {
    const faults: Fault[] = ['429', '500', 'timeout', 'reset', 'html', 'malformed', 'fenced', 'bad-schema', 'no-choices', '503'];
    server = await startLlmServer({ faults: (n) => (n % 4 === 1 ? faults[(n >> 2) % faults.length]! : null) });
    const dir = await dataset();
    const s = await runProfile({ dir, provider: 'openai', llm: cfg(server.url, { timeoutMs: 400 }), concurrency: 3, priceIn: 1, priceOut: 2 });
    expect(s.complete).toBe(true);
    expect(s.retries).toBeGreaterThan(5);
    expect(s.reasks).toBeGreaterThan(0);
    expect(s.repaired).toBeGreaterThan(0);
    expect(s.cost_usd).toBeCloseTo((s.prompt_tokens * 1 + s.completion_tokens * 2) / 1e6, 10);
    const store = readFileSync(join(dir, 'cache', 'llm.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(store).toHaveLength(2 * 12 + 2 * 10);
    expect(new Set(store.map((r) => `${r.task} ${r.entity}`)).size).toBe(store.length);
    const users = readFileSync(join(dir, 'text', 'users.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(users[0].intent.intent).toMatch(/^likes .* \/ dislikes /);
    expect(users[0].source).toEqual({ provider: 'openai', model: 'mock-1', offline: false });
    const manifest = JSON.parse(readFileSync(join(dir, 'text', 'profile.json'), 'utf8'));
    expect(manifest).toMatchObject({ provider: 'openai', model: 'mock-1', offline: false, base_url: server.url });
    // a rerun asks nothing
    const before = server.requests.length;
    const again = await runProfile({ dir, provider: 'openai', llm: cfg(server.url) });
    expect(server.requests.length).toBe(before);
    expect(again.from_store).toBe(store.length);
  });

  it('a reply that stays unusable fails that entity only; the run says how to resume; nothing final is written', async () => {
    const item3 = (content: string) => content.startsWith('{"title":"Film Number 3"');
    server = await startLlmServer({ faults: (_n, _p, body) => (item3(body.messages?.[1]?.content ?? '') ? 'bad-schema' : null) });
    const dir = await dataset();
    const e = await runProfile({ dir, provider: 'openai', llm: cfg(server.url), maxReasks: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LlmError);
    expect((e as Error).message).toMatch(/request\(s\) failed in stage 1; the \d+ answers so far are kept in .*llm\.jsonl, rerun the same command/);
    expect((e as Error).message).toMatch(/the key "(summarization|key_attributes)" is missing \(after 2 replies\)/);
    expect(existsSync(join(dir, 'text', 'profile.json'))).toBe(false);
    server.faults = () => null;
    const before = server.requests.length;
    const s = await runProfile({ dir, provider: 'openai', llm: cfg(server.url) });
    expect(s.complete).toBe(true);
    // only the failed ones (both item tasks of one item) and stage 2 are asked
    expect(server.requests.length - before).toBe(2 + 12);
  });

  it('401 stops the whole run at once', async () => {
    server = await startLlmServer({ requireKey: 'k' });
    const dir = await dataset();
    const e = await runProfile({ dir, provider: 'openai', llm: cfg(server.url), concurrency: 4 }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/HTTP 401/);
    expect(server.requests.length).toBeLessThanOrEqual(4);
    expect(existsSync(join(dir, 'cache', 'llm.lock'))).toBe(false);
  });
});
