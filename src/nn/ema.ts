/**
 * The momentum (EMA) teacher of IRLLRec's interaction-text matching: a frozen copy of the
 * intent MLP updated as theta_m <- m * theta_m + (1 - m) * theta once per batch, before the
 * teacher's forward, with the pre-step student.
 *
 * Exact shortcut: the teacher's first layer sees the same fixed text vectors X as the student,
 * and its pre-activation is linear in the weights, so
 *   H_m(new) = X W_m(new)^T + b_m(new) = m * H_m(old) + (1 - m) * H_student,
 * where H_student is the student's pre-activation that the batch computed anyway. We keep H_m
 * as state and skip the teacher's big GEMM. Float rounding makes the recursion differ from a
 * recomputation by a bounded amount (the recursion is contractive, factor m); `resyncEvery`
 * recomputes H_m exactly now and then, and a test measures the gap.
 */
import { getKernels } from '../kernels/index.js';
import { leakyRelu, linear } from '../tensor/ops/index.js';
import { noGrad, Tensor } from '../tensor/tensor.js';
import { persistent } from '../tensor/arena.js';
import type { MLP } from './mlp.js';

export class EmaTeacher {
  /** Cached first-layer pre-activations, one per input block (e.g. users, items). */
  private cache: Float32Array[] | null = null;
  private updates = 0;

  constructor(
    readonly student: MLP,
    readonly teacher: MLP,
    readonly momentum = 0.999,
    readonly resyncEvery = 1000,
    readonly useShortcut = true,
  ) {}

  /** theta_m <- m theta_m + (1-m) theta on every teacher tensor. */
  private updateWeights(): void {
    const k = getKernels();
    const s = this.student.tensors();
    this.teacher.tensors().forEach((t, i) => k.axpby(t.size, 1 - this.momentum, s[i]!.data, this.momentum, t.data));
  }

  /** Outside the step arena: the cache lives across steps. */
  private recompute(inputs: Tensor[]): Float32Array[] {
    return persistent(() => noGrad(() => inputs.map((x) => linear(x, this.teacher.w0, this.teacher.b0).data)));
  }

  /**
   * One momentum update and the teacher's outputs for `inputs`, given the student's first-layer
   * pre-activations for the same inputs (computed this batch with the pre-step weights).
   */
  step(inputs: Tensor[], studentPre: Tensor[]): Tensor[] {
    const k = getKernels();
    if (this.useShortcut && !this.cache) this.cache = this.recompute(inputs);
    this.updateWeights();
    this.updates++;
    let pre: Float32Array[];
    if (!this.useShortcut) pre = this.recompute(inputs);
    else if (this.resyncEvery > 0 && this.updates % this.resyncEvery === 0) pre = this.cache = this.recompute(inputs);
    else {
      pre = this.cache!;
      pre.forEach((h, i) => k.axpby(h.length, 1 - this.momentum, studentPre[i]!.data, this.momentum, h));
    }
    return noGrad(() =>
      pre.map((h, i) => linear(leakyRelu(new Tensor(h, [inputs[i]!.rows, this.teacher.w0.rows]), 0.01), this.teacher.w2, this.teacher.b2)),
    );
  }

  /**
   * Scalable mode: one momentum update and the teacher's outputs for rows that change every step
   * (a sample), computed in full (the cached-pre-activation shortcut needs the same rows each step).
   */
  stepOn(inputs: Tensor[]): Tensor[] {
    this.updateWeights();
    this.updates++;
    return noGrad(() =>
      inputs.map((x) => linear(leakyRelu(linear(x, this.teacher.w0, this.teacher.b0), 0.01), this.teacher.w2, this.teacher.b2)),
    );
  }

  /** Largest |cached - recomputed| / max(1, |recomputed|) (for the drift test and diagnostics). */
  drift(inputs: Tensor[]): number {
    if (!this.cache) return 0;
    const exact = this.recompute(inputs);
    let worst = 0;
    exact.forEach((e, i) => {
      const c = this.cache![i]!;
      for (let j = 0; j < e.length; j++) worst = Math.max(worst, Math.abs(c[j]! - e[j]!) / Math.max(1, Math.abs(e[j]!)));
    });
    return worst;
  }

  /** Drops the cache (after weights are loaded from elsewhere). */
  invalidate(): void {
    this.cache = null;
  }
}
