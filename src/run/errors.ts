import { UserError } from '../util/errors.js';

/**
 * A run directory that cannot be opened or written (missing files, moved dataset, a damaged file,
 * id maps that do not match the data, ...). Owned by the run layer, which reads and verifies run
 * directories; src/serve/errors.ts re-exports it with the serving errors.
 */
export class RunError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}
