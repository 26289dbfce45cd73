/**
 * No validation or test interaction ever reaches a prompt (or an offline profile): every review,
 * summary and tag carries a unique marker naming its (user, item) pair, every item a unique title;
 * all prompts of all four tasks are captured by the loopback server and searched.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCorpus } from '../src/ingest/corpus.js';
import { ingest, type IngestOptions } from '../src/ingest/index.js';
import { runProfile } from '../src/text/profile.js';
import type { TaskName } from '../src/text/schema.js';
import { requestKey } from '../src/text/tasks.js';
import { Rng } from '../src/util/rng.js';
import { startLlmServer, type LlmServer } from './helpers/llm-server.js';

const marker = (kind: string, u: number, i: number) => `${kind}U${u}I${i}Z`;
const title = (i: number) => `Title${i}Q`;

/** MovieLens layout (ratings + tags) and a CSV with reviews, over the same synthetic pairs. */
function synthetic(dir: string) {
  const rng = new Rng(11);
  const ratings = ['userId,movieId,rating,timestamp'];
  const csv = ['user,item,stars,ts,review,headline'];
  const tags = ['userId,movieId,tag,timestamp'];
  for (let u = 1; u <= 40; u++) {
    const items = Array.from(rng.choice(30, 14)).map((x) => x + 1);
    items.forEach((i, k) => {
      const r = 1 + rng.int(5);
      const t = 1000 * u + k;
      ratings.push(`${u},${i},${r}.0,${t}`);
      csv.push(`${u},${i},${r},${t},"I think ${marker('rv', u, i)} about it",${marker('sm', u, i)}`);
      if (k % 3 === 0) tags.push(`${u},${i},${marker('tg', u, i)},${t + 1}`);
    });
    // a tag on a pair that is no interaction at all
    tags.push(`${u},${(u % 30) + 1},${marker('tg', u, (u % 30) + 1)},${1000 * u + 99}`);
  }
  const movies = ['movieId,title,genres', ...Array.from({ length: 30 }, (_, k) => `${k + 1},${title(k + 1)} (2000),${['Drama', 'Comedy', 'Horror'][k % 3]}`)];
  mkdirSync(join(dir, 'ml'));
  writeFileSync(join(dir, 'ml', 'ratings.csv'), `${ratings.join('\n')}\n`);
  writeFileSync(join(dir, 'ml', 'movies.csv'), `${movies.join('\n')}\n`);
  writeFileSync(join(dir, 'ml', 'tags.csv'), `${tags.join('\n')}\n`);
  writeFileSync(join(dir, 'reviews.csv'), `${csv.join('\n')}\n`);
  writeFileSync(join(dir, 'items.csv'), `id,name\n${Array.from({ length: 30 }, (_, k) => `${k + 1},${title(k + 1)}`).join('\n')}\n`);
}

let server: LlmServer;
let dir: string;
beforeAll(async () => {
  server = await startLlmServer();
  dir = mkdtempSync(join(tmpdir(), 'irllrec-leak-'));
  synthetic(dir);
});
afterAll(() => server.close());

function evalPairs(ds: string): [string, string][] {
  const c = readCorpus(ds);
  const out: [string, string][] = [];
  for (const f of ['valid.tsv', 'test.tsv']) {
    for (const line of readFileSync(join(ds, f), 'utf8').trim().split('\n').slice(1)) {
      const [u, i] = line.split('\t').map(Number);
      out.push([c.users[u!]!.key, c.items[i!]!.key]);
    }
  }
  return out;
}

