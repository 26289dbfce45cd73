/**
 * `profile`: profiles (RLMRec style) and intents (IRLLRec style) for every user and item of an
 * ingested dataset, from the offline provider or an OpenAI-compatible service.
 *
 * Stage 1: item profiles, item intents, user intents. Stage 2: user profiles (their prompts quote
 * the item profiles). Every answer is appended to DIR/cache/llm.jsonl the moment it arrives, keyed
 * by sha256(task, entity, model, prompt): a killed run loses at most the requests in flight and a
 * rerun asks only what is missing. When every answer is there, DIR/text/users.jsonl, items.jsonl
 * and profile.json are written (each atomically; profile.json, written last, holds their hashes).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCorpus, type Corpus } from '../ingest/corpus.js';
import { DATASET_FILES } from '../ingest/write.js';
import { writeFileAtomic } from '../util/atomic.js';
import { crashPoint } from '../util/fault.js';
import { Progress } from '../util/progress.js';
import { exportBatch, importBatch } from './batch.js';
import { displayUrl, LlmError, OpenAiClient, type LlmConfig } from './llm.js';
import { OFFLINE_MODEL, OfflineContext } from './offline.js';
import { manifestHeader } from '../util/package.js';
import { defaultPromptsDir, loadTemplates, templatesHash, type Templates } from './prompts.js';
import { fileHash, PROFILE_FILES, STORE_FILE, type ProfileRecord } from './profile-files.js';
import { countByKind, findContradictions } from './consistency.js';
import { readAnswer, schemaHint, TASK_INFO, TASKS, type Answer, type TaskName } from './schema.js';
import { acquireLock, AnswerStore, type StoredAnswer } from './store.js';
import { buildRequests, DEFAULT_BUDGET, emptyAnswer, requestKey, type ChatMessage, type PromptBudget, type TextRequest } from './tasks.js';

/** The artifacts and their reader live in ./profile-files.ts (no LLM client there); re-exported here. */
export { PROFILE_FILES, ProfileFilesError, readProfiles, STORE_FILE, TEXT_DIR, type ProfileRecord } from './profile-files.js';

export interface ProfileOptions {
  dir: string;
  provider: 'offline' | 'openai';
  /** provider openai */
  llm?: LlmConfig;
  concurrency?: number;
  /** re-asks after an unusable reply */
  maxReasks?: number;
  budget?: PromptBudget;
  promptsDir?: string;
  exportBatch?: string;
  importBatch?: string[];
  dryRun?: boolean;
  /** USD per million tokens */
  priceIn?: number;
  priceOut?: number;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

export interface ProfileSummary {
  dir: string;
  provider: string;
  model: string;
  complete: boolean;
  answers: number;
  asked: number;
  from_store: number;
  empty: number;
  failed: number;
  retries: number;
  reasks: number;
  repaired: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number | null;
  seconds: number;
  /** what a batch export wrote, or what a dry run would ask */
  exported?: { files: string[]; requests: Record<string, number> };
  pending?: Record<string, number | string>;
  files?: string[];
  /** statements that contradict the training ratings, by kind (text/consistency.ts) */
  contradictions?: Record<string, number>;
}

const stageTasks = (stage: 1 | 2) => TASKS.filter((t) => TASK_INFO[t].stage === stage);

/** A progress bar on a terminal; elsewhere a log line at most every 30 s. */
class Meter {
  private readonly bar: Progress;
  private readonly start = performance.now();
  private lastLog = performance.now();
  private readonly tty = Boolean(process.stderr.isTTY) && process.env.IRLLREC_NO_PROGRESS !== '1';

  constructor(private readonly label: string, private readonly total: number, private readonly log: (s: string) => void) {
    this.bar = new Progress(label, total);
  }

