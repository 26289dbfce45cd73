/** The query builder: rec.query(users).k(20).excludeSeen('all').exclude([...]).explain().toArray(). */
import type { Recommender } from './recommender.js';
import type { Explanation, Id, RecommendOptions, UserRecommendations } from './types.js';

/** A fluent query, LanceDB style: rec.query(users).k(20).excludeSeen(false).toArray(). */
export class RecommendQuery {
  private readonly o: RecommendOptions = {};
  private withExplain = false;

  constructor(private readonly rec: Recommender, private readonly users: Id[]) {}

  k(n: number): this {
    this.o.k = n;
    return this;
  }

  /** Alias of k(n), as LanceDB's limit(). */
  limit(n: number): this {
    return this.k(n);
  }

  excludeSeen(v: boolean | 'train' | 'all' = true): this {
    this.o.excludeSeen = v;
    return this;
  }

  exclude(items: Id[]): this {
    this.o.exclude = [...(this.o.exclude ?? []), ...items];
    return this;
  }

  candidates(items: Id[]): this {
    this.o.candidates = items;
    return this;
  }

  /** Attach an explanation to every recommended item. */
  explain(on = true): this {
    this.withExplain = on;
    return this;
  }

  toArray(): (UserRecommendations & { explanations?: Explanation[] })[] {
    const res = this.rec.recommend(this.users, this.o);
    if (!this.withExplain) return res;
    return res.map((r) => ({ ...r, explanations: r.items.map((it) => this.rec.explain(r.user, it.item)) }));
  }
}
