/** Turns expected failures (bad input, bad config) into one line on stderr and exit code 2. */
import { ConfigError } from '../config/schema.js';
import { DataError } from '../data/errors.js';
import { CheckpointError } from '../train/checkpoint.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isUserError(e: unknown): boolean {
  return e instanceof DataError || e instanceof ConfigError || e instanceof UsageError || e instanceof CheckpointError;
}

export async function runCommand(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`irllrec: error: ${(e as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`irllrec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
