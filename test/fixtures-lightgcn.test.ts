import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFixture, replayFixture } from './helpers/replay.js';
import { fixturesDir } from './shared.js';

const TOL = 1e-5;

describe('official fixtures: lightgcn', () => {
  for (const variant of ['yml', 'boosted']) {
    it(`replays lightgcn.json (${variant}) within 1e-5`, () => {
      const fx = loadFixture(join(fixturesDir, 'lightgcn.json'));
      const r = replayFixture(fx, variant);
      const bad = r.checks.filter((c) => !(c.maxRelErr <= TOL));
      expect(bad, JSON.stringify(bad)).toEqual([]);
      expect(r.termsChecked).toBeGreaterThan(300);
      // every kind of term was compared
      for (const what of ['losses.bpr_loss', 'losses.reg_loss', 'total_loss', 'grads.user_embeds', 'grads.item_embeds',
        'state_dict_after_step.item_embeds', 'full_predict.scores', 'full_predict.top5', 'graph.torch_adj.values']) {
        expect(r.checks.map((c) => c.what)).toContain(what);
      }
    });
  }

  it('detects a wrong result (the comparison can fail)', () => {
    const fx = loadFixture(join(fixturesDir, 'lightgcn.json'));
    fx.state_dict_init.user_embeds.data[0] += 0.01;
    const r = replayFixture(fx, 'yml');
    expect(r.maxRelErr).toBeGreaterThan(TOL);
  });
});