  tick(done: number, extra: string): void {
    if (this.tty) return this.bar.tick(done, extra);
    const now = performance.now();
    if (now - this.lastLog < 30_000 || done >= this.total) return;
    this.lastLog = now;
    const el = (now - this.start) / 1000;
    const eta = done > 0 ? (el / done) * (this.total - done) : NaN;
    this.log(`${this.label}: ${done}/${this.total} (${((100 * done) / this.total).toFixed(0)}%) ${el.toFixed(0)}s elapsed, eta ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'} ${extra}`);
  }

  done(): void {
    this.bar.done();
  }
}

export function corpusHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of [DATASET_FILES.userCorpus, DATASET_FILES.itemCorpus]) h.update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

/** One `profile` invocation: the store, the client, the counters (Batch JSONL export/import in ./batch.ts use it too). */
export class Run {
  readonly store: AnswerStore;
  readonly s: ProfileSummary;
  private readonly t0 = performance.now();
  readonly client: OpenAiClient | null;
  readonly model: string;
  readonly templates: Templates;
  readonly budget: PromptBudget;
  readonly log: (s: string) => void;
  private offline: OfflineContext | null = null;
  private offlineDigest = '';

  constructor(readonly o: ProfileOptions, readonly corpus: Corpus) {
    this.log = o.log ?? (() => undefined);
    this.budget = o.budget ?? DEFAULT_BUDGET;
    this.templates = loadTemplates(o.promptsDir ?? defaultPromptsDir);
    this.model = o.provider === 'offline' ? OFFLINE_MODEL : o.llm!.model;
    this.client = o.provider === 'openai' && !o.exportBatch && !o.importBatch?.length && !o.dryRun ? new OpenAiClient(o.llm!) : null;
    this.store = new AnswerStore(join(corpus.dir, STORE_FILE));
    if (this.store.repairedTail) this.log(`${this.store.file}: cut off a torn last line (an interrupted write); that answer will be asked again`);
    this.s = {
      dir: corpus.dir, provider: o.provider, model: this.model, complete: false, answers: 0, asked: 0, from_store: 0, empty: 0, failed: 0,
      retries: 0, reasks: 0, repaired: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: null, seconds: 0,
    };
  }

  /** Requests of one stage (stage 2 needs every item profile in the store). */
  requests(stage: 1 | 2): TextRequest[] {
    if (this.o.provider === 'offline') return this.offlineRequests(stage);
    const itemProfiles = stage === 2 ? this.itemProfileLookup() : undefined;
    return stageTasks(stage).flatMap((t) => buildRequests(t, this.corpus, this.templates, this.model, this.budget, itemProfiles));
  }

  private itemProfileLookup(): (i: number) => string | undefined {
    const reqs = buildRequests('item_profile', this.corpus, this.templates, this.model, this.budget);
    return (i) => {
      const a = this.store.get(reqs[i]!.key)?.answer.summarization;
      return typeof a === 'string' && a !== 'None' ? a : undefined;
    };
  }

  /** Offline answers depend on the whole corpus: their "prompt" is the corpus digest. */
  private offlineRequests(stage: 1 | 2): TextRequest[] {
    if (!this.offlineDigest) this.offlineDigest = corpusHash(this.corpus.dir);
    return stageTasks(stage).flatMap((task) => {
      const kind = TASK_INFO[task].kind;
      const recs = kind === 'user' ? this.corpus.users : this.corpus.items;
      return recs.map((rec): TextRequest => {
        const entity = `${kind}:${rec.key}`;
        return { task, kind, id: rec.id, entity, key: requestKey(task, entity, OFFLINE_MODEL, { corpus: this.offlineDigest }), messages: [], empty: false };
      });
    });
  }

  keysComplete(reqs: TextRequest[]): boolean {
    return reqs.every((r) => this.store.has(r.key));
  }

  private record(r: TextRequest, answer: Answer, extra: Partial<StoredAnswer>): StoredAnswer {
    return { key: r.key, task: r.task, entity: r.entity, provider: this.o.provider, model: this.model, answer, created: new Date().toISOString(), ...extra };
  }

