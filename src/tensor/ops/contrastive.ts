/**
 * Fused contrastive losses, computed in row blocks so no (rows x candidates) matrix is ever
 * materialised whole (the reference's translation-alignment term is N x N over all users and
 * items). Both losses are scalars, so the gradient is computed together with the forward, per
 * block, and kept as small per-row buffers; backward only scales them by the upstream gradient.
 *
 * - infoNCE: the reference's `cal_infonce_loss` (rows normalised by sqrt(1e-8 + |x|^2), a SUM
 *   over rows of -x.y/t + log sum_m exp(x.a_m/t), the positive included in the denominator).
 * - sslConLoss: the reference's `ssl_con_loss` (F.normalize with eps 1e-12, the MEAN over rows of
 *   -log(exp(x_n.y_n/t) / (sum_m exp(x_n.y_m/t) + 1e-8) + 1e-8)).
 */
import { alloc, allocUninit } from '../arena.js';
import { getKernels } from '../../kernels/index.js';
import { Tensor, accGrad, accGradOwned, record } from '../tensor.js';
import { normalizeBackward, normalizeRows } from './normalize.js';

/** Candidate-matrix entries per block (4 MB of scratch: the block stays in cache between its passes). */
let blockEntries = 1 << 20;

/** Sets the block size in entries (tests use tiny blocks to exercise the blocking). */
export function setContrastiveBlockEntries(n: number): number {
  const prev = blockEntries;
  blockEntries = Math.max(1, Math.floor(n));
  return prev;
}

/**
 * Rows per block. With wide rows (d large) the three GEMMs per block dominate and small blocks
 * only re-pack the candidate matrix, so the block grows with d (RLMRec-Gen's 1536-wide
 * reconstruction runs as one block).
 */
function blockRows(cols: number, d = 32): number {
  const entries = blockEntries * Math.max(1, d / 32);
  return Math.max(1, Math.min(8192, Math.floor(entries / Math.max(1, cols))));
}

function dims(t: Tensor, what: string): [number, number] {
  if (t.shape.length !== 2) throw new RangeError(`${what}: expected a 2-D tensor, got [${t.shape.join(', ')}]`);
  return [t.shape[0]!, t.shape[1]!];
}

function scaledBackward(inputs: Tensor[], locals: Float32Array[]): (g: Float32Array) => void {
  return (g) => {
    inputs.forEach((t, i) => {
      // the same tensor may appear twice (x = y): only its first local buffer can be handed over
      if (t.requiresGrad) (inputs.indexOf(t) === i ? accGradOwned : accGrad)(t, g[0]!, locals[i]!);
    });
  };
}

/**
 * sum_n [ -x̂_n.ŷ_n / t + log sum_m exp(x̂_n.â_m / t) ] with x̂ = x / sqrt(1e-8 + |x|^2).
 * `all` may be a different tensor from y (the reference passes y's full table or y itself).
 */
