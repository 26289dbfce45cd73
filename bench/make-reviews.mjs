#!/usr/bin/env node
/**
 * Synthetic Amazon Review Data (2018) files for ingest benchmarks: JSON lines in the real key order
 * (overall, verified, reviewTime, reviewerID, asin, style?, reviewerName, reviewText, summary,
 * unixReviewTime, vote?, image?), optionally gzip-compressed, and an optional matching metadata file
 * (asin, title, description, brand, category, main_cat, feature, price, ...). Nothing is copied from
 * the real data: the words come from a fixed made-up vocabulary.
 *
 *   node bench/make-reviews.mjs --reviews 8000000 --out /work/exp/ingest/big.json [--meta /work/exp/ingest/meta.json.gz]
 *        [--users N] [--items N] [--seed 1] [--dup-rate 0.002]
 *
 * - deterministic from --seed; streamed (constant memory, whatever --reviews is);
 * - item popularity and user activity are Zipf-like (P(rank r) ~ 1/(r + r0)), ids are scattered over an
 *   Amazon-like id space ("A" + 13 upper-case alphanumerics for users, "B0" + 8 for items);
 * - review length is log-normal (median about 25 words, long tail to a few thousand), ratings skew
 *   to 5 stars as in the real files, about 0.3% of reviews have no text, a few contain HTML entities,
 *   <br /> tags or non-ASCII characters, and --dup-rate of the lines repeat an earlier (user, item) pair.
 * - A name ending in .gz is written gzip-compressed.
 * Defaults: --users reviews/5, --items reviews/20. 8,000,000 reviews make about 3.6 GB uncompressed.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';

function parseArgs(argv) {
  const a = {};
  for (let k = 0; k < argv.length; k++) {
    const s = argv[k];
    if (!s.startsWith('--')) throw new Error(`unexpected argument ${s}`);
    a[s.slice(2)] = argv[++k];
  }
  return a;
}

/** splitmix32-style generator: deterministic, fast, good enough for synthetic data */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

