/**
 * The momentum teacher's pre-activation shortcut (H_m <- m H_m + (1-m) H_student) must equal a
 * recomputation from the EMA weights, and must not drift over a long run.
 */
import { describe, expect, it } from 'vitest';
import { EmaTeacher } from '../src/nn/ema.js';
import { MLP } from '../src/nn/mlp.js';
import { ParamStore } from '../src/nn/params.js';
import { Tensor } from '../src/tensor/tensor.js';
import { Rng } from '../src/util/rng.js';

function setup(resyncEvery: number, shortcut: boolean) {
  const rng = new Rng(11);
  const params = new ParamStore();
  const student = new MLP(params, 'int_mlp', [64, 40, 8], rng);
  const teacher = new MLP(params, 'int_mlp_m', [64, 40, 8], rng, false);
  const x = new Tensor(Float32Array.from({ length: 50 * 64 }, () => rng.normal()), [50, 64]);
  return { rng, student, teacher, x, ema: new EmaTeacher(student, teacher, 0.999, resyncEvery, shortcut) };
}

/** Moves the student weights like an optimizer would (small random steps). */
function perturb(student: MLP, rng: Rng, size: number) {
  for (const t of student.tensors()) for (let i = 0; i < t.size; i++) t.data[i]! += size * rng.normal();
}

describe('EMA teacher shortcut', () => {
  it('matches recomputing the teacher from its EMA weights, step by step', () => {
    const a = setup(0, true);
    const b = setup(0, false);
    for (let step = 0; step < 200; step++) {
      const outA = a.ema.step([a.x], [a.student.pre(a.x)]);
      const outB = b.ema.step([b.x], [b.student.pre(b.x)]);
      outA[0]!.data.forEach((v, i) => expect(Math.abs(v - outB[0]!.data[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
      perturb(a.student, a.rng, 1e-3);
      perturb(b.student, b.rng, 1e-3);
    }
  });

  it('does not drift over 5000 updates without resync (bounded by the contraction m = 0.999)', () => {
    const { rng, student, x, ema } = setup(0, true);
    const drift: number[] = [];
    for (let step = 1; step <= 5000; step++) {
      ema.step([x], [student.pre(x)]);
      perturb(student, rng, 1e-3);
      if (step % 1000 === 0) drift.push(ema.drift([x]));
    }
    console.log(`EMA shortcut drift after 1000..5000 updates: ${drift.map((d) => d.toExponential(2)).join(', ')}`);
    // the gap stays at float32 rounding level and does not grow with the number of updates
    for (const d of drift) expect(d).toBeLessThan(1e-5);
    expect(drift.at(-1)!).toBeLessThan(4 * drift[0]! + 1e-7);
  });

  it('resync makes the cache exact', () => {
    const { rng, student, x, ema } = setup(100, true);
    for (let step = 1; step <= 100; step++) {
      ema.step([x], [student.pre(x)]);
      perturb(student, rng, 1e-3);
    }
    expect(ema.drift([x])).toBe(0);
  });
});
