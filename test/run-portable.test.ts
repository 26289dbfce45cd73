/**
 * Self-contained runs: `irllrec train --out RUN` copies what serving needs into RUN/data/, so a run
 * directory copied elsewhere, with the dataset directory deleted, opens and answers exactly as the
 * original did from its dataset (recommend, explain, score, similar items, cold start from text
 * with the local embedder, export, report, the CLI). Also: the official pickle layout (splits
 * written as TSV, text pickles converted, mapper id files kept), old runs without a copy, and a
 * truncated copy.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { RUN_DATA_FILES, type RunDataManifest } from '../src/run/layout.js';
import { RunError } from '../src/serve/errors.js';
import { exportRun } from '../src/serve/export.js';
import { Recommender } from '../src/serve/recommender.js';
import { openRun } from '../src/serve/run.js';
import { writeReport } from '../src/report/report.js';
import { repoRoot } from './shared.js';
import { splitsDataset, withQuietStderr, writeOfflineProfiles, writeTextVectors } from './helpers/datasets.js';

const U = 50;
const I = 36;
const GENRES = ['Action', 'Comedy', 'Drama', 'Horror', 'Animation'];

/** An ingested-style dataset: splits, id maps with titles, profiles, text vectors, embed.json (local). */
function makeDataset(): string {
  const dir = splitsDataset('irllrec-portable-data-', { users: U, item: (u, k) => (u * 7 + k * 5 + (u % 4)) % I });
  writeFileSync(join(dir, 'users.tsv'), `id\tkey\n${Array.from({ length: U }, (_, u) => `${u}\tuser-${u}`).join('\n')}\n`);
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\ttitle\n${Array.from({ length: I }, (_, i) => `${i}\tm${i}\tFilm ${i} (${GENRES[i % 5]})`).join('\n')}\n`);
  writeTextVectors(dir, { users: U, items: I, profileDim: 10, intentDim: 12, value: (i, w) => Math.cos(i * 0.11 + w) + 0.1 * Math.sin(i * 1.7) });
  const src = { provider: 'offline', model: 'test', offline: true };
  const users = Array.from({ length: U }, (_, u) => JSON.stringify({
    id: u, key: `user-${u}`,
    profile: { summarization: `Enjoys ${GENRES[u % 5]} and ${GENRES[(u + 2) % 5]} films. Avoids ${GENRES[(u + 3) % 5]}.`, reasoning: 'test' },
    intent: { key_attributes: [GENRES[u % 5]!], liked: [GENRES[u % 5]!, GENRES[(u + 2) % 5]!], disliked: [GENRES[(u + 3) % 5]!], intent: `likes ${GENRES[u % 5]} / dislikes ${GENRES[(u + 3) % 5]}` },
    source: src,
  }));
  const items = Array.from({ length: I }, (_, i) => JSON.stringify({
    id: i, key: `m${i}`, title: `Film ${i}`,
    profile: { summarization: `Film ${i}: ${GENRES[i % 5]}. For ${GENRES[i % 5]} lovers.`, reasoning: 'test' },
    intent: { key_attributes: [GENRES[i % 5]!], attracts: [`${GENRES[i % 5]} fans`], does_not_suit: [`${GENRES[(i + 2) % 5]} fans`], intent: `attracts ${GENRES[i % 5]} fans` },
    source: src,
  }));
  writeOfflineProfiles(dir, users, items);
  writeFileSync(join(dir, 'embed.json'), JSON.stringify({ provider: 'local', model: 'tfidf-svd-10', width: 10, local: { dim: 10, seed: 1, max_features: 30000, max_df_ratio: 0.9, iterations: 3 } }));
  // files serving never reads: they must not be copied
  mkdirSync(join(dir, 'corpus'));
  writeFileSync(join(dir, 'corpus', 'users.jsonl'), 'x'.repeat(10_000));
  return dir;
}

async function train(data: string, model: string, out: string, sets: string[] = [], epochs = '3'): Promise<string> {
  await withQuietStderr(() => trainCommand({ data, model, out, epochs, set: ['train.batch_size=64', ...(model.endsWith('_int') ? ['model.intent_num=4'] : []), ...sets] }));
  return out;
}

/** Everything a Recommender answers, for deep comparison. */
async function answers(rec: Recommender): Promise<unknown> {
  const users = rec.users.allKeys();
  const items = rec.items.allKeys();
  const pairs = users.flatMap((u, n) => [[u, items[n % items.length]!], [u, items[(n * 7 + 3) % items.length]!]] as [string, string][]);
  const explained = users.slice(0, 12).map((u) => {
    const top = rec.recommend(u, { k: 2 }).items;
    return [rec.explain(u, top[0]!.item), rec.explain(u, top[1]!.item, { top: 5 }), rec.explain(u, rec.seenItems(u)[0]!)];
  });
  return {
    info: { ...rec.info, run: null },
    train: rec.recommend(users, { k: 10 }),
    all: rec.recommend(users, { k: 10, excludeSeen: 'all' }),
    none: rec.recommend(users, { k: items.length, excludeSeen: false }),
    seen: users.map((u) => rec.seenItems(u)),
    heldOut: users.map((u) => [rec.heldOutIndices(u, 'valid'), rec.heldOutIndices(u, 'test')]),
    similar: rec.similarItems(items.slice(0, 10), { k: 5 }),
    explained,
    scores: rec.score(pairs),
    intents: rec.intents ? { K: rec.intents.K, labels: Array.from({ length: rec.intents.K }, (_, k) => [rec.intentLabel('user', k), rec.intentLabel('item', k)]) } : null,
    cold: rec.info.coldStartText
      ? [
          await rec.coldStart({ text: 'loves Comedy and Animation, avoids Horror' }, { k: 5 }),
          await rec.coldStart({ text: { profile: 'Enjoys Drama films.', intent: 'likes Drama' } }, { k: 5, strategy: 'tower' }),
        ]
      : null,
    coldItems: await rec.coldStart({ items: [items[1]!, items[2]!] }, { k: 5 }),
  };
}

const distServe = join(repoRoot, 'dist', 'cli', 'serve-commands.js');
const distEval = join(repoRoot, 'dist', 'cli', 'evaluate-commands.js');

function cliHarness(): (args: string[]) => { code: number | null; stdout: string; stderr: string } {
  const harness = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-cli-')), 'cli.mjs');
  writeFileSync(harness, `import { Command } from ${JSON.stringify(join(repoRoot, 'node_modules', 'commander', 'index.js'))};
import { registerServeCommands } from ${JSON.stringify(distServe)};
import { registerEvaluateCommands } from ${JSON.stringify(distEval)};
const program = new Command();
registerServeCommands(program);
registerEvaluateCommands(program);
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
await program.parseAsync(process.argv);
`);
  return (args) => {
    const r = spawnSync(process.execPath, [harness, ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

describe('a copied run without its dataset (ingested dataset, lightgcn_int)', () => {
  let data: string;
  let run: string;
  let copy: string;
  let original: unknown;
  let originalRun: unknown;
  let fromCopy: Recommender;

  beforeAll(async () => {
    data = makeDataset();
    const base = mkdtempSync(join(tmpdir(), 'irllrec-portable-runs-'));
    run = await train(data, 'lightgcn_int', join(base, 'int'));
    // the original, read from the dataset directory (the pre-copy way) and from the run
    original = await answers(await Recommender.open(run, { data }));
    originalRun = await answers(await Recommender.open(run));
    copy = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-copy-')), 'moved-run');
    cpSync(run, copy, { recursive: true });
    rmSync(data, { recursive: true, force: true });
    rmSync(run, { recursive: true, force: true });
    fromCopy = await Recommender.open(copy);
  }, 120_000);

  it('the run holds what serving needs, and only that', () => {
    const d = join(copy, 'data');
    const m = JSON.parse(readFileSync(join(d, RUN_DATA_FILES.manifest), 'utf8')) as RunDataManifest;
    expect(Object.keys(m.files).sort()).toEqual([
      'embed.json', 'itm_int.npy', 'itm_prf.npy', 'items.tsv', 'test.tsv', 'text/items.jsonl', 'text/profile.json', 'text/users.jsonl',
      'train.tsv', 'usr_int.npy', 'usr_prf.npy', 'users.tsv', 'valid.tsv',
    ].sort());
    expect(m.dataset).toMatchObject({ users: U, items: I, format: 'tsv' });
    expect(m.dataset.name).toMatch(/^irllrec-portable-data-/);
    expect(m.ids).toEqual({ users: 'users.tsv', items: 'items.tsv' });
    expect(m.profiles && m.embed).toBe(true);
    expect(existsSync(join(d, 'corpus'))).toBe(false);
    expect(readdirSync(copy).filter((n) => n.startsWith('.data'))).toEqual([]);
  });

  it('answers exactly as the original did from its dataset: recommend, explain, score, similar, cold start', async () => {
    expect(fromCopy.info.coldStartText).toBe(true);
    expect(fromCopy.info.intents).toBe(4);
    const mine = await answers(fromCopy);
    expect(mine).toEqual(original);
    expect(mine).toEqual(originalRun);
    // explanations carry the text and intents (the copy's profiles were read)
    const e = fromCopy.explain('user-3', fromCopy.recommend('user-3', { k: 1 }).items[0]!.item);
    expect(e.text?.user.intent).toMatch(/^likes /);
    expect(e.intents?.user.length).toBeGreaterThan(0);
  });

  it('export and report work on the copy', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-export-')), 'e');
    const s = await exportRun(fromCopy, 'npy', out);
    expect(s.users).toBe(U);
    const logs: string[] = [];
    const html = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-report-')), 'r.html');
    await writeReport({ runs: [copy], out: html, examples: 1, log: (l) => logs.push(l) });
    expect(logs).toEqual([]);
    expect(readFileSync(html, 'utf8')).toContain('<h2>Example explanations</h2>');
    expect(readFileSync(html, 'utf8')).not.toContain('Model not loaded');
  });

  it('the CLI recommends and evaluates from the copy', (ctx) => {
    if (!existsSync(distServe) || !existsSync(distEval)) {
      ctx.skip();
      return;
    }
    const cli = cliHarness();
    const r = cli(['recommend', '--run', copy, '--user', 'user-1', '--user', 'user-2', '-k', '4', '--explain', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.results.map((x: { items: unknown }) => x.items)).toEqual(fromCopy.recommend(['user-1', 'user-2'], { k: 4 }).map((x) => x.items));
    expect(out.results[0].explanations[0]).toEqual(fromCopy.explain('user-1', out.results[0].items[0].item));
    const t = cli(['recommend', '--run', copy, '--user', 'user-1', '-k', '2']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/1\. m\d+ {2}Film \d+/);
    const ev = cli(['evaluate', '--run', copy, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).matchesSummary).toBe(true);
  });

  it('a truncated copy is refused with a clear error', () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-bad-')), 'run');
    cpSync(copy, bad, { recursive: true });
    truncateSync(join(bad, 'data', 'usr_int.npy'), 100);
    expect(() => openRun(bad)).toThrow(RunError);
    expect(() => openRun(bad)).toThrow(/usr_int\.npy has 100 bytes, .* says \d+ \(an incomplete copy/);
  });
});

describe('official layout (pickled splits and text vectors, mapper id files)', () => {
  it('the copy has TSV splits, .npy vectors and the mappers, and answers exactly as the dataset did', async () => {
    const data = mkdtempSync(join(tmpdir(), 'irllrec-portable-official-'));
    cpSync(join(repoRoot, 'test', 'fixtures', 'official-layout'), data, { recursive: true });
    writeFileSync(join(data, 'amazon_user.json'), Array.from({ length: 30 }, (_, u) => JSON.stringify({ uid: u, reviewerID: `R${100 + u}` })).join('\n'));
    writeFileSync(join(data, 'amazon_item.json'), Array.from({ length: 20 }, (_, i) => JSON.stringify({ iid: i, asin: `B0${i}` })).join('\n'));
    const run = await train(data, 'lightgcn_int', join(mkdtempSync(join(tmpdir(), 'irllrec-portable-offrun-')), 'run'), [], '2');
    const before = await answers(await Recommender.open(run, { data }));
    const m = JSON.parse(readFileSync(join(run, 'data', RUN_DATA_FILES.manifest), 'utf8')) as RunDataManifest;
    expect(Object.keys(m.files).sort()).toEqual(['amazon_item.json', 'amazon_user.json', 'itm_int.npy', 'itm_prf.npy', 'test.tsv', 'train.tsv', 'usr_int.npy', 'usr_prf.npy', 'valid.tsv'].sort());
    expect(m.dataset).toMatchObject({ format: 'sslrec-pkl', users: 30, items: 20 });
    expect(m.splits).toEqual({ train: 120, valid: 30, test: 30 });
    // float64 profile pickles become float32 .npy (the values the model was built with)
    expect(m.text.map((t) => [t.kind, t.rows, t.cols, t.source?.split('/').pop()]).sort()).toEqual([
      ['itmInt', 20, 16, 'item_intent_emb_3.pkl'], ['itmPrf', 20, 12, 'itm_emb_np.pkl'], ['usrInt', 30, 16, 'user_intent_emb_3.pkl'], ['usrPrf', 30, 12, 'usr_emb_np.pkl'],
    ]);
    const copy = join(mkdtempSync(join(tmpdir(), 'irllrec-portable-offcopy-')), 'run');
    cpSync(run, copy, { recursive: true });
    rmSync(data, { recursive: true, force: true });
    const rec = await Recommender.open(copy);
    expect(rec.info.ids).toEqual({ users: 'mapper', items: 'mapper' });
    expect(rec.recommend('R101', { k: 3 }).user).toBe('R101');
    expect(await answers(rec)).toEqual(before);
  }, 60_000);
});

describe('runs without a copy (made before runs were self-contained)', () => {
  it('read the dataset recorded in run.json, and say what to do when it is gone', async () => {
    const data = makeDataset();
    const run = await train(data, 'lightgcn', join(mkdtempSync(join(tmpdir(), 'irllrec-portable-old-')), 'run'), [], '2');
    const now = await answers(await Recommender.open(run));
    rmSync(join(run, 'data'), { recursive: true });
    const old = await Recommender.open(run);
    expect(old.info.dataset).toBe((now as { info: { dataset: string } }).info.dataset);
    expect(await answers(old)).toEqual(now);
    const moved = mkdtempSync(join(tmpdir(), 'irllrec-portable-moved-'));
    cpSync(data, moved, { recursive: true });
    rmSync(data, { recursive: true, force: true });
    expect(() => openRun(run)).toThrow(/is gone and the run holds no copy of it.*--data DIR/);
    // --data still points at a moved dataset
    const viaData = await Recommender.open(run, { data: moved });
    expect(viaData.recommend(['user-1', 'user-9'], { k: 5 })).toEqual(old.recommend(['user-1', 'user-9'], { k: 5 }));
  }, 60_000);
});
