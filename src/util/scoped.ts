/**
 * A dynamically scoped module-level value (the active arena, the active autograd tape):
 * `with(value, fn)` sets it, runs fn and restores the previous value however fn ends.
 */
export class Scoped<V> {
  constructor(public current: V) {}

  with<T>(value: V, fn: () => T): T {
    const prev = this.current;
    this.current = value;
    try {
      return fn();
    } finally {
      this.current = prev;
    }
  }
}
