/** Named, ordered parameters (the order of PyTorch's named_parameters(), which Adam follows). */
import { Tensor } from '../tensor/tensor.js';

export class ParamStore {
  private readonly byName = new Map<string, Tensor>();

  add(name: string, t: Tensor, trainable = true): Tensor {
    if (this.byName.has(name)) throw new Error(`duplicate parameter name ${name}`);
    t.name = name;
    t.requiresGrad = trainable;
    t.persistent = true;
    this.byName.set(name, t);
    return t;
  }

  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) throw new Error(`unknown parameter ${name}`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entries(): [string, Tensor][] {
    return [...this.byName.entries()];
  }

  /** Trainable parameters in registration order. */
  trainable(): Tensor[] {
    return [...this.byName.values()].filter((t) => t.requiresGrad);
  }

  all(): Tensor[] {
    return [...this.byName.values()];
  }

  zeroGrad(): void {
    for (const t of this.byName.values()) t.zeroGrad();
  }

  /** A deep copy of every parameter's values (e.g. the best state during early stopping). */
  snapshot(): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (const [k, t] of this.byName) m.set(k, Float32Array.from(t.data));
    return m;
  }

  /** Loads values by name; shapes must match; every parameter must be present. */
  load(values: Map<string, Float32Array> | Record<string, Float32Array>, what = 'state'): void {
    const get = (k: string) => (values instanceof Map ? values.get(k) : values[k]);
    for (const [k, t] of this.byName) {
      const v = get(k);
      if (!v) throw new Error(`${what}: missing parameter ${k}`);
      if (v.length !== t.size) throw new Error(`${what}: parameter ${k} has ${v.length} values, expected ${t.size} (shape [${t.shape.join(', ')}])`);
      t.data.set(v);
    }
  }
}
