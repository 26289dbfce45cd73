/**
 * Reader for `user<TAB>item` interaction files (0-based integer ids), as in
 * shared/datasets/irllrec-*\/{train,valid,test}.tsv.
 */
import { DataError, readFileForData } from '../errors.js';

export interface Interactions {
  user: Int32Array;
  item: Int32Array;
}

const MAX_ID = 0x7fff_ffff;

export interface TsvReadOptions {
  /**
   * The largest id accepted (default 2^31 - 1). Ids are dense 0-based indices: the dataset reader
   * derives the bound from the size of the data (src/data/dataset.ts, maxIdSpace), so an id far
   * beyond the data is refused with file:line before anything is allocated from it.
   */
  maxId?: number;
  /** The rule behind `maxId`, in words, for the error message. */
  maxIdRule?: string;
}

/** Rows of a TSV buffer, counted cheaply (line breaks + a last unterminated line; a header counts too). */
export function countTsvRows(buf: Uint8Array): number {
  let n = 0;
  let at = -1;
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  while ((at = b.indexOf(10, at + 1)) >= 0) n++;
  if (b.length > 0 && b[b.length - 1] !== 10) n++;
  return n;
}

/** Parse a non-negative decimal int32, or return a reason it is not one. */
function parseId(s: string): number | string {
  if (s.length === 0) return 'is empty';
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) {
      if (i === 0 && s.charCodeAt(0) === 45 /* - */ && /^-\d+$/.test(s)) return `is negative (${s})`;
      return `is not a non-negative integer: ${JSON.stringify(s)}`;
    }
    v = v * 10 + c;
    if (v > MAX_ID) return `is too large (${s} > ${MAX_ID})`;
  }
  return v;
}

/**
 * Parse interaction text. The first line may be the header `user\titem`; a
 * file whose first line is two integers has no header. LF or CRLF line
 * endings; the final newline is optional; a UTF-8 BOM is ignored.
 */
export function parseInteractionsTsv(text: string, file: string, options: TsvReadOptions = {}): Interactions {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const maxId = options.maxId ?? MAX_ID;
  const beyond = (field: string, v: number, lineNo: number): never => {
    throw new DataError(
      file,
      `field "${field}" = ${v} is far beyond the data (${options.maxIdRule ?? `at most ${maxId}`})`,
      { line: lineNo, field },
    );
  };
  let cap = 1024;
  let user = new Int32Array(cap);
  let item = new Int32Array(cap);
  let n = 0;
  let pos = 0;
  let lineNo = 0;
  const len = text.length;
  while (pos < len) {
    let end = text.indexOf('\n', pos);
    const next = end < 0 ? len : end + 1;
    if (end < 0) end = len;
    let lineEnd = end;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    const line = text.slice(pos, lineEnd);
    pos = next;
    lineNo++;

    if (lineNo === 1) {
      const h = line.split('\t').map((s) => s.trim());
      if (h.length === 2 && h[0] === 'user' && h[1] === 'item') continue;
      if (!(h.length === 2 && /^\d+$/.test(h[0]!) && /^\d+$/.test(h[1]!))) {
        throw new DataError(
          file,
          `expected the header "user<TAB>item" or a "<user><TAB><item>" line, found ${JSON.stringify(line.slice(0, 80))}`,
          { line: 1 },
        );
      }
    }
    if (line.length === 0) {
      // blank lines are tolerated only at the very end of the file
      if (/^[\r\n]*$/.test(text.slice(pos))) break;
      throw new DataError(file, 'empty line', { line: lineNo });
    }
    const tab = line.indexOf('\t');
    if (tab < 0 || line.indexOf('\t', tab + 1) >= 0) {
      const fields = line.split('\t').length;
      throw new DataError(file, `expected 2 tab-separated fields (user, item), found ${fields}`, { line: lineNo });
    }
    const u = parseId(line.slice(0, tab));
    if (typeof u === 'string') throw new DataError(file, `field "user" ${u}`, { line: lineNo, field: 'user' });
    const it = parseId(line.slice(tab + 1));
    if (typeof it === 'string') throw new DataError(file, `field "item" ${it}`, { line: lineNo, field: 'item' });
    if (u > maxId) beyond('user', u, lineNo);
    if (it > maxId) beyond('item', it, lineNo);
    if (n === cap) {
      cap *= 2;
      const nu = new Int32Array(cap);
      nu.set(user);
      user = nu;
      const ni = new Int32Array(cap);
      ni.set(item);
      item = ni;
    }
    user[n] = u;
    item[n] = it;
    n++;
  }
  return { user: user.slice(0, n), item: item.slice(0, n) };
}

/** Read a `user\titem` TSV file. Malformed lines -> DataError with file, 1-based line and field. */
export function readInteractionsTsv(path: string, options: TsvReadOptions = {}): Interactions {
  const buf = readFileForData(path);
  return parseInteractionsTsv(buf.toString('utf8'), path, options);
}
