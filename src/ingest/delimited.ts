/**
 * Delimited text tables with a header row: CSV (RFC 4180 quoting, through the project's CSV
 * parser) or any other one-character separator (tab, `;`, `|`: one record per line; a field
 * wrapped in double quotes is unquoted). Column mappings (`user=userId,item=movieId,...`) pick
 * the columns; every error names the file, the line and the column.
 */
import { DataError, readFileForData } from '../data/errors.js';
import { iterateCsv } from '../data/formats/csv.js';
import { UsageError } from '../util/errors.js';

export interface Table {
  file: string;
  header: string[];
  /** records without the header */
  records: { fields: string[]; line: number }[];
}

/** `,` `tab` `\t` `;` `|` or a one-character string; undefined: by extension (.tsv/.tab/.inter/.item/.user: tab). */
export function resolveSeparator(sep: string | undefined, file: string): string {
  if (sep === undefined || sep === 'auto') return /\.(tsv|tab|inter|item|user|txt)(\.gz)?$/i.test(file) ? '\t' : ',';
  if (sep === 'tab' || sep === '\\t') return '\t';
  if (sep === 'comma') return ',';
  if (sep === 'semicolon') return ';';
  if (sep === 'pipe') return '|';
  if ([...sep].length !== 1) throw new UsageError(`--sep must be one character (or tab, comma, semicolon, pipe), got ${JSON.stringify(sep)}`);
  return sep;
}

function unquote(f: string): string {
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f;
}

export function readTable(file: string, sep: string): Table {
  const text = readFileForData(file).toString('utf8');
  const records: { fields: string[]; line: number }[] = [];
  if (sep === ',') {
    for (const r of iterateCsv(text, file)) records.push(r);
  } else {
    let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    let line = 0;
    while (pos < text.length) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = text.length;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === 13) end--;
      line++;
      records.push({ fields: text.slice(pos, end).split(sep).map(unquote), line });
      pos = nl + 1;
    }
  }
  // blank lines carry nothing (a trailing one is common)
  const nonBlank = records.filter((r) => !(r.fields.length === 1 && r.fields[0]!.trim() === ''));
  if (nonBlank.length === 0) throw new DataError(file, 'empty file, expected a header row', { line: 1 });
  const [head, ...rest] = nonBlank;
  const header = head!.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new DataError(file, `duplicate column "${h}" in the header`, { line: head!.line, field: h });
    seen.add(h);
  }
  for (const r of rest) {
    if (r.fields.length !== header.length) {
      throw new DataError(file, `expected ${header.length} ${sep === '\t' ? 'tab' : JSON.stringify(sep)}-separated fields (${header.join(', ')}), found ${r.fields.length}`, { line: r.line });
    }
  }
  return { file, header, records: rest };
}

/**
 * Parses `key=column,key=column`: keys are checked against `allowed` (a key ending in `*` allows
 * any key, for free-form attributes) and `required`.
 */
export function parseMapping(flag: string, spec: string | undefined, required: string[], allowed: string[] | '*'): Map<string, string> {
  const m = new Map<string, string>();
  if (spec !== undefined) {
    for (const part of spec.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0 || eq === part.length - 1) throw new UsageError(`${flag}: expected key=column pairs separated by commas, got ${JSON.stringify(part)}`);
      const key = part.slice(0, eq).trim();
      if (allowed !== '*' && !allowed.includes(key)) throw new UsageError(`${flag}: unknown key "${key}" (known: ${allowed.join(', ')})`);
      if (m.has(key)) throw new UsageError(`${flag}: key "${key}" given twice`);
      m.set(key, part.slice(eq + 1).trim());
    }
  }
  for (const k of required) if (!m.has(k)) throw new UsageError(`${flag} must map "${k}" (e.g. ${flag} ${required.map((r) => `${r}=COLUMN`).join(',')})`);
  return m;
}

/** Column index of each mapped key; a column missing from the header is an error naming both. */
export function columnIndex(t: Table, mapping: Map<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, col] of mapping) {
    const i = t.header.indexOf(col);
    if (i < 0) throw new DataError(t.file, `no column "${col}" (mapped to ${key}); the header has: ${t.header.join(', ')}`, { line: 1, field: col });
    out.set(key, i);
  }
  return out;
}

export function parseNumber(file: string, line: number, field: string, s: string): number {
  const t = s.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new DataError(file, `field "${field}" is not a number: ${JSON.stringify(s)}`, { line, field });
  return Number(t);
}

/** Seconds since the epoch from a number (milliseconds when above 1e11) or an ISO-8601 date. */
export function parseTime(file: string, line: number, field: string, s: string): number {
  const t = s.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(t)) {
    const v = Number(t);
    return Math.abs(v) > 1e11 ? v / 1000 : v;
  }
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) throw new DataError(file, `field "${field}" is neither a number nor an ISO-8601 date: ${JSON.stringify(s)}`, { line, field });
  return ms / 1000;
}
