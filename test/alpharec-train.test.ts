/**
 * AlphaRec through the registry and the generic trainer: its descriptor's defaults, k negatives per
 * triple from the sampler to its loss (and through scalable mode's triple sample), and training
 * that learns on a two-community toy world.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load.js';
import { requiredText } from '../src/models/registry.js';
import { sampleBatch } from '../src/models/composed.js';
import { Tensor } from '../src/tensor/tensor.js';
import { train } from '../src/train/trainer.js';
import { Rng } from '../src/util/rng.js';
import { twoCommunities } from './helpers/datasets.js';

function world(users = 40, items = 30) {
  const ds = twoCommunities('/tmp/alpharec-train', users, items, 8, [5, 6]);
  const rng = new Rng(3);
  // item text that tells the two communities apart (plus noise)
  const itmPrf = new Tensor(Float32Array.from({ length: items * 8 }, (_, j) => (Math.floor(j / 8) < items / 2 ? 1 : -1) * (j % 8 === 0 ? 1 : 0) + 0.3 * rng.normal()), [items, 8]);
  return { ds, text: { itmPrf } };
}

describe('AlphaRec in the registry and the trainer', () => {
  it('resolves with its official keys and training values, needs only item profiles, takes no alignment', () => {
    const { config } = resolveConfig({ model: 'alpharec', preset: 'amazon' });
    expect(config.model).toMatchObject({ name: 'alpharec', align: 'none', layer_num: 2, tau: 0.15, keep_rate: 1, lm_model: 'text-embedding-ada-002', neg_num: 1 });
    expect(config.train).toMatchObject({ batch_size: 1024, test_step: 1, patience: 20 });
    expect(requiredText('none', 'alpharec')).toEqual(['itmPrf']);
    expect(() => resolveConfig({ model: 'alpharec', align: 'irllrec' })).toThrow();
  });

  it('scalable mode keeps each sampled triple with its k negatives', () => {
    const batch = { ancs: Int32Array.of(0, 1, 2, 3), poss: Int32Array.of(10, 11, 12, 13), negs: Int32Array.of(100, 101, 110, 111, 120, 121, 130, 131) };
    const s = sampleBatch(batch, 2, new Rng(7));
    expect(s.negs.length).toBe(4);
    for (let j = 0; j < 2; j++) {
      const t = s.ancs[j]!;
      expect(s.poss[j]).toBe(10 + t);
      expect([s.negs[2 * j], s.negs[2 * j + 1]]).toEqual([100 + 10 * t, 101 + 10 * t]);
    }
  });

  for (const negs of [1, 4]) {
    it(`trains with ${negs} negative(s) per triple: ssm_loss falls, and the ranking beats chance`, () => {
      const { ds, text } = world();
      const stats = { users: ds.numUsers, items: ds.numItems, train: ds.trainPairs.user.length };
      const { config } = resolveConfig({ model: 'alpharec', stats, sets: [`model.neg_num=${negs}`, 'model.lm_model=bert', 'optimizer.lr=0.01'] });
      const r = train({ config, dataset: ds, text, epochs: 30 });
      const losses = r.history.epochs.map((e) => e.losses.ssm_loss!);
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses.at(-1)!).toBeLessThan(losses[0]!);
      // 25 unseen candidates, the user's test items among their community's 10: chance Recall@5 is about 0.2
      expect(r.test['recall@5']!).toBeGreaterThan(0.27);
    });
  }
});
