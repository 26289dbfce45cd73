/**
 * The user-item bipartite graph as the reference builds it: nodes are users 0..U-1 then items
 * U..U+I-1; A is the symmetric 0/1 adjacency without self-loops; Â = D^-1/2 A D^-1/2 computed in
 * float64 and rounded to float32 (scipy, then .float()).
 *
 * The reference stores Â as an uncoalesced COO in column-major order (scipy CSC -> tocoo), and
 * its edge dropout draws one uniform per stored entry in that order. We keep Â in CSR for
 * propagation plus `storageToCsr`, so a recorded or seeded draw vector maps to the same edges.
 */
import type { CsrMatrix } from '../tensor/ops/sparse.js';
import type { EdgeList } from '../tensor/ops/intent.js';
import { csrFind, type CsrPattern } from './csr.js';
import { allocInt32Uninit, allocUninit } from '../tensor/arena.js';
import { getKernels } from '../kernels/index.js';
import type { RandomSource } from '../util/rng.js';

export interface NormalizedAdjacency {
  /** Number of nodes (users + items). */
  n: number;
  numUsers: number;
  numItems: number;
  /** Â in CSR (symmetric), with `transposed` pointing at itself. */
  csr: CsrMatrix;
  /** Row of each CSR entry. */
  rowOf: Int32Array;
  /** For reference storage position e, the CSR position of the same entry. */
  storageToCsr: Int32Array;
  /** For CSR position p, the reference storage position of the same entry. */
  csrToStorage: Int32Array;
  /** Reference storage order as (row, col) pairs, for checks against recorded graphs. */
  storageRow: Int32Array;
  storageCol: Int32Array;
}

/** The training graph's directed edges (both directions, CSR order by head), for intent-aware aggregation. */
export function edgeListOf(adj: NormalizedAdjacency): EdgeList {
  return { rows: adj.n, indptr: adj.csr.indptr, indices: adj.csr.indices, rowOf: adj.rowOf };
}

export function buildNormalizedAdjacency(train: CsrPattern): NormalizedAdjacency {
  const U = train.rows;
  const I = train.cols;
  const n = U + I;
  const deg = new Float64Array(n);
  for (let u = 0; u < U; u++) {
    const s = train.indptr[u]!;
    const e = train.indptr[u + 1]!;
    deg[u] = e - s;
    for (let j = s; j < e; j++) deg[U + train.indices[j]!]! += 1;
  }
  const dInvSqrt = new Float64Array(n);
  for (let i = 0; i < n; i++) dInvSqrt[i] = deg[i]! > 0 ? Math.pow(deg[i]!, -0.5) : 0;

  // CSR of the symmetric matrix: user rows list item nodes; item rows list user nodes.
  const nnz = 2 * train.indptr[U]!;
  const indptr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) indptr[i + 1] = indptr[i]! + deg[i]!;
  const indices = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  const fill = indptr.slice(0, n);
  for (let u = 0; u < U; u++) {
    for (let j = train.indptr[u]!; j < train.indptr[u + 1]!; j++) indices[fill[u]!++] = U + train.indices[j]!;
  }
  // item rows: users in ascending order (u loops ascending)
  for (let u = 0; u < U; u++) {
    for (let j = train.indptr[u]!; j < train.indptr[u + 1]!; j++) indices[fill[U + train.indices[j]!]!++] = u;
  }
  const rowOf = new Int32Array(nnz);
  for (let r = 0; r < n; r++) {
    for (let p = indptr[r]!; p < indptr[r + 1]!; p++) {
      rowOf[p] = r;
      values[p] = dInvSqrt[r]! * dInvSqrt[indices[p]!]!;
    }
  }
  // Column-major storage order of a symmetric matrix: entry e = (row = indices[e], col = rowOf[e])
  // (the CSR walk of the transpose). Its CSR position is that of (indices[e], rowOf[e]).
  const storageRow = Int32Array.from(indices);
  const storageCol = Int32Array.from(rowOf);
  const storageToCsr = new Int32Array(nnz);
  for (let e = 0; e < nnz; e++) storageToCsr[e] = findEntry(indptr, indices, storageRow[e]!, storageCol[e]!);
  const csrToStorage = new Int32Array(nnz);
  for (let e = 0; e < nnz; e++) csrToStorage[storageToCsr[e]!] = e;
  const csr: CsrMatrix = { rows: n, cols: n, indptr, indices, values };
  csr.transposed = csr;
  return { n, numUsers: U, numItems: I, csr, rowOf, storageToCsr, csrToStorage, storageRow, storageCol };
}

