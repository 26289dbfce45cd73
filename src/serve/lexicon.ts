/**
 * The text lexicon miner behind explanations: which terms of the entities' text-intent phrases
 * characterise each intent prototype (term lifts weighted by how much more than uniform each
 * entity leans on the prototype), and which of an entity's own phrases match a prototype.
 */
import { statedValue } from '../text/consistency.js';
import { answerList } from '../text/schema.js';
import { terms } from '../text/tokenize.js';
import type { ProfileRecord } from '../text/profile-files.js';
import { Interner } from '../util/interner.js';

/** Lower-cased term lifts per prototype, from the text-intent phrases of the entities. */
export class Lexicon {
  private readonly vocab = new Interner();
  private readonly entityTerms: Int32Array[];
  private readonly df: Float64Array;
  private readonly cache = new Map<number, Map<number, number>>();

  constructor(phrases: string[][], private readonly W: Float32Array, private readonly K: number) {
    this.entityTerms = phrases.map((ps) => {
      const set = new Set<number>();
      for (const p of ps) for (const t of terms(p, true, true)) set.add(this.vocab.id(t));
      return Int32Array.from(set);
    });
    this.df = new Float64Array(this.vocab.size);
    for (const ts of this.entityTerms) for (const t of ts) this.df[t]!++;
  }

  /** log-lift of each term for prototype k (terms with some support only). */
  lifts(k: number): Map<number, number> {
    let m = this.cache.get(k);
    if (m) return m;
    const acc = new Float64Array(this.vocab.size);
    let mass = 0;
    const n = this.entityTerms.length;
    for (let e = 0; e < n; e++) {
      // how much more than uniform the entity leans on intent k (softmax weights are often flat)
      const w = Math.max(0, this.W[e * this.K + k]! * this.K - 1);
      mass += w;
      for (const t of this.entityTerms[e]!) acc[t]! += w;
    }
    m = new Map();
    if (mass > 0) {
      for (let t = 0; t < acc.length; t++) {
        if (acc[t]! <= 0 || this.df[t]! < 2) continue;
        const lift = acc[t]! / mass / (this.df[t]! / n);
        if (lift > 1.05) m.set(t, Math.log(lift) * Math.sqrt(acc[t]!));
      }
    }
    this.cache.set(k, m);
    return m;
  }

  topTerms(k: number, n: number): string[] {
    const out: string[] = [];
    const total = this.entityTerms.length;
    for (const [t] of [...this.lifts(k)].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
      if (out.length >= n) break;
      // template words ("fans", "seekers") are on most entities and name nothing, alone or in a
      // bigram ("sci-fi fans" is shown as "sci-fi")
      const name = this.vocab.keys[t]!;
      if (name.split(' ').some((w) => (this.df[this.vocab.get(w) ?? -1] ?? 0) > 0.1 * total)) continue;
      if (out.some((o) => o.split(' ').includes(name) || name.split(' ').includes(o))) continue;
      out.push(name);
    }
    return out;
  }

  /**
   * The phrases whose terms characterise prototype k, best first, one per stated value
   * (text/consistency.ts statedValue); `exclude`: the stated values already shown for another
   * intent (so two intents never carry the same text).
   */
  match(k: number, phrases: string[], n: number, exclude?: ReadonlySet<string>): string[] {
    const l = this.lifts(k);
    const scored: [string, number][] = [];
    const seen = new Set<string>(exclude);
    for (const p of phrases) {
      // "Action fans" and "Action" say the same: one of them is shown
      const key = statedValue(p);
      if (seen.has(key)) continue;
      seen.add(key);
      let s = 0;
      for (const t of terms(p, true, true)) {
        const i = this.vocab.get(t);
        if (i !== undefined) s += l.get(i) ?? 0;
      }
      if (s > 0) scored.push([p, s]);
    }
    return scored.sort((a, b) => b[1] - a[1]).slice(0, n).map(([p]) => p);
  }
}


/** The phrases of a user's or an item's intents the lexicons are mined from. */
export function userPhrases(r: ProfileRecord): string[] {
  return [...answerList(r.intent.liked), ...answerList(r.intent.key_attributes)];
}

export function itemPhrases(r: ProfileRecord): string[] {
  return [...answerList(r.intent.attracts), ...answerList(r.intent.key_attributes)];
}
