/**
 * The plain TypeScript reference backend. Simple, obviously-correct loops: this is both the
 * fallback when the native addon is missing and the oracle the native kernels are tested against.
 * Reductions and GEMM inner products accumulate in float64 and round to float32 once.
 */
import type { Kernels } from './types.js';

function fail(msg: string): never {
  throw new RangeError(`irllrec kernels (js): ${msg}`);
}

function need(name: string, arr: { length: number }, n: number): void {
  if (arr.length < n) fail(`${name} too small: needs ${n} elements, has ${arr.length}`);
}

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) fail(`${name} must be a non-negative integer, got ${v}`);
}

/** Offset of row `row` (cols wide) in a buffer of `length` elements; fails (naming `op`) when the row is not inside. */
function rowOffset(op: string, row: number, cols: number, length: number): number {
  if (row < 0 || (row + 1) * cols > length) fail(`${op}: index ${row} out of range`);
  return row * cols;
}

/**
 * A GEMM operand as stored (`rows` x `cols`, row-major, leading dimension ld; `trans`: the transposed
 * one): ld >= max(1, cols) (`colName` names cols in the message) and enough elements.
 */
function checkOperand(name: 'A' | 'B' | 'C', arr: { length: number }, ld: number, trans: boolean, rows: number, cols: number, colName: string): void {
  if (ld < Math.max(1, cols)) fail(`ld${name.toLowerCase()} (${ld}) < ${colName} (${cols})${trans ? ` with trans${name}` : ''}`);
  need(name, arr, span(rows, cols, ld));
}

