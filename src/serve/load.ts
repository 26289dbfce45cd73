/**
 * Run loading for serving: a LoadedRun (src/run/open.ts) to the RecommenderParts a Recommender is
 * built from: deterministic scoring embeddings, id maps, interactions, intents, the text towers,
 * the profiles (explanations) and the embedder for cold start from raw text (src/serve/embedder.ts):
 *
 * - openai: the same model through the service;
 * - local with a saved fit (embed.json's `local.model`, beside the vectors; runs carry it in
 *   RUN/data/): the exact local embedder;
 * - local without one (datasets embedded by an older irllrec): the approximate ridge fold-in from
 *   the profiles, with a log line saying so (re-run `irllrec embed`, then train, for exact cold start).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../kernels/index.js';
import { loadIdMaps } from '../run/ids.js';
import { noGrad } from '../tensor/tensor.js';
import type { LoadedRun } from '../run/open.js';
import { loadTextVectors } from '../data/text-vectors.js';
import type { TextVectors } from '../data/text-types.js';
import { EMBED_MANIFEST } from '../text/embed-files.js';
import { PROFILE_FILES, readProfiles } from '../text/profile-files.js';
import {
  hasLocalModel, localEmbedder, localFoldInEmbedder, openAiConfigFromManifest, openAiEmbedder, readEmbedManifest, type TextEmbedder,
} from './embedder.js';
import { computeIntents } from './intents.js';
import type { RecommenderOpenOptions, RecommenderParts, Towers } from './types.js';

/** The text towers of the model's alignment (none without text alignment). */
function towersOf(run: LoadedRun): Towers | null {
  const towers = run.net.textTowers();
  return towers && { ...towers, text: run.textRows };
}

/** The profiles and intents of the run's data, when they cover it (explanations, the approximate fold-in). */
function profilesOf(run: LoadedRun): RecommenderParts['profiles'] {
  const ds = run.dataset;
  if (!existsSync(join(ds.dir, PROFILE_FILES.manifest))) return null;
  try {
    const p = readProfiles(ds.dir);
    if (p.users.length === ds.numUsers && p.items.length === ds.numItems) return { users: p.users, items: p.items };
  } catch {
    // stale or partial profiles: explanations go without text
  }
  return null;
}

/** The embedder the run's text vectors came from (see the module doc); null when there is none. */
export function runEmbedder(run: LoadedRun, towers: Towers | null, profiles: RecommenderParts['profiles'], log: (line: string) => void = () => undefined): TextEmbedder | null {
  if (!towers) return null;
  const ds = run.dataset;
  // where serving looks: the text directory (the run's copy), then the dataset
  const dir = [run.textDir, ds.dir].find((d) => readEmbedManifest(d) !== null);
  const m = dir ? readEmbedManifest(dir) : null;
  if (!dir || !m) return null;
  if (m.provider === 'openai') return openAiEmbedder(openAiConfigFromManifest(m));
  if (m.provider !== 'local') return null;
  if (hasLocalModel(m)) return localEmbedder(dir, m);
  if (!profiles) return null;
  log(`${join(dir, EMBED_MANIFEST)} has no saved local embedder (embedded by an older irllrec): cold start from raw text folds new text in approximately (ridge regression on the dataset's texts); re-run "irllrec embed --provider local" and train again for exact cold start`);
  // the fit needs every user's and item's vectors as float32: read when it is made (the first
  // cold-start call), not kept by the run (serving opens runs without the item tables)
  const both = (kind: 'profile' | 'intent') => {
    const [uk, ik] = kind === 'profile' ? (['usrPrf', 'itmPrf'] as const) : (['usrInt', 'itmInt'] as const);
    if (!towers.text[uk]) return null;
    const have: TextVectors = run.text[uk] && run.text[ik] ? run.text : loadTextVectors(run.textDir, ds.numUsers, ds.numItems, [uk, ik]);
    const u = have[uk];
    const i = have[ik];
    if (!u || !i) return null;
    const data = new Float32Array(u.size + i.size);
    data.set(u.data, 0);
    data.set(i.data, u.size);
    return { data, width: u.cols };
  };
  return localFoldInEmbedder(ds.dir, m, both);
}

/** Everything a Recommender needs from an opened run. */
export function partsFromRun(run: LoadedRun, o: RecommenderOpenOptions = {}): RecommenderParts {
  const kernels = o.kernels ?? getKernels();
  const ds = run.dataset;
  // deterministic scoring embeddings (no BIGCF noise: no random source is passed), what
  // ComposedModel.scoringEmbeddings() gives; the same forward gives the intents below (one
  // propagation instead of two)
  const out = noGrad(() => run.net.backbone.forwardEval());
  const emb = { user: out.user.data, item: out.item.data, dim: run.net.backbone.dim };
  const ids = loadIdMaps(ds.dir, ds.numUsers, ds.numItems);
  const towers = towersOf(run);
  const profiles = profilesOf(run);
  const embedder = o.embedder !== undefined ? o.embedder : runEmbedder(run, towers, profiles, o.log);
  return {
    model: run.model,
    backbone: run.config.model.name,
    align: run.config.model.align,
    dataset: ds.name,
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    dim: emb.dim,
    userEmb: emb.user,
    itemEmb: emb.item,
    users: ids.users,
    items: ids.items,
    seen: ds.train,
    heldOut: [ds.valid, ds.test],
    intents: noGrad(() => computeIntents(run.net, kernels, out)),
    towers,
    profiles,
    embedder,
    kernels,
    blockSize: o.blockSize,
    runDir: run.dir,
  };
}
