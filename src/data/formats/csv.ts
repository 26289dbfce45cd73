/**
 * A small RFC 4180 CSV parser: comma-separated fields, fields optionally
 * enclosed in double quotes, `""` inside a quoted field is a literal quote,
 * quoted fields may contain commas and line breaks. Records end with LF or
 * CRLF; the final line break is optional. A quote inside an unquoted field,
 * text after a closing quote, or an unterminated quoted field is an error.
 */
import { DataError } from '../errors.js';

export interface CsvRecord {
  fields: string[];
  /** 1-based line number on which the record starts */
  line: number;
}

/**
 * Iterate over the records of CSV `text`. `file` is used in error messages.
 * A UTF-8 BOM at the start is skipped. An empty line yields a record with one
 * empty field (callers decide whether that is an error).
 */
export function* iterateCsv(text: string, file: string): Generator<CsvRecord> {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const len = text.length;
  let line = 1;
  while (pos < len) {
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      // --- one field starting at pos
      if (text.charCodeAt(pos) === 34 /* " */) {
        const fieldLine = line;
        let value = '';
        let p = pos + 1;
        for (;;) {
          const q = text.indexOf('"', p);
          if (q < 0) {
            throw new DataError(file, `unterminated quoted field (starting in column ${fields.length + 1})`, {
              line: fieldLine,
            });
          }
          const chunk = text.slice(p, q);
          value += chunk;
          for (let k = 0; k < chunk.length; k++) if (chunk.charCodeAt(k) === 10) line++;
          if (text.charCodeAt(q + 1) === 34) {
            value += '"';
            p = q + 2;
          } else {
            pos = q + 1;
            break;
          }
        }
        fields.push(value);
        const c = pos < len ? text.charCodeAt(pos) : -1;
        if (c !== 44 && c !== 10 && c !== 13 && c !== -1) {
          throw new DataError(
            file,
            `unexpected character ${JSON.stringify(text[pos])} after the closing quote of column ${fields.length}`,
            { line },
          );
        }
        if (c === 13 && text.charCodeAt(pos + 1) !== 10) {
          throw new DataError(file, `unexpected carriage return after column ${fields.length}`, { line });
        }
      } else {
        let p = pos;
        while (p < len) {
          const c = text.charCodeAt(p);
          if (c === 44 || c === 10 || (c === 13 && text.charCodeAt(p + 1) === 10)) break;
          if (c === 34) {
            throw new DataError(
              file,
              `stray double quote in unquoted column ${fields.length + 1} (quote the whole field and double inner quotes)`,
              { line },
            );
          }
          p++;
        }
        fields.push(text.slice(pos, p));
        pos = p;
      }
      // --- separator or end of record
      const c = pos < len ? text.charCodeAt(pos) : -1;
      if (c === 44) {
        pos++;
        continue;
      }
      if (c === 13) pos += 2;
      else if (c === 10) pos += 1;
      line++;
      break;
    }
    yield { fields, line: startLine };
  }
}

/** Parse all records of CSV `text`. */
export function parseCsv(text: string, file: string): CsvRecord[] {
  return Array.from(iterateCsv(text, file));
}

/**
 * Parse one CSV line (no line break inside). `file` / `lineNo` are only used
 * in error messages.
 */
export function parseCsvLine(line: string, file = '<csv>', lineNo = 1): string[] {
  if (/[\r\n]/.test(line)) throw new DataError(file, 'line break inside a single CSV line', { line: lineNo });
  if (line.length === 0) return [''];
  try {
    const recs = parseCsv(line, file);
    return recs[0]!.fields;
  } catch (e) {
    if (e instanceof DataError) throw new DataError(file, e.detail, { line: lineNo, cause: e });
    throw e;
  }
}
