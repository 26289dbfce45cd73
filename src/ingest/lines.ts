/**
 * Streams the lines of a text file, gzip-compressed when the name ends in `.gz`, without loading
 * it whole (the Amazon 2018 files reach gigabytes). I/O and gzip errors become DataErrors naming
 * the file (and the line reached).
 */
import { createReadStream, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { DataError, describeReadError } from '../data/errors.js';

export interface Line {
  text: string;
  /** 1-based */
  no: number;
}

function ioError(file: string, e: unknown, line?: number): DataError {
  return new DataError(file, describeReadError(e), { cause: e, ...(line !== undefined && line > 1 ? { line } : {}) });
}

/** Throws a DataError unless `file` is a readable regular file. */
export function checkFile(file: string): void {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (e) {
    throw ioError(file, e);
  }
}

export async function* readLines(file: string): AsyncGenerator<Line> {
  checkFile(file);
  let stream: Readable = createReadStream(file);
  if (file.endsWith('.gz')) stream = stream.pipe(createGunzip());
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let no = 0;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let s = rest + decoder.write(chunk);
      if (first) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      let start = 0;
      for (;;) {
        const nl = s.indexOf('\n', start);
        if (nl < 0) break;
        let end = nl;
        if (end > start && s.charCodeAt(end - 1) === 13) end--;
        no++;
        yield { text: s.slice(start, end), no };
        start = nl + 1;
      }
      rest = s.slice(start);
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw ioError(file, e, no + 1);
  } finally {
    stream.destroy();
  }
  rest += decoder.end();
  if (rest.endsWith('\r')) rest = rest.slice(0, -1);
  if (rest.length > 0) {
    no++;
    yield { text: rest, no };
  }
}
