/** Where the package lives (prompt templates, bundled data) and its version, from import.meta.url. */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/text/package.ts and dist/text/package.js both sit two levels below the package root. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: string | undefined;
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      cached = String((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0');
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
