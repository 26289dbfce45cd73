/**
 * Buffer reuse for training steps. Allocating a fresh multi-megabyte Float32Array costs more
 * than the kernels that fill it (page faults, zeroing, GC), so while an arena is active every op
 * output and every non-parameter gradient comes from size-keyed free lists, and `reset()` at the
 * end of a step returns them all. Buffers are always handed out zero-filled.
 *
 * Anything that must outlive the step (parameter gradients, caches such as the EMA teacher's)
 * allocates outside the arena (`persistent()`); parameters' gradient buffers are persistent.
 */
import { Scoped } from '../util/scoped.js';

const SMALL = 4096;

/**
 * The capacity a request of n floats is served from: n rounded up to 4 classes per octave (at most
 * 25% unused). Sizes that vary a little from step to step (the number of distinct items a batch
 * draws) then reuse one buffer instead of faulting in a fresh one each step.
 */
export function sizeClass(n: number): number {
  if (n <= SMALL) return n;
  const grain = 2 ** (Math.floor(Math.log2(n)) - 2);
  return Math.ceil(n / grain) * grain;
}

export class Arena {
  private free = new Map<number, Float32Array[]>();
  private used: Float32Array[] = [];

  /** A view of exactly n floats on a buffer of n's size class. */
  alloc(n: number, zero = true): Float32Array {
    if (n < SMALL) return new Float32Array(n);
    const cap = sizeClass(n);
    const b = this.free.get(cap)?.pop();
    const backing = b ?? new Float32Array(cap);
    this.used.push(backing);
    const out = cap === n ? backing : backing.subarray(0, n);
    if (b && zero) out.fill(0);
    return out;
  }

  /**
   * Returns every buffer handed out since the last reset to the free lists. Only sizes used in
   * this step are kept: sizes that vary from step to step would otherwise pile up.
   */
  reset(): void {
    const next = new Map<number, Float32Array[]>();
    for (const b of this.used) {
      let list = next.get(b.length);
      if (!list) next.set(b.length, (list = []));
      list.push(b);
    }
    this.free = next;
    this.used = [];
  }

  /** Drops everything (frees memory). */
  clear(): void {
    this.free.clear();
    this.used = [];
  }
}

const active = new Scoped<Arena | null>(null);

/** A zero-filled buffer: from the active arena if there is one. */
export function alloc(n: number): Float32Array {
  const a = active.current;
  return a ? a.alloc(n) : new Float32Array(n);
}

/**
 * A buffer whose contents are unspecified (a recycled one is not cleared): for outputs the
 * caller overwrites entirely.
 */
export function allocUninit(n: number): Float32Array {
  const a = active.current;
  return a ? a.alloc(n, false) : new Float32Array(n);
}

/** An Int32Array with unspecified contents, sharing the arena's storage (e.g. a step's CSR indices). */
export function allocInt32Uninit(n: number): Int32Array {
  const f = allocUninit(n);
  return new Int32Array(f.buffer, f.byteOffset, n);
}

/** A copy of src's contents. */
export function allocCopy(src: Float32Array): Float32Array {
  const out = allocUninit(src.length);
  out.set(src);
  return out;
}

/** Runs fn with `arena` active (null: none); returns fn's result. */
export function withArena<T>(arena: Arena | null, fn: () => T): T {
  return active.with(arena, fn);
}

/** Runs fn with no arena: its allocations outlive the current step. */
export function persistent<T>(fn: () => T): T {
  return withArena(null, fn);
}
