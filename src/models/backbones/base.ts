/** What the graph backbones share: their width and depth, and the embedding tables they register. */
import type { NormalizedAdjacency } from '../../data/graph.js';
import { xavierUniform } from '../../nn/init.js';
import type { ParamStore } from '../../nn/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../util/rng.js';

/** The config fields every graph backbone has. */
export interface GraphConfig {
  embeddingSize: number;
  layerNum: number;
}

/** A backbone over the normalised adjacency: `dim` and `layerNum` come from its config. */
export abstract class GraphBackbone<C extends GraphConfig> {
  constructor(readonly adj: NormalizedAdjacency, readonly cfg: C) {}

  get dim(): number {
    return this.cfg.embeddingSize;
  }

  get layerNum(): number {
    return this.cfg.layerNum;
  }
}

/** A graph backbone with intent prototypes (DCCF, BIGCF): user and item tables plus d x K prototypes per side. */
export abstract class IntentBackbone<C extends GraphConfig & { intentNum: number }> extends GraphBackbone<C> {
  userEmbeds!: Tensor;
  itemEmbeds!: Tensor;
  prototypes!: { user: Tensor; item: Tensor };

  /**
   * Registers the user and item tables under the reference's names, then `user_intent` and
   * `item_intent` (Xavier-uniform, drawn in that order).
   */
  protected registerTables(params: ParamStore, rng: Rng, userName: string, itemName: string): void {
    const d = this.cfg.embeddingSize;
    const K = this.cfg.intentNum;
    this.userEmbeds = params.add(userName, xavierUniform([this.adj.numUsers, d], rng));
    this.itemEmbeds = params.add(itemName, xavierUniform([this.adj.numItems, d], rng));
    this.prototypes = {
      user: params.add('user_intent', xavierUniform([d, K], rng)),
      item: params.add('item_intent', xavierUniform([d, K], rng)),
    };
  }
}
