/**
 * What explanations are made of: the non-negative intent mixture that splits a score exactly
 * (checked against the optimality conditions of its least-squares problem), labels without
 * tokenisation debris, no text shown on two intents, and offline profiles that never contradict
 * the user's own ratings (with the checker shown to catch contradictions).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCorpus, type Corpus } from '../src/ingest/corpus.js';
import type { CorpusRecord, FeedbackEntry } from '../src/ingest/pipeline.js';
import { IntentMixer } from '../src/serve/intents.js';
import { Lexicon } from '../src/serve/lexicon.js';
import { findContradictions, statedValue } from '../src/text/consistency.js';
import { OfflineContext } from '../src/text/offline.js';
import type { ProfileRecord } from '../src/text/profile-files.js';
import { runProfile } from '../src/text/profile.js';
import { terms } from '../src/text/tokenize.js';
import { miniRecboleBase } from './helpers/datasets.js';
import { startLlmServer } from './helpers/llm-server.js';
import { mulberry32 as seededRandom } from './helpers/seeded-random.mjs';

describe('IntentMixer: an embedding as a non-negative mixture of prototypes', () => {
  const K = 12;
  const d = 5;
  const rnd = seededRandom(7);
  const C = Float32Array.from({ length: K * d }, () => rnd() * 2 - 1);
  const mixer = new IntentMixer(C, K, d);

  it('meets the optimality (KKT) conditions of min |e - C^T a|^2, a >= 0, and its residual is exact', () => {
    for (let t = 0; t < 20; t++) {
      const e = Float32Array.from({ length: d }, () => rnd() * 2 - 1);
      const { a, residual, fit } = mixer.mix(e, 0);
      // gradient of 1/2 |e - C^T a|^2 is -C r; at the optimum it is 0 where a > 0 and >= 0 where a = 0
      for (let k = 0; k < K; k++) {
        expect(a[k]).toBeGreaterThanOrEqual(0);
        let g = 0;
        for (let c = 0; c < d; c++) g -= C[k * d + c]! * residual[c]!;
        if (a[k]! > 1e-9) expect(Math.abs(g)).toBeLessThan(1e-6);
        else expect(g).toBeGreaterThan(-1e-6);
      }
      // the residual is e minus the mixture, so any score splits exactly
      const x = Float32Array.from({ length: d }, () => rnd());
      let score = 0;
      let parts = 0;
      let r2 = 0;
      let e2 = 0;
      for (let c = 0; c < d; c++) {
        score += e[c]! * x[c]!;
        parts += residual[c]! * x[c]!;
        r2 += residual[c]! ** 2;
        e2 += e[c]! ** 2;
      }
      for (let k = 0; k < K; k++) for (let c = 0; c < d; c++) parts += a[k]! * C[k * d + c]! * x[c]!;
      expect(parts).toBeCloseTo(score, 5);
      expect(fit).toBeCloseTo(1 - r2 / e2, 6);
    }
  });

  it('recovers a planted non-negative mixture exactly', () => {
    // two prototypes only: the mixture is unique
    const C2 = Float32Array.from([1, 0, 0, 1, 1, 0]);
    const m = new IntentMixer(C2, 2, 3);
    const { a, fit } = m.mix(Float32Array.from([9, 9, 9, 1, 0.5, 0]), 3); // row 1: 0.5 c_0 + 0.5 c_1
    expect(a[0]).toBeCloseTo(0.5, 6);
    expect(a[1]).toBeCloseTo(0.5, 6);
    expect(fit).toBeCloseTo(1, 6);
    // a direction no non-negative mixture reaches: nothing explained, fit 0
    const none = m.mix(Float32Array.from([-1, 0, 0]), 0);
    expect([...none.a]).toEqual([0, 0]);
    expect(none.fit).toBeCloseTo(0, 6);
  });
});

describe('intent labels and the text shown per intent', () => {
  // three Sci-Fi items lean on prototype 0, three Drama items on prototype 1, 54 others on neither
  const phrases = [
    ['Sci-Fi fans', '"space opera" seekers'], ['Sci-Fi fans', 'Adventure fans'], ['Sci-Fi fans', '"space opera" seekers'],
    ['Drama fans', 'Romance fans'], ['Drama fans', '"slow burn" seekers'], ['Drama fans', 'Romance fans'],
    ...Array.from({ length: 54 }, (_, j) => [`Genre${j % 27} fans`, `"tag${j % 27}" seekers`]),
  ];
  const W = Float32Array.from([0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, ...Array.from({ length: 108 }, () => 0.5)]);
  const lex = new Lexicon(phrases, W, 2);

  it('keeps hyphenated words whole and leaves template words out of labels', () => {
    expect(terms('Sci-Fi fans', true, true)).toEqual(['sci-fi', 'fans', 'sci-fi fans']);
    expect(terms('Sci-Fi fans')).toContain('fi fans'); // the embedder's tokens are unchanged
    const t0 = lex.topTerms(0, 4);
    expect(t0).toContain('sci-fi');
    for (const t of [...t0, ...lex.topTerms(1, 4)]) {
      for (const w of t.split(' ')) expect(['fi', 'sci', 'fans', 'seekers']).not.toContain(w);
    }
  });

  it('never shows a phrase on two intents when the caller excludes what it has shown', () => {
    const own = ['Sci-Fi fans', 'Drama fans'];
    const first = lex.match(0, own, 3);
    expect(first).toEqual(['Sci-Fi fans']);
    const shown = new Set(first.map(statedValue));
    expect(lex.match(0, own, 3, shown)).toEqual([]);
    expect(lex.match(1, own, 3, shown)).toEqual(['Drama fans']);
    // one phrase per stated value: "Sci-Fi" and "Sci-Fi fans" say the same
    expect(lex.match(0, ['Sci-Fi fans', 'Sci-Fi', '"sci-fi" seekers'], 3)).toHaveLength(1);
  });
});

describe('offline profiles agree with the user\u2019s own ratings', () => {
  const GENRES = ['Action', 'Comedy', 'Drama', 'Horror', 'Thriller', 'Sci-Fi'];
  // 30 items, two genres each; 25 users with mixed ratings and a few tags
  const rnd = seededRandom(11);
  const items: CorpusRecord[] = Array.from({ length: 30 }, (_, i) => ({
    id: i, key: `i${i}`, title: `Film ${i}`, attributes: { genres: [GENRES[i % 6]!, GENRES[(i * 5 + 1) % 6]!].filter((g, j, a) => a.indexOf(g) === j) }, feedback: [],
  }));
  const users: CorpusRecord[] = Array.from({ length: 25 }, (_, u) => {
    const feedback: FeedbackEntry[] = [];
    for (let j = 0; j < 12; j++) {
      const item = Math.floor(rnd() * 30);
      if (feedback.some((e) => e.item === item)) continue;
      // users below 5 never rate poorly (gift-card-like); the rest rate their disliked genre poorly
      const poor = u >= 5 && items[item]!.attributes.genres!.includes(GENRES[u % 6]!) && rnd() < 0.8;
      const rating = poor ? 2 : 4 + Math.floor(rnd() * 2);
      const e: FeedbackEntry = { item, interaction: !poor, rating, liked: !poor, time: j, ...(j === 0 ? { tags: [GENRES[u % 6]!.toLowerCase()] } : {}) };
      feedback.push(e);
      items[item]!.feedback.push({ ...e, item: undefined, user: u });
    }
    return { id: u, key: `u${u}`, attributes: {}, feedback };
  });
  const corpus: Corpus = { dir: '/nowhere', manifest: { kind: 'irllrec-dataset', format: 'test', domain: 'movie', options: { like_threshold: 4, min_rating: null, split: 'random', seed: 1 }, stats: { users: 25, items: 30 } }, users, items };
  const ctx = new OfflineContext(corpus);
  const src = { provider: 'offline', model: 'test', offline: true };
  const profiles = (side: 'user' | 'item') =>
    (side === 'user' ? users : items).map((r, id): ProfileRecord => ({
      id, key: r.key,
      profile: ctx.answer(side === 'user' ? 'user_profile' : 'item_profile', id),
      intent: ctx.answer(side === 'user' ? 'user_intent' : 'item_intent', id),
      source: src,
    }));

  it('has no contradiction on a corpus with mixed ratings, tags and users without poor ratings', () => {
    const us = profiles('user');
    expect(findContradictions(corpus, us, profiles('item'))).toEqual([]);
    // users without any poor rating dislike nothing (what they never chose is said as such)
    for (const u of [0, 1, 2, 3, 4]) expect(us[u]!.intent.disliked).toEqual([]);
    // the others do state dislikes: the check is not passing on empty lists
    expect(us.slice(5).filter((r) => (r.intent.disliked as string[]).length > 0).length).toBeGreaterThan(10);
  });

  it('the checker catches each kind of contradiction', () => {
    const us = profiles('user');
    const u = 7; // rates its disliked genre poorly
    const hated = GENRES[u % 6]!;
    const fav = (us[u]!.intent.liked as string[]).find((v) => GENRES.includes(v))!;
    const bad: ProfileRecord[] = us.map((r) => ({ ...r, intent: { ...r.intent } }));
    bad[u]!.intent.liked = [hated];
    bad[u]!.intent.disliked = [fav, hated];
    bad[0]!.intent.disliked = ['Horror'];
    const its = profiles('item');
    its[3]!.intent.does_not_suit = [...(its[3]!.intent.attracts as string[])];
    const kinds = new Set(findContradictions(corpus, bad, its).map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['attracts-and-does-not-suit', 'disliked-but-mostly-rated-well', 'disliked-without-poor-ratings', 'liked-and-disliked', 'liked-but-mostly-rated-poorly']);
    expect(statedValue('"Sci-Fi" fans')).toBe('sci-fi');
  });
});

describe('irllrec profile checks what the provider wrote', () => {
  it('counts and logs the statements an LLM makes against the ratings; the offline ones have none', async () => {
    const server = await startLlmServer();
    try {
      const ds = join(await miniRecboleBase('irllrec-consistency-'), 'ds');
      const lines: string[] = [];
      // the mock model says every user dislikes "noise", whether or not they rated anything poorly
      const s = await runProfile({
        dir: ds, provider: 'openai', concurrency: 4, log: (l) => lines.push(l),
        llm: { baseUrl: server.url, model: 'mock', auth: 'none', timeoutMs: 10_000, maxRetries: 0, retryBaseMs: 1, retryMaxMs: 10, jsonMode: true, temperature: 0, maxTokens: 256 },
      });
      const corpus = readCorpus(ds);
      const noPoor = corpus.users.filter((u) => u.feedback.length > 0 && !u.feedback.some((e) => e.liked === false)).length;
      expect(noPoor).toBeGreaterThan(0);
      expect(s.contradictions?.['disliked-without-poor-ratings']).toBe(noPoor);
      expect(lines.find((l) => l.startsWith('consistency: '))).toMatch(/^consistency: \d+ statements contradict the training ratings \(.*disliked-without-poor-ratings/);
      const offline = await runProfile({ dir: ds, provider: 'offline', log: (l) => lines.push(l) });
      expect(offline.contradictions).toEqual({});
      expect(lines.filter((l) => l.startsWith('consistency: ')).at(-1)).toBe('consistency: no statement contradicts the training ratings');
    } finally {
      await server.close();
    }
  }, 60_000);
});
