/**
 * Kill and resume: `irllrec profile --provider openai` is SIGKILLed part-way (IRLLREC_FAULT), then
 * rerun; the store ends with exactly one answer per (task, entity), the resumed run asks only what
 * was missing, and the outputs equal an uninterrupted run's. Also the torn-line repair of the store.
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerStore } from '../src/text/store.js';
import { miniRecboleBase } from './helpers/datasets.js';
import { runCli, startLlmServer, type LlmServer } from './helpers/llm-server.js';

let server: LlmServer;
let base: string;
beforeAll(async () => {
  server = await startLlmServer();
  base = await miniRecboleBase('irllrec-resume-');
});
afterAll(() => server.close());

const lines = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; task: string; entity: string });

describe('kill and resume', () => {
  it('a profile job killed after 9 answers resumes with nothing lost and nothing asked twice', async () => {
    const killed = join(base, 'killed');
    const clean = join(base, 'clean');
    cpSync(join(base, 'ds'), killed, { recursive: true });
    cpSync(join(base, 'ds'), clean, { recursive: true });
    const args = (dir: string) => ['profile', '--data', dir, '--provider', 'openai', '--base-url', server.url, '--model', 'mock-1', '--concurrency', '1', '--json'];

    const n0 = server.requests.length;
    const a = await runCli(args(killed), { IRLLREC_FAULT: 'profile-answer:9' });
    expect(a.signal).toBe('SIGKILL');
    expect(server.requests.length - n0).toBe(9);
    expect(lines(join(killed, 'cache', 'llm.jsonl'))).toHaveLength(9);
    expect(existsSync(join(killed, 'text', 'profile.json'))).toBe(false);
    // the lock left by the killed process is taken over

    const n1 = server.requests.length;
    const b = await runCli(args(killed));
    expect(b.code, b.stderr).toBe(0);
    const total = 2 * 12 + 2 * 10;
    expect(server.requests.length - n1).toBe(total - 9);
    const summary = JSON.parse(b.stdout);
    expect(summary).toMatchObject({ complete: true, from_store: 9, asked: total - 9, answers: total });

    const store = lines(join(killed, 'cache', 'llm.jsonl'));
    expect(store).toHaveLength(total);
    expect(new Set(store.map((r) => r.key)).size).toBe(total);
    expect(new Set(store.map((r) => `${r.task} ${r.entity}`)).size).toBe(total);

    const c = await runCli(args(clean));
    expect(c.code, c.stderr).toBe(0);
    for (const f of ['users.jsonl', 'items.jsonl']) {
      expect(readFileSync(join(killed, 'text', f), 'utf8')).toBe(readFileSync(join(clean, 'text', f), 'utf8'));
    }
    const strip = (f: string) => lines(f).map((r) => ({ key: r.key, answer: (r as unknown as { answer: unknown }).answer })).sort((x, y) => (x.key < y.key ? -1 : 1));
    expect(strip(join(killed, 'cache', 'llm.jsonl'))).toEqual(strip(join(clean, 'cache', 'llm.jsonl')));
  });

  it('the offline provider resumes the same way', async () => {
    const dir = join(base, 'offline');
    cpSync(join(base, 'ds'), dir, { recursive: true });
    const a = await runCli(['profile', '--data', dir], { IRLLREC_FAULT: 'profile-answer:30' });
    expect(a.signal).toBe('SIGKILL');
    const b = await runCli(['profile', '--data', dir, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const store = lines(join(dir, 'cache', 'llm.jsonl'));
    expect(new Set(store.map((r) => `${r.task} ${r.entity}`)).size).toBe(store.length);
    expect(store).toHaveLength(44);
    const ref = join(base, 'offline-ref');
    cpSync(join(base, 'ds'), ref, { recursive: true });
    expect((await runCli(['profile', '--data', ref])).code).toBe(0);
    expect(readFileSync(join(dir, 'text', 'users.jsonl'), 'utf8')).toBe(readFileSync(join(ref, 'text', 'users.jsonl'), 'utf8'));
  });

  it('a torn last line (power cut mid-write) is cut off; a corrupt middle line is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'irllrec-store-'));
    const f = join(dir, 'llm.jsonl');
    writeFileSync(f, '{"key":"a","answer":{"x":"1"}}\n{"key":"b","ans');
    const s = new AnswerStore(f);
    expect(s.repairedTail).toBe(true);
    expect(s.size).toBe(1);
    expect(readFileSync(f, 'utf8')).toBe('{"key":"a","answer":{"x":"1"}}\n');
    s.append({ key: 'c', task: 'item_profile', entity: 'item:1', provider: 'p', model: 'm', answer: { summarization: 's', reasoning: 'r' }, created: 'now' });
    s.close();
    expect(new AnswerStore(f).size).toBe(2);
    appendFileSync(f, 'garbage\n{"key":"d","answer":{}}\n');
    expect(() => new AnswerStore(f)).toThrow(/llm\.jsonl:3: corrupt store line/);
  });
});