/** a bijection on uint32 (so distinct ranks give distinct ids) */
function mix32(x, salt) {
  x = (x ^ salt) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
function base36(x, width) {
  let s = '';
  for (let k = 0; k < width; k++) {
    s = ALNUM[x % 36] + s;
    x = Math.floor(x / 36);
  }
  return s;
}

const userId = (r, seed) => `A${base36(mix32(r, seed * 7919), 7)}${base36(mix32(r, 0x5bd1e995 ^ seed), 6)}`;
const itemId = (r, seed) => `B0${base36(mix32(r, 0x27d4eb2f ^ seed), 8)}`;

// a made-up vocabulary: syllable words, so nothing comes from real reviews
const SYL = ['ka', 'lo', 'mi', 'ren', 'ta', 'vo', 'sel', 'dor', 'pa', 'ni', 'qu', 'ber', 'fa', 'zin', 'go', 'ul', 'tre', 'mon', 'sha', 'ik'];
const COMMON = ['the', 'a', 'and', 'it', 'is', 'this', 'for', 'to', 'of', 'my', 'was', 'great', 'good', 'very', 'not', 'but', 'with', 'product', 'works', 'well', 'love', 'quality', 'price', 'easy', 'use', 'would', 'recommend', 'bought', 'one', 'like'];
const VOCAB = [];
{
  const r = rng(12345);
  for (let k = 0; k < 20000; k++) {
    const n = 1 + Math.floor(r() * 3);
    let w = '';
    for (let j = 0; j < n; j++) w += SYL[Math.floor(r() * SYL.length)];
    VOCAB.push(w);
  }
}
const RARE = ['caf\u00e9', 'na\u00efve', '\u00fcber', 'r\u00e9sum\u00e9', '\u2013', '\u201cnice\u201d', '\ud83d\ude00', '&amp;', '&quot;ok&quot;', '<br />', '&#39;s'];

function zipfRank(u, n, r0 = 1) {
  // P(rank r) ~ 1/(r + r0) on 0..n-1 (continuous log-uniform approximation); r0 flattens the head
  const r = Math.floor(r0 * Math.exp(u * Math.log((n + r0) / r0)) - r0);
  return r < 0 ? 0 : r >= n ? n - 1 : r;
}

function gauss(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function words(r, n) {
  const out = [];
  for (let k = 0; k < n; k++) {
    const x = r();
    if (x < 0.45) out.push(COMMON[Math.floor(r() * COMMON.length)]);
    else if (x < 0.995) out.push(VOCAB[zipfRank(r(), VOCAB.length)]);
    else out.push(RARE[Math.floor(r() * RARE.length)]);
    if (r() < 0.07) out[out.length - 1] += r() < 0.8 ? '.' : '!';
  }
  return out.join(' ');
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const pad2 = (n) => String(n).padStart(2, '0');

async function writeLines(file, gen) {
  const fileStream = createWriteStream(file);
  let out = fileStream;
  if (file.endsWith('.gz')) {
    out = createGzip({ level: 6 });
    out.pipe(fileStream);
  }
  let buf = [];
  let size = 0;
  let bytes = 0;
  for (const line of gen) {
    buf.push(line);
    size += line.length;
    if (size > 1 << 20) {
      const s = buf.join('');
      bytes += Buffer.byteLength(s);
      if (!out.write(s)) await once(out, 'drain');
      buf = [];
      size = 0;
    }
  }
  const s = buf.join('');
  bytes += Buffer.byteLength(s);
  out.end(s);
  await once(fileStream, 'close');
  return bytes;
}

function* reviewLines(o) {
  const r = rng(o.seed);
  const t0 = Date.UTC(2000, 0, 1) / 1000;
  const t1 = Date.UTC(2018, 9, 1) / 1000;
  const recent = []; // a small ring of recent (user, item) pairs for duplicates
  for (let k = 0; k < o.reviews; k++) {
    let u;
    let i;
    if (recent.length > 0 && r() < o.dupRate) {
      [u, i] = recent[Math.floor(r() * recent.length)];
    } else {
      // the most active user writes ~0.06% of the reviews, the most reviewed item gets ~0.5%
      u = zipfRank(r(), o.users, 200);
      i = zipfRank(r(), o.items, 20);
      if (recent.length < 1024) recent.push([u, i]);
      else recent[Math.floor(r() * 1024)] = [u, i];
    }
    const x = r();
    const overall = x < 0.58 ? 5 : x < 0.78 ? 4 : x < 0.87 ? 3 : x < 0.93 ? 2 : 1;
    // more reviews in later years, day granularity like the real files
    const day = Math.floor((t0 + Math.sqrt(r()) * (t1 - t0)) / 86400) * 86400;
    const d = new Date(day * 1000);
    const o1 = {
      overall,
      verified: r() < 0.85,
      reviewTime: `${pad2(d.getUTCMonth() + 1)} ${pad2(d.getUTCDate())}, ${d.getUTCFullYear()}`,
      reviewerID: userId(u, o.seed),
      asin: itemId(i, o.seed),
    };
    if (r() < 0.3) o1.style = { 'Size:': ` ${1 + Math.floor(r() * 12)}`, 'Color:': ` ${cap(VOCAB[Math.floor(r() * 200)])}` };
    o1.reviewerName = r() < 0.2 ? 'Amazon Customer' : `${cap(VOCAB[Math.floor(r() * 5000)])} ${cap(VOCAB[Math.floor(r() * 5000)]).charAt(0)}.`;
    if (r() >= 0.003) {
      const n = Math.max(1, Math.min(3000, Math.round(Math.exp(Math.log(25) + 1.0 * gauss(r)))));
      o1.reviewText = cap(words(r, n));
    }
    o1.summary = cap(words(r, 1 + Math.floor(r() * 6)));
    o1.unixReviewTime = day;
    if (r() < 0.15) o1.vote = String(2 + Math.floor(Math.exp(r() * 7)));
    if (r() < 0.01) o1.image = [`https://images-na.ssl-images-amazon.com/images/I/${base36(mix32(k, 99), 10)}._SY88.jpg`];
    let line = JSON.stringify(o1);
    // the real files write 5.0, not 5
    line = line.replace(/":/g, '": ').replace(/,"/g, ', "').replace(/^\{"overall": (\d)/, '{"overall": $1.0');
    yield `${line}\n`;
  }
}

function* metaLines(o) {
  const r = rng(o.seed ^ 0x9e3779b9);
  const cats = ['Home & Kitchen', 'Tools', 'Toys & Games', 'Sports & Outdoors', 'Electronics', 'Books', 'Beauty', 'Office Products'];
  for (let i = 0; i < o.items; i++) {
    const c = cats[Math.floor(r() * cats.length)];
    const m = {
      category: [c, cap(VOCAB[Math.floor(r() * 300)]), cap(VOCAB[Math.floor(r() * 3000)])],
      tech1: '',
      description: r() < 0.9 ? [cap(words(r, 10 + Math.floor(r() * 80)))] : [],
      fit: '',
      title: cap(words(r, 3 + Math.floor(r() * 10))),
      also_buy: [],
      tech2: '',
      brand: cap(VOCAB[Math.floor(r() * 2000)]),
      feature: r() < 0.5 ? [cap(words(r, 6)), cap(words(r, 8))] : [],
      rank: [],
      also_view: [],
      details: {},
      main_cat: c,
      similar_item: '',
      date: '',
      price: r() < 0.7 ? `$${(1 + r() * 200).toFixed(2)}` : '',
      asin: itemId(i, o.seed),
      imageURL: [],
      imageURLHighRes: [],
    };
    yield `${JSON.stringify(m)}\n`;
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!a.out || !a.reviews) {
    console.error('usage: node bench/make-reviews.mjs --reviews N --out FILE[.gz] [--meta FILE[.gz]] [--users N] [--items N] [--seed 1] [--dup-rate 0.002]');
    process.exit(2);
  }
  const reviews = Number(a.reviews);
  const o = {
    reviews,
    users: Number(a.users ?? Math.max(1, Math.round(reviews / 5))),
    items: Number(a.items ?? Math.max(1, Math.round(reviews / 20))),
    seed: Number(a.seed ?? 1),
    dupRate: Number(a['dup-rate'] ?? 0.002),
  };
  if (o.users > 2 ** 32 || o.items > 2 ** 32) throw new Error('at most 2^32 users and items');
  const t = performance.now();
  const bytes = await writeLines(a.out, reviewLines(o));
  console.log(`${a.out}: ${reviews} reviews, id space ${o.users} users x ${o.items} items, ${(bytes / 1e9).toFixed(3)} GB uncompressed (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  if (a.meta) {
    const mb = await writeLines(a.meta, metaLines(o));
    console.log(`${a.meta}: ${o.items} items, ${(mb / 1e9).toFixed(3)} GB uncompressed`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
