/**
 * MostPop: every user gets the same list, items ordered by their number of training
 * interactions (ties: lower item id first, the order of the top-K kernel). No parameters.
 */
import type { Dataset } from '../data/dataset.js';
import type { ScoreBlockFn } from '../eval/ranking.js';
import type { Baseline, BaselineLog } from './types.js';

export class MostPop implements Baseline {
  readonly name = 'mostpop';
  /** Training popularity per item (after fit). */
  popularity = new Float32Array(0);

  check(_ds: Dataset): void {}

  fit(ds: Dataset, log?: BaselineLog): void {
    const pop = new Float32Array(ds.numItems);
    const { indices } = ds.train;
    const nnz = ds.train.indptr[ds.numUsers];
    for (let p = 0; p < nnz; p++) pop[indices[p]]++;
    this.popularity = pop;
    let max = 0;
    for (let i = 0; i < pop.length; i++) if (pop[i] > max) max = pop[i];
    log?.(`mostpop: ${ds.numItems} items, most popular has ${max} training interactions`);
  }

  readonly scoreBlock: ScoreBlockFn = (users, out) => {
    const n = this.popularity.length;
    if (n === 0) throw new Error('mostpop: scoreBlock called before fit');
    for (let r = 0; r < users.length; r++) out.set(this.popularity, r * n);
  };

  params(): Record<string, number> {
    return {};
  }
}