  runOffline(reqs: TextRequest[]): void {
    this.offline ??= new OfflineContext(this.corpus);
    for (const r of reqs) {
      if (this.store.has(r.key)) {
        this.s.from_store++;
        continue;
      }
      this.store.appendBuffered(this.record(r, this.offline.answer(r.task, r.id), {}));
      this.s.asked++;
      crashPoint('profile-answer');
    }
    this.store.flush();
  }

  /** Asks one request, re-asking (with the reason) when the reply is unusable. */
  private async ask(r: TextRequest, signal: AbortSignal): Promise<StoredAnswer> {
    const maxReasks = this.o.maxReasks ?? 2;
    let messages: ChatMessage[] = r.messages;
    const usage = { prompt_tokens: 0, completion_tokens: 0 };
    let reason = '';
    for (let k = 0; k <= maxReasks; k++) {
      if (k > 0) this.s.reasks++;
      const res = await this.client!.chat(messages, signal);
      usage.prompt_tokens += res.usage.prompt_tokens;
      usage.completion_tokens += res.usage.completion_tokens;
      const a = readAnswer(r.task, res.content);
      if (!('error' in a)) {
        if (a.repaired || k > 0) this.s.repaired++;
        return this.record(r, a.answer, { usage, attempts: k + 1, repaired: a.repaired || k > 0 });
      }
      reason = a.error + (res.finishReason === 'length' ? ' (the reply was cut off: raise --max-tokens)' : '');
      messages = [
        ...r.messages,
        { role: 'assistant', content: res.content.slice(0, 4000) },
        { role: 'user', content: `Your reply could not be used: ${reason}. Answer again with only one JSON object of this form: ${schemaHint(r.task)}` },
      ];
    }
    throw new LlmError(`${r.entity} ${r.task}: ${reason} (after ${maxReasks + 1} replies)`, null, false);
  }

