/**
 * OpenAI Batch files. Export: one request per line, `{custom_id, method, url, body}` (what the
 * OpenAI Batch API and `vllm run-batch` take), custom_id = the store key. Import: the output
 * lines, `{custom_id, response: {status_code, body}, error}`, whose answers go into the store.
 */
import { DataError, readFileForData } from '../data/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { chatBody, type LlmConfig } from './llm.js';
import type { TextRequest } from './tasks.js';

/** The OpenAI Batch API takes at most 50,000 requests per file. */
export const BATCH_LIMIT = 50_000;

export function batchLine(r: TextRequest, cfg: Pick<LlmConfig, 'model' | 'jsonMode' | 'temperature' | 'maxTokens' | 'seed'>): string {
  return JSON.stringify({ custom_id: r.key, method: 'POST', url: '/v1/chat/completions', body: chatBody(cfg, r.messages) });
}

/** Writes the requests (atomically), split into FILE, FILE.part2, ... beyond the per-file limit. */
export function writeBatch(file: string, reqs: TextRequest[], cfg: Pick<LlmConfig, 'model' | 'jsonMode' | 'temperature' | 'maxTokens' | 'seed'>): string[] {
  const files: string[] = [];
  for (let start = 0, part = 1; start < reqs.length; start += BATCH_LIMIT, part++) {
    const f = part === 1 ? file : file.replace(/(\.jsonl)?$/, `.part${part}$1`);
    writeFileAtomic(f, reqs.slice(start, start + BATCH_LIMIT).map((r) => `${batchLine(r, cfg)}\n`).join(''));
    files.push(f);
  }
  return files;
}

export interface BatchResult {
  customId: string;
  line: number;
  /** the assistant's text, or null when the line carries an error */
  content: string | null;
  error: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export function readBatchOutput(file: string): BatchResult[] {
  const text = readFileForData(file).toString('utf8');
  const out: BatchResult[] = [];
  let no = 0;
  for (const line of text.split('\n')) {
    no++;
    if (line.trim() === '') continue;
    let o: {
      custom_id?: unknown;
      response?: { status_code?: number; body?: { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number }; error?: { message?: string } } } | null;
      error?: { message?: string; code?: string } | string | null;
      method?: unknown;
    };
    try {
      o = JSON.parse(line);
    } catch (e) {
      throw new DataError(file, `not valid JSON (${(e as Error).message})`, { line: no });
    }
    if (typeof o !== 'object' || o === null || typeof o.custom_id !== 'string') throw new DataError(file, 'expected a batch output object with a string "custom_id"', { line: no, field: 'custom_id' });
    if (o.method !== undefined && o.response === undefined) {
      throw new DataError(file, 'this is a batch *request* line (method/url/body), not an output line: import the file the batch job produced', { line: no });
    }
    const r: BatchResult = { customId: o.custom_id, line: no, content: null, error: null };
    const status = o.response?.status_code;
    // OpenAI and current vLLM wrap the completion in response.body; some vLLM versions put it in response itself
    const body = o.response?.body ?? ((o.response as { choices?: unknown } | null | undefined)?.choices ? (o.response as NonNullable<typeof o.response>['body']) : undefined);
    const content = body?.choices?.[0]?.message?.content;
    if (o.error) r.error = typeof o.error === 'string' ? o.error : (o.error.message ?? o.error.code ?? 'error');
    else if (status !== undefined && status !== 200) r.error = `HTTP ${status}${body?.error?.message ? `: ${body.error.message}` : ''}`;
    else if (typeof content !== 'string') r.error = 'no choices[0].message.content in the response body';
    else r.content = content;
    if (body?.usage) r.usage = { prompt_tokens: body.usage.prompt_tokens ?? 0, completion_tokens: body.usage.completion_tokens ?? 0 };
    out.push(r);
  }
  return out;
}
