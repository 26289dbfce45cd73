/**
 * Exact cold start through the local embedder: `irllrec embed --provider local` saves its fit
 * (embed-local.json and its float64 projections), and serving applies it, so new text gets exactly
 * the vector `embed` wrote for that text, from the dataset and from a copied run whose dataset is
 * gone. Datasets embedded before the fit was saved keep the approximate fold-in, with a log line.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { readNpyFloat32 } from '../src/data/formats/numpy.js';
import { ingest } from '../src/ingest/index.js';
import { RUN_DATA_FILES, type RunDataManifest } from '../src/run/layout.js';
import { localEmbedder, readEmbedManifest, type TextKind } from '../src/serve/embedder.js';
import { Recommender } from '../src/serve/recommender.js';
import { embeddingTexts, runEmbed } from '../src/text/embed.js';
import { applyLocalModel, embedLocal } from '../src/text/local-embed.js';
import { LOCAL_MODEL_FILES, readLocalModels } from '../src/text/local-model.js';
import { runProfile } from '../src/text/profile.js';
import { readProfiles } from '../src/text/profile-files.js';
import { withQuietStderr, writeMovieLensSubset } from './helpers/datasets.js';


let base: string;
let ds: string;
let texts: ReturnType<typeof embeddingTexts>;

/** Largest |a - b| over two equally long vectors. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function row(file: string, r: number): Float32Array {
  const { shape, data } = readNpyFloat32(file);
  return data.slice(r * shape[1]!, (r + 1) * shape[1]!);
}

async function quietTrain(data: string, out: string): Promise<string> {
  await withQuietStderr(() => trainCommand({ data, model: 'lightgcn_int', out, epochs: '2', set: ['train.batch_size=256', 'model.intent_num=4'] }));
  return out;
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'irllrec-foldin-'));
  // MovieLens subset: the first 25 users of the bundled ratings, all movies and tags
  const ml = writeMovieLensSubset(join(base, 'ml'), 25);
  ds = join(base, 'ds');
  await ingest({ format: 'movielens', dir: ml, out: ds });
  await runProfile({ dir: ds, provider: 'offline' });
  await runEmbed({ dir: ds, provider: 'local', dim: 24 });
  const { users, items } = readProfiles(ds);
  texts = embeddingTexts(users, items);
}, 120_000);

describe('embed saves the local fit', () => {
  it('embed.json refers to embed-local.json; the projections are float64', () => {
    const m = readEmbedManifest(ds)!;
    expect(m.local?.model?.file).toBe(LOCAL_MODEL_FILES.manifest);
    expect(m.local?.model?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const models = readLocalModels(ds, m.local!.model!);
    expect(models.profile!.width).toBe(24);
    expect(models.intent!.width).toBe(24);
    for (const f of Object.values(LOCAL_MODEL_FILES.projection)) expect(existsSync(join(ds, f))).toBe(true);
  });

  it('the fit applied to its own documents gives the vectors it returned (every row, bitwise here)', () => {
    const docs = [...texts.usrPrf, ...texts.itmPrf];
    const e = embedLocal(docs, { dim: 24, seed: 2023, maxFeatures: 30000, maxDfRatio: 0.9, iterations: 3 });
    expect(e.fitError).toBeLessThanOrEqual(1e-6);
    for (const r of [0, 3, docs.length - 1]) expect(maxDiff(applyLocalModel(e.model, docs[r]!), e.vectors.subarray(r * e.width, (r + 1) * e.width))).toBeLessThanOrEqual(1e-6);
  });
});

describe('cold start with raw text through the local embedder', () => {
  const kinds: [TextKind, 'usrPrf' | 'itmPrf' | 'usrInt' | 'itmInt', string][] = [
    ['profile', 'usrPrf', 'usr_prf.npy'], ['profile', 'itmPrf', 'itm_prf.npy'], ['intent', 'usrInt', 'usr_int.npy'], ['intent', 'itmInt', 'itm_int.npy'],
  ];

  it('embeds the text of existing users and items exactly as embed wrote their rows', async () => {
    const emb = localEmbedder(ds, readEmbedManifest(ds)!);
    expect(emb.name).toBe('local tfidf-svd-24');
    let worst = 0;
    for (const [kind, key, file] of kinds) {
      const rows = [0, 1, 7, texts[key].length - 1];
      const got = await emb.embed(rows.map((r) => texts[key][r]!), kind);
      rows.forEach((r, n) => (worst = Math.max(worst, maxDiff(got[n]!, row(join(ds, file), r)))));
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('a copied run without its dataset: the fit travels in RUN/data/, and coldStart({text}) = coldStart({vectors}) of the stored row', async () => {
    const run = await quietTrain(ds, join(base, 'run'));
    const dataDir = join(run, 'data');
    const m = JSON.parse(readFileSync(join(dataDir, RUN_DATA_FILES.manifest), 'utf8')) as RunDataManifest;
    for (const f of [LOCAL_MODEL_FILES.manifest, ...Object.values(LOCAL_MODEL_FILES.projection)]) expect(Object.keys(m.files)).toContain(f);
    const copy = join(mkdtempSync(join(tmpdir(), 'irllrec-foldin-copy-')), 'run');
    cpSync(run, copy, { recursive: true });
    const moved = join(base, 'ds-gone');
    cpSync(ds, moved, { recursive: true });
    rmSync(ds, { recursive: true, force: true });
    try {
      const logs: string[] = [];
      const rec = await Recommender.open(copy, { log: (l) => logs.push(l) });
      expect(logs).toEqual([]);
      expect(rec.info).toMatchObject({ coldStartText: true, embedder: 'local tfidf-svd-24' });
      const u = 4;
      const text = { profile: texts.usrPrf[u]!, intent: texts.usrInt[u]! };
      const vectors = { profile: Array.from(row(join(dataDir, 'usr_prf.npy'), u)), intent: Array.from(row(join(dataDir, 'usr_int.npy'), u)) };
      for (const strategy of ['neighbors', 'tower'] as const) {
        const fromText = await rec.coldStart({ text }, { k: 10, strategy });
        const fromVectors = await rec.coldStart({ vectors }, { k: 10, strategy });
        expect(fromText.embedder).toBe('local tfidf-svd-24');
        expect(fromText.items).toEqual(fromVectors.items);
      }
    } finally {
      cpSync(moved, ds, { recursive: true });
    }
  }, 120_000);

  it('a dataset embedded before the fit was saved: the approximate fold-in, with a log line', async () => {
    const old = join(base, 'old');
    cpSync(ds, old, { recursive: true });
    const mf = join(old, 'embed.json');
    const m = JSON.parse(readFileSync(mf, 'utf8'));
    delete m.local.model;
    writeFileSync(mf, JSON.stringify(m));
    for (const f of [LOCAL_MODEL_FILES.manifest, ...Object.values(LOCAL_MODEL_FILES.projection)]) rmSync(join(old, f));
    const run = await quietTrain(old, join(base, 'old-run'));
    const logs: string[] = [];
    const rec = await Recommender.open(run, { log: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/no saved local embedder .* approximately .* re-run "irllrec embed --provider local"/);
    expect(rec.info.embedder).toBe('local tfidf-svd-24 (approximate fold-in)');
    const r = await rec.coldStart({ text: texts.usrPrf[2]! }, { k: 5 });
    expect(r.items).toHaveLength(5);
  }, 120_000);
});