/** Elements a row-major matrix view of `rows` rows, `cols` used columns and leading dim ld needs. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

export const jsKernels: Kernels = {
  name: 'js',
  info: 'js (TypeScript reference kernels)',

  gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
    checkDim('M', M); checkDim('N', N); checkDim('K', K);
    checkOperand('C', C, ldc, false, M, N, 'N');
    if (transA) checkOperand('A', A, lda, true, K, M, 'M');
    else checkOperand('A', A, lda, false, M, K, 'K');
    if (transB) checkOperand('B', B, ldb, true, N, K, 'K');
    else checkOperand('B', B, ldb, false, K, N, 'N');
    if (M === 0 || N === 0) return;
    const acc = new Float64Array(N);
    const arow = transA && transB ? new Float64Array(K) : null;
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      if (alpha !== 0 && transB) {
        // op(B) columns are rows of B: dot products along contiguous rows
        if (arow) for (let p = 0; p < K; p++) arow[p] = A[p * lda + i];
        const ao = i * lda;
        for (let j = 0; j < N; j++) {
          const bo = j * ldb;
          let s = 0;
          if (arow) for (let p = 0; p < K; p++) s += arow[p] * B[bo + p];
          else for (let p = 0; p < K; p++) s += A[ao + p] * B[bo + p];
          acc[j] = s;
        }
      } else if (alpha !== 0) {
        for (let p = 0; p < K; p++) {
          const a = transA ? A[p * lda + i] : A[i * lda + p];
          const bo = p * ldb;
          for (let j = 0; j < N; j++) acc[j] += a * B[bo + j];
        }
      }
      const co = i * ldc;
      if (beta === 0) {
        for (let j = 0; j < N; j++) C[co + j] = alpha * acc[j];
      } else {
        for (let j = 0; j < N; j++) C[co + j] = alpha * acc[j] + beta * C[co + j];
      }
    }
  },

  spmm(rows, n, indptr, indices, values, X, beta, Y, bias, sum) {
    checkDim('rows', rows); checkDim('n', n);
    need('indptr', indptr, rows + 1);
    const nnz = rows > 0 ? indptr[rows] : 0;
    need('indices', indices, nnz); need('values', values, nnz);
    need('Y', Y, rows * n);
    if (bias) need('bias', bias, rows * n);
    if (sum) need('sum', sum, rows * n);
    const acc = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      acc.fill(0);
      const s = indptr[r], e = indptr[r + 1];
      if (s < 0 || e < s || e > nnz) fail(`indptr not monotone at row ${r}`);
      for (let q = s; q < e; q++) {
        const c = indices[q];
        if (c < 0 || (c + 1) * n > X.length) fail(`column index ${c} out of range for X`);
        const v = values[q], xo = c * n;
        for (let j = 0; j < n; j++) acc[j] += v * X[xo + j];
      }
      const yo = r * n;
      if (bias) {
        // the bias joins beta * Y first (float32), then the product: as if added into Y beforehand
        for (let j = 0; j < n; j++) Y[yo + j] = acc[j] + Math.fround(beta === 0 ? bias[yo + j] : beta * Y[yo + j] + bias[yo + j]);
      } else if (beta === 0) for (let j = 0; j < n; j++) Y[yo + j] = acc[j];
      else for (let j = 0; j < n; j++) Y[yo + j] = acc[j] + beta * Y[yo + j];
      if (sum) for (let j = 0; j < n; j++) sum[yo + j] += Y[yo + j];
    }
  },

  spmmT(rows, cols, n, indptr, indices, values, X, beta, Y) {
    checkDim('rows', rows); checkDim('cols', cols); checkDim('n', n);
    need('indptr', indptr, rows + 1);
    const nnz = rows > 0 ? indptr[rows] : 0;
    need('indices', indices, nnz); need('values', values, nnz);
    need('X', X, rows * n); need('Y', Y, cols * n);
    const acc = new Float64Array(cols * n);
    for (let r = 0; r < rows; r++) {
      const s = indptr[r], e = indptr[r + 1];
      if (s < 0 || e < s || e > nnz) fail(`indptr not monotone at row ${r}`);
      const xo = r * n;
      for (let q = s; q < e; q++) {
        const c = indices[q];
        if (c < 0 || c >= cols) fail(`column index ${c} out of range (cols=${cols})`);
        const v = values[q], ao = c * n;
        for (let j = 0; j < n; j++) acc[ao + j] += v * X[xo + j];
      }
    }
    const total = cols * n;
    if (beta === 0) for (let i = 0; i < total; i++) Y[i] = acc[i];
    else for (let i = 0; i < total; i++) Y[i] = acc[i] + beta * Y[i];
  },

  softmaxRows(rows, cols, X, Y, lse) {
    need('X', X, rows * cols); need('Y', Y, rows * cols);
    if (lse) need('lse', lse, rows);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mx = -Infinity;
      for (let c = 0; c < cols; c++) if (X[o + c] > mx) mx = X[o + c];
      if (mx === -Infinity) mx = 0;
      let s = 0;
      for (let c = 0; c < cols; c++) {
        const e = Math.fround(Math.exp(X[o + c] - mx));
        Y[o + c] = e;
        s += e;
      }
      if (lse) lse[r] = mx + Math.log(s); // an all -inf row: mx = 0, s = 0 -> -inf
      const inv = 1 / s;
      for (let c = 0; c < cols; c++) Y[o + c] = Y[o + c] * inv;
    }
  },

  logSumExpRows(rows, cols, X, out) {
    need('X', X, rows * cols); need('out', out, rows);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let mx = -Infinity, nan = false;
      for (let c = 0; c < cols; c++) {
        const v = X[o + c];
        if (v !== v) nan = true;
        else if (v > mx) mx = v;
      }
      // NaN anywhere gives NaN; an infinite max gives that infinity.
      if (nan) { out[r] = NaN; continue; }
      if (mx === -Infinity || mx === Infinity) { out[r] = mx; continue; }
      let s = 0;
      for (let c = 0; c < cols; c++) s += Math.exp(X[o + c] - mx);
      out[r] = mx + Math.log(s);
    }
  },

  l2NormalizeRows(rows, cols, X, eps, Y, norms) {
    need('X', X, rows * cols); need('Y', Y, rows * cols); need('norms', norms, rows);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += X[o + c] * X[o + c];
      const nrm = Math.sqrt(s);
      norms[r] = nrm;
      const inv = 1 / Math.max(nrm, eps);
      for (let c = 0; c < cols; c++) Y[o + c] = X[o + c] * inv;
    }
  },

  gatherRows(cols, src, idx, dst) {
    const n = idx.length;
    need('dst', dst, n * cols);
    for (let i = 0; i < n; i++) {
      const so = rowOffset('gatherRows', idx[i], cols, src.length), d = i * cols;
      for (let c = 0; c < cols; c++) dst[d + c] = src[so + c];
    }
  },

  scatterAddRows(cols, src, idx, dst) {
    const n = idx.length;
    need('src', src, n * cols);
    for (let i = 0; i < n; i++) {
      const to = rowOffset('scatterAddRows', idx[i], cols, dst.length), so = i * cols;
      for (let c = 0; c < cols; c++) dst[to + c] += src[so + c];
    }
  },

  softmaxRowsBackward(rows, cols, Y, G, GX) {
    need('Y', Y, rows * cols); need('G', G, rows * cols); need('GX', GX, rows * cols);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += G[o + c] * Y[o + c];
      const sf = Math.fround(s);
      for (let c = 0; c < cols; c++) GX[o + c] += Y[o + c] * (G[o + c] - sf);
    }
  },

  rowDot(rows, cols, A, B, out) {
    need('A', A, rows * cols); need('B', B, rows * cols); need('out', out, rows);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += A[o + c] * B[o + c];
      out[r] = s;
    }
  },

  axpy(n, alpha, x, y) {
    need('x', x, n); need('y', y, n);
    const a = Math.fround(alpha);
    for (let i = 0; i < n; i++) y[i] += a * x[i];
  },

  axpby(n, alpha, x, beta, y) {
    need('x', x, n); need('y', y, n);
    const a = Math.fround(alpha), b = Math.fround(beta);
    if (b === 0) for (let i = 0; i < n; i++) y[i] = a * x[i];
    else for (let i = 0; i < n; i++) y[i] = a * x[i] + b * y[i];
  },

  mul(n, a, b, out) {
    need('a', a, n); need('b', b, n); need('out', out, n);
    for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
  },

  sum(n, x) {
    need('x', x, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i];
    return s;
  },

  sumSquares(n, x) {
    need('x', x, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * x[i];
    return s;
  },

  dot(n, x, y) {
    need('x', x, n); need('y', y, n);
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] * y[i];
    return s;
  },

  adam(n, param, grad, m, v, lr, beta1, beta2, eps, step) {
    need('param', param, n); need('grad', grad, n); need('m', m, n); need('v', v, n);
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2 = 1 - Math.pow(beta2, step);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (let i = 0; i < n; i++) {
      const g = grad[i];
      const mi = (m[i] = beta1 * m[i] + (1 - beta1) * g);
      const vi = (v[i] = beta2 * v[i] + (1 - beta2) * g * g);
      param[i] -= (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
  },

  leakyRelu(n, slope, x, y) {
    need('x', x, n); need('y', y, n);
    for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : x[i] * slope;
  },

  leakyReluBackward(n, slope, x, g, beta, dx) {
    need('x', x, n); need('g', g, n); need('dx', dx, n);
    for (let i = 0; i < n; i++) {
      const d = x[i] > 0 ? g[i] : g[i] * slope;
      dx[i] = beta === 0 ? d : beta * dx[i] + d;
    }
  },

  keepMaskXoshiro(state, n, threshold, out) {
    checkDim('n', n); need('state', state, 4); need('out', out, n);
    let s0 = state[0] | 0, s1 = state[1] | 0, s2 = state[2] | 0, s3 = state[3] | 0;
    for (let i = 0; i < n; i++) {
      const x = Math.imul(s1, 5);
      const result = Math.imul((x << 7) | (x >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = result >>> 8 >= threshold ? 1 : 0;
    }
    state[0] = s0; state[1] = s1; state[2] = s2; state[3] = s3;
  },

  compactDroppedEdges(rows, indptr, indices, values, kept, perm, indptrS, indicesS, valuesS, indptrT, indicesT, valuesT) {
    checkDim('rows', rows);
    need('indptr', indptr, rows + 1); need('indptrS', indptrS, rows + 1); need('indptrT', indptrT, rows + 1);
    if (indptr[0] !== 0) fail('compactDroppedEdges: indptr[0] must be 0');
    for (let r = 0; r < rows; r++) if (indptr[r + 1] < indptr[r]) fail('compactDroppedEdges: indptr must be non-decreasing');
    const nnz = indptr[rows];
    need('indices', indices, nnz); need('values', values, nnz); need('kept', kept, nnz); need('perm', perm, nnz);
    need('indicesS', indicesS, nnz); need('valuesS', valuesS, nnz); need('indicesT', indicesT, nnz); need('valuesT', valuesT, nnz);
    for (let p = 0; p < nnz; p++) if (!(perm[p] >= 0 && perm[p] < nnz)) fail(`compactDroppedEdges: perm[${p}] = ${perm[p]} is outside [0, ${nnz})`);
    let qs = 0;
    let qt = 0;
    indptrS[0] = 0;
    indptrT[0] = 0;
    for (let r = 0; r < rows; r++) {
      for (let p = indptr[r]; p < indptr[r + 1]; p++) {
        if (kept[perm[p]]) { indicesS[qs] = indices[p]; valuesS[qs++] = values[p]; }
        if (kept[p]) { indicesT[qt] = indices[p]; valuesT[qt++] = values[p]; }
      }
      indptrS[r + 1] = qs;
      indptrT[r + 1] = qt;
    }
  },

  sddmm(rows, d, indptr, indices, X, Y, beta, out) {
    checkDim('rows', rows); checkDim('d', d);
    need('indptr', indptr, rows + 1); need('X', X, rows * d);
    const nnz = rows > 0 ? indptr[rows] : 0;
    need('indices', indices, nnz); need('out', out, nnz);
    for (let r = 0; r < rows; r++) {
      if (indptr[r + 1] < indptr[r]) fail('sddmm: indptr must be non-decreasing');
      for (let e = indptr[r]; e < indptr[r + 1]; e++) {
        const c = indices[e];
        if (!(c >= 0 && (c + 1) * d <= Y.length)) fail(`sddmm: column index ${c} is outside Y`);
        let s = 0;
        for (let j = 0; j < d; j++) s += X[r * d + j] * Y[c * d + j];
        out[e] = beta === 0 ? s : s + beta * out[e];
      }
    }
  },

  rowAxpby(rows, cols, alpha, X, beta, Y) {
    checkDim('rows', rows); checkDim('cols', cols);
    need('alpha', alpha, rows); need('X', X, rows * cols); need('Y', Y, rows * cols);
    if (beta) need('beta', beta, rows);
    for (let r = 0; r < rows; r++) {
      const a = alpha[r], o = r * cols;
      if (beta) {
        const b = beta[r];
        for (let j = 0; j < cols; j++) Y[o + j] = Math.fround(Math.fround(a * X[o + j]) + Math.fround(b * Y[o + j]));
      } else for (let j = 0; j < cols; j++) Y[o + j] = a * X[o + j];
    }
  },

  bprForward(B, d, A, P, N, coef) {
    checkDim('B', B); checkDim('d', d);
    need('A', A, B * d); need('P', P, B * d); need('N', N, B * d); need('coef', coef, B);
    let loss = 0;
    for (let r = 0; r < B; r++) {
      const o = r * d;
      let sp = 0;
      let sn = 0;
      for (let c = 0; c < d; c++) {
        sp += A[o + c] * P[o + c];
        sn += A[o + c] * N[o + c];
      }
      const x = Math.fround(Math.fround(sn) - Math.fround(sp));
      loss += x > 20 ? x : Math.log1p(Math.exp(x));
      coef[r] = 1 / (1 + Math.exp(-x)) / B;
    }
    return loss;
  },

  bprBackward(B, d, A, P, N, coef, scale, gA, gP, gN) {
    checkDim('B', B); checkDim('d', d);
    need('A', A, B * d); need('P', P, B * d); need('N', N, B * d); need('coef', coef, B);
    if (gA) need('gA', gA, B * d);
    if (gP) need('gP', gP, B * d);
    if (gN) need('gN', gN, B * d);
    for (let r = 0; r < B; r++) {
      const c = coef[r] * scale;
      const o = r * d;
      for (let k = 0; k < d; k++) {
        if (gA) gA[o + k] += c * (N[o + k] - P[o + k]);
        if (gP) gP[o + k] -= c * A[o + k];
        if (gN) gN[o + k] += c * A[o + k];
      }
    }
  },

  topkRows(rows, cols, X, k, outIdx, outVal) {
    checkDim('rows', rows); checkDim('cols', cols); checkDim('k', k);
    if (k > cols) fail(`topkRows: k (${k}) > cols (${cols})`);
    need('X', X, rows * cols); need('outIdx', outIdx, rows * k); need('outVal', outVal, rows * k);
    if (k === 0) return;
    // Rank order: larger value first; NaN below everything; equal values (-0 == +0) by lower index.
    // below(a, b): entry a ranks strictly below entry b.
    let o = 0;
    const below = (ia: number, ib: number): boolean => {
      const va = X[o + ia], vb = X[o + ib];
      const na = va !== va, nb = vb !== vb;
      if (na !== nb) return na;
      if (!na && va !== vb) return va < vb;
      return ia > ib;
    };
    // A min-heap (root = lowest ranked kept entry) of column indices.
    const heap = new Int32Array(k);
    const siftDown = (n: number, i: number): void => {
      const v = heap[i];
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const m = l + 1 < n && below(heap[l + 1], heap[l]) ? l + 1 : l;
        if (!below(heap[m], v)) break;
        heap[i] = heap[m];
        i = m;
      }
      heap[i] = v;
    };
    for (let r = 0; r < rows; r++) {
      o = r * cols;
      for (let c = 0; c < k; c++) {
        // sift up
        let i = c;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (!below(c, heap[p])) break;
          heap[i] = heap[p];
          i = p;
        }
        heap[i] = c;
      }
      for (let c = k; c < cols; c++) {
        if (below(heap[0], c)) {
          heap[0] = c;
          siftDown(k, 0);
        }
      }
      // pop lowest first into the tail of the output
      for (let n = k; n > 0; n--) {
        const top = heap[0];
        heap[0] = heap[n - 1];
        siftDown(n - 1, 0);
        outIdx[r * k + n - 1] = top;
        outVal[r * k + n - 1] = X[o + top];
      }
    }
  },
};
