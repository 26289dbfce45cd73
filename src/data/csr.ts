/** Compressed sparse row sets of (row, col) pairs: the shape every split is kept in. */
export interface CsrPattern {
  rows: number;
  cols: number;
  indptr: Int32Array;
  /** Column indices, sorted ascending within each row, no duplicates. */
  indices: Int32Array;
}

/** Builds a CSR pattern from pairs (duplicates removed, columns sorted per row). */
export function csrFromPairs(rows: number, cols: number, row: Int32Array, col: Int32Array): CsrPattern {
  const counts = new Int32Array(rows + 1);
  for (let i = 0; i < row.length; i++) counts[row[i]! + 1]!++;
  for (let r = 0; r < rows; r++) counts[r + 1]! += counts[r]!;
  const fill = counts.slice(0, rows);
  const idx = new Int32Array(row.length);
  for (let i = 0; i < row.length; i++) idx[fill[row[i]!]!++] = col[i]!;
  // sort each row and drop duplicates
  const indptr = new Int32Array(rows + 1);
  let w = 0;
  for (let r = 0; r < rows; r++) {
    const seg = idx.subarray(counts[r]!, counts[r + 1]!).sort();
    let prev = -1;
    for (let j = 0; j < seg.length; j++) {
      const c = seg[j]!;
      if (c !== prev) idx[w++] = c;
      prev = c;
    }
    indptr[r + 1] = w;
  }
  return { rows, cols, indptr, indices: idx.slice(0, w) };
}

export function csrNnz(m: CsrPattern): number {
  return m.indptr[m.rows]!;
}

/** Storage position of (r, c) in a CSR structure with sorted rows, or -1 (binary search). */
export function csrFind(indptr: Int32Array, indices: Int32Array, r: number, c: number): number {
  let lo = indptr[r]!;
  let hi = indptr[r + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = indices[mid]!;
    if (v === c) return mid;
    if (v < c) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Whether (r, c) is present. */
export function csrHas(m: CsrPattern, r: number, c: number): boolean {
  return csrFind(m.indptr, m.indices, r, c) >= 0;
}

/** Row index of every stored entry, in storage order. */
export function csrRowOf(m: CsrPattern): Int32Array {
  const out = new Int32Array(csrNnz(m));
  for (let r = 0; r < m.rows; r++) out.fill(r, m.indptr[r]!, m.indptr[r + 1]!);
  return out;
}
