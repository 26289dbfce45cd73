import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFixture, replayFixture } from './helpers/replay.js';
import { fixturesDir } from './shared.js';

const TOL = 1e-5;

describe('official fixtures: LightGCN with text alignment', () => {
  for (const model of ['lightgcn_plus', 'lightgcn_gene', 'lightgcn_int']) {
    for (const variant of ['yml', 'boosted']) {
      it(`replays ${model}.json (${variant}) within 1e-5`, () => {
        const r = replayFixture(loadFixture(join(fixturesDir, `${model}.json`)), variant);
        const bad = r.checks.filter((c) => !(c.maxRelErr <= TOL));
        expect(bad, JSON.stringify(bad)).toEqual([]);
        expect(r.termsChecked).toBeGreaterThan(400);
      });
    }
  }
});
