/**
 * Finite-difference checks for every differentiable op: the analytic gradient of
 * f = sum(op(inputs) * R) (R random) must match central differences.
 */
import { describe, expect, it } from 'vitest';
import * as ops from '../src/tensor/ops/index.js';
import { Tape, Tensor, withTape } from '../src/tensor/tensor.js';
import { bprLoss } from '../src/tensor/ops/losses.js';
import { Rng } from '../src/util/rng.js';
import { setContrastiveBlockEntries } from '../src/tensor/ops/contrastive.js';

const rng = new Rng(7);

function randT(shape: number[], lo = -1, hi = 1): Tensor {
  const t = Tensor.zeros(shape, true);
  for (let i = 0; i < t.size; i++) t.data[i] = lo + (hi - lo) * rng.float();
  return t;
}

function gradCheck(name: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, h = 1e-2, tol = 2e-3): void {
  const probe = f(...inputs);
  const R = Float64Array.from({ length: probe.size }, () => rng.float() * 2 - 1);
  const objective = () => {
    const out = f(...inputs);
    let s = 0;
    for (let i = 0; i < out.size; i++) s += out.data[i]! * R[i]!;
    return s;
  };
  for (const x of inputs) x.grad = null;
  const tape = new Tape();
  const out = withTape(tape, () => f(...inputs));
  const seed = new Tensor(Float32Array.from(R), out.shape);
  // loss = sum(out * R) via the tape: seed out.grad with R directly
  out.grad = Float32Array.from(seed.data);
  const loss = new Tensor(Float32Array.of(0), []);
  tape.backward(loss);
  let checked = 0;
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    const g = x.grad ?? new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const old = x.data[i]!;
      x.data[i] = old + h;
      const fp = objective();
      x.data[i] = old - h;
      const fm = objective();
      x.data[i] = old;
      const num = (fp - fm) / (2 * h);
      const err = Math.abs(num - g[i]!) / Math.max(1, Math.abs(num));
      expect(err, `${name}: input ${k} element ${i}: analytic ${g[i]} vs numeric ${num}`).toBeLessThan(tol);
      checked++;
    }
  });
  expect(checked).toBeGreaterThan(0);
}

