/** Small builders and checks shared by the metric tests (test/eval*.test.ts). */
import { expect } from 'vitest';
import type { CsrPattern } from '../../src/eval/index.js';

/** A rows-row CSR pattern from (row, column) pairs, columns sorted within each row. */
export function patternFromPairs(pairs: [number, number][], rows: number): CsrPattern {
  const counts = new Int32Array(rows);
  for (const [u] of pairs) counts[u]!++;
  const indptr = new Int32Array(rows + 1);
  for (let u = 0; u < rows; u++) indptr[u + 1] = indptr[u]! + counts[u]!;
  const fill = indptr.slice(0, rows);
  const indices = new Int32Array(pairs.length);
  const sorted = pairs.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [u, i] of sorted) indices[fill[u]!++] = i;
  return { indptr, indices };
}

/** Expects `a` to be defined, as long as `b`, and within `tol` of it element by element. */
export function expectCloseValues(a: number[] | undefined, b: number[], tol: number, what: string): void {
  expect(a, what).toBeDefined();
  expect(a!.length, what).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    expect(Math.abs(a![i]! - b[i]!), `${what}[${i}]: ${a![i]} vs ${b[i]}`).toBeLessThanOrEqual(tol);
  }
}
