/**
 * The serving layer on small trained runs: Recommender (recommend, builder, similarItems, explain,
 * coldStart), the HTTP service (validation, errors, robustness), the CLI commands (recommend,
 * export) and the examples in docs/serving.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { topKForUsers } from '../src/eval/ranking.js';
import { getKernels } from '../src/kernels/index.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../src/serve/errors.js';
import { exportRun } from '../src/serve/export.js';
import { serveRecommender, type RecommenderService } from '../src/serve/http.js';
import { Recommender } from '../src/serve/recommender.js';
import { readSafetensors } from '../src/util/safetensors.js';
import { splitsDataset, withQuietStderr, writeOfflineProfiles, writeTextVectors } from './helpers/datasets.js';
import { repoRoot } from './shared.js';

const U = 60;
const I = 40;
const GENRES = ['Action', 'Comedy', 'Drama', 'Horror', 'Animation'];

/** A small ingested-style dataset: splits, id maps with titles, profiles, text vectors, embed.json. */
function makeDataset(): string {
  const dir = splitsDataset('irllrec-serve-', { users: U, items: I });
  writeFileSync(join(dir, 'users.tsv'), `id\tkey\n${Array.from({ length: U }, (_, u) => `${u}\tu${u}`).join('\n')}\n`);
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\ttitle\n${Array.from({ length: I }, (_, i) => `${i}\ti${i}\tMovie ${i} (${GENRES[i % 5]})`).join('\n')}\n`);
  writeTextVectors(dir, { users: U, items: I, profileDim: 10, intentDim: 14, value: (i, w) => Math.cos(i * 0.13 + w) + 0.1 * Math.sin(i) });
  const src = { provider: 'offline', model: 'test', offline: true };
  const users = Array.from({ length: U }, (_, u) => JSON.stringify({
    id: u, key: `u${u}`,
    profile: { summarization: `Enjoys ${GENRES[u % 5]} and ${GENRES[(u + 1) % 5]} movies. Rates ${GENRES[(u + 3) % 5]} lower.`, reasoning: 'test' },
    intent: { key_attributes: [GENRES[u % 5]!], liked: [GENRES[u % 5]!, GENRES[(u + 1) % 5]!], disliked: [GENRES[(u + 3) % 5]!], intent: `likes ${GENRES[u % 5]} / dislikes ${GENRES[(u + 3) % 5]}` },
    source: src,
  }));
  const items = Array.from({ length: I }, (_, i) => JSON.stringify({
    id: i, key: `i${i}`, title: `Movie ${i}`,
    profile: { summarization: `Movie ${i}: ${GENRES[i % 5]}. Suits users who enjoy ${GENRES[i % 5]} movies.`, reasoning: 'test' },
    intent: { key_attributes: [GENRES[i % 5]!], attracts: [`${GENRES[i % 5]} fans`], does_not_suit: [`${GENRES[(i + 2) % 5]} fans`], intent: `attracts ${GENRES[i % 5]} fans` },
    source: src,
  }));
  writeOfflineProfiles(dir, users, items);
  writeFileSync(join(dir, 'embed.json'), JSON.stringify({ provider: 'local', model: 'tfidf-svd-10', width: 10, local: { dim: 10, seed: 1, max_features: 30000, max_df_ratio: 0.9, iterations: 3 } }));
  return dir;
}

async function train(data: string, model: string, out: string, sets: string[] = []): Promise<string> {
  await withQuietStderr(() => trainCommand({ data, model, out, epochs: '3', set: [...new Set(['train.batch_size=64', ...(model.endsWith('_int') ? ['model.intent_num=4'] : []), ...sets])] }));
  return out;
}

let data: string;
let runInt: string;
let runPlain: string;
let rec: Recommender;
let plain: Recommender;

beforeAll(async () => {
  data = makeDataset();
  const base = mkdtempSync(join(tmpdir(), 'irllrec-serve-runs-'));
  runInt = await train(data, 'lightgcn_int', join(base, 'int'));
  runPlain = await train(data, 'lightgcn', join(base, 'plain'));
  rec = await Recommender.open(runInt);
  plain = await Recommender.open(runPlain);
}, 120_000);

describe('Recommender', () => {
  it('opens a run: model, ids, intents, text tower, embedder', () => {
    expect(rec.info).toMatchObject({ model: 'lightgcn_int', users: U, items: I, intents: 4, ids: { users: 'tsv', items: 'tsv' }, textTower: ['profile', 'intent'], coldStartText: true });
    expect(plain.info).toMatchObject({ model: 'lightgcn', intents: null, textTower: [], coldStartText: false });
  });

  it('recommend: external ids, sorted scores, training items masked, same ranking as the evaluator', () => {
    const r = rec.recommend('u3', { k: 5 });
    expect(r.user).toBe('u3');
    expect(r.items).toHaveLength(5);
    expect(r.items[0]!.title).toMatch(/^Movie \d+/);
    for (let j = 1; j < r.items.length; j++) expect(r.items[j - 1]!.score).toBeGreaterThanOrEqual(r.items[j]!.score);
    const seen = new Set(rec.seenItems('u3'));
    for (const it of r.items) expect(seen.has(it.item)).toBe(false);
    // the evaluator's top-k with the training mask (all users at once) is the same list
    const { user, item, dim } = rec.embeddings();
    const users = Int32Array.from({ length: U }, (_, u) => u);
    const ds = (rec as unknown as { seen: { indptr: Int32Array; indices: Int32Array } }).seen;
    const ref = topKForUsers({ kernels: getKernels(), userEmb: user, itemEmb: item, dim, numUsers: U, numItems: I, users, k: 5, mask: ds });
    const batch = rec.recommend(Array.from({ length: U }, (_, u) => `u${u}`), { k: 5 });
    for (let u = 0; u < U; u++) expect(batch[u]!.items.map((x) => x.item)).toEqual(Array.from(ref.subarray(u * 5, u * 5 + 5), (i) => `i${i}`));
  });

  it('recommend: excludeSeen false / all, exclude, candidates, builder', () => {
    const seen = rec.seenItems('u7');
    const all = rec.recommend('u7', { k: I, excludeSeen: false });
    expect(all.items).toHaveLength(I);
    const masked = rec.recommend('u7', { k: I });
    expect(masked.items).toHaveLength(I - seen.length);
    const strict = rec.recommend('u7', { k: I, excludeSeen: 'all' });
    expect(strict.items.length).toBeLessThan(masked.items.length);
    const top = masked.items[0]!.item;
    expect(rec.recommend('u7', { k: 3, exclude: [top] }).items.map((x) => x.item)).not.toContain(top);
    const cands = ['i0', 'i1', 'i2', 'i3', seen[0]!];
    const c = rec.recommend('u7', { k: 10, candidates: cands });
    expect(c.items.length).toBeGreaterThan(0);
    expect(c.items.every((x) => cands.includes(x.item) && !seen.includes(x.item))).toBe(true);
    expect(rec.query('u7').limit(4).exclude([top]).toArray()[0]!.items).toEqual(rec.recommend('u7', { k: 4, exclude: [top] }).items);
    const withExp = rec.query(['u1', 'u2']).k(2).explain().toArray();
    expect(withExp[1]!.explanations![0]!.item).toBe(withExp[1]!.items[0]!.item);
  });

  it('recommend: clear errors', () => {
    expect(() => rec.recommend('nobody')).toThrow(NotFoundError);
    expect(() => rec.recommend(['u1', 'x1', 'x2'])).toThrow(/unknown users: "x1", "x2"/);
    expect(() => rec.recommend('u1', { k: 0 })).toThrow(InvalidArgumentError);
    expect(() => rec.recommend('u1', { k: I + 1 })).toThrow(/k must be an integer in \[1, 40\]/);
    expect(() => rec.recommend('u1', { k: 2.5 })).toThrow(InvalidArgumentError);
    expect(() => rec.recommend('u1', { exclude: ['nope'] })).toThrow(/unknown item in exclude: "nope"/);
    expect(() => rec.recommend('u1', { excludeSeen: 'yes' as never })).toThrow(/excludeSeen/);
  });

  it('similarItems: cosine neighbours, the item itself left out', () => {
    const r = rec.similarItems('i5', { k: 5 });
    expect(r.item).toBe('i5');
    expect(r.similar.map((x) => x.item)).not.toContain('i5');
    const v = rec.itemVector('i5');
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, j) => s + x * b[j]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const brute = Array.from({ length: I }, (_, i) => i).filter((i) => i !== 5).sort((a, b) => cos(v, rec.itemVector(`i${b}`)) - cos(v, rec.itemVector(`i${a}`)));
    expect(r.similar.map((x) => x.item)).toEqual(brute.slice(0, 5).map((i) => `i${i}`));
    expect(rec.similarItems(['i1', 'i2'], { k: 2 })).toHaveLength(2);
    expect(() => rec.similarItems('zzz')).toThrow(NotFoundError);
  });

  it('explain: score, rank, intents that add up, matching text, similar training items', () => {
    const top = rec.recommend('u4', { k: 3 }).items;
    const e = rec.explain('u4', top[1]!.item);
    const u = rec.userVector('u4');
    const v = rec.itemVector(top[1]!.item);
    expect(e.score).toBeCloseTo(u.reduce((s, x, j) => s + x * v[j]!, 0), 4);
    expect(e.rank).toBe(2);
    expect(e.seen).toBe(false);
    expect(e.intents!.K).toBe(4);
    expect(e.intents!.user.length).toBeGreaterThan(0);
    expect(e.intents!.user.length).toBeLessThanOrEqual(3);
    // each side's contributions and residual add up to the score
    expect(e.intents!.explained + e.intents!.residual).toBeCloseTo(e.score, 4);
    expect(e.intents!.itemExplained + e.intents!.itemResidual).toBeCloseTo(e.score, 4);
    for (const s of [...e.intents!.user, ...e.intents!.item]) {
      expect(s.weight).toBeGreaterThan(0);
      expect(s.lift).toBeCloseTo(s.weight * 4, 2);
      expect(s.mix).toBeGreaterThan(0);
      expect(s.share).toBeCloseTo(s.contribution / e.score, 3);
      expect(s.label.items.length).toBeGreaterThan(0);
    }
    // shown by contribution, largest first; with every intent shown, they sum to `explained`
    const all = rec.explain('u4', top[1]!.item, { top: 4 }).intents!;
    for (const side of [all.user, all.item]) for (let j = 1; j < side.length; j++) expect(side[j - 1]!.contribution).toBeGreaterThanOrEqual(side[j]!.contribution);
    expect(all.user.reduce((a, s) => a + s.contribution, 0)).toBeCloseTo(all.explained, 4);
    expect(all.item.reduce((a, s) => a + s.contribution, 0)).toBeCloseTo(all.itemExplained, 4);
    expect(all.fit).toBeGreaterThanOrEqual(0);
    expect(all.fit).toBeLessThanOrEqual(1);
    expect(e.text!.user.intent).toMatch(/^likes /);
    expect(e.text!.item.attracts[0]).toMatch(/ fans$/);
    const seen = new Set(rec.seenItems('u4'));
    expect(e.because.every((b) => seen.has(b.item))).toBe(true);
    const p = plain.explain('u4', 'i3');
    expect(p.intents).toBeNull();
    expect(p.text).not.toBeNull();
    expect(() => rec.explain('u4', 'nope')).toThrow(NotFoundError);
  });

  it('coldStart: from text (local fold-in), vectors, items; clear errors', async () => {
    const t = await rec.coldStart({ text: { profile: 'Enjoys Comedy and Drama movies.', intent: 'likes Comedy / dislikes Horror' } }, { k: 5 });
    expect(t.items).toHaveLength(5);
    expect(t.used).toEqual(['profile', 'intent']);
    expect(t.embedder).toMatch(/fold-in/);
    const n = await rec.coldStart({ text: 'likes Horror' }, { k: 5, strategy: 'neighbors' });
    expect(n.strategy).toBe('neighbors');
    const vec = await rec.coldStart({ vectors: { profile: Array.from({ length: 10 }, (_, j) => Math.sin(j)) } }, { k: 3 });
    expect(vec.used).toEqual(['profile']);
    const it = await rec.coldStart({ items: ['i1', 'i2'] }, { k: 5 });
    expect(it.items.map((x) => x.item)).not.toContain('i1');
    expect(it.strategy).toBe('items');
    await expect(rec.coldStart({ vectors: { profile: [1, 2] } })).rejects.toThrow(/has 2 values, the profile vectors of this model have 10/);
    await expect(rec.coldStart({ text: '' })).rejects.toThrow(InvalidArgumentError);
    await expect(rec.coldStart({})).rejects.toThrow(/needs/);
    await expect(plain.coldStart({ text: 'anything' })).rejects.toThrow(UnavailableError);
    expect((await plain.coldStart({ items: ['i3'] }, { k: 2 })).items).toHaveLength(2);
    const noEmb = await Recommender.open(runInt, { embedder: null });
    await expect(noEmb.coldStart({ text: 'x y' })).rejects.toThrow(/no text embedder/);
  });
});

describe('other backbones', () => {
  it('BIGCF: deterministic serving scores (no reference noise) and its own prototypes as intents', async () => {
    const run = await train(data, 'bigcf', join(mkdtempSync(join(tmpdir(), 'irllrec-serve-bigcf-')), 'bigcf'), ['model.intent_num=4']);
    const a = await Recommender.open(run);
    const b = await Recommender.open(run);
    expect(a.recommend('u2', { k: 5 })).toEqual(b.recommend('u2', { k: 5 }));
    expect(a.recommend('u2', { k: 5 })).toEqual(a.recommend('u2', { k: 5 }));
    expect(a.info.intents).toBe(4);
    expect(a.explain('u2', 'i9').intents!.source).toMatch(/BIGCF/);
  });

  it('topIndices selects like a full sort', async () => {
    const { topIndices } = await import('../src/serve/intents.js');
    const a = Float32Array.from({ length: 500 }, (_, i) => Math.round(Math.sin(i * 7.3) * 20));
    const ref = Array.from({ length: 500 }, (_, i) => i).sort((x, y) => a[y]! - a[x]! || x - y);
    for (const n of [1, 3, 10, 40]) expect(topIndices(a, 0, 500, n)).toEqual(ref.slice(0, n));
  });
});

describe('HTTP service', () => {
  let svc: RecommenderService;
  const errors: string[] = [];
  beforeAll(async () => {
    svc = await serveRecommender(rec, { port: 0, errorLog: (s) => errors.push(s), maxK: 30 });
  });
  afterAll(async () => svc?.close());

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(svc.url + path, {
      method, headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };

  it('health, info, recommend (GET and POST), similar, explain, cold start', async () => {
    expect((await call('GET', '/health')).body).toMatchObject({ status: 'ok', model: 'lightgcn_int', users: U, items: I });
    expect((await call('GET', '/info')).body.limits.max_k).toBe(30);
    const g = await call('GET', '/recommend?user=u1&user=u2&k=3');
    expect(g.status).toBe(200);
    expect(g.body.results.map((r: { user: string }) => r.user)).toEqual(['u1', 'u2']);
    expect(g.body.results[0].items).toEqual(rec.recommend('u1', { k: 3 }).items);
    const p = await call('POST', '/recommend', { users: ['u1'], k: 4, exclude_seen: false, exclude: ['i0'], explain: true });
    expect(p.body.results[0].items).toHaveLength(4);
    expect(p.body.results[0].explanations).toHaveLength(4);
    expect((await call('GET', '/similar?item=i3&k=2')).body.results[0].similar).toHaveLength(2);
    expect((await call('POST', '/explain', { user: 'u1', item: 'i9' })).body.item).toBe('i9');
    expect((await call('GET', '/explain?user=u1&item=i9')).body.intents.K).toBe(4);
    const cs = await call('POST', '/coldstart', { text: 'likes Comedy and Drama', k: 3 });
    expect(cs.status).toBe(200);
    expect(cs.body.items).toHaveLength(3);
  });

  it('validates input: 404 unknown ids and routes, 400 malformed bodies and bad k, 405, 413, 415, 422', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['GET', '/recommend?user=ghost', undefined, 404, /unknown user: "ghost"/],
      ['POST', '/recommend', { users: ['u1', 'ghost'] }, 404, /unknown user: "ghost"/],
      ['POST', '/explain', { user: 'u1', item: 'ghost' }, 404, /unknown item "ghost"/],
      ['GET', '/nope', undefined, 404, /no route GET \/nope/],
      ['POST', '/recommend', '{"user": "u1",', 400, /not valid JSON/],
      ['POST', '/recommend', '[1,2]', 400, /must be a JSON object/],
      ['POST', '/recommend', { user: 'u1', k: 0 }, 400, /k must be an integer in \[1, 30\], got 0/],
      ['POST', '/recommend', { user: 'u1', k: 31 }, 400, /k must be an integer in \[1, 30\]/],
      ['GET', '/recommend?user=u1&k=abc', undefined, 400, /k must be an integer/],
      ['POST', '/recommend', { user: 'u1', kk: 3 }, 400, /unknown field "kk"/],
      ['POST', '/recommend', { user: 'u1', users: ['u2'] }, 400, /not both/],
      ['POST', '/recommend', { users: 'u1' }, 400, /users must be a list/],
      ['POST', '/recommend', { user: 'u1', exclude_seen: 'maybe' }, 400, /exclude_seen/],
      ['GET', '/recommend?user=u1&color=red', undefined, 400, /unknown query parameter "color"/],
      ['POST', '/recommend', '', 400, /empty/],
      ['POST', '/coldstart', { vectors: { profile: [1, 2, 3] } }, 400, /has 3 values/],
      ['POST', '/coldstart', { k: 3 }, 400, /give "text", "vectors" or "items"/],
      ['POST', '/coldstart', { text: 'x', strategy: 'magic' }, 400, /strategy/],
      ['DELETE', '/recommend', undefined, 405, /DELETE is not allowed/],
      ['POST', '/health', { a: 1 }, 405, /not allowed/],
    ];
    for (const [m, path, body, status, msg] of cases) {
      const r = await call(m, path, body);
      expect([m, path, r.status]).toEqual([m, path, status]);
      expect(r.body.error.message).toMatch(msg);
    }
    const big = await call('POST', '/recommend', JSON.stringify({ user: 'u1', pad: 'x'.repeat(1.5 * 2 ** 20) }));
    expect(big.status).toBe(413);
    expect((await call('POST', '/recommend', 'user=u1', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    // what `curl -d '{...}'` sends: JSON labelled as a form
    expect((await call('POST', '/recommend', '{"user": "u1", "k": 2}', { 'content-type': 'application/x-www-form-urlencoded' })).body.results[0].items).toHaveLength(2);
    expect((await call('POST', '/recommend', '{"user": "u1"}', { 'content-type': 'multipart/form-data; boundary=x' })).status).toBe(415);
    const plainSvc = await serveRecommender(plain, { port: 0 });
    try {
      const r = await fetch(`${plainSvc.url}/coldstart`, { method: 'POST', body: JSON.stringify({ text: 'hello' }) });
      expect(r.status).toBe(422);
    } finally {
      await plainSvc.close();
    }
    expect(errors).toEqual([]);
  });

  it('survives garbage: malformed HTTP, aborted bodies, a burst of concurrent requests', async () => {
    const raw = (payload: string) => new Promise<string>((resolve) => {
      const s = connect(svc.port, '127.0.0.1', () => s.end(payload));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    expect(await raw('THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    await raw('POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"user":'); // body cut short
    const burst = await Promise.all(Array.from({ length: 200 }, (_, n) => call('GET', `/recommend?user=u${n % U}&k=5`)));
    expect(burst.every((r) => r.status === 200)).toBe(true);
    expect((await call('GET', '/health')).status).toBe(200);
    expect(errors).toEqual([]);
  });
});

describe('exports', () => {
  it('npy and safetensors hold the embeddings and id maps', async () => {
    const out = mkdtempSync(join(tmpdir(), 'irllrec-export-'));
    const { user, item } = rec.embeddings();
    await exportRun(rec, 'safetensors', join(out, 'st'));
    const st = readSafetensors(join(out, 'st', 'embeddings.safetensors'));
    expect(st.tensors.user_embeddings!.shape).toEqual([U, rec.dim]);
    expect(Array.from(st.tensors.item_embeddings!.data)).toEqual(Array.from(item));
    expect(st.tensors.item_intents!.shape).toEqual([4, rec.dim]);
    await exportRun(rec, 'npy', join(out, 'npy'));
    const { readNpyFloat32 } = await import('../src/data/formats/numpy.js');
    expect(Array.from(readNpyFloat32(join(out, 'npy', 'user_embeddings.npy')).data)).toEqual(Array.from(user));
    expect(readFileSync(join(out, 'npy', 'items.tsv'), 'utf8').split('\n')[4]).toBe('3\ti3\tMovie 3 (Horror)');
    await expect(exportRun(rec, 'npy', join(out, 'npy'))).rejects.toThrow(/not empty; pass --force/);
    await exportRun(rec, 'npy', join(out, 'npy'), { force: true });
  });

  it('lancedb: a vector store whose dot-product search gives the model ranking', async (ctx) => {
    try {
      await import('@lancedb/lancedb' as string);
    } catch {
      ctx.skip();
      return;
    }
    const lancedb = (await import('@lancedb/lancedb' as string)) as { connect(p: string): Promise<any> };
    const out = join(mkdtempSync(join(tmpdir(), 'irllrec-lance-')), 'db');
    await exportRun(rec, 'lancedb', out);
    const db = await lancedb.connect(out);
    const items = await db.openTable('items');
    expect(await items.countRows()).toBe(I);
    const hits = await items.search(Array.from(rec.userVector('u5'))).distanceType('dot').limit(5).toArray();
    expect(hits.map((h: { id: string }) => h.id)).toEqual(rec.recommend('u5', { k: 5, excludeSeen: false }).items.map((x) => x.item));
  });
});

const distCli = join(repoRoot, 'dist', 'cli', 'serve-commands.js');

describe('CLI (recommend, export)', () => {
  let harness: string;
  beforeAll(() => {
    harness = join(mkdtempSync(join(tmpdir(), 'irllrec-cli-')), 'cli.mjs');
    writeFileSync(harness, `import { Command } from ${JSON.stringify(join(repoRoot, 'node_modules', 'commander', 'index.js'))};
import { registerServeCommands } from ${JSON.stringify(distCli)};
const program = new Command();
registerServeCommands(program);
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
await program.parseAsync(process.argv);
`);
  });
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [harness, ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('recommend --json and --explain, one-line errors with exit 2', (ctx) => {
    if (!existsSync(distCli)) {
      ctx.skip();
      return;
    }
    const j = cli(['recommend', '--run', runInt, '--user', 'u1', '--user', 'u2', '-k', '3', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.results[1].items.map((x: { item: string }) => x.item)).toEqual(rec.recommend('u2', { k: 3 }).items.map((x) => x.item));
    const h = cli(['recommend', '--run', runInt, '--user', 'u1', '-k', '2', '--explain']);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/user u1 \(\d+ training items\), lightgcn_int:\n\s+1\. i\d+ {2}Movie/);
    expect(h.stdout).toMatch(/user intents: U\d/);
    for (const [args, msg] of [
      [['recommend', '--run', runInt, '--user', 'ghost'], /unknown user: "ghost"/],
      [['recommend', '--run', runInt], /--user ID is required/],
      [['recommend', '--run', join(tmpdir(), 'no-such-run'), '--user', 'u1'], /run directory not found/],
      [['recommend', '--run', runInt, '--user', 'u1', '-k', '0'], /-k must be an integer/],
      [['export', '--run', runInt, '--format', 'csv'], /--format must be one of npy, safetensors, lancedb/],
      [['serve', '--run', runInt, '--port', '99999'], /--port must be an integer in \[0, 65535\]/],
      [['report', '--run', runInt], /--out FILE.html is required/],
    ] as const) {
      const r = cli([...args]);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('export writes the files', (ctx) => {
    if (!existsSync(distCli)) {
      ctx.skip();
      return;
    }
    const out = join(mkdtempSync(join(tmpdir(), 'irllrec-cli-export-')), 'e');
    const r = cli(['export', '--run', runInt, '--format', 'npy', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files.map((f: string) => f.slice(out.length + 1))).toEqual(['user_embeddings.npy', 'item_embeddings.npy', 'user_intents.npy', 'item_intents.npy', 'users.tsv', 'items.tsv', 'export.json']);
  });
});

describe('docs/serving.md examples', () => {
  it('every ```js example runs against a real run', async (ctx) => {
    const doc = join(repoRoot, 'docs', 'serving.md');
    if (!existsSync(doc) || !existsSync(join(repoRoot, 'dist', 'serve', 'index.js'))) {
      ctx.skip();
      return;
    }
    const blocks = [...readFileSync(doc, 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-doc-'));
    for (const [n, code] of blocks.entries()) {
      const file = join(dir, `example${n}.mjs`);
      writeFileSync(file, code
        .replaceAll("from 'irllrec'", `from ${JSON.stringify(join(repoRoot, 'dist', 'serve', 'index.js'))}`)
        .replaceAll("'runs/book-int'", JSON.stringify(runInt))
        .replaceAll("'A2PDSDPBAO255U'", "'u1'")
        .replaceAll("'0373730489'", "'i3'"));
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
      expect([n, r.status, r.stderr]).toEqual([n, 0, '']);
    }
  });
});
