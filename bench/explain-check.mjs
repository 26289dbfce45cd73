// How often the intent `explain` puts first is a planted intent shared by the user and the
// recommended item (synthetic world with ground truth), against a random prototype.
// usage: node bench/explain-check.mjs RUN WORLD [users]   (RUN: a run trained on the synthetic world WORLD; npm run build:ts first)
import { readFileSync } from 'node:fs';
const [run, world, nUsers = '500'] = process.argv.slice(2);
const { Recommender } = await import('../dist/index.js');
const truth = JSON.parse(readFileSync(`${world}/truth.json`, 'utf8'));
const rec = await Recommender.open(run);
const K = rec.explain(String(0), String(0)).intents.K;
// a prototype's planted intent: the most common planted intent among the 20 items it favours most
const mapOf = (side) => Array.from({ length: K }, (_, k) => {
  const c = new Map();
  for (const it of rec.intentLabel(side, k, 20).items) for (const p of truth.items[Number(it.item)].intents) c.set(p, (c.get(p) ?? 0) + 1);
  return [...c].sort((a, b) => b[1] - a[1])[0][0];
});
const mapU = mapOf('user');
const mapI = mapOf('item');
let rng = 12345;
const rand = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648);
const stat = { n: 0, topUserShared: 0, topUserOfUser: 0, randShared: 0, randOfUser: 0, topItemOfItem: 0, randItemOfItem: 0, distinctMapU: new Set(mapU).size, distinctMapI: new Set(mapI).size, agreement: 0, explainedShare: 0, itemExplainedShare: 0, fit: 0, itemFit: 0, additive: 0 };
const N = Number(nUsers);
for (let u = 0; u < truth.users.length && stat.n < N; u += Math.floor(truth.users.length / N)) {
  const r = rec.recommend(String(u), { k: 1 });
  const item = r.items?.[0]?.item ?? r[0]?.items?.[0]?.item;
  if (item === undefined) continue;
  const e = rec.explain(String(u), String(item), { top: 1 });
  const pu = new Set(truth.users[u].intents);
  const pi = new Set(truth.items[Number(item)].intents);
  const shared = (p) => pu.has(p) && pi.has(p);
  const ku = e.intents.user[0].index;
  const ki = e.intents.item[0].index;
  const kr = Math.floor(rand() * K);
  stat.n++;
  stat.topUserShared += shared(mapU[ku]) ? 1 : 0;
  stat.topUserOfUser += pu.has(mapU[ku]) ? 1 : 0;
  stat.randShared += shared(mapU[kr]) ? 1 : 0;
  stat.randOfUser += pu.has(mapU[kr]) ? 1 : 0;
  stat.topItemOfItem += pi.has(mapI[ki]) ? 1 : 0;
  stat.randItemOfItem += pi.has(mapI[kr]) ? 1 : 0;
  stat.agreement += e.intents.agreement;
  stat.explainedShare += e.intents.explained / e.score;
  stat.itemExplainedShare += e.intents.itemExplained / e.score;
  stat.fit += e.intents.fit;
  stat.itemFit += e.intents.itemFit;
  // the shares add up: explained + residual = score on both sides (to the 1e-6 rounding of the fields)
  stat.additive += Math.abs(e.intents.explained + e.intents.residual - e.score) < 1e-5 && Math.abs(e.intents.itemExplained + e.intents.itemResidual - e.score) < 1e-5 ? 1 : 0;
}
const pct = (x) => (100 * x / stat.n).toFixed(1) + '%';
console.log(JSON.stringify({ users: stat.n, K, prototypes_mapped_to_distinct_planted: { user: stat.distinctMapU, item: stat.distinctMapI },
  top_user_intent_planted_for_user_and_item: pct(stat.topUserShared), random_prototype: pct(stat.randShared),
  top_user_intent_planted_for_user: pct(stat.topUserOfUser), random_prototype_for_user: pct(stat.randOfUser),
  top_item_intent_planted_for_item: pct(stat.topItemOfItem), random_prototype_for_item: pct(stat.randItemOfItem),
  mean_agreement: (stat.agreement / stat.n).toFixed(3), mean_explained_share_of_score: (stat.explainedShare / stat.n).toFixed(3),
  mean_item_explained_share_of_score: (stat.itemExplainedShare / stat.n).toFixed(3), mean_fit: (stat.fit / stat.n).toFixed(3), mean_item_fit: (stat.itemFit / stat.n).toFixed(3),
  explained_plus_residual_equals_score: pct(stat.additive) }, null, 1));
