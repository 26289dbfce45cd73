/**
 * `explain` and intent labels: why the model scores an item for a user (the interaction intents
 * behind the score, the text intents of both that match them, the user's most similar training
 * items) and what each intent prototype stands for.
 */
import { InvalidArgumentError, UnavailableError } from './errors.js';
import type { ServeCore } from './core.js';
import { dot, IntentMixer, intentVector, topIndices, type IntentModel } from './intents.js';
import { statedValue } from '../text/consistency.js';
import { answerList, answerText } from '../text/schema.js';
import { itemPhrases, Lexicon, userPhrases } from './lexicon.js';
import { round } from './ranker.js';
import type { Explanation, ScoredItem } from './types.js';

export class Explainer {
  private lexicons: { user: Lexicon; item: Lexicon } | null | undefined;
  private readonly labelCache = new Map<string, { items: ScoredItem[]; terms: string[] }>();

  constructor(private readonly c: ServeCore) {}

  private lexiconsFor(): { user: Lexicon; item: Lexicon } | null {
    if (this.lexicons !== undefined) return this.lexicons;
    const m = this.c.intents;
    const p = this.c.profiles;
    this.lexicons = m && p
      ? {
          user: new Lexicon(p.users.map(userPhrases), m.userW, m.K),
          item: new Lexicon(p.items.map(itemPhrases), m.itemW, m.K),
        }
      : null;
    return this.lexicons;
  }

  /** What a prototype stands for: the items it favours (and, with text, its characteristic terms). */
  intentLabel(side: 'user' | 'item', k: number, n = 3): { items: ScoredItem[]; terms: string[] } {
    const m = this.c.intents;
    if (!m) throw new UnavailableError(`${this.c.model} has no intent prototypes`);
    if (!Number.isInteger(k) || k < 0 || k >= m.K) throw new InvalidArgumentError(`intent index must be in [0, ${m.K}), got ${k}`);
    const key = `${side}${k}:${n}`;
    const hit = this.labelCache.get(key);
    if (hit) return hit;
    const label = this.computeLabel(m, side, k, n);
    this.labelCache.set(key, label);
    return label;
  }

  private computeLabel(m: IntentModel, side: 'user' | 'item', k: number, n: number): { items: ScoredItem[]; terms: string[] } {
    let top: number[];
    let values: Float32Array;
    if (side === 'item') {
      // every prototype's top items in one pass over the rows of itemW (reading one column of it
      // per label would touch a cache line per item, K times)
      top = this.itemTops(m, n)[k]!;
      values = Float32Array.from(top, (i) => m.itemW[i * m.K + k]!);
    } else {
      // items whose embedding points along the user prototype (the largest dot products, exactly
      // as a loop over every item computes them, without that loop: ServeCore.topDots)
      ({ top, values } = this.c.topDots(m.userProto.subarray(k * this.c.dim, (k + 1) * this.c.dim), n));
    }
    const lex = this.lexiconsFor();
    return {
      items: this.c.scored(Int32Array.from(top), Float32Array.from(values, (v) => round(v))),
      terms: lex ? lex[side].topTerms(k, 6) : [],
    };
  }

  private readonly itemTopCache = new Map<number, number[][]>();

  /**
   * For every item prototype k, topIndices over column k of itemW (the n items weighing most on
   * it, ties by lower index), all columns in one pass over the rows: the same insertion as
   * topIndices' one-pass path, per column.
   */
  private itemTops(m: IntentModel, n: number): number[][] {
    const hit = this.itemTopCache.get(n);
    if (hit) return hit;
    const K = m.K;
    const N = this.c.numItems;
    const W = m.itemW;
    let out: number[][];
    if (Math.min(n, N) > 32) {
      out = Array.from({ length: K }, (_, k) => topIndices(Float32Array.from({ length: N }, (_v, i) => W[i * K + k]!), 0, N, n));
    } else {
      const nn = Math.min(n, N);
      out = Array.from({ length: K }, () => [] as number[]);
      for (let i = 0; i < N; i++) {
        const row = i * K;
        for (let k = 0; k < K; k++) {
          const v = W[row + k]!;
          const best = out[k]!;
          if (best.length === nn && !(v > W[best[nn - 1]! * K + k]!)) continue;
          let p = best.length === nn ? nn - 1 : best.length;
          if (best.length < nn) best.push(i);
          while (p > 0 && W[best[p - 1]! * K + k]! < v) {
            best[p] = best[p - 1]!;
            p--;
          }
          best[p] = i;
        }
      }
    }
    this.itemTopCache.set(n, out);
    return out;
  }

  private readonly mixers = new Map<string, IntentMixer>();

  private mixer(side: 'user' | 'item', m: IntentModel): IntentMixer {
    let x = this.mixers.get(side);
    if (!x) this.mixers.set(side, (x = new IntentMixer(side === 'user' ? m.userProto : m.itemProto, m.K, this.c.dim)));
    return x;
  }

  /**
   * A side's mixture applied to a score: contribution a_k (c_k . x) of every intent, their sum, and
   * the intents in the mixture ordered by contribution (largest first).
   */
  private split(mix: { a: Float64Array; fit: number }, C: Float32Array, X: Float32Array, xOff: number) {
    const d = this.c.dim;
    const K = mix.a.length;
    const contrib = new Float64Array(K);
    let explained = 0;
    for (let k = 0; k < K; k++) {
      if (mix.a[k] === 0) continue;
      contrib[k] = mix.a[k]! * dot(C, k * d, X, xOff, d);
      explained += contrib[k]!;
    }
    const order = Array.from({ length: K }, (_, k) => k).filter((k) => mix.a[k]! > 0);
    order.sort((x, y) => contrib[y]! - contrib[x]! || x - y);
    return { a: mix.a, fit: mix.fit, contrib, explained, order };
  }

