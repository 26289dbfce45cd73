/**
 * Where the test data lives.
 *
 * - Golden fixtures (recorded from the official code) are copied into the repository under
 *   test/fixtures/golden, so every fixture replay runs on a fresh clone; IRLLREC_FIXTURES
 *   points the tests at another copy (e.g. a regenerated ../shared/fixtures).
 * - Real data sets stay in ../shared/datasets (CI puts shared/ beside the clone; IRLLREC_SHARED
 *   overrides the location). Tests that need them skip without it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesDir = resolve(process.env.IRLLREC_FIXTURES ?? join(repoRoot, 'test', 'fixtures', 'golden'));
export const sharedDir = process.env.IRLLREC_SHARED ?? join(repoRoot, '..', 'shared');
export const datasetsDir = join(sharedDir, 'datasets');
/** Whether ../shared (its data sets) is present; the golden fixtures do not depend on it. */
export const haveShared = existsSync(datasetsDir);
