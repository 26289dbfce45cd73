/**
 * The package's own metadata, in one place: where it is installed (prompt templates, bundled data)
 * and its version (written into every artifact's manifest), both from import.meta.url.
 *
 * (src/kernels/native.ts locates the compiled addon the same way but on its own: kernels sit below
 * util in the layering, see test/boundaries.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/util/package.ts and dist/util/package.js both sit two levels below the package root. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: string | undefined;
/** package.json's version ('0.0.0' if it cannot be read). */
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

/** The fields every manifest irllrec writes starts with: its kind and version, the writing package's version, when. */
export function manifestHeader<K extends string, V extends number>(kind: K, version: V): { kind: K; version: V; irllrec: string; created: string } {
  return { kind, version, irllrec: packageVersion(), created: new Date().toISOString() };
}
