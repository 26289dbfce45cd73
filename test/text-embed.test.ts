/**
 * `embed`: the local TF-IDF + truncated SVD encoder (exactness on small matrices, determinism),
 * the OpenAI-compatible path against the loopback server (faults, cache, kill and resume), and the
 * file layout `irllrec train` reads.
 */
import { appendFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpyFloat32 } from '../src/data/formats/numpy.js';
import { loadTextVectors } from '../src/data/text-vectors.js';
import { ingest } from '../src/ingest/index.js';
import { runEmbed } from '../src/text/embed.js';
import { embedLocal, symmetricEigen, tfidf } from '../src/text/local-embed.js';
import { runProfile } from '../src/text/profile.js';
import { Rng } from '../src/util/rng.js';
import { miniRecbole, miniRecboleBase } from './helpers/datasets.js';
import { mockEmbedding, runCli, startLlmServer, type LlmServer } from './helpers/llm-server.js';

let server: LlmServer;
let base: string;
beforeAll(async () => {
  server = await startLlmServer({ embedDim: 12 });
  base = await miniRecboleBase('irllrec-embed-');
  await runProfile({ dir: join(base, 'ds'), provider: 'offline' });
});
afterAll(() => server.close());

const WORDS = 'drama comedy horror romance space robots love war music ocean city night dream family crime spy'.split(' ');
function docs(n: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: 6 + rng.int(6) }, () => WORDS[rng.int(WORDS.length)]).join(' '));
}

describe('local encoder', () => {
  it('the symmetric eigen-solver is exact on a random matrix', () => {
    const l = 9;
    const rng = new Rng(3);
    const B = Float64Array.from({ length: l * l }, () => rng.normal());
    const A = new Float64Array(l * l);
    for (let i = 0; i < l; i++) for (let j = 0; j < l; j++) for (let k = 0; k < l; k++) A[i * l + j]! += B[i * l + k]! * B[j * l + k]!;
    const { values, vectors } = symmetricEigen(A, l);
    for (let c = 0; c < l; c++) {
      if (c > 0) expect(values[c - 1]!).toBeGreaterThanOrEqual(values[c]!);
      for (let i = 0; i < l; i++) {
        let av = 0;
        for (let k = 0; k < l; k++) av += A[i * l + k]! * vectors[k * l + c]!;
        expect(av).toBeCloseTo(values[c]! * vectors[i * l + c]!, 8);
      }
    }
  });

  it('with the full rank kept, the SVD reproduces every inner product of the TF-IDF rows', () => {
    const d = docs(40, 1);
    const { m } = tfidf(d, { maxFeatures: 1000, maxDfRatio: 1, minDf: 1 });
    const e = embedLocal(d, { dim: 1000, seed: 1, maxFeatures: 1000, maxDfRatio: 1, minDf: 1, iterations: 3 });
    expect(e.width).toBe(Math.min(40, m.cols));
    expect(e.explained).toBeCloseTo(1, 6);
    // rows are L2-normalised, as the TF-IDF rows are: cosine similarities must agree
    const row = (r: number) => {
      const v = new Float64Array(m.cols);
      for (let p = m.indptr[r]!; p < m.indptr[r + 1]!; p++) v[m.indices[p]!] = m.values[p]!;
      return v;
    };
    for (const [a, b] of [[0, 1], [2, 7], [5, 39]] as const) {
      const ra = row(a);
      const rb = row(b);
      let exact = 0;
      for (let k = 0; k < m.cols; k++) exact += ra[k]! * rb[k]!;
      let got = 0;
      for (let k = 0; k < e.width; k++) got += e.vectors[a * e.width + k]! * e.vectors[b * e.width + k]!;
      expect(got).toBeCloseTo(exact, 4);
    }
  });

  it('deterministic for a seed; width capped by the data; no zero rows', () => {
    const d = [...docs(30, 2), '', 'the and of'];
    const a = embedLocal(d, { dim: 8, seed: 7, maxFeatures: 100, maxDfRatio: 0.9, iterations: 3 });
    const b = embedLocal(d, { dim: 8, seed: 7, maxFeatures: 100, maxDfRatio: 0.9, iterations: 3 });
    expect(Buffer.from(a.vectors.buffer).equals(Buffer.from(b.vectors.buffer))).toBe(true);
    expect(a.width).toBe(8);
    for (let r = 0; r < a.rows; r++) {
      let s = 0;
      for (let c = 0; c < a.width; c++) s += a.vectors[r * a.width + c]! ** 2;
      expect(Math.sqrt(s)).toBeCloseTo(1, 5);
    }
    expect(embedLocal(['one doc', 'two doc'], { dim: 64, seed: 1, maxFeatures: 10, maxDfRatio: 1, iterations: 2 }).width).toBeLessThanOrEqual(2);
  });
});

