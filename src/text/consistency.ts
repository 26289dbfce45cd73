/**
 * Do the profiles and intents agree with the history they were written from? For any provider
 * (the offline one and an LLM alike), the statements that name a catalogue attribute value
 * (a genre, a category, a brand) are checked against the user's own training feedback:
 * - a user "likes" a value they rated poorly more often than well, or "dislikes" one they rated
 *   well more often than poorly;
 * - a user "dislikes" anything while having no poorly rated item at all;
 * - the same value is both liked and disliked (users), or both attracted and not suited (items).
 * Free phrases that name no attribute value ("slow pacing") are not judged: there is no ground
 * truth for them in the data.
 */
import type { Corpus } from '../ingest/corpus.js';
import type { ProfileRecord } from './profile-files.js';
import { answerList } from './schema.js';

export interface Contradiction {
  side: 'user' | 'item';
  id: number;
  key: string;
  kind: 'liked-but-mostly-rated-poorly' | 'disliked-but-mostly-rated-well' | 'disliked-without-poor-ratings' | 'liked-and-disliked' | 'attracts-and-does-not-suit';
  value: string;
}

/** A statement's attribute value: lower-cased, quotes and the templates "X fans" / "X seekers" removed. */
export function statedValue(phrase: string): string {
  return phrase
    .trim()
    .replace(/^["'“”]+|["'“”]+$/g, '')
    .replace(/\s+(fans|seekers|lovers|enthusiasts)$/i, '')
    .replace(/^["'“”]+|["'“”]+$/g, '')
    .toLowerCase();
}

/** Every contradiction between the profile records and the corpus they describe (empty when none). */
export function findContradictions(corpus: Corpus, users: ProfileRecord[], items: ProfileRecord[]): Contradiction[] {
  // lower-cased attribute values of every item, and the set of all of them (what can be judged)
  const itemValues = corpus.items.map((it) => new Set(Object.values(it.attributes).flat().map((v) => v.toLowerCase())));
  const vocabulary = new Set(itemValues.flatMap((s) => [...s]));
  const out: Contradiction[] = [];
  users.forEach((r, u) => {
    const rec = corpus.users[u];
    if (!rec) return;
    const good = new Map<string, number>();
    const poor = new Map<string, number>();
    let nPoor = 0;
    for (const e of rec.feedback) {
      if (e.liked === null || e.item === undefined || e.item === null) continue;
      if (e.liked === false) nPoor++;
      const m = e.liked ? good : poor;
      for (const v of itemValues[e.item] ?? []) m.set(v, (m.get(v) ?? 0) + 1);
    }
    const add = (kind: Contradiction['kind'], value: string) => out.push({ side: 'user', id: u, key: r.key, kind, value });
    const liked = answerList(r.intent.liked).map(statedValue);
    const disliked = answerList(r.intent.disliked).map(statedValue);
    if (disliked.length > 0 && nPoor === 0) add('disliked-without-poor-ratings', disliked.join('; '));
    for (const v of liked) {
      if (!vocabulary.has(v)) continue;
      if ((poor.get(v) ?? 0) > (good.get(v) ?? 0)) add('liked-but-mostly-rated-poorly', v);
      if (disliked.includes(v)) add('liked-and-disliked', v);
    }
    for (const v of disliked) {
      if (vocabulary.has(v) && (good.get(v) ?? 0) > (poor.get(v) ?? 0)) add('disliked-but-mostly-rated-well', v);
    }
  });
  items.forEach((r, i) => {
    const attracts = new Set(answerList(r.intent.attracts).map(statedValue));
    for (const v of answerList(r.intent.does_not_suit).map(statedValue)) {
      if (attracts.has(v)) out.push({ side: 'item', id: i, key: r.key, kind: 'attracts-and-does-not-suit', value: v });
    }
  });
  return out;
}

/** Counts by kind (for logs and reports). */
export function countByKind(cs: Contradiction[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cs) out[c.kind] = (out[c.kind] ?? 0) + 1;
  return out;
}
