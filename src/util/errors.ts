/**
 * The one base class of every error a user can cause (bad input file, bad config, bad flag, a run
 * directory that cannot be used, a request the model cannot answer ...). The CLI reports any
 * UserError as one line on stderr and exits 2 (src/cli/errors.ts); anything else is an internal
 * error (stack trace, exit 1).
 *
 * Lives in the lowest layer (no imports) so every module can extend it without import cycles.
 * Subclasses keep their own names and fields; the message must be one line that names the file,
 * key or flag at fault.
 */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

/**
 * A bad flag, option or argument value (the caller asked for something that cannot be done as
 * asked). Thrown by the CLI and by library functions that take options (ingest, the LLM client,
 * the text store, reports); re-exported by src/cli/errors.ts.
 */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True for any error the user can cause (see {@link UserError}). */
export function isUserFacing(e: unknown): e is UserError {
  return e instanceof UserError;
}
