/** Model names -> factories. Official config names (lightgcn, lightgcn_int, ...) are accepted. */
import type { Config } from '../config/schema.js';
import type { NormalizedAdjacency } from '../data/graph.js';
import type { Rng } from '../util/rng.js';
import { LightGCN } from './backbones/lightgcn.js';
import type { RecModel } from './types.js';

type Factory = (cfg: Config, adj: NormalizedAdjacency, rng: Rng) => RecModel;

const FACTORIES: Record<string, Factory> = {
  lightgcn: (cfg, adj, rng) =>
    new LightGCN(adj, {
      embeddingSize: cfg.model.embedding_size,
      layerNum: cfg.model.layer_num,
      regWeight: cfg.model.reg_weight,
      keepRate: cfg.model.keep_rate,
    }, rng),
};

const ALIASES: Record<string, string> = { LightGCN: 'lightgcn' };

export function canonicalModelName(name: string): string {
  const n = ALIASES[name] ?? name;
  if (!FACTORIES[n]) throw new Error(`unknown model "${name}" (supported: ${supportedModels().join(', ')})`);
  return n;
}

export function supportedModels(): string[] {
  return Object.keys(FACTORIES);
}

export function createModel(cfg: Config, adj: NormalizedAdjacency, rng: Rng): RecModel {
  return FACTORIES[canonicalModelName(cfg.model.name)]!(cfg, adj, rng);
}
