/** JSON Lines input: parsing one line, reading a whole file, with errors naming the file and line. */
import { DataError, readFileForData } from './errors.js';

/** One line of a JSON Lines file, parsed (not JSON: a DataError naming the file and the 1-based line). */
export function parseJsonLine(file: string, text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(file, `not valid JSON (${(e as Error).message})`, { line });
  }
}

/** The non-blank lines of a JSON Lines file, parsed one at a time, with their 1-based line numbers. */
export function* jsonLines(file: string): Generator<{ value: unknown; line: number }> {
  const text = readFileForData(file).toString('utf8');
  let line = 0;
  for (const s of text.split('\n')) {
    line++;
    if (s.trim() === '') continue;
    yield { value: parseJsonLine(file, s, line), line };
  }
}
