/**
 * The offline provider: deterministic profiles and intents without an LLM, from the same
 * training-only corpus the prompts are built from. Attributes (genres, categories, brand) a user
 * likes more often than users in general, the tags they wrote, salient phrases of their reviews,
 * and what they rated poorly; for items, their attributes, tags, and what their (training)
 * reviewers liked and disliked. Every answer says it was made offline.
 */
import type { Corpus } from '../ingest/corpus.js';
import type { CorpusRecord, FeedbackEntry } from '../ingest/pipeline.js';
import type { Answer, TaskName } from './schema.js';
import { salientPhrases, terms } from './tokenize.js';

export const OFFLINE_MODEL = 'irllrec-offline-2';

/** Attribute names that do not describe taste (ids, numbers, free-text features). */
const NON_TASTE = /(^|_)(year|date|price|rank|zip|zip_code|id|features|description|title|timestamp|age)$/i;

const fmtList = (xs: string[]): string => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);

function text(e: FeedbackEntry): string {
  return [e.summary, e.text].filter(Boolean).join('. ');
}

export class OfflineContext {
  /** taste attribute values per item */
  readonly itemValues: string[][];
  /** share of training interactions that involve each value */
  readonly prior = new Map<string, number>();
  readonly df = new Map<string, number>();
  readonly docs: number;
  readonly domain: string;

  constructor(readonly corpus: Corpus) {
    this.domain = corpus.manifest.domain || 'item';
    const items = corpus.items;
    const itemShare = new Map<string, number>();
    const raw = items.map((it) => {
      const vals: string[] = [];
      for (const [k, vs] of Object.entries(it.attributes)) {
        if (NON_TASTE.test(k)) continue;
        for (const v of vs) if (v.length <= 40 && !vals.includes(v)) vals.push(v);
      }
      for (const v of vals) itemShare.set(v, (itemShare.get(v) ?? 0) + 1);
      return vals;
    });
    // a value on most items (e.g. the category every product of the dataset has) says nothing
    const common = new Set([...itemShare].filter(([, c]) => items.length >= 10 && c / items.length > 0.6).map(([v]) => v));
    this.itemValues = raw.map((vals) => vals.filter((v) => !common.has(v)));
    let total = 0;
    items.forEach((it, i) => {
      const n = it.feedback.filter((e) => e.interaction).length;
      total += n;
      for (const v of this.itemValues[i]!) this.prior.set(v, (this.prior.get(v) ?? 0) + n);
    });
    for (const [v, c] of this.prior) this.prior.set(v, total ? c / total : 0);
    let docs = 0;
    for (const it of items) {
      for (const e of it.feedback) {
        const t = text(e);
        if (!t) continue;
        docs++;
        for (const term of new Set(terms(t))) this.df.set(term, (this.df.get(term) ?? 0) + 1);
      }
    }
    this.docs = docs;
  }

  private userTop: (string[] | undefined)[] = [];

  /** The two values a user likes most (cached; used to say whom an item does not suit). */
  private topValues(u: number): string[] {
    return (this.userTop[u] ??= this.userFacts(this.corpus.users[u]!).likedVals.slice(0, 2));
  }

