/**
 * RecBole atomic files: `<dir>/<name>.inter` (required), `<name>.item`, `<name>.user` (optional);
 * tab-separated, header fields `name:type` with type token, token_seq, float or float_seq.
 * Standard field names (user_id, item_id, rating, timestamp) are used unless --map renames them.
 * On .item/.user files the title (title, movie_title, name, ...) and description fields become the
 * entity's title and description; other token / token_seq fields become attributes.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError } from '../data/errors.js';
import { UsageError } from '../util/errors.js';
import { parseMapping, readTable } from './delimited.js';
import { INTERACTION_KEYS, rowsFromTable } from './generic.js';
import { cleanText, type EntityMeta, type RawData } from './types.js';

const TITLE_FIELDS = ['title', 'movie_title', 'book_title', 'item_name', 'name', 'business_name'];
const DESC_FIELDS = ['description', 'desc', 'plot', 'overview', 'summary'];
const TYPES = ['token', 'token_seq', 'float', 'float_seq'];

function fieldTypes(file: string): Map<string, string> {
  const t = readTable(file, '\t');
  const m = new Map<string, string>();
  for (const h of t.header) {
    const c = h.lastIndexOf(':');
    if (c <= 0 || !TYPES.includes(h.slice(c + 1))) {
      throw new DataError(file, `header field ${JSON.stringify(h)} is not name:type with type one of ${TYPES.join(', ')}`, { line: 1, field: h });
    }
    m.set(h.slice(0, c), h);
  }
  return m;
}

function entities(file: string, idField: string): Map<string, EntityMeta> {
  const t = readTable(file, '\t');
  const names = t.header.map((h) => h.slice(0, h.lastIndexOf(':')));
  const types = t.header.map((h) => h.slice(h.lastIndexOf(':') + 1));
  const idCol = names.indexOf(idField);
  if (idCol < 0) throw new DataError(file, `no field "${idField}" in the header (${t.header.join(', ')})`, { line: 1, field: idField });
  const titleCol = names.findIndex((n) => TITLE_FIELDS.includes(n));
  const descCol = names.findIndex((n) => DESC_FIELDS.includes(n));
  const out = new Map<string, EntityMeta>();
  for (const { fields, line } of t.records) {
    const id = fields[idCol]!.trim();
    if (!id) throw new DataError(file, `field "${idField}" is empty`, { line, field: idField });
    if (out.has(id)) throw new DataError(file, `duplicate ${idField} ${JSON.stringify(id)}`, { line, field: idField });
    const meta: EntityMeta = { attributes: {} };
    fields.forEach((v, i) => {
      if (i === idCol) return;
      if (i === titleCol) {
        const c = cleanText(v);
        if (c) meta.title = c;
      } else if (i === descCol) {
        const c = cleanText(v);
        if (c) meta.description = c;
      } else if (types[i] === 'token' || types[i] === 'token_seq') {
        if (/_id$/.test(names[i]!)) return;
        const vals = (types[i] === 'token' ? [v] : v.split(' ')).map(cleanText).filter((x) => x.length > 0);
        if (vals.length) meta.attributes[names[i]!] = vals;
      }
    });
    out.set(id, meta);
  }
  return out;
}

export function readRecBole(dir: string, name: string | undefined, map: string | undefined, domain: string | undefined): RawData {
  if (!existsSync(dir)) throw new DataError(dir, 'directory not found');
  let stem = name ?? basename(dir);
  if (!existsSync(join(dir, `${stem}.inter`))) {
    const inters = readdirSync(dir).filter((f) => f.endsWith('.inter'));
    if (name === undefined && inters.length === 1) stem = inters[0]!.slice(0, -'.inter'.length);
    else throw new UsageError(`${join(dir, `${stem}.inter`)} not found${inters.length ? ` (found ${inters.join(', ')}: pass --name)` : ''}`);
  }
  const interFile = join(dir, `${stem}.inter`);
  const types = fieldTypes(interFile);
  const given = parseMapping('--map', map, [], INTERACTION_KEYS);
  const defaults: Record<string, string[]> = { user: ['user_id'], item: ['item_id'], rating: ['rating'], time: ['timestamp'], text: ['review', 'review_text', 'text'], summary: ['review_summary'] };
  const mapping = new Map<string, string>();
  for (const key of INTERACTION_KEYS) {
    const want = given.has(key) ? [given.get(key)!] : defaults[key]!;
    const found = want.find((n) => types.has(n));
    if (found) mapping.set(key, types.get(found)!);
    else if (given.has(key) || key === 'user' || key === 'item') {
      throw new DataError(interFile, `no field "${want[0]}" (${key}) in the header (${[...types.values()].join(', ')})`, { line: 1, field: want[0] });
    }
  }
  const rows = rowsFromTable(interFile, '\t', mapping);
  const files = [interFile];
  const itemFile = join(dir, `${stem}.item`);
  const userFile = join(dir, `${stem}.user`);
  const itemIdField = mapping.get('item')!.slice(0, mapping.get('item')!.lastIndexOf(':'));
  const userIdField = mapping.get('user')!.slice(0, mapping.get('user')!.lastIndexOf(':'));
  let items = new Map<string, EntityMeta>();
  let users = new Map<string, EntityMeta>();
  if (existsSync(itemFile)) {
    fieldTypes(itemFile);
    items = entities(itemFile, itemIdField);
    files.push(itemFile);
  }
  if (existsSync(userFile)) {
    fieldTypes(userFile);
    users = entities(userFile, userIdField);
    files.push(userFile);
  }
  return { format: 'recbole', rowsFile: interFile, files, rows, items, users, tags: [], domain: domain ?? 'item' };
}
