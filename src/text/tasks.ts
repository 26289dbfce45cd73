/**
 * What each task says about each entity: the prompt input (JSON, from the training-only corpus,
 * trimmed to a budget), the rendered chat messages, and the store key, a sha256 of
 * (task, entity, model, prompt).
 */
import { createHash } from 'node:crypto';
import type { Corpus } from '../ingest/corpus.js';
import type { CorpusRecord, FeedbackEntry } from '../ingest/pipeline.js';
import { render, type Templates } from './prompts.js';
import { TASK_INFO, type Answer, type TaskName } from './schema.js';

export interface PromptBudget {
  /** reviews quoted in an item prompt */
  maxReviews: number;
  /** history entries in a user prompt */
  maxHistory: number;
  /** characters kept of one review, description or item profile */
  maxChars: number;
}

export const DEFAULT_BUDGET: PromptBudget = { maxReviews: 10, maxHistory: 30, maxChars: 300 };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface TextRequest {
  task: TaskName;
  kind: 'user' | 'item';
  /** 0-based id */
  id: number;
  /** `item:<external key>` (stable across re-ingests) */
  entity: string;
  key: string;
  messages: ChatMessage[];
  /** no history at all: answered locally, never sent */
  empty: boolean;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function requestKey(task: TaskName, entity: string, model: string, prompt: unknown): string {
  return sha256(JSON.stringify([task, entity, model, prompt]));
}

function trunc(s: string | undefined, n: number): string | undefined {
  if (s === undefined || s === '') return undefined;
  if (s.length <= n) return s;
  const cut = s.slice(0, n);
  const sp = cut.lastIndexOf(' ');
  return `${(sp > n * 0.6 ? cut.slice(0, sp) : cut).trimEnd()}…`;
}

/** Attributes for prompts: at most 6 values of at most 80 characters each, features shortened. */
function promptAttributes(a: Record<string, string[]>, maxChars: number): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const [k, vs] of Object.entries(a)) {
    const lim = k === 'features' ? 3 : 6;
    const len = k === 'features' ? Math.min(maxChars, 160) : 80;
    out[k] = vs.slice(0, lim).map((v) => trunc(v, len)!);
  }
  return Object.keys(out).length ? out : undefined;
}

const recentFirst = (a: FeedbackEntry, b: FeedbackEntry) => (b.time ?? -Infinity) - (a.time ?? -Infinity);

/** Up to n entries: ~3/4 liked, the rest disliked, then tag-only ones; most recent first within each. */
function pick<T extends FeedbackEntry>(entries: T[], n: number): T[] {
  const liked = entries.filter((e) => e.liked === true).sort(recentFirst);
  const disliked = entries.filter((e) => e.liked === false).sort(recentFirst);
  const tagOnly = entries.filter((e) => e.liked === null).sort(recentFirst);
  const nd = Math.min(disliked.length, Math.max(n - liked.length, Math.floor(n / 4)));
  const nl = Math.min(liked.length, n - nd);
  const chosen = [...liked.slice(0, nl), ...disliked.slice(0, nd)];
  chosen.push(...tagOnly.slice(0, n - chosen.length));
  return chosen;
}

function ratingStats(f: FeedbackEntry[]) {
  const rated = f.filter((e) => e.rating !== null);
  const out: Record<string, number> = { interactions: f.filter((e) => e.interaction).length };
  if (rated.length) {
    out.rated = rated.length;
    out.mean_rating = Math.round((rated.reduce((s, e) => s + e.rating!, 0) / rated.length) * 100) / 100;
  }
  out.liked = f.filter((e) => e.liked === true).length;
  out.disliked = f.filter((e) => e.liked === false).length;
  return out;
}

function topTags(f: FeedbackEntry[], k: number): string[] | undefined {
  const c = new Map<string, number>();
  for (const e of f) for (const t of e.tags ?? []) c.set(t, (c.get(t) ?? 0) + 1);
  const out = [...c].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, k).map(([t]) => t);
  return out.length ? out : undefined;
}

