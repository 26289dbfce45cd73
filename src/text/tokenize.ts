/** Tokens, stopwords and salient phrases (for the offline provider and the local embedder). */

const STOPWORDS = new Set(
  (
    'a about above after again against all also am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing done down during each even ever every few for from further get gets got had has have having he her ' +
    'here hers herself him himself his how however i if in into is it its itself just let like likes me might more most much must my ' +
    'myself no nor not now of off on once one only or other our ours ourselves out over own per quite rather re really same she should ' +
    'so some still such than that the their theirs them themselves then there these they this those though through thus to too under ' +
    'until up upon us very was we well were what when where whether which while who whom whose why will with within without would yet ' +
    'you your yours yourself yourselves s t ll ve d m don didn doesn isn wasn aren weren won wouldn couldn shouldn hasn haven hadn ' +
    'im ive id youre thats theres its dont cant wont also etc via vs'
  ).split(/\s+/),
);

/** Words reviews use that say nothing about taste (incl. Amazon's automatic "Five Stars" summaries). */
const REVIEW_NOISE = new Set(
  'one two three four five star stars put make made take took go going went thing things lot way something anything everything nothing'.split(' '),
);

export function isStopword(t: string): boolean {
  return STOPWORDS.has(t);
}

/**
 * Lowercased word tokens (letters/digits, inner apostrophes dropped), stopwords kept.
 * `compounds`: hyphenated words stay one token ("sci-fi", not "sci" and "fi"), for labels shown to
 * people; the embedder's vocabulary is built without it.
 */
export function words(text: string, compounds = false): string[] {
  const re = compounds ? /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu : /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;
  return (text.toLowerCase().normalize('NFKC').match(re) ?? []).map((w) => w.replace(/['’]/g, ''));
}

/** Content tokens: no stopwords, no single characters, no pure numbers of 1-3 digits. */
export function contentTokens(text: string): string[] {
  return words(text).filter((w) => w.length > 1 && !STOPWORDS.has(w) && !/^\d{1,3}$/.test(w));
}

/** Unigrams and bigrams of adjacent content words (a stopword or punctuation breaks a bigram). */
export function terms(text: string, bigrams = true, compounds = false): string[] {
  const out: string[] = [];
  for (const chunk of text.split(/[.!?;:,()\[\]{}"\n\r\t/|]+/)) {
    let prev: string | null = null;
    for (const w of words(chunk, compounds)) {
      const ok = w.length > 1 && !STOPWORDS.has(w) && !/^\d{1,3}$/.test(w);
      if (!ok) {
        prev = null;
        continue;
      }
      out.push(w);
      if (bigrams && prev) out.push(`${prev} ${w}`);
      prev = w;
    }
  }
  return out;
}

/**
 * The k most salient phrases of `docs`: term count x idf (idf from `df` over `n` documents,
 * unseen terms get the largest idf), bigrams favoured over their words, ties by text.
 */
export function salientPhrases(docs: string[], k: number, df?: Map<string, number>, n = 1): string[] {
  if (k <= 0 || docs.length === 0) return [];
  const tf = new Map<string, number>();
  for (const d of docs) for (const t of new Set(terms(d))) tf.set(t, (tf.get(t) ?? 0) + 1);
  const scored: [string, number][] = [];
  for (const [t, c] of tf) {
    const idf = df ? Math.log((1 + n) / (1 + (df.get(t) ?? 0))) + 1 : 1;
    const isBigram = t.includes(' ');
    if (isBigram && c < 2 && docs.length > 1) continue;
    if (t.split(' ').some((w) => REVIEW_NOISE.has(w))) continue;
    // a word only one review in the whole corpus uses (a name, a typo) is noise, as is a one-off among many reviews
    if (df && n >= 50 && (df.get(t) ?? 0) < 2) continue;
    if (docs.length >= 4 && c < 2) continue;
    scored.push([t, c * idf * (isBigram ? 1.5 : 1)]);
  }
  scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: string[] = [];
  for (const [t] of scored) {
    if (out.length >= k) break;
    if (out.some((o) => o.split(' ').includes(t) || t.split(' ').includes(o))) continue;
    out.push(t);
  }
  return out;
}