  /** Values the item's poor raters like elsewhere (and it lacks): "Drama fans" it disappoints. */
  private dislikerTastes(it: CorpusRecord, i: number): string[] {
    // what the item is said to attract (its values and its tags) is never also what it does not suit
    const own = new Set([...this.itemValues[i]!, ...it.feedback.flatMap((e) => e.tags ?? [])].map((v) => v.toLowerCase()));
    const c = new Map<string, number>();
    for (const e of it.feedback) if (e.liked === false) for (const v of this.topValues(e.user!)) if (!own.has(v.toLowerCase())) c.set(v, (c.get(v) ?? 0) + 1);
    return [...c].filter(([, n]) => n >= 2).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 2).map(([v]) => v);
  }

  private phrases(entries: FeedbackEntry[], k: number): string[] {
    return salientPhrases(entries.map(text).filter(Boolean), k, this.df, this.docs);
  }

  /**
   * Salient phrases of the liked and of the poorly rated reviews, with any phrase that shares a
   * word with the other side dropped from both ("plot" praised and "plot holes" criticised says
   * neither).
   */
  private disjointPhrases(liked: FeedbackEntry[], kl: number, disliked: FeedbackEntry[], kd: number): { likedPhrases: string[]; dislikedPhrases: string[] } {
    const l = this.phrases(liked, kl + 2);
    const d = this.phrases(disliked, kd + 2);
    const wordsOf = (ps: string[]) => new Set(ps.flatMap((p) => p.split(' ')));
    const lw = wordsOf(l);
    const dw = wordsOf(d);
    return {
      likedPhrases: l.filter((p) => !p.split(' ').some((w) => dw.has(w))).slice(0, kl),
      dislikedPhrases: d.filter((p) => !p.split(' ').some((w) => lw.has(w))).slice(0, kd),
    };
  }

  answer(task: TaskName, id: number): Answer {
    switch (task) {
      case 'item_profile':
        return this.itemProfile(this.corpus.items[id]!, id);
      case 'item_intent':
        return this.itemIntent(this.corpus.items[id]!, id);
      case 'user_profile':
        return this.userProfile(this.corpus.users[id]!);
      case 'user_intent':
        return this.userIntent(this.corpus.users[id]!);
    }
  }

  // ---------------------------------------------------------------- items

  private itemFacts(it: CorpusRecord, i: number) {
    const f = it.feedback;
    const liked = f.filter((e) => e.liked === true);
    const disliked = f.filter((e) => e.liked === false);
    const tagCount = new Map<string, number>();
    for (const e of f) for (const t of e.tags ?? []) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
    const tags = [...tagCount].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5).map(([t]) => t);
    const rated = f.filter((e) => e.rating !== null);
    const mean = rated.length ? rated.reduce((s, e) => s + e.rating!, 0) / rated.length : null;
    return {
      values: this.itemValues[i]!,
      year: it.attributes.year?.[0],
      brand: it.attributes.brand?.[0],
      tags,
      ...this.disjointPhrases(liked, 4, disliked, 3),
      nLiked: liked.length,
      nDisliked: disliked.length,
      mean,
      nReviews: f.filter((e) => text(e)).length,
    };
  }

  private itemProfile(it: CorpusRecord, i: number): Answer {
    const x = this.itemFacts(it, i);
    const title = it.title ?? `${this.domain} ${it.key}`;
    const parts: string[] = [];
    parts.push(`${title}${x.values.length ? `: ${fmtList(x.values.slice(0, 4))}` : ''}${x.year && !title.includes(x.year) ? ` (${x.year})` : ''}.`);
    if (it.description) {
      const first = it.description.split(/(?<=[.!?])\s/)[0]!;
      parts.push(first.length > 220 ? `${first.slice(0, 220)}…` : first);
    }
    if (x.values.length) parts.push(`Suits users who enjoy ${fmtList(x.values.slice(0, 3))} ${this.domain}s${x.brand ? ` and the ${x.brand} brand` : ''}.`);
    else if (x.brand) parts.push(`Suits users who like the ${x.brand} brand.`);
    if (x.tags.length) parts.push(`Users describe it as ${fmtList(x.tags.map((t) => `"${t}"`))}.`);
    if (x.likedPhrases.length) parts.push(`Reviewers who liked it mention ${fmtList(x.likedPhrases)}.`);
    if (x.dislikedPhrases.length) parts.push(`Critics mention ${fmtList(x.dislikedPhrases)}.`);
    if (x.nLiked + x.nDisliked > 0) parts.push(`${x.nLiked} of ${x.nLiked + x.nDisliked} training ratings are positive.`);
    return {
      summarization: parts.join(' '),
      reasoning: `Offline profile (no LLM): from the title, ${x.values.length} attribute values, ${x.tags.length} tags, ${x.nReviews} training reviews and ${x.nLiked + x.nDisliked} training ratings.`,
    };
  }

  private itemIntent(it: CorpusRecord, i: number): Answer {
    const x = this.itemFacts(it, i);
    const key = [...x.values.slice(0, 4), ...(x.brand && !x.values.includes(x.brand) ? [x.brand] : []), ...x.tags.slice(0, 3)];
    const attracts = [
      ...x.values.slice(0, 3).map((v) => `${v} fans`),
      ...x.tags.slice(0, 2).map((t) => `"${t}" seekers`),
      ...x.likedPhrases.slice(0, 2).map((p) => `users who mention "${p}"`),
    ];
    if (attracts.length === 0) attracts.push(x.brand ? `${x.brand} customers` : `general ${this.domain} shoppers`);
    const notSuit = [...x.dislikedPhrases.map((p) => `users put off by "${p}"`), ...this.dislikerTastes(it, i).map((v) => `${v} fans`)];
    if (notSuit.length === 0) notSuit.push(x.values.length ? `people who avoid ${x.values[0]}` : `people looking for something other than ${it.title ?? 'this'}`);
    if (x.mean !== null && x.nDisliked > x.nLiked) notSuit.push('most raters');
    return {
      key_attributes: key.length ? key : [it.title ?? it.key],
      attracts,
      does_not_suit: notSuit,
      intent: `attracts ${fmtList(attracts.slice(0, 4))} / does not suit ${fmtList(notSuit.slice(0, 3))}`,
    };
  }

  // ---------------------------------------------------------------- users

  private userFacts(u: CorpusRecord) {
    const f = u.feedback;
    const liked = f.filter((e) => e.liked === true);
    const disliked = f.filter((e) => e.liked === false);
    const likedCount = new Map<string, number>();
    const dislikedCount = new Map<string, number>();
    for (const e of liked) for (const v of this.itemValues[e.item!]!) likedCount.set(v, (likedCount.get(v) ?? 0) + 1);
    for (const e of disliked) for (const v of this.itemValues[e.item!]!) dislikedCount.set(v, (dislikedCount.get(v) ?? 0) + 1);
    const byText = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1);
    // A value is said to be liked only if the user rated it well more often than poorly, and
    // disliked only the other way round: every statement agrees with the majority of the user's
    // own ratings of that value, so no value is ever both (a user with 40 liked and 15 poorly
    // rated thrillers does not "rate Thrillers lower").
    const mostlyLiked = (v: string) => (likedCount.get(v) ?? 0) > (dislikedCount.get(v) ?? 0);
    const mostlyDisliked = (v: string) => (dislikedCount.get(v) ?? 0) > (likedCount.get(v) ?? 0);
    // liked: values over-represented among the user's liked items (lift over the population)
    const nl = Math.max(liked.length, 1);
    const likedVals = [...likedCount]
      .filter(([v]) => mostlyLiked(v))
      .map(([v, c]): [string, number] => [v, c * Math.log((c / nl + 1e-3) / ((this.prior.get(v) ?? 0) + 1e-3))])
      .filter(([, s]) => s > 0)
      .sort(byText)
      .map(([v]) => v);
    if (likedVals.length === 0) likedVals.push(...[...likedCount].filter(([v]) => mostlyLiked(v)).sort(byText).map(([v]) => v));
    // disliked: values of poorly rated items, more often than among the liked ones
    const nd = Math.max(disliked.length, 1);
    const dislikedVals = [...dislikedCount]
      .filter(([v]) => mostlyDisliked(v))
      .map(([v, c]): [string, number] => [v, c * Math.log((c / nd + 1e-3) / ((likedCount.get(v) ?? 0) / nl + 1e-3))])
      .filter(([, s]) => s > 0)
      .sort(byText)
      .map(([v]) => v);
    // no evidence of dislike: popular values the user never chooses (said as such, never as a dislike)
    const avoided =
      dislikedVals.length === 0 && liked.length >= 3
        ? [...this.prior]
            .filter(([v, p]) => p > 0.03 && !likedCount.has(v) && !dislikedCount.has(v))
            .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
            .slice(0, 2)
            .map(([v]) => v)
        : [];
    // tags the user put on items they did not rate poorly, and that do not name a value they
    // mostly rated poorly (a "sci-fi" tag on a Sci-Fi film they disliked is not a taste)
    const poorLower = new Set([...dislikedCount.keys()].filter(mostlyDisliked).map((v) => v.toLowerCase()));
    const tagCount = new Map<string, number>();
    for (const e of f) if (e.liked !== false) for (const t of e.tags ?? []) if (!poorLower.has(t.toLowerCase())) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
    const tags = [...tagCount].sort(byText).slice(0, 5).map(([t]) => t);
    const recentLiked = [...liked].sort((a, b) => (b.rating ?? 0) - (a.rating ?? 0) || (b.time ?? 0) - (a.time ?? 0)).slice(0, 3);
    const titles = (es: FeedbackEntry[]) => es.map((e) => this.corpus.items[e.item!]!.title ?? this.corpus.items[e.item!]!.key);
    return {
      liked, disliked, likedVals, dislikedVals, avoided, tags,
      favourites: titles(recentLiked),
      lowRated: titles([...disliked].sort((a, b) => (a.rating ?? 0) - (b.rating ?? 0)).slice(0, 2)),
      ...this.disjointPhrases(liked, 3, disliked, 2),
      nReviews: f.filter((e) => text(e)).length,
      // what the user's history is about: the values they chose most, less those they mostly rated poorly
      keyVals: [...likedCount.keys()].filter((v) => !mostlyDisliked(v)).sort((a, b) => (likedCount.get(b) ?? 0) + (dislikedCount.get(b) ?? 0) - (likedCount.get(a) ?? 0) - (dislikedCount.get(a) ?? 0) || (a < b ? -1 : 1)),
    };
  }

  private userProfile(u: CorpusRecord): Answer {
    const x = this.userFacts(u);
    const d = this.domain;
    const parts: string[] = [];
    if (x.liked.length === 0 && x.disliked.length === 0 && x.tags.length === 0) {
      return { summarization: 'None', reasoning: 'Offline profile (no LLM): no training history.' };
    }
    if (x.likedVals.length) parts.push(`Enjoys ${fmtList(x.likedVals.slice(0, 4))} ${d}s.`);
    if (x.favourites.length) parts.push(`Favourites include ${fmtList(x.favourites)}.`);
    if (x.tags.length) parts.push(`Describes ${d}s with tags such as ${fmtList(x.tags.map((t) => `"${t}"`))}.`);
    if (x.likedPhrases.length) parts.push(`Praises ${fmtList(x.likedPhrases)}.`);
    if (x.dislikedVals.length) parts.push(`Rates ${fmtList(x.dislikedVals.slice(0, 3))} ${d}s lower${x.lowRated.length ? `, e.g. ${fmtList(x.lowRated)}` : ''}.`);
    else if (x.avoided.length) parts.push(`Rarely chooses ${fmtList(x.avoided)} ${d}s.`);
    if (x.dislikedPhrases.length) parts.push(`Complains about ${fmtList(x.dislikedPhrases)}.`);
    return {
      summarization: parts.join(' '),
      reasoning: `Offline profile (no LLM): from ${x.liked.length} liked and ${x.disliked.length} poorly rated training interactions, ${x.tags.length} tags and ${x.nReviews} reviews.`,
    };
  }

  private userIntent(u: CorpusRecord): Answer {
    const x = this.userFacts(u);
    const liked = [...x.likedVals.slice(0, 3), ...x.tags.slice(0, 2).map((t) => `"${t}"`), ...x.likedPhrases.slice(0, 2)];
    // dislikes come only from the user's poor ratings; values they never chose are not dislikes
    const disliked = [...x.dislikedVals.slice(0, 3), ...x.dislikedPhrases.slice(0, 2)];
    const key = [...x.keyVals.slice(0, 5), ...x.tags.slice(0, 2)];
    const tail = disliked.length ? `dislikes ${fmtList(disliked.slice(0, 3))}` : x.avoided.length ? `rarely chooses ${fmtList(x.avoided)}` : 'dislikes nothing in particular yet';
    return {
      key_attributes: key,
      liked,
      disliked,
      intent: `likes ${liked.length ? fmtList(liked.slice(0, 4)) : 'nothing in particular yet'} / ${tail}`,
    };
  }
}
