/** Assertions shared by several test files. */
import { expect } from 'vitest';
import { DataError } from '../../src/data/errors.js';

/** Runs `fn`, expects it to throw a DataError, and returns that error (for checks on its fields). */
export function expectDataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, nothing was thrown');
}
