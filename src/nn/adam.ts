/** Adam with PyTorch 1.13 semantics (weight_decay 0): per-parameter moments and step count. */
import { getKernels } from '../kernels/index.js';
import type { Tensor } from '../tensor/tensor.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface AdamState {
  step: number[];
  m: Float32Array[];
  v: Float32Array[];
}

export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly steps: number[];

  constructor(readonly params: readonly Tensor[], opts: AdamOptions) {
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
    this.steps = params.map(() => 0);
  }

  /** Updates every parameter that has a gradient (PyTorch skips grad=None; so do we). */
  step(): void {
    const k = getKernels();
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      if (!p.grad) continue;
      this.steps[i]! += 1;
      k.adam(p.size, p.data, p.grad, this.m[i]!, this.v[i]!, this.lr, this.beta1, this.beta2, this.eps, this.steps[i]!);
    }
  }

  state(): AdamState {
    return { step: [...this.steps], m: this.m.map((x) => Float32Array.from(x)), v: this.v.map((x) => Float32Array.from(x)) };
  }

  loadState(s: AdamState): void {
    if (s.m.length !== this.m.length) throw new Error(`optimizer state has ${s.m.length} parameters, expected ${this.m.length}`);
    for (let i = 0; i < this.m.length; i++) {
      this.m[i]!.set(s.m[i]!);
      this.v[i]!.set(s.v[i]!);
      this.steps[i] = s.step[i]!;
    }
  }
}
