/**
 * Serving does not load the LLM client: no module of src/serve/ imports src/text/llm.ts, directly
 * or through other modules (type-only imports aside; the OpenAI embedder loads it on first use).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPENAI_DEFAULT_BASE_URL } from '../src/serve/embedder.js';
import { DEFAULT_BASE_URL } from '../src/text/llm.js';
import { repoRoot } from './shared.js';

const src = join(repoRoot, 'src');

/** Runtime imports of a module (paths under src/): `import ... from`, `export ... from`, bare `import '...'`; not `import type` / `export type`. */
function runtimeImports(rel: string): string[] {
  const text = readFileSync(join(src, rel), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s)?[^;]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gms)) {
    if (m[2]) continue;
    const spec = m[3] ?? m[4]!;
    out.push(posix.normalize(posix.join(dirname(rel), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

describe('serving and the LLM client', () => {
  it('no src/serve/ module reaches src/text/llm.ts', () => {
    for (const f of readdirSync(join(src, 'serve')).filter((n) => n.endsWith('.ts'))) {
      const start = `serve/${f}`;
      const from = new Map<string, string | null>([[start, null]]);
      const queue = [start];
      while (queue.length) {
        const cur = queue.shift()!;
        for (const d of runtimeImports(cur)) if (!from.has(d)) {
          from.set(d, cur);
          queue.push(d);
        }
      }
      const chain: string[] = [];
      for (let c: string | null | undefined = from.has('text/llm.ts') ? 'text/llm.ts' : undefined; c; c = from.get(c)) chain.unshift(c);
      expect(chain, `${start} imports the LLM client: ${chain.join(' -> ')}`).toEqual([]);
    }
  });

  it('the OpenAI default base URL serving uses is the LLM client\'s', () => {
    expect(OPENAI_DEFAULT_BASE_URL).toBe(DEFAULT_BASE_URL);
  });
});
