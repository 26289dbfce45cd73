/**
 * A Float32Array tensor (row-major, at most 2-D in practice) and the autograd tape.
 *
 * Ops (src/tensor/ops/*) compute their forward with the active kernels and, when a tape is
 * recording and some input needs a gradient, push a closure that accumulates the input
 * gradients. `backward(loss)` runs the closures in reverse. Each op's gradient sits beside its
 * forward in the same file.
 */
import { alloc, allocUninit } from './arena.js';
import { getKernels } from '../kernels/index.js';
import { Scoped } from '../util/scoped.js';

export class Tensor {
  grad: Float32Array | null = null;
  /** Parameters and other long-lived tensors: their gradient buffer is never arena memory. */
  persistent = false;

  constructor(
    public data: Float32Array,
    public readonly shape: readonly number[],
    public requiresGrad = false,
    public name?: string,
  ) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) {
      throw new RangeError(`tensor${name ? ` ${name}` : ''}: data length ${data.length} does not match shape [${shape.join(', ')}]`);
    }
  }

  static zeros(shape: readonly number[], requiresGrad = false, name?: string): Tensor {
    return new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, requiresGrad, name);
  }

  static scalar(x: number): Tensor {
    return new Tensor(Float32Array.of(x), []);
  }

  get size(): number {
    return this.data.length;
  }

  /** Rows of a 2-D tensor (1 for a vector or scalar). */
  get rows(): number {
    return this.shape.length >= 2 ? this.shape[0]! : 1;
  }

  /** Columns of a 2-D tensor (length of a vector). */
  get cols(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1]!;
  }

  /** The scalar value of a 1-element tensor. */
  item(): number {
    if (this.data.length !== 1) throw new RangeError(`item() on a tensor of shape [${this.shape.join(', ')}]`);
    return this.data[0]!;
  }

  /** The gradient buffer, allocated (zeroed) on first use. */
  gradBuffer(): Float32Array {
    if (!this.grad) this.grad = this.persistent ? new Float32Array(this.data.length) : alloc(this.data.length);
    return this.grad;
  }

  /**
   * Where to accumulate a gradient: the existing buffer with beta = 1, or (first contribution) a
   * fresh buffer the caller must overwrite entirely, with beta = 0.
   */
  gradInto(): { buf: Float32Array; beta: number } {
    if (this.grad) return { buf: this.grad, beta: 1 };
    this.grad = this.persistent ? new Float32Array(this.data.length) : allocUninit(this.data.length);
    return { buf: this.grad, beta: 0 };
  }

  zeroGrad(): void {
    if (this.grad) this.grad.fill(0);
  }
}

/** t.grad += alpha * g (the first contribution is written, not added to a zero-filled buffer). */
export function accGrad(t: Tensor, alpha: number, g: Float32Array): void {
  const { buf, beta } = t.gradInto();
  getKernels().axpby(g.length, alpha, g, beta, buf);
}

/**
 * accGrad for a buffer the caller gives up (an op's own gradient scratch): when t has no
 * gradient yet, the buffer is scaled in place and becomes t's gradient, no copy.
 */
export function accGradOwned(t: Tensor, alpha: number, g: Float32Array): void {
  if (!t.grad && !t.persistent && g.length === t.data.length) {
    if (alpha !== 1) getKernels().axpby(g.length, alpha, g, 0, g);
    t.grad = g;
    return;
  }
  accGrad(t, alpha, g);
}

type BackwardFn = () => void;

/** Records backward closures while active. */
export class Tape {
  private readonly steps: BackwardFn[] = [];

  push(fn: BackwardFn): void {
    this.steps.push(fn);
  }

  get length(): number {
    return this.steps.length;
  }

  /** Seeds d(loss)/d(loss) = 1 and runs every recorded step in reverse, then clears the tape. */
  backward(loss: Tensor): void {
    if (loss.size !== 1) throw new RangeError('backward() needs a scalar loss');
    loss.gradBuffer()[0] = 1;
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]!();
    this.steps.length = 0;
  }
}

const active = new Scoped<Tape | null>(null);

/** Runs fn with `tape` recording (null: none); returns fn's result. */
export function withTape<T>(tape: Tape | null, fn: () => T): T {
  return active.with(tape, fn);
}

/** Runs fn with no tape (inference). */
export function noGrad<T>(fn: () => T): T {
  return withTape(null, fn);
}

/**
 * record() for an op with several outputs: marks each as needing a gradient and records
 * `backward`, which runs if any output received one (it reads their .grad itself).
 */
export function recordMulti(outs: readonly Tensor[], inputs: readonly Tensor[], backward: () => void): void {
  const tape = active.current;
  if (tape && inputs.some((t) => t.requiresGrad)) {
    for (const o of outs) o.requiresGrad = true;
    tape.push(() => {
      if (outs.some((o) => o.grad)) backward();
    });
  }
}

/**
 * If a tape is recording and any input needs a gradient, marks `out` as needing one and
 * records `backward` (called with out.grad, which is then guaranteed to exist).
 */
export function record(out: Tensor, inputs: readonly Tensor[], backward: (g: Float32Array) => void): Tensor {
  const tape = active.current;
  if (tape && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    tape.push(() => {
      if (out.grad) backward(out.grad);
    });
  }
  return out;
}
