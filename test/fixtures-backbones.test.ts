import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFixture, replayFixture } from './helpers/replay.js';
import { fixturesDir } from './shared.js';

const TOL = 1e-5;
const MODELS = ['sgl', 'sgl_plus', 'sgl_gene', 'sgl_int', 'simgcl', 'simgcl_plus', 'simgcl_gene', 'simgcl_int', 'dccf', 'dccf_plus', 'dccf_gene', 'dccf_int', 'bigcf', 'bigcf_plus', 'bigcf_gene', 'bigcf_int'];

describe('official fixtures: the other backbones', () => {
  for (const model of MODELS) {
    for (const variant of ['yml', 'boosted']) {
      it(`replays ${model}.json (${variant}) within 1e-5`, () => {
        const r = replayFixture(loadFixture(join(fixturesDir, `${model}.json`)), variant);
        const bad = r.checks.filter((c) => !(c.maxRelErr <= TOL));
        expect(bad, JSON.stringify(bad)).toEqual([]);
      });
    }
  }
});
