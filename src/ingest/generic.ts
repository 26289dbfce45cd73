/**
 * Generic CSV/TSV input with a column mapping:
 *
 *   --interactions FILE --map user=COL,item=COL[,rating=COL][,time=COL][,text=COL][,summary=COL]
 *   --items FILE --item-map id=COL[,title=COL][,description=COL][,ATTRIBUTE=COL ...]
 *   --users FILE --user-map id=COL[,ATTRIBUTE=COL ...]
 *
 * Attribute columns are split on --list-sep (default `|`) into lists (genres, categories, ...).
 */
import { DataError } from '../data/errors.js';
import { columnIndex, parseMapping, parseNumber, parseTime, readTable, resolveSeparator } from './delimited.js';
import { cleanText, type EntityMeta, type RawData, type RawRow } from './types.js';
import { UsageError } from '../util/errors.js';

export interface GenericOptions {
  interactions?: string;
  map?: string;
  items?: string;
  itemMap?: string;
  users?: string;
  userMap?: string;
  sep?: string;
  listSep?: string;
  /** What the items are, for prompts (movie, product, book, ...). */
  domain?: string;
}

export const INTERACTION_KEYS = ['user', 'item', 'rating', 'time', 'text', 'summary'];

export function rowsFromTable(file: string, sep: string, mapping: Map<string, string>): RawRow[] {
  const t = readTable(file, sep);
  const col = columnIndex(t, mapping);
  const get = (f: string[], k: string) => (col.has(k) ? f[col.get(k)!]! : undefined);
  const rows: RawRow[] = [];
  for (const { fields, line } of t.records) {
    const user = get(fields, 'user')!.trim();
    const item = get(fields, 'item')!.trim();
    if (!user) throw new DataError(file, `field "${mapping.get('user')}" (user) is empty`, { line, field: mapping.get('user') });
    if (!item) throw new DataError(file, `field "${mapping.get('item')}" (item) is empty`, { line, field: mapping.get('item') });
    const rs = get(fields, 'rating');
    const ts = get(fields, 'time');
    const row: RawRow = {
      user,
      item,
      rating: rs === undefined ? null : parseNumber(file, line, mapping.get('rating')!, rs),
      time: ts === undefined || ts.trim() === '' ? null : parseTime(file, line, mapping.get('time')!, ts),
      line,
    };
    const text = cleanText(get(fields, 'text'));
    const summary = cleanText(get(fields, 'summary'));
    if (text) row.text = text;
    if (summary) row.summary = summary;
    rows.push(row);
  }
  if (rows.length === 0) throw new DataError(file, 'no interactions found (only a header)');
  return rows;
}

/** Entity side file: id column + title/description + free-form attributes. */
export function entitiesFromTable(file: string, sep: string, mapping: Map<string, string>, split: (key: string, value: string) => string[]): Map<string, EntityMeta> {
  const t = readTable(file, sep);
  const col = columnIndex(t, mapping);
  const out = new Map<string, EntityMeta>();
  for (const { fields, line } of t.records) {
    const id = fields[col.get('id')!]!.trim();
    if (!id) throw new DataError(file, `field "${mapping.get('id')}" (id) is empty`, { line, field: mapping.get('id') });
    if (out.has(id)) throw new DataError(file, `duplicate id ${JSON.stringify(id)}`, { line, field: mapping.get('id') });
    const meta: EntityMeta = { attributes: {} };
    for (const [key, i] of col) {
      if (key === 'id') continue;
      const v = fields[i]!;
      if (key === 'title' || key === 'description') {
        const c = cleanText(v);
        if (c) meta[key] = c;
      } else {
        const vals = split(key, v).map(cleanText).filter((x) => x.length > 0);
        if (vals.length) meta.attributes[key] = vals;
      }
    }
    out.set(id, meta);
  }
  return out;
}

export function readGeneric(o: GenericOptions): RawData {
  if (!o.interactions) throw new UsageError('--format csv needs --interactions FILE and --map user=COL,item=COL[,rating=COL,time=COL,text=COL,summary=COL]');
  const mapping = parseMapping('--map', o.map, ['user', 'item'], INTERACTION_KEYS);
  const listSep = o.listSep ?? '|';
  const split = (_k: string, v: string) => (listSep === '' ? [v] : v.split(listSep));
  const rows = rowsFromTable(o.interactions, resolveSeparator(o.sep, o.interactions), mapping);
  const files = [o.interactions];
  let items = new Map<string, EntityMeta>();
  let users = new Map<string, EntityMeta>();
  if (o.itemMap && !o.items) throw new UsageError('--item-map needs --items FILE');
  if (o.userMap && !o.users) throw new UsageError('--user-map needs --users FILE');
  if (o.items) {
    const m = parseMapping('--item-map', o.itemMap, ['id'], '*');
    items = entitiesFromTable(o.items, resolveSeparator(o.sep, o.items), m, split);
    files.push(o.items);
  }
  if (o.users) {
    const m = parseMapping('--user-map', o.userMap, ['id'], '*');
    users = entitiesFromTable(o.users, resolveSeparator(o.sep, o.users), m, split);
    files.push(o.users);
  }
  return { format: 'csv', rowsFile: o.interactions, files, rows, items, users, tags: [], domain: o.domain ?? 'item' };
}
