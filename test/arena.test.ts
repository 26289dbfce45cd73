import { describe, expect, it } from 'vitest';
import { Arena, alloc, allocUninit, sizeClass, withArena } from '../src/tensor/arena.js';

describe('step arena', () => {
  it('size classes waste at most 25% and never round down', () => {
    for (const n of [1, 4096, 4097, 5000, 65537, 1_000_003, 12_345_678]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(Math.max(n, Math.ceil(n * 1.25)));
    }
  });

  it('a nearby size reuses the same backing buffer after reset, as an exact-length zeroed view', () => {
    const arena = new Arena();
    const first = withArena(arena, () => {
      const b = alloc(100_000);
      b.fill(7);
      return b;
    });
    arena.reset();
    const second = withArena(arena, () => alloc(99_000));
    expect(second.length).toBe(99_000);
    expect(second.buffer).toBe(first.buffer);
    expect(second.every((v) => v === 0)).toBe(true);
    arena.reset();
    const third = withArena(arena, () => allocUninit(100_500));
    expect(third.length).toBe(100_500);
    expect(third.buffer).toBe(first.buffer);
    // two live buffers of one class in one step are distinct
    arena.reset();
    withArena(arena, () => {
      const a = alloc(100_000);
      const b = alloc(100_000);
      expect(a.buffer).not.toBe(b.buffer);
    });
  });
});
