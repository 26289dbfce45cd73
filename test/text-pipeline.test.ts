/**
 * The whole text pipeline through the CLI: ingest -> profile -> embed -> train, offline (offline
 * profiles, local embeddings) and with --provider openai against the loopback server, on a
 * MovieLens subset (bundled data) and on the Amazon 2018 gift cards 5-core (shared/, if present).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir, repoRoot } from './shared.js';
import { writeMovieLensSubset } from './helpers/datasets.js';
import { runCli, startLlmServer, type LlmServer } from './helpers/llm-server.js';

const giftCards = join(datasetsDir, 'amazon2018-gift-cards-5core');

function train(dir: string, model: string) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'dist', 'cli', 'main.js'), 'train', '--data', dir, '--model', model, '--epochs', '1', '--json', '--set', 'train.batch_size=1024'], {
    encoding: 'utf8', env: { ...process.env, IRLLREC_NO_PROGRESS: '1' },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { model: string; test: Record<string, number> };
}

let server: LlmServer;
let base: string;
let ml: string;
beforeAll(async () => {
  server = await startLlmServer({ embedDim: 24 });
  base = mkdtempSync(join(tmpdir(), 'irllrec-pipe-'));
  // MovieLens subset: the first 15 users of the bundled ratings (sorted by user), all movies and tags
  ml = writeMovieLensSubset(join(base, 'ml-small'), 15);
});
afterAll(() => server.close());

async function ok(args: string[]) {
  const r = await runCli(args);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe('ingest -> profile -> embed -> train', () => {
  it('MovieLens, offline: IRLLRec (all four text files) trains on the result', async () => {
    const ds = join(base, 'ml-offline');
    const i = await ok(['ingest', '--format', 'movielens', '--dir', ml, '--out', ds, '--json']);
    expect(JSON.parse(i.stdout).stats.users).toBe(15);
    await ok(['profile', '--data', ds, '--provider', 'offline']);
    const items = readFileSync(join(ds, 'text', 'items.jsonl'), 'utf8').split('\n')[0]!;
    expect(JSON.parse(items).source).toEqual({ provider: 'offline', model: 'irllrec-offline-2', offline: true });
    await ok(['embed', '--data', ds, '--provider', 'local', '--dim', '32']);
    const r = train(ds, 'lightgcn_int');
    expect(r.model).toBe('lightgcn_int');
    expect(r.test['recall@20']).toBeGreaterThanOrEqual(0);
  });

  it('MovieLens, --provider openai (loopback) for profiles and embeddings', async () => {
    const ds = join(base, 'ml-openai');
    await ok(['ingest', '--format', 'movielens', '--dir', ml, '--out', ds]);
    const env = { OPENAI_API_KEY: 'sk-test-key-not-logged' };
    const p = await runCli(['profile', '--data', ds, '--provider', 'openai', '--base-url', server.url, '--model', 'mock-chat', '--concurrency', '8', '--price-in', '0.15', '--price-out', '0.6', '--json'], env);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).not.toContain('sk-test-key-not-logged');
    expect(JSON.parse(p.stdout)).toMatchObject({ complete: true, provider: 'openai', model: 'mock-chat' });
    expect(p.stderr).toMatch(/tokens: \d+ prompt \+ \d+ completion, cost \$\d/);
    expect(server.requests.at(-1)!.authorization).toBe('Bearer sk-test-key-not-logged');
    const e = await runCli(['embed', '--data', ds, '--provider', 'openai', '--base-url', server.url, '--model', 'mock-embed'], env);
    expect(e.code, e.stderr).toBe(0);
    for (const f of ['text/profile.json', 'embed.json', 'ingest.json']) expect(readFileSync(join(ds, f), 'utf8')).not.toContain('sk-test-key');
    expect(JSON.parse(readFileSync(join(ds, 'embed.json'), 'utf8'))).toMatchObject({ provider: 'openai', model: 'mock-embed', width: 24 });
    expect(train(ds, 'lightgcn_int').model).toBe('lightgcn_int');
  });

  it.skipIf(!existsSync(giftCards))('Amazon 2018 gift cards, offline and openai', async () => {
    const ds = join(base, 'gc');
    await ok(['ingest', '--format', 'amazon2018', '--reviews', join(giftCards, 'Gift_Cards_5.json.gz'), '--meta', join(giftCards, 'meta_Gift_Cards.json.gz'), '--out', ds]);
    await ok(['profile', '--data', ds]);
    const items = readFileSync(join(ds, 'text', 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(items.some((i) => /Reviewers who liked it mention/.test(i.profile.summarization))).toBe(true);
    await ok(['embed', '--data', ds]);
    expect(train(ds, 'lightgcn_int').model).toBe('lightgcn_int');
    const gco = join(base, 'gc-openai');
    cpSync(ds, gco, { recursive: true, filter: (f) => !/(text|cache)$|\.npy$|embed\.json$/.test(f) });
    await ok(['profile', '--data', gco, '--provider', 'openai', '--base-url', server.url, '--model', 'mock-chat', '--concurrency', '16']);
    await ok(['embed', '--data', gco, '--provider', 'openai', '--base-url', server.url, '--model', 'mock-embed']);
    expect(train(gco, 'lightgcn_int').model).toBe('lightgcn_int');
  });

  it('bad input: one error line, exit 2, nothing written', async () => {
    const out = join(base, 'never');
    const r = await runCli(['ingest', '--format', 'amazon2018', '--reviews', join(base, 'missing.json.gz'), '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`irllrec: error: ${join(base, 'missing.json.gz')}: file not found`]);
    expect(existsSync(out)).toBe(false);
    const u = await runCli(['ingest', '--format', 'movielens', '--out', out]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--format movielens needs --dir DIR/);
    const p = await runCli(['profile', '--data', base]);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/not an ingested dataset \(no ingest\.json\)/);
    const k = await runCli(['profile', '--data', join(base, 'ml-offline'), '--base-url', server.url]);
    expect(k.stderr).toMatch(/--base-url needs --provider openai/);
  });
});
