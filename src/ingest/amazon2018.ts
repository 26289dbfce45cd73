/**
 * Amazon Review Data (2018, Ni et al.): reviews (`<Category>_5.json.gz` or the full
 * `<Category>.json.gz`) and item metadata (`meta_<Category>.json.gz`), JSON Lines, optionally
 * gzip-compressed, read as streams (the full files reach tens of gigabytes). Only metadata for
 * reviewed items is kept; a duplicated asin keeps its first line.
 */
import { DataError } from '../data/errors.js';
import { parseJsonLine } from '../data/jsonl.js';
import { readLines } from './lines.js';
import { RowTable, SpillTextStore, textFragment } from './columns.js';
import type { RowSource } from './pipeline.js';
import { cleanText, type EntityMeta } from './types.js';

function parseLine(file: string, text: string, no: number): Record<string, unknown> {
  const v = parseJsonLine(file, text, no);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DataError(file, 'expected one JSON object per line', { line: no });
  return v as Record<string, unknown>;
}

function requireString(file: string, o: Record<string, unknown>, key: string, no: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new DataError(file, `field "${key}" ${v === undefined ? 'is missing' : `must be a non-empty string, got ${JSON.stringify(v)}`}`, { line: no, field: key });
  }
  return v;
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return v.trim() ? [cleanText(v)] : [];
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is string => typeof x === 'string').map(cleanText).filter((x) => x.length > 0);
}

export interface Amazon2018Source extends RowSource {
  format: 'amazon2018';
  files: string[];
  domain: string;
}

/**
 * Streams the reviews once: ids, rating, time and line go to a compact `RowTable`, review text and
 * summary to `spillFile` (removed by `text.close()`), so memory does not grow with the text of a
 * multi-gigabyte file. Then streams the metadata, keeping only reviewed items.
 */
export async function readAmazon2018(reviewsFile: string, metaFile: string | undefined, spillFile: string): Promise<Amazon2018Source> {
  const table = new RowTable();
  const text = new SpillTextStore(spillFile);
  try {
    for await (const { text: line, no } of readLines(reviewsFile)) {
      if (line.trim() === '') continue;
      const o = parseLine(reviewsFile, line, no);
      const user = requireString(reviewsFile, o, 'reviewerID', no);
      const item = requireString(reviewsFile, o, 'asin', no);
      const r = o.overall;
      if (r !== undefined && (typeof r !== 'number' || !Number.isFinite(r))) {
        throw new DataError(reviewsFile, `field "overall" must be a number, got ${JSON.stringify(r)}`, { line: no, field: 'overall' });
      }
      const t = o.unixReviewTime;
      if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t))) {
        throw new DataError(reviewsFile, `field "unixReviewTime" must be a number, got ${JSON.stringify(t)}`, { line: no, field: 'unixReviewTime' });
      }
      const k = table.push(user, item, typeof r === 'number' ? r : null, typeof t === 'number' ? t : null, no);
      text.add(k, textFragment(cleanText(o.summary) || undefined, cleanText(o.reviewText) || undefined));
    }
    if (table.n === 0) throw new DataError(reviewsFile, 'no reviews found');
    text.flush();
    const items = new Map<string, EntityMeta>();
    if (metaFile) {
      for await (const { text: line, no } of readLines(metaFile)) {
        if (line.trim() === '') continue;
        const o = parseLine(metaFile, line, no);
        const asin = requireString(metaFile, o, 'asin', no);
        if (table.items.get(asin) === undefined || items.has(asin)) continue;
        const attributes: Record<string, string[]> = {};
        const categories = [...new Set(strings(o.category))];
        if (categories.length) attributes.categories = categories;
        const brand = strings(o.brand);
        if (brand.length) attributes.brand = brand;
        const mainCat = strings(o.main_cat).filter((c) => !c.includes('<'));
        if (mainCat.length) attributes.main_category = mainCat;
        const price = strings(o.price).filter((p) => /^\$?[\d.,]+( - \$?[\d.,]+)?$/.test(p));
        if (price.length) attributes.price = price;
        const features = strings(o.feature);
        if (features.length) attributes.features = [...new Set(features)];
        const meta: EntityMeta = { attributes };
        const title = cleanText(o.title);
        if (title) meta.title = title;
        const description = strings(o.description).join(' ');
        if (description) meta.description = description;
        items.set(asin, meta);
      }
    }
    return {
      format: 'amazon2018',
      rowsFile: reviewsFile,
      files: metaFile ? [reviewsFile, metaFile] : [reviewsFile],
      table,
      text,
      items,
      users: new Map(),
      tags: [],
      domain: 'product',
    };
  } catch (e) {
    text.close();
    throw e;
  }
}