  /**
   * Why the model scores this item for this user: the intents whose contributions make up the
   * score (with the model's own intent weights), the text intents of both that match them, and the
   * user's most similar training items.
   */
  explain(u: number, i: number, top: number): Explanation {
    const d = this.c.dim;
    const score = dot(this.c.userEmb, u * d, this.c.itemEmb, i * d, d);
    // rank among the user's unmasked items
    const seenStart = this.c.seen.indptr[u]!;
    const seenEnd = this.c.seen.indptr[u + 1]!;
    const isSeen = new Set<number>();
    for (let p = seenStart; p < seenEnd; p++) isSeen.add(this.c.seen.indices[p]!);
    const rank = 1 + this.c.countAbove(u, score, i, isSeen);
    const title = this.c.items.title(i);
    const pu = this.c.profiles?.users[u];
    const pi = this.c.profiles?.items[i];
    const uPhrases = pu ? userPhrases(pu) : [];
    const iPhrases = pi ? itemPhrases(pi) : [];
    let intents: Explanation['intents'] = null;
    const m = this.c.intents;
    if (m) {
      const K = m.K;
      const eu = intentVector(m, 'user', u);
      const ei = intentVector(m, 'item', i);
      const nu = Math.sqrt(dot(eu, 0, eu, 0, d));
      const ni = Math.sqrt(dot(ei, 0, ei, 0, d));
      const agreement = nu > 0 && ni > 0 ? dot(eu, 0, ei, 0, d) / (nu * ni) : 0;
      // each side's embedding as a non-negative mixture of its prototypes: the score splits exactly
      // into one contribution per intent plus a residual (serve/intents.ts)
      const userSide = this.split(this.mixer('user', m).mix(this.c.userEmb, u * d), m.userProto, this.c.itemEmb, i * d);
      const itemSide = this.split(this.mixer('item', m).mix(this.c.itemEmb, i * d), m.itemProto, this.c.userEmb, u * d);
      const lex = this.lexiconsFor();
      // per side: its weights and row, its lexicon and the entity's own phrases, the stated values
      // already shown (each phrase of the entity's text is shown on one intent only)
      const sides = {
        user: { prefix: 'U', W: m.userW, row: u, lex: lex?.user, phrases: pu ? uPhrases : null, shown: new Set<string>(), split: userSide },
        item: { prefix: 'I', W: m.itemW, row: i, lex: lex?.item, phrases: pi ? iPhrases : null, shown: new Set<string>(), split: itemSide },
      };
      const share = (side: 'user' | 'item', k: number) => {
        const x = sides[side];
        const text = x.lex && x.phrases ? x.lex.match(k, x.phrases, 3, x.shown) : null;
        for (const p of text ?? []) x.shown.add(statedValue(p));
        const w = x.W[x.row * K + k]!;
        return {
          intent: `${x.prefix}${k}`, index: k, weight: round(w), lift: round(w * K, 3),
          mix: round(x.split.a[k]!), contribution: round(x.split.contrib[k]!), share: round(score !== 0 ? x.split.contrib[k]! / score : 0, 4),
          label: this.intentLabel(side, k),
          ...(text ? { text } : {}),
        };
      };
      intents = {
        source: m.source,
        K,
        agreement: round(agreement),
        // the intents that raise this score most, largest contribution first
        user: userSide.order.slice(0, top).map((k) => share('user', k)),
        item: itemSide.order.slice(0, top).map((k) => share('item', k)),
        explained: round(userSide.explained),
        residual: round(score - userSide.explained),
        fit: round(userSide.fit, 4),
        itemExplained: round(itemSide.explained),
        itemResidual: round(score - itemSide.explained),
        itemFit: round(itemSide.fit, 4),
      };
    }
    const text: Explanation['text'] = pu && pi
      ? {
          user: { profile: answerText(pu.profile.summarization), intent: answerText(pu.intent.intent), liked: answerList(pu.intent.liked), disliked: answerList(pu.intent.disliked) },
          item: { profile: answerText(pi.profile.summarization), intent: answerText(pi.intent.intent), attracts: answerList(pi.intent.attracts), doesNotSuit: answerList(pi.intent.does_not_suit) },
        }
      : null;
    // because: the user's training items closest to this one (cosine of the item embeddings: only
    // these rows are normalised, the whole table is not needed)
    const rows = new Int32Array(seenEnd - seenStart + 1);
    rows[0] = i;
    for (let p = seenStart; p < seenEnd; p++) rows[p - seenStart + 1] = this.c.seen.indices[p]!;
    const N = this.c.itemNormRows(rows);
    const because: [number, number][] = [];
    for (let r = 1; r < rows.length; r++) {
      const j = rows[r]!;
      if (j !== i) because.push([j, dot(N, r * d, N, 0, d)]);
    }
    because.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const b3 = because.slice(0, top);
    return {
      user: this.c.users.key(u),
      item: this.c.items.key(i),
      ...(title !== undefined ? { title } : {}),
      score: round(score),
      rank: isSeen.has(i) ? 0 : rank,
      seen: isSeen.has(i),
      intents,
      text,
      because: this.c.scored(Int32Array.from(b3, (x) => x[0]), Float32Array.from(b3, (x) => round(x[1]))),
    };
  }
}