describe('embed command', () => {
  it('local: four .npy files train reads, and embed.json', async () => {
    const dir = join(base, 'local');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const s = await runEmbed({ dir, provider: 'local', local: { dim: 6 } });
    expect(s.width).toBe(6);
    const t = loadTextVectors(dir, 12, 10, ['usrPrf', 'itmPrf', 'usrInt', 'itmInt']);
    expect([t.usrPrf!.rows, t.usrPrf!.cols, t.itmInt!.rows, t.itmInt!.cols]).toEqual([12, 6, 10, 6]);
    const m = JSON.parse(readFileSync(join(dir, 'embed.json'), 'utf8'));
    expect(m).toMatchObject({ kind: 'irllrec-embeddings', provider: 'local', model: 'tfidf-svd-6', width: 6, profiles: { provider: 'offline', offline: true } });
    expect(m.prompt_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(m.created).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Object.keys(m.files).sort()).toEqual(['itm_int.npy', 'itm_prf.npy', 'usr_int.npy', 'usr_prf.npy']);
  });

  it('openai: batched through faults, vectors in entity order, cached; a rerun sends nothing', async () => {
    const dir = join(base, 'openai');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    server.faults = (n) => (n === 1 ? '429' : n === 3 ? '500' : null);
    const n0 = server.requests.length;
    const llm = { baseUrl: server.url, model: 'emb-1', auth: 'bearer' as const, timeoutMs: 2000, maxRetries: 3, retryBaseMs: 1, retryMaxMs: 5, jsonMode: false, temperature: 0, maxTokens: 0 };
    const s = await runEmbed({ dir, provider: 'openai', llm, batchSize: 5, concurrency: 2 });
    server.faults = () => null;
    expect(s.width).toBe(12);
    expect(s.retries).toBe(2);
    const users = readFileSync(join(dir, 'text', 'users.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const v = readNpyFloat32(join(dir, 'usr_int.npy'));
    expect(v.shape).toEqual([12, 12]);
    const want = mockEmbedding(users[3].intent.intent, 12);
    for (let c = 0; c < 12; c++) expect(v.data[3 * 12 + c]).toBeCloseTo(want[c]!, 6);
    const sent = server.requests.slice(n0).filter((r) => !r.fault).flatMap((r) => r.body.input ?? []);
    expect(new Set(sent).size).toBe(sent.length);
    const n1 = server.requests.length;
    const again = await runEmbed({ dir, provider: 'openai', llm });
    expect(server.requests.length).toBe(n1);
    expect(again.cached).toBe(new Set(sent).size);
  });

  it('CLI: an embed job killed after 2 requests resumes with the rest only', async () => {
    const dir = join(base, 'killed');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const args = ['embed', '--data', dir, '--provider', 'openai', '--base-url', server.url, '--model', 'emb-1', '--batch-size', '4', '--concurrency', '1', '--json'];
    const n0 = server.requests.length;
    const a = await runCli(args, { IRLLREC_FAULT: 'embed-batch:2' });
    expect(a.signal).toBe('SIGKILL');
    expect(server.requests.length - n0).toBe(2);
    expect(existsSync(join(dir, 'embed.json'))).toBe(false);
    const b = await runCli(args);
    expect(b.code, b.stderr).toBe(0);
    const s = JSON.parse(b.stdout);
    expect(s.cached).toBe(8);
    const sent = server.requests.slice(n0).flatMap((r) => r.body.input ?? []);
    expect(new Set(sent).size).toBe(sent.length);
  });

  it('errors: embed before profile; profiles that do not match their manifest', async () => {
    const dir = join(base, 'noprof');
    await ingest({ format: 'recbole', dir: miniRecbole, out: dir });
    const r = await runCli(['embed', '--data', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no text\/profile\.json: run "irllrec profile --data/);
    const tampered = join(base, 'tampered');
    cpSync(join(base, 'ds'), tampered, { recursive: true });
    appendFileSync(join(tampered, 'text', 'users.jsonl'), '\n');
    await expect(runEmbed({ dir: tampered, provider: 'local' })).rejects.toThrow(/users\.jsonl does not match .*profile\.json/);
    const bad = await runCli(['embed', '--data', join(base, 'ds'), '--dim', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dim must be an integer in \[1, 4096\], got "0"/);
    const wrong = await runCli(['embed', '--data', join(base, 'ds'), '--batch-size', '3']);
    expect(wrong.stderr).toMatch(/--batch-size needs --provider openai/);
  });
});
