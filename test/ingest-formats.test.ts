/** `ingest`: readers (MovieLens, Amazon 2018, RecBole, CSV/TSV), filters, splits, output layout, errors. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/errors.js';
import { ingestOptions } from '../src/cli/text-commands.js';
import { movieLensDataset } from '../src/cli/demo.js';
import { csrNnz } from '../src/data/csr.js';
import { loadDataset } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { readCorpus } from '../src/ingest/corpus.js';
import { ingest, type IngestOptions } from '../src/ingest/index.js';
import { assignSplits, dedupRows, kcoreRows, runPipeline, sortedKeys, type PipelineOptions } from '../src/ingest/pipeline.js';
import type { RawData, RawRow } from '../src/ingest/types.js';
import { datasetsDir, repoRoot } from './shared.js';

const tmp = (p = 'irllrec-ingest-') => mkdtempSync(join(tmpdir(), p));
const fixtures = join(repoRoot, 'test', 'fixtures', 'text');
const bundled = join(repoRoot, 'data', 'movielens-latest-small');
const giftCards = join(datasetsDir, 'amazon2018-gift-cards-5core');

async function expectDataError(p: Promise<unknown>, re: RegExp): Promise<DataError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(DataError);
  expect((e as Error).message).toMatch(re);
  expect((e as Error).message).not.toContain('\n');
  return e as DataError;
}

const row = (user: string, item: string, rating: number | null, time: number | null, line: number, text?: string): RawRow => ({ user, item, rating, time, line, ...(text ? { text } : {}) });

const baseOpts: PipelineOptions = { minRating: null, likeThreshold: 4, kcore: [0, 0], dedup: 'last', split: 'random', ratios: [3, 1, 1], order: 'time', seed: 1, negatives: true };

describe('MovieLens', () => {
  it('the bundled latest-small: ratings >= 4, random 3:1:1 seed 2023 — the same dataset the library has always built', async () => {
    const out = join(tmp(), 'ml');
    const r = await ingest({ format: 'movielens', dir: bundled, out });
    expect(r.result.stats).toMatchObject({ rows: 100836, below_threshold: 52256, interactions: 48580, users: 609, items: 6298, train: 29148, valid: 9716, test: 9716 });
    const ds = loadDataset(out);
    const ref = movieLensDataset();
    expect([ds.numUsers, ds.numItems]).toEqual([ref.numUsers, ref.numItems]);
    for (const s of ['train', 'valid', 'test'] as const) {
      expect(Array.from(ds[s].indptr)).toEqual(Array.from(ref[s].indptr));
      expect(Array.from(ds[s].indices)).toEqual(Array.from(ref[s].indices));
    }
    expect(readdirSync(out).sort()).toEqual(['corpus', 'ingest.json', 'items.tsv', 'test.tsv', 'train.tsv', 'users.tsv', 'valid.tsv']);
    const items = readFileSync(join(out, 'items.tsv'), 'utf8').split('\n');
    expect(items[0]).toBe('id\tkey\ttitle');
    expect(items[1]).toBe('0\t1\tToy Story (1995)');
    const c = readCorpus(out);
    expect(c.items[0]!.attributes.genres).toEqual(['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy']);
    expect(c.items[0]!.feedback.some((e) => e.tags?.includes('pixar'))).toBe(true);
    const m = JSON.parse(readFileSync(join(out, 'ingest.json'), 'utf8'));
    expect(m).toMatchObject({ kind: 'irllrec-dataset', format: 'movielens', domain: 'movie', options: { min_rating: 4, split: 'random', seed: 2023 } });
  });

  it('a bad ratings.csv line is one error naming file, line and field', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\n1,2,4.0,100\n1,x,4.0,101\n');
    writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\n2,A (1990),Drama\n');
    const out = join(dir, 'out');
    const e = await expectDataError(ingest({ format: 'movielens', dir, out }), /ratings\.csv:3: field "movieId" is not an integer/);
    expect(e.line).toBe(3);
    expect(existsSync(out)).toBe(false);
  });
});

describe('Amazon 2018', () => {
  function amazonFiles(dir: string, extraReview = '') {
    const reviews = [
      { reviewerID: 'A1', asin: 'B1', overall: 5, unixReviewTime: 100, reviewText: 'Great <b>gift</b> &amp; fast', summary: 'Five Stars' },
      { reviewerID: 'A1', asin: 'B2', overall: 2, unixReviewTime: 101, reviewText: 'card arrived bent' },
      { reviewerID: 'A2', asin: 'B1', overall: 4, unixReviewTime: 102 },
      { reviewerID: 'A2', asin: 'B1', overall: 5, unixReviewTime: 200, reviewText: 'bought again' },
    ].map((o) => JSON.stringify(o));
    writeFileSync(join(dir, 'r.json.gz'), gzipSync(`${reviews.join('\n')}\n${extraReview}`));
    const meta = [
      { asin: 'B1', title: 'Card One', description: ['Nice', 'card.'], brand: 'Acme', category: ['Gift Cards', 'Restaurants'], price: '$25.00', feature: [] },
      { asin: 'B1', title: 'Duplicate line, ignored', description: [] },
      { asin: 'B2', title: '<span>Card Two</span>', description: [], brand: '', category: ['Gift Cards'], price: '' },
      { asin: 'B9', title: 'never reviewed' },
    ].map((o) => JSON.stringify(o));
    writeFileSync(join(dir, 'm.json.gz'), gzipSync(`${meta.join('\n')}\n`));
    return { reviews: join(dir, 'r.json.gz'), meta: join(dir, 'm.json.gz') };
  }

  it('reads gzipped reviews + metadata, cleans HTML, deduplicates (latest wins)', async () => {
    const dir = tmp();
    const f = amazonFiles(dir);
    const r = await ingest({ format: 'amazon2018', ...f, out: join(dir, 'out') });
    expect(r.result.stats).toMatchObject({ rows: 4, duplicates_removed: 1, users: 2, items: 2, interactions: 3 });
    const c = readCorpus(join(dir, 'out'));
    expect(c.items[0]).toMatchObject({ key: 'B1', title: 'Card One', description: 'Nice card.', attributes: { brand: ['Acme'], categories: ['Gift Cards', 'Restaurants'], price: ['$25.00'] } });
    expect(c.items[1]!.title).toBe('Card Two');
    const texts = [...c.users, ...c.items].flatMap((x) => x.feedback.map((e) => e.text ?? ''));
    expect(texts).not.toContain('Great <b>gift</b> &amp; fast');
    expect(r.manifest.domain).toBe('product');
  });

  it('a malformed JSON line: file:line error, nothing written', async () => {
    const dir = tmp();
    const f = amazonFiles(dir, '{"reviewerID": "A3", "asin": \n');
    const out = join(dir, 'out');
    await expectDataError(ingest({ format: 'amazon2018', ...f, out }), /r\.json\.gz:5: not valid JSON/);
    expect(existsSync(out)).toBe(false);
  });

  it('a missing field names the field', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'r.json'), '{"reviewerID": "A1", "overall": 5}\n');
    await expectDataError(ingest({ format: 'amazon2018', reviews: join(dir, 'r.json'), out: join(dir, 'o') }), /r\.json:1: field "asin" is missing/);
  });

  it('a truncated gzip file is reported as such', async () => {
    const dir = tmp();
    const gz = gzipSync('{"reviewerID":"A","asin":"B","overall":5}\n'.repeat(200));
    writeFileSync(join(dir, 'r.json.gz'), gz.subarray(0, gz.length - 20));
    await expectDataError(ingest({ format: 'amazon2018', reviews: join(dir, 'r.json.gz'), out: join(dir, 'o') }), /r\.json\.gz.*(gzip|truncated)/);
  });

  it.skipIf(!existsSync(giftCards))('gift cards 5-core from shared/: 458 users, 148 items, 2965 pairs, every item with metadata', async () => {
    const out = join(tmp(), 'gc');
    const r = await ingest({ format: 'amazon2018', reviews: join(giftCards, 'Gift_Cards_5.json.gz'), meta: join(giftCards, 'meta_Gift_Cards.json.gz'), out });
    expect(r.result.stats).toMatchObject({ rows: 2972, duplicates_removed: 7, users: 458, items: 148, interactions: 2965, items_with_metadata: 148 });
    expect(r.result.stats.train + r.result.stats.valid + r.result.stats.test).toBe(2965);
    const c = readCorpus(out);
    expect(c.items.every((i) => i.title)).toBe(true);
    const k = await ingest({ format: 'amazon2018', reviews: join(giftCards, 'Gift_Cards_5.json.gz'), meta: join(giftCards, 'meta_Gift_Cards.json.gz'), out: join(tmp(), 'gc5'), kcore: [5, 5] });
    expect(k.result.stats.kcore_removed.users).toBeGreaterThanOrEqual(3);
  });
});

describe('RecBole atomic files', () => {
  it('reads .inter/.item/.user with typed headers; title and token_seq attributes', async () => {
    const out = join(tmp(), 'rb');
    const r = await ingest({ format: 'recbole', dir: join(fixtures, 'recbole', 'mini'), out, minRating: 3 });
    const c = readCorpus(out);
    expect(r.result.stats.rows).toBe(72);
    expect(c.items[0]!.title).toMatch(/^Film Number \d+$/);
    expect(Object.keys(c.items[0]!.attributes).sort()).toEqual(['class', 'release_year']);
    expect(c.users[0]!.attributes).toHaveProperty('occupation');
    expect(c.users.flatMap((u) => u.feedback).some((e) => e.liked === false)).toBe(true);
  });

  it('a header without types is an error on line 1', async () => {
    const dir = join(tmp(), 'x');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.inter'), 'user_id\titem_id\n1\t2\n');
    await expectDataError(ingest({ format: 'recbole', dir, out: join(dir, '..', 'o') }), /x\.inter:1: header field "user_id" is not name:type/);
  });
});

describe('generic CSV/TSV with a column mapping', () => {
  const opts = (out: string): IngestOptions => ({
    format: 'csv', out,
    interactions: join(fixtures, 'csv', 'interactions.tsv'), map: 'user=uid,item=iid,rating=stars,time=when,text=review',
    items: join(fixtures, 'csv', 'items.csv'), itemMap: 'id=id,title=name,description=about,colours=tags',
  });

  it('maps columns, parses ISO dates, splits list attributes', async () => {
    const out = join(tmp(), 'csv');
    const r = await ingest(opts(out));
    expect(r.result.stats.rows).toBe(40);
    const c = readCorpus(out);
    const p1 = c.items.find((i) => i.key === 'p1')!;
    expect(p1).toMatchObject({ title: 'Widget 1, deluxe', description: 'A widget, model 1.', attributes: { colours: ['red', 'blue'] } });
    const days = [10, 11, 12, 13, 14].map((d) => Date.parse(`2020-01-${d}T00:00:00Z`) / 1000);
    expect(c.users[0]!.feedback.every((e) => days.includes(e.time!))).toBe(true);
    expect(c.users[0]!.feedback.every((e) => e.text?.startsWith('product'))).toBe(true);
  });

  it('a mapped column that does not exist: error naming it and the header', async () => {
    const o = opts(join(tmp(), 'o'));
    o.map = 'user=uid,item=item_id';
    await expectDataError(ingest(o), /interactions\.tsv:1: no column "item_id" \(mapped to item\); the header has: uid, iid, stars, when, review/);
  });

  it('a non-numeric rating names file, line and field', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'i.csv'), 'u,i,r\na,b,5\na,c,five\n');
    await expectDataError(ingest({ format: 'csv', interactions: join(dir, 'i.csv'), map: 'user=u,item=i,rating=r', out: join(dir, 'o') }), /i\.csv:3: field "r" is not a number: "five"/);
  });

  it('usage errors: missing mapping, flags of another format', async () => {
    expect(() => ingestOptions({ format: 'csv', out: '/x', interactions: 'a.csv', map: 'user=u' })).not.toThrow();
    await expect(ingest({ format: 'csv', interactions: 'a.csv', map: 'user=u', out: join(tmp(), 'o') })).rejects.toThrow(/--map must map "item"/);
    await expect(ingest({ format: 'movielens', dir: bundled, reviews: 'x', out: join(tmp(), 'o') })).rejects.toThrow(UsageError);
    expect(() => ingestOptions({ format: 'nope', out: '/x' })).toThrow(/--format must be one of movielens, amazon2018, recbole, csv/);
    expect(() => ingestOptions({ format: 'csv', out: '/x', ratios: '3,1' })).toThrow(/--ratios takes three numbers/);
    expect(ingestOptions({ format: 'csv', out: '/x', kcore: '10,5', minRating: 'none' })).toMatchObject({ kcore: [10, 5], minRating: null });
  });
});

describe('filters and splits', () => {
  it('dedup keeps the latest (or the first) by time, then by line', () => {
    const rows = [row('a', 'x', 1, 10, 2), row('a', 'x', 5, 30, 3), row('a', 'x', 3, 20, 4), row('b', 'x', 4, null, 5)];
    expect(dedupRows(rows, 'last').map((r) => r.rating)).toEqual([5, 4]);
    expect(dedupRows(rows, 'first').map((r) => r.rating)).toEqual([1, 4]);
  });

  it('k-core is iterative', () => {
    // u3 has 1 item -> removed; then item z drops to 1 user -> removed; then u2 drops to 1 item -> removed
    const rows = [row('u1', 'x', 5, 1, 1), row('u1', 'y', 5, 1, 2), row('u2', 'x', 5, 1, 3), row('u2', 'z', 5, 1, 4), row('u3', 'z', 5, 1, 5), row('u4', 'x', 5, 1, 6), row('u4', 'y', 5, 1, 7)];
    const kept = kcoreRows(rows, 2, 2);
    expect(kept.map((r) => `${r.user}${r.item}`)).toEqual(['u1x', 'u1y', 'u4x', 'u4y']);
  });

  it('ids sort numerically when every id is an integer', () => {
    expect(sortedKeys(['10', '9', '100'])).toEqual(['9', '10', '100']);
    expect(sortedKeys(['b', '10', 'a'])).toEqual(['10', 'a', 'b']);
  });

  it('leave-one-out: the latest interaction is test, the one before valid; fewer than 3 stay in training', () => {
    const rows = [row('a', 'x', 5, 30, 1), row('a', 'y', 5, 10, 2), row('a', 'z', 5, 20, 3), row('a', 'w', 5, 40, 4), row('b', 'x', 5, 1, 5), row('b', 'y', 5, 2, 6)];
    const uid = Int32Array.from([0, 0, 0, 0, 1, 1]);
    expect(Array.from(assignSplits(rows, uid, { ...baseOpts, split: 'loo' }))).toEqual([1, 0, 0, 2, 0, 0]);
  });

  it('per-user ratios keep at least one training item; random order is seeded', () => {
    const rows = Array.from({ length: 10 }, (_, k) => row('a', `i${k}`, 5, k, k + 1));
    const uid = new Int32Array(10);
    const a = assignSplits(rows, uid, { ...baseOpts, split: 'user-ratio', ratios: [8, 1, 1] });
    expect(Array.from(a)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    const r1 = assignSplits(rows, uid, { ...baseOpts, split: 'user-ratio', order: 'random', seed: 5 });
    const r2 = assignSplits(rows, uid, { ...baseOpts, split: 'user-ratio', order: 'random', seed: 5 });
    expect(Array.from(r1)).toEqual(Array.from(r2));
    expect(Array.from(r1).filter((s) => s === 0)).toHaveLength(6);
  });

  it('a threshold without ratings is a data error naming the line', () => {
    const raw: RawData = { format: 'csv', rowsFile: 'f.csv', files: [], rows: [row('a', 'x', null, null, 7)], items: new Map(), users: new Map(), tags: [], domain: 'item' };
    expect(() => runPipeline(raw, { ...baseOpts, minRating: 4 })).toThrow(/f\.csv:7: this row has no rating/);
  });

  it('the random split is the official per-interaction split: ratios and determinism', async () => {
    const dir = join(tmp(), 'gc');
    const a = await ingest({ format: 'recbole', dir: join(fixtures, 'recbole', 'mini'), out: dir, seed: 9 });
    const b = await ingest({ format: 'recbole', dir: join(fixtures, 'recbole', 'mini'), out: `${dir}2`, seed: 9 });
    expect(readFileSync(join(dir, 'test.tsv'), 'utf8')).toBe(readFileSync(`${dir}2/test.tsv`, 'utf8'));
    expect(a.result.stats.train).toBe(Math.round((72 * 3) / 5));
    expect(b.result.stats.valid).toBe(Math.round(72 / 5));
    const ds = loadDataset(dir);
    expect(csrNnz(ds.train) + csrNnz(ds.valid) + csrNnz(ds.test)).toBe(72);
  });
});

describe('output directory', () => {
  it('refuses a non-empty directory, replaces a dataset with --force and keeps its cache/', async () => {
    const dir = tmp();
    const out = join(dir, 'ds');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const o: IngestOptions = { format: 'recbole', dir: join(fixtures, 'recbole', 'mini'), out };
    await expect(ingest(o)).rejects.toThrow(/is not empty; pass --force/);
    await expect(ingest({ ...o, force: true })).rejects.toThrow(/not an irllrec dataset/);
    const out2 = join(dir, 'ds2');
    await ingest({ ...o, out: out2 });
    await expect(ingest({ ...o, out: out2 })).rejects.toThrow(/already holds a dataset/);
    mkdirSync(join(out2, 'cache'));
    writeFileSync(join(out2, 'cache', 'llm.jsonl'), '{"key":"k","answer":{}}\n');
    await ingest({ ...o, out: out2, force: true, seed: 3 });
    expect(readFileSync(join(out2, 'cache', 'llm.jsonl'), 'utf8')).toContain('"key":"k"');
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
