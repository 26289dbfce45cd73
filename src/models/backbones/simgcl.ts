/**
 * SimGCL (Yu et al., SIGIR 2022) as the official code runs it: two perturbed forwards on the full
 * graph, where after each propagation layer E <- E + eps * sign(E) * normalize_rows(U(0,1)) (layer
 * 0 stays clean), and one clean forward; BPR on the clean one; cl_loss = cl_weight / B *
 * [NCE(v1_anc, v2_anc, v2_users) + NCE(v1_pos, v2_pos, v2_items)] (no negative-item term).
 * IRLLRec's interaction intents come from the clean forward.
 */
import type { NormalizedAdjacency } from '../../data/graph.js';
import type { PairBatch } from '../../data/sampler.js';
import { addN, spmm } from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource } from '../../util/rng.js';
import { LightGCNBackbone, type LightGCNConfig } from './lightgcn.js';
import { viewContrast, type ViewContrastConfig } from './sgl.js';
import { makeOutput, type BackboneOutput, type TrainForward } from './types.js';
import { CL_KEYS, defineBackbone } from '../descriptor.js';

export class SimGCLBackbone extends LightGCNBackbone {
  override readonly kind = 'simgcl';

  constructor(adj: NormalizedAdjacency, cfg: LightGCNConfig, readonly cl: ViewContrastConfig, readonly eps: number) {
    super(adj, cfg);
  }

  /** The noise term eps * sign(E) * normalize_rows(r), a constant w.r.t. E (sign has no gradient). */
  private noise(e: Tensor, rnd: RandomSource): Tensor {
    const [n, d] = [e.rows, e.cols];
    const r = rnd.rand(n * d);
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      let ss = 0;
      for (let c = 0; c < d; c++) ss += r[i * d + c]! * r[i * d + c]!;
      const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
      for (let c = 0; c < d; c++) {
        const x = e.data[i * d + c]!;
        out[i * d + c] = Math.fround(r[i * d + c]! * inv) * Math.sign(x) * this.eps;
      }
    }
    return new Tensor(out, [n, d]);
  }

  perturbed(input: Tensor, rnd: RandomSource): BackboneOutput {
    const layers = [input];
    for (let l = 0; l < this.cfg.layerNum; l++) {
      const e = spmm(this.adj.csr, layers[l]!);
      layers.push(addN([e, this.noise(e, rnd)]));
    }
    const all = addN(layers);
    const U = this.adj.numUsers;
    return makeOutput(all, U, layers, this.adj.csr);
  }

  override forwardTrain(rnd: RandomSource, input: Tensor, batch: PairBatch): TrainForward {
    const v1 = this.perturbed(input, rnd);
    const v2 = this.perturbed(input, rnd);
    const main = this.propagate(this.adj.csr, input);
    const terms: [string, Tensor][] = this.cl.clWeight === 0 ? [] : [['cl_loss', viewContrast(v1, v2, batch, this.cl, false)]];
    return { main, intent: main, terms };
  }
}

export const SIMGCL = defineBackbone({
  name: 'simgcl',
  // no keep_rate: SimGCL perturbs embeddings, it drops no edges
  keys: { ...CL_KEYS, eps: { kind: 'number', max: 1000 } }, // eps: the noise magnitude, official 0.1 / 0.9
  defaults: {
    amazon: { layer_num: 3, reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, eps: 0.9 },
    yelp: { layer_num: 3, reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, eps: 0.9 },
    movie: { layer_num: 3, reg_weight: 1e-6, cl_weight: 2e-2, cl_temperature: 0.1, eps: 0.1 },
  },
  views: 3,
  create: ({ adj, model: m }) => new SimGCLBackbone(
    adj, { embeddingSize: m.embedding_size, layerNum: m.layer_num, keepRate: 1 }, { clWeight: m.cl_weight, clTemperature: m.cl_temperature }, m.eps,
  ),
});