export function infoNCE(x: Tensor, y: Tensor, all: Tensor, temp: number): Tensor {
  const k = getKernels();
  const [B, d] = dims(x, 'infoNCE');
  const [By, dy] = dims(y, 'infoNCE');
  const [M, da] = dims(all, 'infoNCE');
  if (By !== B || dy !== d || da !== d) {
    throw new RangeError(`infoNCE: shapes [${x.shape}], [${y.shape}], [${all.shape}] do not fit`);
  }
  const EPS = 1e-8;
  const nx = normalizeRows(x.data, B, d, EPS, 'sqrtEps');
  const ny = normalizeRows(y.data, B, d, EPS, 'sqrtEps');
  const na = normalizeRows(all.data, M, d, EPS, 'sqrtEps');
  const gx = alloc(B * d);
  const gy = alloc(B * d);
  const ga = alloc(M * d);
  const inv = 1 / temp;
  let loss = 0;
  // numerator: -x̂.ŷ/t, computed as the reference does (elementwise product, then row sum)
  for (let n = 0; n < B; n++) {
    const o = n * d;
    let s = 0;
    for (let c = 0; c < d; c++) s += nx.y[o + c]! * ny.y[o + c]! * inv;
    loss -= s;
    for (let c = 0; c < d; c++) {
      gx[o + c] = -ny.y[o + c]! * inv;
      gy[o + c] = -nx.y[o + c]! * inv;
    }
  }
  const br = blockRows(M, d);
  const P = alloc(Math.min(br, B) * M);
  const lse = alloc(Math.min(br, B));
  for (let r0 = 0; r0 < B; r0 += br) {
    const rb = Math.min(br, B - r0);
    const xb = nx.y.subarray(r0 * d, (r0 + rb) * d);
    const Pb = P.subarray(0, rb * M);
    k.gemm(false, true, rb, M, d, inv, xb, d, na.y, d, 0, Pb, M);
    k.softmaxRows(rb, M, Pb, Pb, lse);
    for (let i = 0; i < rb; i++) loss += lse[i]!;
    // d/dx̂_n += sum_m P_nm â_m / t ; d/dâ_m += sum_n P_nm x̂_n / t
    k.gemm(false, false, rb, d, M, inv, Pb, M, na.y, d, 1, gx.subarray(r0 * d, (r0 + rb) * d), d);
    k.gemm(true, false, M, d, rb, inv, Pb, M, xb, d, 1, ga, d);
  }
  normalizeBackward(gx, nx.y, nx.s, B, d, EPS, 'sqrtEps');
  normalizeBackward(gy, ny.y, ny.s, B, d, EPS, 'sqrtEps');
  normalizeBackward(ga, na.y, na.s, M, d, EPS, 'sqrtEps');
  return record(new Tensor(Float32Array.of(loss), []), [x, y, all], scaledBackward([x, y, all], [gx, gy, ga]));
}

/**
 * x given as the output of a linear layer, x = hidden weight^T + bias (hidden N x h, weight d x h),
 * so the N x N scores can be re-associated through the narrower hidden width.
 */
export interface LinearFactors {
  hidden: Float32Array;
  weight: Float32Array;
  bias: Float32Array | null;
  h: number;
}

/**
 * With factors, the scores x̂ ŷ^T / t are computed as diag(r / t) (H (ŷ W)^T + (ŷ b)) (r the
 * inverse row norms of x): N d h + N^2 (h + 1) multiply-adds instead of N^2 d. The same numbers
 * up to float rounding; used only where it saves at least a tenth.
 */
function factoredScores(f: LinearFactors | undefined, N: number, d: number): boolean {
  if (!f) return false;
  return N * d * f.h + N * N * (f.h + 1) < 0.9 * N * N * d;
}

/**
 * mean_n -log( exp(x̂_n.ŷ_n/t) / (sum_m exp(x̂_n.ŷ_m/t) + 1e-8) + 1e-8 ), x̂ = F.normalize(x).
 */