describe('finite-difference gradients of every op', () => {
  it('matmul, all transposes', () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = randT(ta ? [4, 3] : [3, 4]);
      const b = randT(tb ? [5, 4] : [4, 5]);
      gradCheck(`matmul ${ta} ${tb}`, [a, b], (x, y) => ops.matmul(x!, y!, ta, tb));
    }
  });
  it('linear with and without bias', () => {
    gradCheck('linear+b', [randT([3, 4]), randT([5, 4]), randT([5])], (x, w, b) => ops.linear(x!, w!, b!));
    gradCheck('linear', [randT([3, 4]), randT([5, 4])], (x, w) => ops.linear(x!, w!));
  });
  it('spmm with and without an explicit transpose', () => {
    const S: ops.CsrMatrix = {
      rows: 3, cols: 4,
      indptr: Int32Array.of(0, 2, 2, 5), indices: Int32Array.of(0, 3, 1, 2, 3), values: Float32Array.of(0.5, -1, 2, 0.25, 1.5),
    };
    gradCheck('spmm (spmmT backward)', [randT([4, 3])], (x) => ops.spmm(S, x!));
    const T: ops.CsrMatrix = {
      rows: 4, cols: 3,
      indptr: Int32Array.of(0, 1, 2, 3, 5), indices: Int32Array.of(0, 2, 2, 0, 2), values: Float32Array.of(0.5, 2, 0.25, -1, 1.5),
    };
    gradCheck('spmm (transposed CSR backward)', [randT([4, 3])], (x) => ops.spmm({ ...S, transposed: T }, x!));
  });
  it('fused LightGCN propagation (propagateSum): gradients, and the same numbers as spmm + addN', () => {
    // a symmetric 5x5 pattern given as S with its transpose, and without (spmmT backward)
    const S: ops.CsrMatrix = {
      rows: 5, cols: 5,
      indptr: Int32Array.of(0, 2, 4, 6, 8, 10), indices: Int32Array.of(1, 4, 0, 2, 1, 3, 2, 4, 0, 3),
      values: Float32Array.of(0.5, -1, 0.7, 0.25, 1.5, 0.3, -0.6, 0.9, 0.2, 1.1),
    };
    const T: ops.CsrMatrix = { ...S, values: Float32Array.of(0.7, 0.2, 0.5, 1.5, 0.25, -0.6, 0.3, 1.1, -1, 0.9) };
    const withT = { ...S, transposed: T };
    for (const graph of [S, withT]) {
      gradCheck('propagateSum: sum', [randT([5, 3])], (x) => ops.propagateSum(graph, x!, 3).sum);
      // a layer consumed besides the sum: its own gradient joins the recursion
      gradCheck('propagateSum: sum + layer 2', [randT([5, 3])], (x) => {
        const r = ops.propagateSum(graph, x!, 3);
        return ops.add(r.sum, ops.scale(r.layers[2]!, 0.7));
      });
      gradCheck('propagateSum: last layer only', [randT([5, 3])], (x) => ops.propagateSum(graph, x!, 2).layers[2]!);
      gradCheck('propagateSum: no layers (sum = input)', [randT([5, 3])], (x) => ops.propagateSum(graph, x!, 0).sum);
    }
    // bit-identical to the unfused ops, forward and backward (x0 with a gradient already there)
    const run = (fused: boolean): Float32Array[] => {
      const x = randT([5, 3]);
      x.data.set(Float32Array.from({ length: 15 }, (_, i) => Math.sin(i + 1)));
      x.grad = Float32Array.from({ length: 15 }, (_, i) => 0.01 * i);
      const tape = new Tape();
      const out = withTape(tape, () => {
        let sum: Tensor, layers: Tensor[];
        if (fused) ({ sum, layers } = ops.propagateSum(withT, x, 3));
        else {
          layers = [x];
          for (let l = 0; l < 3; l++) layers.push(ops.spmm(withT, layers[l]!));
          sum = ops.addN(layers);
        }
        return ops.add(ops.scale(sum, 1.3), ops.scale(layers[1]!, -0.4));
      });
      out.grad = Float32Array.from({ length: 15 }, (_, i) => Math.cos(i));
      tape.backward(new Tensor(Float32Array.of(0), []));
      return [Float32Array.from(out.data), Float32Array.from(x.grad!)];
    };
    const [a, b] = [run(false), run(true)];
    expect(Array.from(b[0]!)).toEqual(Array.from(a[0]!));
    expect(Array.from(b[1]!)).toEqual(Array.from(a[1]!));
  });
  it('elementwise ops', () => {
    gradCheck('addN', [randT([2, 3]), randT([2, 3]), randT([2, 3])], (a, b, c) => ops.addN([a!, b!, c!]));
    gradCheck('lincomb', [randT([2, 3]), randT([2, 3])], (a, b) => ops.lincomb(0.3, a!, -2, b!));
    gradCheck('sub', [randT([2, 3]), randT([2, 3])], (a, b) => ops.sub(a!, b!));
    gradCheck('scale', [randT([2, 3])], (a) => ops.scale(a!, -1.7));
    gradCheck('mul', [randT([2, 3]), randT([2, 3])], (a, b) => ops.mul(a!, b!));
    gradCheck('softplus', [randT([2, 3], -3, 3)], (a) => ops.softplus(a!));
    gradCheck('leakyRelu', [randT([2, 3], -3, 3)], (a) => ops.leakyRelu(a!, 0.01));
    gradCheck('exp', [randT([2, 3])], (a) => ops.exp(a!));
    gradCheck('log', [randT([2, 3], 0.5, 2)], (a) => ops.log(a!));
    gradCheck('sigmoid', [randT([2, 3], -3, 3)], (a) => ops.sigmoid(a!));
    gradCheck('addScalar', [randT([2, 3])], (a) => ops.addScalar(a!, 0.5));
  });
  it('reductions', () => {
    gradCheck('sum', [randT([3, 4])], (a) => ops.sum(a!));
    gradCheck('mean', [randT([3, 4])], (a) => ops.mean(a!));
    gradCheck('sumSquares', [randT([3, 4])], (a) => ops.sumSquares(a!));
    gradCheck('rowDot', [randT([3, 4]), randT([3, 4])], (a, b) => ops.rowDot(a!, b!));
    gradCheck('sumScalars', [randT([1]), randT([1])], (a, b) => ops.sumScalars([ops.sum(a!), ops.sum(b!)]));
  });
  it('row indexing', () => {
    gradCheck('gatherRows (duplicates)', [randT([4, 3])], (a) => ops.gatherRows(a!, Int32Array.of(2, 0, 2, 3)));
    gradCheck('concatRows', [randT([2, 3]), randT([1, 3])], (a, b) => ops.concatRows([a!, b!]));
    gradCheck('sliceRows', [randT([4, 3])], (a) => ops.sliceRows(a!, 1, 3));
  });
  it('softmax family and normalisation', () => {
    gradCheck('softmaxRows', [randT([3, 5], -2, 2)], (a) => ops.softmaxRows(a!));
    gradCheck('logSumExpRows', [randT([3, 5], -2, 2)], (a) => ops.logSumExpRows(a!));
    gradCheck('logSoftmaxRows', [randT([3, 5], -2, 2)], (a) => ops.logSoftmaxRows(a!));
    gradCheck('l2NormalizeRows', [randT([3, 5])], (a) => ops.l2NormalizeRows(a!), 1e-3);
  });
  it('fused contrastive losses (blocked InfoNCE and ssl_con)', () => {
    gradCheck('infoNCE', [randT([4, 3]), randT([4, 3]), randT([6, 3])], (x, y, a) => ops.infoNCE(x!, y!, a!, 0.5), 1e-3);
    gradCheck('infoNCE (all = y)', [randT([4, 3]), randT([4, 3])], (x, y) => ops.infoNCE(x!, y!, y!, 0.2), 1e-3);
    gradCheck('sslConLoss', [randT([5, 3]), randT([5, 3])], (x, y) => ops.sslConLoss(x!, y!, 0.5), 1e-3);
    gradCheck('sslConLoss t=1', [randT([5, 3]), randT([5, 3])], (x, y) => ops.sslConLoss(x!, y!, 1), 1e-3);
  });
  it('sslConLoss with a fixed target (no y gradient) and with scores re-associated through a linear layer', () => {
    // y without a gradient: the dx-only path
    const yFixed = randT([6, 4]);
    yFixed.requiresGrad = false;
    gradCheck('sslConLoss, fixed y', [randT([6, 4]), yFixed], (x, y) => ops.sslConLoss(x!, y!, 0.5), 1e-3);
    // x = linear(h, W, b) with h narrow enough (N = 40, d = 16, h = 4) for the factored scores
    const h = randT([40, 4]);
    const W = randT([16, 4]);
    const b = randT([16]);
    const target = randT([40, 16]);
    target.requiresGrad = false;
    const viaFactors = (hh: Tensor, ww: Tensor, bb: Tensor) =>
      ops.sslConLoss(ops.linear(hh, ww, bb), target, 0.7, { hidden: hh.data, weight: ww.data, bias: bb.data, h: 4 });
    gradCheck('sslConLoss, factored scores', [h, W, b], viaFactors, 1e-2, 3e-3);
    const plain = (hh: Tensor, ww: Tensor, bb: Tensor) => ops.sslConLoss(ops.linear(hh, ww, bb), target, 0.7);
    const grads = (f: typeof plain) => {
      for (const t of [h, W, b]) t.grad = null;
      const tape = new Tape();
      const l = withTape(tape, () => f(h, W, b));
      tape.backward(l);
      return [l.item(), ...[h, W, b].flatMap((t) => Array.from(t.grad!))];
    };
    const [a, c] = [grads(plain), grads(viaFactors)];
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - c[i]!), `entry ${i}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(a[i]!)));
  });
  it('blocked contrastive losses equal the one-block result (values and gradients)', () => {
    const x = randT([37, 5]);
    const y = randT([37, 5]);
    const a = randT([23, 5]);
    const run = () => {
      for (const t of [x, y, a]) t.grad = null;
      const tape = new Tape();
      const l1 = withTape(tape, () => ops.sumScalars([ops.infoNCE(x, y, a, 0.3), ops.sslConLoss(x, y, 0.7)]));
      tape.backward(l1);
      return [l1.item(), ...x.grad!, ...y.grad!, ...a.grad!];
    };
    const whole = run();
    const prev = setContrastiveBlockEntries(23 * 3); // 3 rows per block, last block partial
    const blocked = run();
    setContrastiveBlockEntries(prev);
    whole.forEach((v, i) => expect(Math.abs(v - blocked[i]!)).toBeLessThan(1e-6 * Math.max(1, Math.abs(v))));
  });
  it('intent edge weights, weighted propagation, row masking', () => {
    // 4 nodes, 6 directed edges in CSR order by head
    const edges = { rows: 4, indptr: Int32Array.of(0, 2, 3, 5, 6), indices: Int32Array.of(1, 2, 0, 0, 3, 2), rowOf: Int32Array.of(0, 0, 1, 2, 2, 3) };
    gradCheck('intentEdgeWeights', [randT([4, 3])], (v) => ops.intentEdgeWeights(v!, edges), 1e-3);
    gradCheck('spmmValues', [randT([6], 0.1, 1), randT([4, 3])], (w, x) => ops.spmmValues(edges, w!, x!));
    gradCheck('maskRows', [randT([4, 3]), randT([1, 3])], (x, t) => ops.maskRows(x!, Int32Array.of(1, 3), t!));
  });
  it('BPR loss (composite)', () => {
    gradCheck('bpr', [randT([4, 3]), randT([4, 3]), randT([4, 3])], (a, p, n) => bprLoss(a!, p!, n!));
  });
  it('the checker itself catches a wrong gradient', () => {
    const a = randT([2, 2]);
    const wrong = (x: Tensor) => {
      const out = ops.scale(x, 2);
      return out;
    };
    // compare scale(2)'s gradient against a function computing 3x: must fail
    expect(() => gradCheck('wrong', [a], (x) => {
      const y = wrong(x!);
      y.data.forEach((v, i) => (y.data[i] = v * 1.5));
      return y;
    })).toThrow();
  });
});

describe('edge dropout fast path', () => {
  it('Rng.keepMask gives exactly the flags of rand() + keep rate, from the same stream', async () => {
    const { Rng } = await import('../src/util/rng.js');
    for (const keep of [0.8, 0.5, 0.9, 0.1]) {
      const a = new Rng(42);
      const b = new Rng(42);
      const r = a.rand(100000);
      const m = b.keepMask(100000, keep);
      const k32 = Math.fround(keep);
      let kept = 0;
      for (let i = 0; i < r.length; i++) {
        expect(m[i]).toBe(Math.fround(r[i]! + k32) >= 1 ? 1 : 0);
        kept += m[i]!;
      }
      expect(Math.abs(kept / r.length - keep)).toBeLessThan(0.01);
      expect(a.nextU32()).toBe(b.nextU32());
    }
  });
});