function findEntry(indptr: Int32Array, indices: Int32Array, r: number, c: number): number {
  const p = csrFind(indptr, indices, r, c);
  if (p < 0) throw new Error(`adjacency entry (${r}, ${c}) missing: the matrix is not symmetric`);
  return p;
}

/**
 * The reference's SpAdjEdgeDrop: entry e (storage order) survives iff floor(r_e + keep) >= 1,
 * with r_e and keep as float32; survivors keep their normalised value (no rescaling). Returns
 * the dropped matrix and its transpose, both CSR, for forward and backward propagation.
 */
export function dropEdges(adj: NormalizedAdjacency, draws: Float32Array, keepRate: number): CsrMatrix {
  const nnz = adj.storageToCsr.length;
  if (draws.length !== nnz) throw new RangeError(`edge dropout needs ${nnz} draws, got ${draws.length}`);
  const keep32 = Math.fround(keepRate);
  const kept = new Uint8Array(nnz);
  for (let e = 0; e < nnz; e++) kept[e] = Math.fround(draws[e]! + keep32) >= 1 ? 1 : 0;
  return dropEdgesByMask(adj, kept);
}

/**
 * Â for a training forward: as is at keep rate 1, else with edges dropped (one uniform draw per
 * stored entry, in the reference's order; a generator with bulk keep flags draws them natively).
 */
export function edgeDropoutGraph(adj: NormalizedAdjacency, rnd: RandomSource, keepRate: number): CsrMatrix {
  if (keepRate === 1) return adj.csr;
  const n = adj.storageToCsr.length;
  if (rnd.keepMask) return dropEdgesByMask(adj, rnd.keepMask(n, keepRate));
  return dropEdges(adj, rnd.rand(n), keepRate);
}

/**
 * The dropped matrix from per-entry keep flags in the reference's storage order. Returns S in
 * CSR with S^T (also CSR) attached for the backward pass.
 */
export function dropEdgesByMask(adj: NormalizedAdjacency, keptStorage: Uint8Array): CsrMatrix {
  // Dropped entries are removed (a propagation then gathers 20% fewer rows); the kept ones stay
  // in Â's order, so every sum adds the same terms in the same order as with zero-valued
  // entries in place. S at CSR position p is storage entry csrToStorage[p]; S^T at position
  // q = (r, c) holds S's entry (c, r), which is storage entry q itself.
  const { indptr, indices, values } = adj.csr;
  const nnz = indices.length;
  if (keptStorage.length !== nnz) throw new RangeError(`edge dropout needs ${nnz} keep flags, got ${keptStorage.length}`);
  const n = adj.n;
  const ipS = allocInt32Uninit(n + 1);
  const ixS = allocInt32Uninit(nnz);
  const vS = allocUninit(nnz);
  const ipT = allocInt32Uninit(n + 1);
  const ixT = allocInt32Uninit(nnz);
  const vT = allocUninit(nnz);
  getKernels().compactDroppedEdges(n, indptr, indices, values, keptStorage, adj.csrToStorage, ipS, ixS, vS, ipT, ixT, vT);
  const S: CsrMatrix = { rows: n, cols: n, indptr: ipS, indices: ixS, values: vS };
  S.transposed = { rows: n, cols: n, indptr: ipT, indices: ixT, values: vT, transposed: S };
  return S;
}