async function check(name: string, o: Omit<IngestOptions, 'out'>) {
  const ds = join(dir, name);
  await ingest({ ...o, out: ds });
  const pairs = evalPairs(ds);
  expect(pairs.length).toBeGreaterThan(50);
  // every prompt of every task, through the OpenAI-compatible path
  const first = server.requests.length;
  await runProfile({ dir: ds, provider: 'openai', llm: { baseUrl: server.url, model: 'leak-test', auth: 'bearer', timeoutMs: 10_000, maxRetries: 0, retryBaseMs: 1, retryMaxMs: 10, jsonMode: true, temperature: 0, maxTokens: 256 }, concurrency: 8 });
  const reqs = server.requests.slice(first);
  const c = readCorpus(ds);
  expect(reqs.length).toBe(2 * c.users.length + 2 * c.items.length - c.users.filter((u) => u.feedback.length === 0).length * 2);
  const all = reqs.map((r) => r.body.messages!.map((m) => m.content).join('\n')).join('\n');
  // the markers do reach prompts for training pairs (so the check below is not vacuous)
  expect(all).toMatch(o.format === "movielens" ? /tgU\d+I\d+Z/ : /rvU\d+I\d+Z/);
  for (const [u, i] of pairs) {
    for (const k of ['rv', 'sm', 'tg']) expect(all.includes(marker(k, Number(u), Number(i))), `${marker(k, Number(u), Number(i))} leaked`).toBe(false);
  }
  // each stored answer's key is sha256(task, entity, model, messages): find whose prompt each request is
  const store = readFileSync(join(ds, 'cache', 'llm.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; entity: string; task: TaskName });
  expect(new Set(store.map((s) => `${s.task} ${s.entity}`)).size).toBe(store.length);
  const evalOf = new Map<string, Set<string>>();
  for (const [u, i] of pairs) (evalOf.get(u) ?? evalOf.set(u, new Set()).get(u)!).add(i);
  let userPrompts = 0;
  for (const r of reqs) {
    const rec = store.find((s) => s.entity.startsWith('user:') && requestKey(s.task, s.entity, 'leak-test', r.body.messages) === s.key);
    if (!rec) continue;
    userPrompts++;
    const user = c.users.find((x) => `user:${x.key}` === rec.entity)!;
    const content = r.body.messages!.map((m) => m.content).join('\n');
    for (const i of evalOf.get(user.key) ?? []) {
      const it = c.items.find((x) => x.key === i)!;
      expect(content.includes(`${it.title} `) || content.includes(`${it.title}"`), `${it.title} in a prompt of user ${user.key}`).toBe(false);
    }
  }
  expect(userPrompts).toBe(2 * c.users.filter((u) => u.feedback.length).length);
  const offline = join(dir, `${name}-offline`);
  await ingest({ ...o, out: offline });
  await runProfile({ dir: offline, provider: 'offline' });
  const offlineText = readFileSync(join(offline, 'text', 'users.jsonl'), 'utf8') + readFileSync(join(offline, 'text', 'items.jsonl'), 'utf8');
  for (const [u, i] of pairs) for (const k of ['rv', 'sm', 'tg']) expect(offlineText.toLowerCase().includes(marker(k, Number(u), Number(i)).toLowerCase())).toBe(false);
  const usersOffline = readFileSync(join(offline, 'text', 'users.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; profile: { summarization: string } });
  for (const uo of usersOffline) {
    for (const i of evalOf.get(uo.key) ?? []) expect(uo.profile.summarization.includes(`${title(Number(i))} `)).toBe(false);
  }
}

describe('no validation/test interaction in any prompt', () => {
  it('MovieLens layout (ratings + tags), random 3:1:1 split', async () => {
    await check('ml-random', { format: 'movielens', dir: join(dir, 'ml'), minRating: 3 });
  });

  it('CSV with reviews, leave-one-out (later low ratings withheld too)', async () => {
    await check('csv-loo', {
      format: 'csv', interactions: join(dir, 'reviews.csv'), map: 'user=user,item=item,rating=stars,time=ts,text=review,summary=headline',
      items: join(dir, 'items.csv'), itemMap: 'id=id,title=name', minRating: 4, split: 'loo',
    });
    const stats = JSON.parse(readFileSync(join(dir, 'csv-loo', 'ingest.json'), 'utf8')).stats;
    expect(stats.corpus.withheld_after_cutoff).toBeGreaterThan(0);
  });

  it('CSV with reviews, per-user ratios in time order', async () => {
    await check('csv-ratio', {
      format: 'csv', interactions: join(dir, 'reviews.csv'), map: 'user=user,item=item,rating=stars,time=ts,text=review,summary=headline',
      items: join(dir, 'items.csv'), itemMap: 'id=id,title=name', minRating: 3, split: 'user-ratio', ratios: [3, 1, 1],
    });
  });
});