export function itemInput(rec: CorpusRecord, b: PromptBudget): Record<string, unknown> {
  const reviews = pick(rec.feedback.filter((e) => e.text || e.summary), b.maxReviews).map((e) => {
    const r: Record<string, unknown> = { rating: e.rating, liked: e.liked };
    if (e.summary) r.summary = trunc(e.summary, 120);
    if (e.text) r.text = trunc(e.text, b.maxChars);
    return r;
  });
  const o: Record<string, unknown> = { title: rec.title ?? `(untitled ${rec.key})` };
  const attrs = promptAttributes(rec.attributes, b.maxChars);
  if (attrs) o.attributes = attrs;
  if (rec.description) o.description = trunc(rec.description, Math.max(b.maxChars, 600));
  o.ratings = ratingStats(rec.feedback);
  const tags = topTags(rec.feedback, 10);
  if (tags) o.tags = tags;
  if (reviews.length) o.reviews = reviews;
  return o;
}

export function userInput(rec: CorpusRecord, items: CorpusRecord[], b: PromptBudget, itemProfiles?: (i: number) => string | undefined): Record<string, unknown> {
  const chosen = pick(rec.feedback, b.maxHistory).sort((a, c) => (a.time ?? -Infinity) - (c.time ?? -Infinity));
  const history = chosen.map((e) => {
    const it = items[e.item!]!;
    const h: Record<string, unknown> = { title: it.title ?? `(untitled ${it.key})` };
    const attrs = promptAttributes(Object.fromEntries(Object.entries(it.attributes).filter(([k]) => k !== 'features')), b.maxChars);
    if (attrs) h.attributes = attrs;
    if (itemProfiles) {
      const p = itemProfiles(e.item!);
      if (p) h.profile = trunc(p, b.maxChars);
    }
    if (e.rating !== null) h.rating = e.rating;
    h.liked = e.liked;
    const review = [e.summary, e.text].filter(Boolean).join(' — ');
    if (review) h.review = trunc(review, b.maxChars);
    if (e.tags?.length) h.tags = e.tags;
    return h;
  });
  const o: Record<string, unknown> = {};
  const attrs = promptAttributes(rec.attributes, b.maxChars);
  if (attrs) o.user_attributes = attrs;
  o.history_size = ratingStats(rec.feedback);
  o.history = history;
  return o;
}

/** Builds the requests of `task` for every entity. */
export function buildRequests(
  task: TaskName, corpus: Corpus, templates: Templates, model: string, b: PromptBudget,
  itemProfiles?: (i: number) => string | undefined,
): TextRequest[] {
  const { kind } = TASK_INFO[task];
  const recs = kind === 'user' ? corpus.users : corpus.items;
  const t = templates[task];
  const domain = corpus.manifest.domain || 'item';
  return recs.map((rec) => {
    const input = kind === 'item' ? itemInput(rec, b) : userInput(rec, corpus.items, b, task === 'user_profile' ? itemProfiles : undefined);
    const vars = { domain, input: JSON.stringify(input) };
    const messages: ChatMessage[] = [
      { role: 'system', content: render(t.system, vars) },
      { role: 'user', content: render(t.user, vars) },
    ];
    const entity = `${kind}:${rec.key}`;
    const empty = kind === 'user' && rec.feedback.length === 0;
    return { task, kind, id: rec.id, entity, key: requestKey(task, entity, model, messages), messages, empty };
  });
}

/** The fixed answer for an entity with no training data at all (never sent to a model). */
export function emptyAnswer(task: TaskName): Answer {
  switch (task) {
    case 'item_profile':
    case 'user_profile':
      return { summarization: 'None', reasoning: 'no training history' };
    case 'user_intent':
      return { key_attributes: [], liked: [], disliked: [], intent: 'likes nothing known yet / dislikes nothing known yet' };
    case 'item_intent':
      return { key_attributes: [], attracts: [], does_not_suit: [], intent: 'attracts no known users yet / does not suit no known users yet' };
  }
}
