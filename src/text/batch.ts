/**
 * OpenAI Batch files (Batch JSONL). Export: one request per line, `{custom_id, method, url, body}`
 * (what the OpenAI Batch API and `vllm run-batch` take), custom_id = the store key. Import: the
 * output lines, `{custom_id, response: {status_code, body}, error}`, whose answers go into the
 * store. `exportBatch` / `importBatch` are `irllrec profile --export-batch / --import-batch` on a
 * profile run (./profile.ts).
 */
import { DataError } from '../data/errors.js';
import { jsonLines } from '../data/jsonl.js';
import { writeFileAtomic } from '../util/atomic.js';
import { crashPoint } from '../util/fault.js';
import { chatBody, LlmError, type LlmConfig } from './llm.js';
import type { ProfileSummary, Run } from './profile.js';
import { readAnswer } from './schema.js';
import { emptyAnswer, type TextRequest } from './tasks.js';

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
  const out: BatchResult[] = [];
  for (const { value, line: no } of jsonLines(file)) {
    const o = value as {
      custom_id?: unknown;
      response?: { status_code?: number; body?: { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number }; error?: { message?: string } } } | null;
      error?: { message?: string; code?: string } | string | null;
      method?: unknown;
    };
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

/**
 * Writes the pending requests of the first unfinished stage to a Batch JSONL file (stage 2, the
 * user profiles, quotes the item profiles: export again after importing stage 1); writes the
 * profile files instead when nothing is pending.
 */
export function exportBatch(run: Run, file: string): ProfileSummary {
  const s = run.s;
  if (run.o.provider !== 'openai') throw new LlmError('--export-batch needs --provider openai (and the --model the batch will run)', null, false);
  for (const stage of [1, 2] as const) {
    const reqs = run.requests(stage);
    for (const r of reqs) if (r.empty && !run.store.has(r.key)) run.store.append({ key: r.key, task: r.task, entity: r.entity, provider: 'none', model: 'none', answer: emptyAnswer(r.task), created: new Date().toISOString() });
    const pending = reqs.filter((r) => !run.store.has(r.key));
    if (pending.length) {
      const files = writeBatch(file, pending, run.o.llm!);
      s.exported = { files, requests: run.countByTask(pending) };
      run.log(`exported ${pending.length} stage-${stage} requests (${Object.entries(s.exported.requests).map(([k, v]) => `${k} ${v}`).join(', ')}) to ${files.join(', ')}; ` +
        `run them (OpenAI Batch API with endpoint /v1/chat/completions, or vllm run-batch), then: irllrec profile --data ${run.corpus.dir} --provider openai --model ${run.model} --import-batch OUTPUT.jsonl` +
        (stage === 1 ? '; the user profiles (stage 2) quote the item profiles, so export again after importing' : ''));
      run.finishCounters();
      return s;
    }
  }
  run.log('nothing to export: every answer is in the store');
  s.files = run.finalize();
  return s;
}

/** Puts the answers of Batch output files into the store; writes the profile files once every answer is there. */
export function importBatch(run: Run, files: string[]): ProfileSummary {
  const s = run.s;
  if (run.o.provider !== 'openai') throw new LlmError('--import-batch needs --provider openai and the --model the batch ran with', null, false);
  const results = files.flatMap((f) => readBatchOutput(f).map((r) => ({ ...r, file: f })));
  let unknown = 0;
  let duplicate = 0;
  const failures: string[] = [];
  const take = (reqs: TextRequest[]) => {
    const byKey = new Map(reqs.map((r) => [r.key, r]));
    for (const res of results) {
      const r = byKey.get(res.customId);
      if (!r) continue;
      (res as { matched?: boolean }).matched = true;
      if (run.store.has(r.key)) {
        duplicate++;
        continue;
      }
      if (res.content === null) {
        failures.push(`${res.file}:${res.line}: ${r.entity} ${r.task}: ${res.error}`);
        continue;
      }
      const a = readAnswer(r.task, res.content);
      if ('error' in a) {
        failures.push(`${res.file}:${res.line}: ${r.entity} ${r.task}: ${a.error}`);
        continue;
      }
      if (a.repaired) s.repaired++;
      if (res.usage) {
        s.prompt_tokens += res.usage.prompt_tokens;
        s.completion_tokens += res.usage.completion_tokens;
      }
      run.store.append({ key: r.key, task: r.task, entity: r.entity, provider: 'openai', model: run.model, answer: a.answer, created: new Date().toISOString(), batch: true, repaired: a.repaired, ...(res.usage ? { usage: res.usage } : {}) });
      s.asked++;
      crashPoint('profile-answer');
    }
  };
  const st1 = run.requests(1);
  take(st1);
  if (run.keysComplete(st1)) take(run.requests(2));
  for (const res of results) if (!(res as { matched?: boolean }).matched) unknown++;
  s.failed = failures.length;
  run.log(`imported ${s.asked} answers from ${files.join(', ')}${duplicate ? `, ${duplicate} already in the store` : ''}${failures.length ? `, ${failures.length} unusable (they stay pending; first: ${failures[0]})` : ''}`);
  if (unknown) {
    run.log(`${unknown} line(s) match no pending request of this dataset for --model ${run.model} (another model, prompt version or dataset?)`);
    if (unknown === results.length) throw new LlmError(`none of the ${results.length} custom_ids in ${files.join(', ')} belongs to this dataset with --model ${run.model}; import with the --model (and --prompts, budget options) used for the export`, null, false);
  }
  const st2 = run.keysComplete(st1) ? run.requests(2) : null;
  if (st2 && run.keysComplete(st2)) {
    s.files = run.finalize();
    run.log(`every answer is in the store; wrote ${s.files.join(', ')}`);
  } else {
    const left = st2 ? st2.filter((r) => !run.store.has(r.key)).length : st1.filter((r) => !run.store.has(r.key)).length;
    run.log(`${left} ${st2 ? 'stage-2 (user profile)' : 'stage-1'} requests still pending: export them with --export-batch${st2 ? '' : ' (failed ones included)'}, or run without batch flags to ask them live`);
    run.finishCounters();
  }
  return s;
}
