/** Where the shared fixtures and datasets live (CI puts shared/ beside the clone). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = process.env.IRLLREC_SHARED ?? join(repoRoot, '..', 'shared');
export const fixturesDir = join(sharedDir, 'fixtures');
export const datasetsDir = join(sharedDir, 'datasets');
export const haveShared = existsSync(fixturesDir);