export function sslConLoss(x: Tensor, y: Tensor, temp = 1, factors?: LinearFactors): Tensor {
  const k = getKernels();
  const [N, d] = dims(x, 'sslConLoss');
  const [Ny, dy] = dims(y, 'sslConLoss');
  if (Ny !== N || dy !== d) throw new RangeError(`sslConLoss: shapes [${x.shape}] and [${y.shape}] differ`);
  // a side that needs no gradient (RLMRec-Gen's fixed profile targets) skips its N x N x d GEMM
  const needX = x.requiresGrad;
  const needY = y.requiresGrad;
  const EPS = 1e-12;
  const nx = normalizeRows(x.data, N, d, EPS, 'clamp');
  const ny = normalizeRows(y.data, N, d, EPS, 'clamp');
  const diag = new Float32Array(N);
  k.rowDot(N, d, nx.y, ny.y, diag);
  const gx = needX ? allocUninit(N * d) : new Float32Array(0);
  const gy = needY ? alloc(N * d) : new Float32Array(0);
  const inv = 1 / temp;
  const br = blockRows(N, d);
  const P = allocUninit(Math.min(br, N) * N);
  let haug: Float32Array | null = null;
  let zaug: Float32Array | null = null;
  const ka = factors ? factors.h + 1 : 0;
  if (factors && factoredScores(factors, N, d)) {
    const h = factors.h;
    if (factors.hidden.length < N * h || factors.weight.length < d * h || (factors.bias && factors.bias.length < d)) {
      throw new RangeError(`sslConLoss: factors do not match x [${N}, ${d}] with hidden width ${h}`);
    }
    // Z = [ŷ W, ŷ b] (N x (h+1)); Haug = diag(r / t) [H, 1]
    zaug = allocUninit(N * ka);
    k.gemm(false, false, N, h, d, 1, ny.y, d, factors.weight, h, 0, zaug, ka);
    if (factors.bias) k.gemm(false, false, N, 1, d, 1, ny.y, d, factors.bias, 1, 0, zaug.subarray(h), ka);
    else for (let n = 0; n < N; n++) zaug[n * ka + h] = 0;
    const sc = new Float32Array(N);
    for (let n = 0; n < N; n++) sc[n] = inv / Math.max(nx.s[n]!, EPS);
    const hs = allocUninit(N * h);
    k.rowAxpby(N, h, sc, factors.hidden, null, hs);
    haug = allocUninit(N * ka);
    for (let n = 0; n < N; n++) {
      haug.set(hs.subarray(n * h, (n + 1) * h), n * ka);
      haug[n * ka + h] = sc[n]!;
    }
  }
  const lse = new Float32Array(Math.min(br, N));
  const coef = new Float32Array(Math.min(br, N));
  let loss = 0;
  for (let r0 = 0; r0 < N; r0 += br) {
    const rb = Math.min(br, N - r0);
    const xb = nx.y.subarray(r0 * d, (r0 + rb) * d);
    const Pb = P.subarray(0, rb * N);
    if (haug && zaug) k.gemm(false, true, rb, N, ka, 1, haug.subarray(r0 * ka, (r0 + rb) * ka), ka, zaug, ka, 0, Pb, N);
    else k.gemm(false, true, rb, N, d, inv, xb, d, ny.y, d, 0, Pb, N);
    k.softmaxRows(rb, N, Pb, Pb, lse);
    const dn = new Float64Array(rb);
    for (let i = 0; i < rb; i++) {
      const n = r0 + i;
      const a = Math.exp(diag[n]! * inv);
      const D = Math.exp(lse[i]!);
      const q = a / (D + 1e-8);
      loss += -Math.log(q + 1e-8);
      // dL/da and dL/dD for this row (mean over N folded in)
      const dq = -1 / (q + 1e-8) / N;
      const dA = dq / (D + 1e-8);
      const dD = -dq * a / ((D + 1e-8) * (D + 1e-8));
      // denominator part: dS_nm = dD * exp(S_nm/t) / t = dD * D * P_nm / t
      coef[i] = dD * D * inv;
      // numerator part: dS_nn += dA * a / t
      dn[i] = dA * a * inv;
    }
    // dS = diag(coef) P + diag(dn) (the gradient w.r.t. the block's scores)
    if (needY) {
      // dS in place of P; then dx = dS ŷ and dy += dS^T x̂ are plain GEMMs
      k.rowAxpby(rb, N, coef, Pb, null, Pb);
      for (let i = 0; i < rb; i++) Pb[i * N + r0 + i] = Pb[i * N + r0 + i]! + dn[i]!;
      if (needX) k.gemm(false, false, rb, d, N, 1, Pb, N, ny.y, d, 0, gx.subarray(r0 * d, (r0 + rb) * d), d);
      k.gemm(true, false, N, d, rb, 1, Pb, N, xb, d, 1, gy, d);
    } else if (needX) {
      // only dx: scale the (narrower) product's rows instead of P, dx = coef (P ŷ) + dn ŷ
      const gxb = gx.subarray(r0 * d, (r0 + rb) * d);
      k.gemm(false, false, rb, d, N, 1, Pb, N, ny.y, d, 0, gxb, d);
      k.rowAxpby(rb, d, Float32Array.from(dn), ny.y.subarray(r0 * d, (r0 + rb) * d), coef, gxb);
    }
  }
  if (needX) normalizeBackward(gx, nx.y, nx.s, N, d, EPS, 'clamp');
  if (needY) normalizeBackward(gy, ny.y, ny.s, N, d, EPS, 'clamp');
  return record(new Tensor(Float32Array.of(loss / N), []), [x, y], scaledBackward([x, y], [gx, gy]));
}
