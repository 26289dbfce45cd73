// The text side of `explain` on a real dataset: do the statements contradict the users' own
// ratings, do intent labels carry tokenisation debris, do two shown intents carry the same text,
// and do the intents' shares add up to the score?
// usage: node bench/explain-text-check.mjs RUN DATA [users]   (RUN trained on DATA, an ingested
// dataset with profiles; npm run build:ts first; IRLLREC_DIST=dir to measure another build)
import { join } from 'node:path';
const dist = process.env.IRLLREC_DIST ?? new URL('../dist/', import.meta.url).pathname;
const [run, data, nUsers = '300'] = process.argv.slice(2);
const { Recommender } = await import(join(dist, 'index.js'));
const { readCorpus } = await import(join(dist, 'ingest/corpus.js'));
const { readProfiles } = await import(join(dist, 'text/profile-files.js'));
const consistency = await import(join(dist, 'text/consistency.js')).catch(() => null);

const rec = await Recommender.open(run);
const N = Number(nUsers);
const profiles = readProfiles(data);
// every whole word (hyphenated compounds kept) of the text the labels are mined from; spelled out
// here rather than calling the build's own tokeniser, so the yardstick is the same for every build
// measured (an older build's words() splits "sci-fi")
const sourceWords = new Set();
if (profiles) {
  for (const r of [...profiles.users, ...profiles.items]) {
    for (const v of Object.values(r.intent)) for (const p of Array.isArray(v) ? v : [v]) {
      for (const w of String(p).toLowerCase().match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? []) sourceWords.add(w.replace(/['’]/g, ''));
    }
  }
}
const st = { explanations: 0, labelTerms: 0, debrisTerms: 0, debrisExamples: new Set(), sameText: 0, sameTextExamples: [], additive: 0, explainedShare: 0, itemExplainedShare: 0, fit: 0, itemFit: 0 };
const numUsers = profiles?.users.length ?? 1000;
for (let u = 0, seen = 0; u < numUsers && seen < N; u += Math.max(1, Math.floor(numUsers / N))) {
  const key = profiles ? profiles.users[u].key : String(u);
  let r;
  try {
    r = rec.recommend(key, { k: 1 });
  } catch {
    continue;
  }
  const item = r.items?.[0]?.item ?? r[0]?.items?.[0]?.item;
  if (item === undefined) continue;
  const e = rec.explain(key, String(item), { top: 3 });
  if (!e.intents) throw new Error(`${run}: the model has no intents to explain`);
  seen++;
  st.explanations++;
  for (const side of ['user', 'item']) {
    const texts = new Map();
    for (const s of e.intents[side]) {
      for (const t of s.label.terms) {
        st.labelTerms++;
        if (t.split(' ').some((w) => !sourceWords.has(w))) {
          st.debrisTerms++;
          if (st.debrisExamples.size < 5) st.debrisExamples.add(t);
        }
      }
      for (const p of s.text ?? []) {
        const k = p.toLowerCase();
        if (texts.has(k)) {
          st.sameText++;
          if (st.sameTextExamples.length < 3) st.sameTextExamples.push(`${side} ${key}: "${p}" on ${texts.get(k)} and ${s.intent}`);
        } else texts.set(k, s.intent);
      }
    }
  }
  if (e.intents.explained !== undefined && e.intents.itemExplained !== undefined) {
    st.additive += Math.abs(e.intents.explained + e.intents.residual - e.score) < 1e-5 && Math.abs(e.intents.itemExplained + e.intents.itemResidual - e.score) < 1e-5 ? 1 : 0;
    st.explainedShare += e.intents.explained / e.score;
    st.itemExplainedShare += e.intents.itemExplained / e.score;
    st.fit += e.intents.fit;
    st.itemFit += e.intents.itemFit;
  } else if (e.intents.explained !== undefined) st.explainedShare += e.intents.explained / e.score;
}
let contradictions = null;
if (profiles && consistency) {
  const cs = consistency.findContradictions(readCorpus(data), profiles.users, profiles.items);
  contradictions = { total: cs.length, users: new Set(cs.filter((c) => c.side === 'user').map((c) => c.id)).size, byKind: consistency.countByKind(cs) };
}
const n = st.explanations;
console.log(JSON.stringify({
  run, data, explanations: n, contradictions,
  label_terms: st.labelTerms, label_terms_not_a_whole_source_word: st.debrisTerms, debris_examples: [...st.debrisExamples],
  shown_intents_sharing_a_text_phrase: st.sameText, same_text_examples: st.sameTextExamples,
  explained_plus_residual_equals_score: n ? `${((100 * st.additive) / n).toFixed(1)}%` : null,
  mean_explained_share: (st.explainedShare / n).toFixed(3), mean_item_explained_share: (st.itemExplainedShare / n).toFixed(3),
  mean_fit: (st.fit / n).toFixed(3), mean_item_fit: (st.itemFit / n).toFixed(3),
}, null, 1));
