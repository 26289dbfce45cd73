import { UserError } from '../util/errors.js';

/**
 * Errors of the serving layer. Every one carries an HTTP status, so the HTTP service and the CLI
 * turn them into a 4xx answer / one error line without guessing:
 * - NotFoundError (404): an unknown user or item id;
 * - InvalidArgumentError (400): a bad option value (k out of range, a malformed vector, ...);
 * - UnavailableError (409/501-like, reported as 422): the model cannot do what was asked
 *   (e.g. cold start from text with a model that has no text tower).
 */
export class RecommenderError extends UserError {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'RecommenderError';
  }
}

export class NotFoundError extends RecommenderError {
  constructor(message: string, readonly ids: string[] = []) {
    super(message, 404, 'not_found');
    this.name = 'NotFoundError';
  }
}

export class InvalidArgumentError extends RecommenderError {
  constructor(message: string) {
    super(message, 400, 'invalid_argument');
    this.name = 'InvalidArgumentError';
  }
}

export class UnavailableError extends RecommenderError {
  constructor(message: string) {
    super(message, 422, 'unavailable');
    this.name = 'UnavailableError';
  }
}

/** A run directory that cannot be opened (owned by the run layer; re-exported with the serving errors). */
export { RunError } from '../run/errors.js';
