/**
 * The memory budget: sizes read from files and flags are checked against it BEFORE anything is
 * allocated, so a declared size (a pickled shape, an id, `--set model.embedding_size=...`) can never
 * make the process grow until V8 gives up ("Array buffer allocation failed").
 *
 * - Default: min(8 GiB, 70% of the machine's memory).
 * - `IRLLREC_MEMORY_BUDGET`: bytes (`4000000000`) or a size with a binary unit (`512M`, `4G`,
 *   `1.5GiB`, `2T`); a value that is not a size is a user error.
 *
 * `checkAlloc(bytes, what, where)` throws a one-line user error naming `where` (a file or a config
 * key), `what` is asked for, the size asked and the budget; readers pass a factory so the error is
 * their own class (DataError, ConfigError).
 */
import { totalmem } from 'node:os';
import { UserError } from './errors.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

/** The default budget's upper cap. */
export const DEFAULT_BUDGET_CAP = 8 * GiB;
/** The default budget's share of the machine's memory. */
export const DEFAULT_BUDGET_SHARE = 0.7;
/** The environment variable that overrides the budget. */
export const BUDGET_ENV = 'IRLLREC_MEMORY_BUDGET';

/** A size asked for is larger than the memory budget (a user error: exit 2). */
export class MemoryLimitError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

const UNITS: Record<string, number> = { '': 1, k: KiB, m: MiB, g: GiB, t: TiB };

/** Parses `4G`, `512M`, `1.5GiB`, `4096`, `4e9` (binary units; a trailing B / iB is optional); null when not a size. */
export function parseByteSize(s: string): number | null {
  const m = /^\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) return null;
  const v = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isFinite(v) || v < 1) return null;
  return Math.floor(v);
}

/** The memory budget in bytes (read from the environment on every call, so tests can set it). */
export function memoryBudget(): number {
  const raw = process.env[BUDGET_ENV];
  if (raw !== undefined && raw.trim() !== '') {
    const v = parseByteSize(raw);
    if (v === null) throw new UserError(`${BUDGET_ENV}=${JSON.stringify(raw)}: expected a number of bytes or a size such as 512M, 4G`);
    return v;
  }
  return Math.min(DEFAULT_BUDGET_CAP, Math.floor(DEFAULT_BUDGET_SHARE * totalmem()));
}

/** A short human size: `512 B`, `3.1 MiB`, `8.0 GiB`, `7.3e+6 TiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  if (n < KiB) return `${Math.round(n)} B`;
  if (n < MiB) return `${(n / KiB).toFixed(1)} KiB`;
  if (n < GiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n < TiB) return `${(n / GiB).toFixed(1)} GiB`;
  const t = n / TiB;
  return t < 1e5 ? `${t.toFixed(1)} TiB` : `${t.toPrecision(2)} TiB`;
}

/**
 * The one-line reason `bytes` for `what` cannot be allocated, or null when it fits the budget.
 * A non-finite or negative size never fits.
 */
export function allocProblem(bytes: number, what: string): string | null {
  const budget = memoryBudget();
  if (Number.isFinite(bytes) && bytes >= 0 && bytes <= budget) return null;
  return `${what} would need ${formatBytes(bytes)}, more than the memory budget of ${formatBytes(budget)} (${BUDGET_ENV} sets it)`;
}

/** Makes the error thrown by {@link checkAlloc}: `where` is a file or a config key, `detail` the reason. */
export type LimitErrorFactory = (where: string, detail: string) => Error;

const defaultFactory: LimitErrorFactory = (where, detail) => new MemoryLimitError(`${where}: ${detail}`);

/**
 * Throws (before anything is allocated) when `bytes` for `what` exceed the memory budget; `where`
 * names the file or key the size came from. `make` chooses the error class (default
 * {@link MemoryLimitError}, a user error).
 */
export function checkAlloc(bytes: number, what: string, where: string, make: LimitErrorFactory = defaultFactory): void {
  const p = allocProblem(bytes, what);
  if (p !== null) throw make(where, p);
}
