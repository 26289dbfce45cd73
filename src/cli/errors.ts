/**
 * One error path for the CLI: every error a user can cause (bad input file, bad config, bad flag,
 * unusable run directory, a size over the memory budget, ...) is a UserError (src/util/errors.ts)
 * and is reported as ONE line on stderr with exit code 2, never a stack trace; anything else is an
 * internal error (stack trace, exit 1).
 */
import { isUserFacing } from '../util/errors.js';

/** Re-exported for the commands (the class lives in the low layer so library code can throw it too). */
export { UsageError } from '../util/errors.js';

/** The one line printed for a user error: the message with any line breaks folded. */
export function userErrorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `irllrec: error: ${msg.replace(/\s*[\r\n]+\s*/g, ' ').trim()}`;
}

export async function runCommand(fn: () => Promise<void> | void): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (isUserFacing(e)) {
      process.stderr.write(`${userErrorLine(e)}\n`);
      process.exit(2);
    }
    process.stderr.write(`irllrec: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