  async runLive(reqs: TextRequest[], label: string): Promise<string[]> {
    const todo: TextRequest[] = [];
    for (const r of reqs) {
      if (this.store.has(r.key)) this.s.from_store++;
      else if (r.empty) {
        this.store.append(this.record(r, emptyAnswer(r.task), { provider: 'none', model: 'none' }));
        this.s.empty++;
      } else todo.push(r);
    }
    if (todo.length === 0) return [];
    const failures: string[] = [];
    const meter = new Meter(label, todo.length, this.log);
    const ctl = new AbortController();
    const onOuter = () => ctl.abort(this.o.signal?.reason);
    this.o.signal?.addEventListener('abort', onOuter, { once: true });
    let fatal: unknown = null;
    let next = 0;
    let done = 0;
    let ok = 0;
    const c = this.client!.counters;
    const extra = () => {
      const cost = this.cost(c.promptTokens, c.completionTokens);
      return `tok ${((c.promptTokens + c.completionTokens) / 1000).toFixed(1)}k${cost !== null ? ` $${cost.toFixed(3)}` : ''}${c.retries ? ` retries ${c.retries}` : ''}${failures.length ? ` failed ${failures.length}` : ''}`;
    };
    const worker = async () => {
      while (!ctl.signal.aborted && next < todo.length) {
        const r = todo[next++]!;
        try {
          const rec = await this.ask(r, ctl.signal);
          this.store.append(rec);
          this.s.asked++;
          ok++;
          crashPoint('profile-answer');
        } catch (e) {
          if (ctl.signal.aborted) break;
          if (e instanceof LlmError && (e.status === 401 || e.status === 403 || e.status === 404)) {
            fatal = e;
            ctl.abort(e);
            break;
          }
          if (!(e instanceof LlmError)) {
            fatal = e;
            ctl.abort(e);
            break;
          }
          failures.push(e.message);
          if (failures.length >= 10 && ok === 0) {
            fatal = new LlmError(`the first ${failures.length} requests all failed; stopping (last: ${e.message})`, null, false);
            ctl.abort(fatal);
            break;
          }
        }
        done++;
        meter.tick(done, extra());
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(this.o.concurrency ?? 4, todo.length)) }, worker));
    } finally {
      meter.done();
      this.o.signal?.removeEventListener('abort', onOuter);
    }
    if (fatal) throw fatal;
    if (this.o.signal?.aborted) throw this.o.signal.reason;
    return failures;
  }

  cost(pin: number, pout: number): number | null {
    if (this.o.priceIn === undefined && this.o.priceOut === undefined) return null;
    return (pin / 1e6) * (this.o.priceIn ?? 0) + (pout / 1e6) * (this.o.priceOut ?? 0);
  }

  finishCounters(): void {
    if (this.client) {
      const c = this.client.counters;
      this.s.retries = c.retries;
      this.s.prompt_tokens = c.promptTokens;
      this.s.completion_tokens = c.completionTokens;
    }
    this.s.cost_usd = this.cost(this.s.prompt_tokens, this.s.completion_tokens);
    this.s.answers = this.store.size;
    this.s.seconds = Math.round((performance.now() - this.t0) / 100) / 10;
  }

  /**
   * An LLM may contradict the history it was shown: count the statements that contradict the
   * training ratings and say so (they stay as written).
   */
  private checkConsistency(users: ProfileRecord[], items: ProfileRecord[]): void {
    const found = findContradictions(this.corpus, users, items);
    this.s.contradictions = countByKind(found);
    const first = found[0];
    this.log(first
      ? `consistency: ${found.length} statements contradict the training ratings (${Object.entries(this.s.contradictions).map(([k, v]) => `${k} ${v}`).join(', ')}); e.g. ${first.side} ${first.key}: ${first.kind} "${first.value}"`
      : 'consistency: no statement contradicts the training ratings');
  }

  /** Writes text/users.jsonl, text/items.jsonl and text/profile.json from the store (and checks them). */
  finalize(): string[] {
    const all = [...this.requests(1), ...this.requests(2)];
    const byTaskId = new Map<string, StoredAnswer>();
    for (const r of all) byTaskId.set(`${r.task} ${r.id}`, this.store.get(r.key)!);
    const source = (a: StoredAnswer) => ({ provider: a.provider, model: a.model, offline: a.provider === 'offline' });
    const recs = (kind: 'user' | 'item'): ProfileRecord[] =>
      (kind === 'user' ? this.corpus.users : this.corpus.items).map((c) => {
        const p = byTaskId.get(`${kind}_profile ${c.id}`)!;
        const i = byTaskId.get(`${kind}_intent ${c.id}`)!;
        const rec: ProfileRecord = { id: c.id, key: c.key, ...(c.title ? { title: c.title } : {}), profile: p.answer, intent: i.answer, source: source(p.provider === 'none' ? i : p) };
        return rec;
      });
    const dir = this.corpus.dir;
    const files: Record<string, string> = {};
    const written = { users: recs('user'), items: recs('item') };
    for (const kind of ['users', 'items'] as const) {
      const path = join(dir, PROFILE_FILES[kind]);
      writeFileAtomic(path, written[kind].map((r) => `${JSON.stringify(r)}\n`).join(''));
      files[PROFILE_FILES[kind]] = fileHash(path);
    }
    this.checkConsistency(written.users, written.items);
    this.finishCounters();
    const manifest = {
      ...manifestHeader('irllrec-profiles', 1),
      provider: this.o.provider,
      model: this.model,
      offline: this.o.provider === 'offline',
      base_url: this.o.provider === 'openai' ? displayUrl(this.o.llm!.baseUrl) : null,
      prompts: {
        dir: this.o.promptsDir ?? 'prompts (package)',
        hash: templatesHash(this.templates),
        files: Object.fromEntries(TASKS.map((t) => [t, this.templates[t].hash])),
      },
      budget: this.budget,
      corpus_sha256: corpusHash(dir),
      counts: { users: this.corpus.users.length, items: this.corpus.items.length },
      store: { file: STORE_FILE, answers: this.store.size },
      last_run: { asked: this.s.asked, from_store: this.s.from_store, empty: this.s.empty, retries: this.s.retries, reasks: this.s.reasks, repaired: this.s.repaired, prompt_tokens: this.s.prompt_tokens, completion_tokens: this.s.completion_tokens, cost_usd: this.s.cost_usd },
      files,
    };
    writeFileAtomic(join(dir, PROFILE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
    this.s.complete = true;
    return [PROFILE_FILES.users, PROFILE_FILES.items, PROFILE_FILES.manifest].map((f) => join(dir, f));
  }

  countByTask(reqs: TextRequest[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of reqs) out[r.task] = (out[r.task] ?? 0) + 1;
    return out;
  }
}

export async function runProfile(o: ProfileOptions): Promise<ProfileSummary> {
  const corpus = readCorpus(o.dir);
  const release = o.dryRun ? () => undefined : acquireLock(join(corpus.dir, DATASET_FILES.cache, 'llm.lock'), `${corpus.dir}/${STORE_FILE}`);
  const run = new Run(o, corpus);
  const log = run.log;
  const s = run.s;
  try {
    log(`profile ${corpus.dir}: ${corpus.users.length} users, ${corpus.items.length} items; provider ${o.provider}, model ${run.model}${o.provider === 'openai' ? ` at ${displayUrl(o.llm!.baseUrl)}` : ''}; store ${run.store.size} answers`);
    if (o.dryRun) {
      const st1 = run.requests(1);
      const p1 = st1.filter((r) => !run.store.has(r.key) && !r.empty);
      const pending: Record<string, number | string> = run.countByTask(p1);
      let chars = p1.reduce((a, r) => a + r.messages.reduce((b, m) => b + m.content.length, 0), 0);
      if (run.keysComplete(st1)) {
        const p2 = run.requests(2).filter((r) => !run.store.has(r.key) && !r.empty);
        Object.assign(pending, run.countByTask(p2));
        chars += p2.reduce((a, r) => a + r.messages.reduce((b, m) => b + m.content.length, 0), 0);
      } else pending.user_profile = `${corpus.users.length} (asked after the item profiles)`;
      s.pending = pending;
      log(`dry run: would ask ${Object.entries(pending).map(([k, v]) => `${k} ${v}`).join(', ')}; about ${Math.round(chars / 4 / 1000)}k prompt tokens${o.provider === 'offline' ? ' (offline: no tokens are sent)' : ''}`);
      run.finishCounters();
      return s;
    }
    if (o.exportBatch) return exportBatch(run, o.exportBatch);
    if (o.importBatch?.length) return importBatch(run, o.importBatch);

    for (const stage of [1, 2] as const) {
      const before = { asked: s.asked, from_store: s.from_store, empty: s.empty };
      const reqs = run.requests(stage);
      if (o.provider === 'offline') run.runOffline(reqs);
      else {
        const label = stage === 1 ? 'profile stage 1/2 (item profiles, item and user intents)' : 'profile stage 2/2 (user profiles)';
        const failures = await run.runLive(reqs, label);
        if (failures.length) {
          s.failed = failures.length;
          run.finishCounters();
          throw new LlmError(`${failures.length} request(s) failed in stage ${stage}; the ${run.store.size} answers so far are kept in ${join(corpus.dir, STORE_FILE)}, rerun the same command to ask only the missing ones. First failure: ${failures[0]}`, null, false);
        }
      }
      const empty = s.empty - before.empty;
      log(`stage ${stage}/2 (${stageTasks(stage).join(', ')}): ${reqs.length} answers, ${s.asked - before.asked} new, ${s.from_store - before.from_store} from the store${empty ? `, ${empty} empty histories` : ''}`);
    }
    s.files = run.finalize();
    log(`wrote ${s.files.join(', ')}`);
    return s;
  } finally {
    run.store.close();
    release();
  }
}

export { TASKS } from './schema.js';
export type { TaskName };
