/**
 * OpenAI Batch export/import: stage 1 is exported, "run" (each line answered as the Batch API /
 * vllm run-batch would), imported; then stage 2 (user profiles quote item profiles); the result
 * equals a live run's. Bad lines are errors naming file and line.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/data/errors.js';
import { readBatchOutput } from '../src/text/batch.js';
import type { LlmConfig } from '../src/text/llm.js';
import { runProfile } from '../src/text/profile.js';
import { miniRecboleBase } from './helpers/datasets.js';
import { mockBatchOutput, runCli, startLlmServer, type LlmServer } from './helpers/llm-server.js';

let server: LlmServer;
let base: string;
beforeAll(async () => {
  server = await startLlmServer();
  base = await miniRecboleBase('irllrec-batch-');
});
afterAll(() => server.close());

const cfg = (): LlmConfig => ({ baseUrl: 'http://127.0.0.1:9/v1', model: 'mock-1', auth: 'bearer', timeoutMs: 1000, maxRetries: 0, retryBaseMs: 1, retryMaxMs: 1, jsonMode: true, temperature: 0, maxTokens: 512 });

/** What a batch job returns for a request file. */
function runBatch(requests: string, output: string) {
  const out = readFileSync(requests, 'utf8').trim().split('\n').map(mockBatchOutput);
  writeFileSync(output, `${out.join('\n')}\n`);
}

describe('batch export / import', () => {
  it('two rounds (stage 1, then user profiles) give the same result as a live run', async () => {
    const dir = join(base, 'batch');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const req1 = join(base, 'req1.jsonl');
    const s1 = await runProfile({ dir, provider: 'openai', llm: cfg(), exportBatch: req1 });
    expect(s1.exported!.requests).toEqual({ item_profile: 10, item_intent: 10, user_intent: 12 });
    const first = JSON.parse(readFileSync(req1, 'utf8').split('\n')[0]!);
    expect(Object.keys(first).sort()).toEqual(['body', 'custom_id', 'method', 'url']);
    expect(first).toMatchObject({ method: 'POST', url: '/v1/chat/completions', body: { model: 'mock-1', temperature: 0, max_tokens: 512, response_format: { type: 'json_object' } } });
    expect(first.custom_id).toMatch(/^[0-9a-f]{64}$/);

    runBatch(req1, join(base, 'out1.jsonl'));
    const i1 = await runProfile({ dir, provider: 'openai', llm: cfg(), importBatch: [join(base, 'out1.jsonl')] });
    expect(i1.asked).toBe(32);
    expect(i1.complete).toBe(false);

    const req2 = join(base, 'req2.jsonl');
    const s2 = await runProfile({ dir, provider: 'openai', llm: cfg(), exportBatch: req2 });
    expect(s2.exported!.requests).toEqual({ user_profile: 12 });
    expect(readFileSync(req2, 'utf8')).toContain('mock profile');
    runBatch(req2, join(base, 'out2.jsonl'));
    // importing the same output twice is harmless
    const i2 = await runProfile({ dir, provider: 'openai', llm: cfg(), importBatch: [join(base, 'out2.jsonl'), join(base, 'out2.jsonl')] });
    expect(i2.complete).toBe(true);
    expect(i2.asked).toBe(12);

    const live = join(base, 'live');
    cpSync(join(base, 'ds'), live, { recursive: true });
    await runProfile({ dir: live, provider: 'openai', llm: { ...cfg(), baseUrl: server.url } });
    const strip = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => { const r = JSON.parse(l); return [r.key, r.profile, r.intent]; });
    for (const f of ['users.jsonl', 'items.jsonl']) expect(strip(join(dir, 'text', f))).toEqual(strip(join(live, 'text', f)));
  });

  it('import errors: a request file instead of an output file, bad JSON, another model', async () => {
    const dir = join(base, 'bad');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const req = join(base, 'bad-req.jsonl');
    await runProfile({ dir, provider: 'openai', llm: cfg(), exportBatch: req });
    const e1 = await runProfile({ dir, provider: 'openai', llm: cfg(), importBatch: [req] }).catch((x: unknown) => x);
    expect(e1).toBeInstanceOf(DataError);
    expect((e1 as Error).message).toMatch(/bad-req\.jsonl:1: this is a batch \*request\* line/);
    const broken = join(base, 'broken.jsonl');
    writeFileSync(broken, `${mockBatchOutput(readFileSync(req, 'utf8').split('\n')[0]!)}\n{"custom_id": \n`);
    await expect(runProfile({ dir, provider: 'openai', llm: cfg(), importBatch: [broken] })).rejects.toThrow(/broken\.jsonl:2: not valid JSON/);
    const out = join(base, 'bad-out.jsonl');
    runBatch(req, out);
    await expect(runProfile({ dir, provider: 'openai', llm: { ...cfg(), model: 'other' }, importBatch: [out] })).rejects.toThrow(/none of the 32 custom_ids .* --model other/);
  });

  it('reads both output shapes: response.body (OpenAI, vLLM) and a bare response (older vLLM); per-line errors', () => {
    const f = join(base, 'shapes.jsonl');
    const body = { choices: [{ message: { role: 'assistant', content: '{"summarization":"s","reasoning":"r"}' } }], usage: { prompt_tokens: 3, completion_tokens: 2 } };
    writeFileSync(f, [
      JSON.stringify({ id: 'a', custom_id: 'k1', response: { status_code: 200, body }, error: null }),
      JSON.stringify({ id: 'b', custom_id: 'k2', response: body }),
      JSON.stringify({ id: 'c', custom_id: 'k3', response: { status_code: 429, body: { error: { message: 'slow down' } } }, error: null }),
      JSON.stringify({ id: 'd', custom_id: 'k4', response: null, error: { code: 'batch_expired', message: 'expired' } }),
    ].join('\n'));
    const r = readBatchOutput(f);
    expect(r.map((x) => [x.customId, x.content !== null, x.error])).toEqual([['k1', true, null], ['k2', true, null], ['k3', false, 'HTTP 429: slow down'], ['k4', false, 'expired']]);
    expect(r[0]!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2 });
  });

  it('the CLI: --export-batch, --import-batch, --dry-run', async () => {
    const dir = join(base, 'cli');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const dry = await runCli(['profile', '--data', dir, '--provider', 'openai', '--model', 'mock-1', '--base-url', server.url, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).pending).toMatchObject({ item_profile: 10, item_intent: 10, user_intent: 12 });
    expect(existsSync(join(dir, 'cache', 'llm.jsonl'))).toBe(false);
    const req = join(base, 'cli-req.jsonl');
    const ex = await runCli(['profile', '--data', dir, '--provider', 'openai', '--model', 'mock-1', '--base-url', server.url, '--export-batch', req]);
    expect(ex.code, ex.stderr).toBe(0);
    expect(ex.stderr).toMatch(/exported 32 stage-1 requests/);
    runBatch(req, join(base, 'cli-out.jsonl'));
    const im = await runCli(['profile', '--data', dir, '--provider', 'openai', '--model', 'mock-1', '--base-url', server.url, '--import-batch', join(base, 'cli-out.jsonl')]);
    expect(im.code, im.stderr).toBe(0);
    expect(im.stderr).toMatch(/imported 32 answers/);
    expect(im.stderr).toMatch(/12 stage-2 \(user profile\) requests still pending/);
    const offline = await runCli(['profile', '--data', dir, '--export-batch', req]);
    expect(offline.code).toBe(2);
    expect(offline.stderr).toMatch(/--export-batch needs --provider openai/);
  });
});
