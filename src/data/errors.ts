import { readFileSync, statSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { allocProblem } from '../util/limits.js';

/**
 * Error raised by the data-format readers for malformed, truncated or
 * unsupported input files.
 *
 * The message is always a single line of the form
 *
 *     <file>:<line>: <what is wrong>      (when a line number is known)
 *     <file>: <what is wrong>             (otherwise)
 *
 * so the CLI can print `err.message` verbatim and exit with status 2.
 */
export interface DataErrorOptions {
  /** 1-based line number in a text file. */
  line?: number;
  /** Name of the offending field / column, if any. */
  field?: string;
  /** Byte offset in a binary file (e.g. the pickle opcode position). */
  offset?: number;
  /** Underlying error, if this wraps one. */
  cause?: unknown;
}

export class DataError extends UserError {
  /** Path of the file that is wrong. */
  readonly file: string;
  /** 1-based line number, when the problem is tied to a line of a text file. */
  readonly line: number | undefined;
  /** Field / column name, when the problem is tied to one field. */
  readonly field: string | undefined;
  /** Byte offset, when the problem is tied to a position in a binary file. */
  readonly offset: number | undefined;
  /** The description without the `<file>:<line>: ` prefix. */
  readonly detail: string;

  constructor(file: string, detail: string, options: DataErrorOptions = {}) {
    // Keep the message on one line whatever the detail contains.
    const oneLine = detail.replace(/\s*[\r\n]+\s*/g, ' ');
    const where = options.line !== undefined ? `${file}:${options.line}` : file;
    super(`${where}: ${oneLine}`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'DataError';
    this.file = file;
    this.line = options.line;
    this.field = options.field;
    this.offset = options.offset;
    this.detail = oneLine;
  }
}

/** True when `e` is a {@link DataError}. */
export function isDataError(e: unknown): e is DataError {
  return e instanceof DataError;
}

/**
 * Throws a DataError naming `file` (and line / field) when `bytes` for `what` exceed the memory
 * budget (src/util/limits.ts). Call it BEFORE allocating anything sized from the file.
 */
export function checkDataAlloc(file: string, bytes: number, what: string, options: DataErrorOptions = {}): void {
  const p = allocProblem(bytes, what);
  if (p !== null) throw new DataError(file, p, options);
}

/**
 * Read a whole file synchronously, turning I/O failures (missing file,
 * permission denied, a directory) into a DataError naming the file. A file
 * larger than the memory budget is refused before it is read.
 */
export function readFileForData(file: string): Buffer {
  let size: number | undefined;
  try {
    const st = statSync(file);
    if (st.isFile()) size = st.size;
  } catch {
    // reported by the read below, with the usual wording
  }
  if (size !== undefined) checkDataAlloc(file, size, 'reading the file');
  try {
    return readFileSync(file);
  } catch (e) {
    throw new DataError(file, describeReadError(e), { cause: e });
  }
}

/** A short reason for a failed read (missing file, directory, permissions, bad gzip, ...). */
export function describeReadError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'ERR_FS_FILE_TOO_LARGE') return 'file too large to read at once (over 2 GiB)';
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'Z_NEED_DICT') {
    return `not a valid gzip file or truncated (${(e as Error).message})`;
  }
  return `cannot read file (${(e as Error).message})`;
}
