/**
 * The streamed Amazon 2018 ingest (what keeps a multi-gigabyte review file in bounded memory):
 * rows column-wise, review text spilled to a temporary file next to the output and read back while
 * the corpora are written. Runs on a small file from bench/make-reviews.mjs (the generator used for
 * the figures in docs/performance.md), plain and gzip-compressed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/data/errors.js';
import { RowTable, SpillTextStore, textFragment } from '../src/ingest/columns.js';
import { readCorpus } from '../src/ingest/corpus.js';
import { ingest } from '../src/ingest/index.js';
import { dedupRows, kcoreRows } from '../src/ingest/pipeline.js';
import { cleanText, type RawRow } from '../src/ingest/types.js';
import { repoRoot } from './shared.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'irllrec-ingest-stream-'));
const FILES = ['train.tsv', 'valid.tsv', 'test.tsv', 'users.tsv', 'items.tsv', 'corpus/users.jsonl', 'corpus/items.jsonl'];

let dir: string;
beforeAll(() => {
  dir = tmp();
  const gen = join(repoRoot, 'bench', 'make-reviews.mjs');
  // few users and items so that pairs repeat (dedup) and k-core has work to do
  for (const out of ['r.json', 'r.json.gz']) {
    execFileSync(process.execPath, [gen, '--reviews', '3000', '--users', '400', '--items', '150', '--seed', '5', '--dup-rate', '0.02', '--out', join(dir, out), '--meta', join(dir, 'meta.json.gz')]);
  }
}, 60_000);

describe('streamed amazon2018 ingest', () => {
  it('plain and .gz give the same dataset; the spill file is gone; every training review text is in both corpora', async () => {
    const a = await ingest({ format: 'amazon2018', reviews: join(dir, 'r.json'), meta: join(dir, 'meta.json.gz'), out: join(dir, 'out', 'a') });
    const b = await ingest({ format: 'amazon2018', reviews: join(dir, 'r.json.gz'), meta: join(dir, 'meta.json.gz'), out: join(dir, 'out', 'b') });
    for (const f of FILES) expect(readFileSync(join(dir, 'out', 'b', f), 'utf8'), f).toBe(readFileSync(join(dir, 'out', 'a', f), 'utf8'));
    expect(a.result.stats).toEqual(b.result.stats);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['a', 'b']);
    expect(a.result.stats.rows).toBe(3000);
    expect(a.result.stats.duplicates_removed).toBeGreaterThan(0);

    // the reference: the last (by time, then line) review of every pair, straight from the file
    const lines = gunzipSync(readFileSync(join(dir, 'r.json.gz'))).toString('utf8').split('\n').filter((l) => l);
    const last = new Map<string, { o: Record<string, unknown>; no: number }>();
    lines.forEach((l, k) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      const key = `${o.reviewerID as string} ${o.asin as string}`;
      const p = last.get(key);
      if (!p || (o.unixReviewTime as number) > (p.o.unixReviewTime as number) || (o.unixReviewTime === p.o.unixReviewTime && k + 1 > p.no)) last.set(key, { o, no: k + 1 });
    });
    const c = readCorpus(join(dir, 'out', 'a'));
    let checked = 0;
    let nonAscii = 0;
    for (const u of c.users) {
      for (const e of u.feedback) {
        const src = last.get(`${u.key} ${c.items[e.item!]!.key}`)!.o;
        expect(e.text ?? '').toBe(cleanText(src.reviewText));
        expect(e.summary ?? '').toBe(cleanText(src.summary));
        expect(e.rating).toBe(src.overall);
        const mirror = c.items[e.item!]!.feedback.find((x) => x.user === u.id)!;
        expect(mirror.text).toBe(e.text);
        if (/[^\x00-\x7f]/.test(e.text ?? '')) nonAscii++;
        checked++;
      }
    }
    expect(checked).toBe(a.result.stats.corpus.user_feedback_entries);
    expect(nonAscii).toBeGreaterThan(0); // multi-byte text went through the spill file's byte offsets
  }, 60_000);

  it('temporal split, k-core, threshold and negatives on the streamed path', async () => {
    const out = join(dir, 'loo');
    const r = await ingest({ format: 'amazon2018', reviews: join(dir, 'r.json'), out, split: 'loo', kcore: [3, 3], minRating: 4, dedup: 'first' });
    const s = r.result.stats;
    expect(s.kcore_removed.rows).toBeGreaterThan(0);
    expect(s.below_threshold).toBeGreaterThan(0);
    expect(s.corpus.user_feedback_entries).toBeGreaterThan(s.train);
    const c = readCorpus(out);
    // a dislike is a below-threshold review, with its text
    const dislikes = c.users.flatMap((u) => u.feedback.filter((e) => !e.interaction));
    expect(dislikes.length).toBe(s.corpus.user_feedback_entries - s.train);
    expect(dislikes.every((e) => e.liked === false && (e.rating ?? 5) < 4 && (e.text || e.summary))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 60_000);

  it('a bad line late in the file: one DataError, no output, no spill file left', async () => {
    const d = tmp();
    const good = readFileSync(join(dir, 'r.json'), 'utf8').split('\n').slice(0, 500).join('\n');
    writeFileSync(join(d, 'r.json'), `${good}\n{"reviewerID": "A1", "asin": 7}\n`);
    const e = await ingest({ format: 'amazon2018', reviews: join(d, 'r.json'), out: join(d, 'o') }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).message).toMatch(/r\.json:501: field "asin" must be a non-empty string/);
    expect(readdirSync(d)).toEqual(['r.json']);
  });
});

describe('spill text store', () => {
  it('reads fragments back in any order: multi-byte text, empty rows, a fragment larger than the read buffer', () => {
    const d = tmp();
    const path = join(d, 'spill');
    const s = new SpillTextStore(path);
    const texts = ['caf\u00e9 \ud83d\ude00 "quoted"', '', 'x'.repeat(200_000) + '\u00fc', 'plain'];
    texts.forEach((t, k) => s.add(k, t ? textFragment(k % 2 ? 'sum' : undefined, t) : ''));
    s.flush();
    for (const k of [3, 0, 2, 1, 0]) {
      expect(s.has(k)).toBe(texts[k] !== '');
      expect(s.fragment(k)).toBe(texts[k] ? textFragment(k % 2 ? 'sum' : undefined, texts[k]) : '');
    }
    expect(JSON.parse(`{"a":1${s.fragment(0)}}`)).toEqual({ a: 1, text: texts[0] });
    s.close();
    expect(existsSync(path)).toBe(false);
  });

  it('column-wise dedup and k-core agree with the definitions on random rows', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 20; trial++) {
      const rows: RawRow[] = Array.from({ length: 300 }, (_, k) => ({
        user: `u${Math.floor(rnd() * 30)}`, item: `i${Math.floor(rnd() * 20)}`, rating: 1 + Math.floor(rnd() * 5),
        time: rnd() < 0.2 ? null : Math.floor(rnd() * 10), line: k + 1,
      }));
      for (const keep of ['first', 'last'] as const) {
        const later = (a: RawRow, b: RawRow) => (a.time !== null && b.time !== null && a.time !== b.time ? a.time > b.time : a.line > b.line);
        const best = new Map<string, RawRow>();
        for (const r of rows) {
          const p = best.get(`${r.user} ${r.item}`);
          if (!p || (keep === 'last' ? later(r, p) : later(p, r))) best.set(`${r.user} ${r.item}`, r);
        }
        expect(dedupRows(rows, keep)).toEqual(rows.filter((r) => best.get(`${r.user} ${r.item}`) === r));
      }
      let cur = rows;
      for (;;) {
        const du = new Map<string, number>();
        const di = new Map<string, number>();
        for (const r of cur) {
          du.set(r.user, (du.get(r.user) ?? 0) + 1);
          di.set(r.item, (di.get(r.item) ?? 0) + 1);
        }
        const next = cur.filter((r) => du.get(r.user)! >= 12 && di.get(r.item)! >= 15);
        if (next.length === cur.length) break;
        cur = next;
      }
      expect(kcoreRows(rows, 12, 15)).toEqual(cur);
    }
    expect(RowTable.fromRows([{ user: 'a', item: 'b', rating: null, time: null, line: 1 }]).ratingOf(0)).toBeNull();
  });
});
