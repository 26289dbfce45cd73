/**
 * One error path for the CLI: every error a user can cause (bad input file, bad config, bad flag,
 * unusable run directory, a size over the memory budget, ...) is a {@link UserError} (src/util/errors.ts)
 * and is reported as ONE line on stderr with exit code 2, never a stack trace; anything else is an
 * internal error (stack trace, exit 1).
 */
import { ConfigError } from '../config/schema.js';
import { DataError } from '../data/errors.js';
import { CheckpointError } from '../train/checkpoint.js';
import { UserError } from '../util/errors.js';

export { UserError } from '../util/errors.js';

export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Whether `e` is an error the user caused. Every user-facing error class extends UserError; the
 * explicit classes are kept as a safety net for a class that would lose its base by mistake.
 */
export function isUserError(e: unknown): boolean {
  return e instanceof UserError || e instanceof DataError || e instanceof ConfigError || e instanceof CheckpointError;
}

/** The one line printed for a user error: the message with any line breaks folded. */
export function userErrorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `irllrec: error: ${msg.replace(/\s*[\r\n]+\s*/g, ' ').trim()}`;
}

export async function runCommand(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`${userErrorLine(e)}\n`);
      process.exit(2);
    }
    process.stderr.write(`irllrec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
