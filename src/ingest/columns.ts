/**
 * Compact, column-wise storage of the interaction rows, so that ingest holds a few dozen bytes per
 * row instead of one object (plus its review text) per row: ids are interned once, ratings, times
 * and line numbers live in typed arrays, and review text lives in a `TextStore` (in memory for the
 * small formats, spilled to a temporary file for streamed multi-gigabyte review files).
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { RawRow } from './types.js';
import { Interner } from '../util/interner.js';


function grow<T extends Int32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** The interaction rows, column-wise. A null rating or time is NaN. */
export class RowTable {
  n = 0;
  readonly users = new Interner();
  readonly items = new Interner();
  user = new Int32Array(1024);
  item = new Int32Array(1024);
  rating = new Float64Array(1024);
  time = new Float64Array(1024);
  line = new Float64Array(1024);

  push(user: string, item: string, rating: number | null, time: number | null, line: number): number {
    const k = this.n;
    if (k === this.user.length) {
      const m = Math.ceil(k * 1.5);
      this.user = grow(this.user, m);
      this.item = grow(this.item, m);
      this.rating = grow(this.rating, m);
      this.time = grow(this.time, m);
      this.line = grow(this.line, m);
    }
    this.user[k] = this.users.id(user);
    this.item[k] = this.items.id(item);
    this.rating[k] = rating === null ? NaN : rating;
    this.time[k] = time === null ? NaN : time;
    this.line[k] = line;
    this.n = k + 1;
    return k;
  }

  ratingOf(k: number): number | null {
    const r = this.rating[k]!;
    return r === r ? r : null;
  }

  timeOf(k: number): number | null {
    const t = this.time[k]!;
    return t === t ? t : null;
  }

  static fromRows(rows: RawRow[]): RowTable {
    const t = new RowTable();
    for (const r of rows) t.push(r.user, r.item, r.rating, r.time, r.line);
    return t;
  }
}

/** `"summary":...` and `"text":...` of a row as JSON members, each with a leading comma ('' when none). */
export function textFragment(summary: string | undefined, text: string | undefined): string {
  return (summary ? `,"summary":${JSON.stringify(summary)}` : '') + (text ? `,"text":${JSON.stringify(text)}` : '');
}

/** The review text of each row, as the JSON fragment the corpus writes for it. */
export interface TextStore {
  /** true when row k has a summary or a review text */
  has(k: number): boolean;
  fragment(k: number): string;
  close(): void;
}

export class RowsTextStore implements TextStore {
  constructor(private readonly rows: RawRow[]) {}
  has(k: number): boolean {
    const r = this.rows[k]!;
    return Boolean(r.text || r.summary);
  }
  fragment(k: number): string {
    const r = this.rows[k]!;
    return textFragment(r.summary, r.text);
  }
  close(): void {}
}

/**
 * Text spilled to a file as it is read: memory holds 12 bytes per row (offset and length), the
 * file holds the fragments in reading order. The file is removed by close().
 */
export class SpillTextStore implements TextStore {
  private fd: number;
  private offset = new Float64Array(1024);
  private length = new Int32Array(1024);
  private n = 0;
  private pos = 0;
  private buf: string[] = [];
  private bufChars = 0;
  private readBuf = Buffer.alloc(1 << 16);
  private closed = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'wx+', 0o600);
  }

  /** appends the fragment of the next row (rows must be added in order 0, 1, 2, ...) */
  add(k: number, fragment: string): void {
    if (k !== this.n) throw new Error(`spill rows out of order (${k}, expected ${this.n})`);
    if (k === this.offset.length) {
      this.offset = grow(this.offset, Math.ceil(k * 1.5));
      this.length = grow(this.length, this.offset.length);
    }
    const len = fragment.length === 0 ? 0 : Buffer.byteLength(fragment, 'utf8');
    this.offset[k] = this.pos;
    this.length[k] = len;
    this.pos += len;
    this.n++;
    if (len > 0) {
      this.buf.push(fragment);
      this.bufChars += fragment.length;
      if (this.bufChars > 1 << 22) this.flush();
    }
  }

  /** writes what is buffered; call once all rows are added, before reading */
  flush(): void {
    if (this.buf.length === 0) return;
    const b = Buffer.from(this.buf.join(''), 'utf8');
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
    this.buf = [];
    this.bufChars = 0;
  }

  has(k: number): boolean {
    return this.length[k]! > 0;
  }

  fragment(k: number): string {
    const len = this.length[k]!;
    if (len === 0) return '';
    if (this.closed) throw new Error('the ingest text store is closed (corpus lines are available only while ingest runs)');
    if (this.buf.length) this.flush();
    if (len > this.readBuf.length) this.readBuf = Buffer.alloc(Math.max(len, this.readBuf.length * 2));
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, this.readBuf, got, len - got, this.offset[k]! + got);
      if (r === 0) throw new Error(`ingest spill file ${this.path} is truncated`);
      got += r;
    }
    return this.readBuf.toString('utf8', 0, len);
  }

  get bytes(): number {
    return this.pos;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.path, { force: true });
    }
  }
}
