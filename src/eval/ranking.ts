/**
 * Full-ranking evaluation with the official SSLRec/RLMRec/IRLLRec protocol:
 *
 * - every evaluated user is scored against ALL items (a [batch x numItems] score block);
 * - the user's training items are masked like `BaseModel._mask_predict`:
 *   `pred * (1 - m) - 1e8 * m`, i.e. a masked entry becomes exactly -1e8 (for finite
 *   scores) and the others are unchanged. Only the given mask is applied: validation items are
 *   not masked when testing and vice versa (pass the training matrix as the mask);
 * - top-K with K = max(ks) (`torch.topk`), then per-user metrics (see ./metrics.ts);
 * - evaluated users are those with >= 1 ground-truth item; means are over them, and the
 *   aggregate metrics (coverage, gini) are over their top-k lists.
 *
 * Ties: `kernels.topkRows` orders equal scores by lower item index first. `torch.topk` on CPU
 * does not document its tie order; for the usual case (ties only among masked items at -1e8,
 * or exactly equal float scores) the official ranking may differ in which of the tied items
 * appear, which can only change metrics when a tied item is a ground-truth item. NaN scores
 * are ordered by the kernel (the js kernel ranks NaN last, torch ranks NaN first); models
 * should not produce them.
 *
 * Memory is bounded: one [batchSize x numItems] float32 score buffer, one [batchSize x dim]
 * user buffer and [batchSize x K] top-K buffers are allocated once and reused; coverage / gini
 * add one Int32Array(numItems) of exposure counts per k (not per user).
 */
import type { Kernels } from '../kernels/types.js';
import {
  MetricAccumulator,
  type MetricName,
  type MetricResult,
  type UserMetricValues,
  checkKs,
} from './metrics.js';

/** The value of a masked score (`pred * 0 - 1e8`). Exactly representable in float32. */
export const MASK_SCORE = -1e8;

/** Default number of users per score block (the official `test.batch_size`). */
export const DEFAULT_EVAL_BATCH = 1024;

/** The sparsity pattern of a CSR users x items matrix (values are irrelevant here). */
export interface CsrPattern {
  indptr: Int32Array;
  indices: Int32Array;
}

/**
 * Computes a score block: `out[r * numItems + i]` = score of user `users[r]` for item `i`,
 * for r < users.length (out has at least users.length * numItems entries; extra entries must
 * be left alone). Raw scores: masking is applied afterwards.
 */
export type ScoreBlockFn = (users: Int32Array, out: Float32Array) => void;

export interface ScoringOptions {
  kernels: Kernels;
  /** numUsers x dim, row-major. Required unless `scoreBlock` is given. */
  userEmb?: Float32Array;
  /** numItems x dim, row-major. Required unless `scoreBlock` is given. */
  itemEmb?: Float32Array;
  /** Embedding width. Required unless `scoreBlock` is given. */
  dim?: number;
  numUsers: number;
  numItems: number;
  /** Users per score block (default 1024). Results do not depend on it. */
  batchSize?: number;
  /** Override the dot-product scoring (see ScoreBlockFn). */
  scoreBlock?: ScoreBlockFn;
}

export interface FullRankingOptions extends ScoringOptions {
  /** Items masked to -1e8 per user (the training interactions). CSR users x items. */
  trainMask: CsrPattern;
  /** The evaluated split (validation or test). CSR users x items. */
  groundTruth: CsrPattern;
  ks: number[];
  /**
   * Metrics to report (default ['recall', 'ndcg']; `REPORT_METRICS` for the full report); recall
   * and ndcg are always computed.
   */
  metrics?: readonly MetricName[];
  /**
   * Called for every evaluated user in increasing user order with its top-K items (a view into
   * a reused buffer) and its per-user metric values (a reused object, every per-user metric
   * whether requested or not). Copy what you keep.
   */
  onUser?: (user: number, topk: Int32Array, values: UserMetricValues) => void;
}

export type FullRankingResult = MetricResult;

export interface TopKOptions extends ScoringOptions {
  /** Users to rank for (any order, duplicates allowed). */
  users: Int32Array;
  k: number;
  /** Items to mask to -1e8 per user (typically the training interactions). */
  mask?: CsrPattern;
  /** When given (users.length * k entries), receives the masked scores of the top-K items. */
  outScores?: Float32Array;
}

function checkCsr(name: string, m: CsrPattern, rows: number, cols: number): void {
  if (!m || !(m.indptr instanceof Int32Array) || !(m.indices instanceof Int32Array)) {
    throw new Error(`eval: ${name} must be a CSR pattern {indptr: Int32Array, indices: Int32Array}`);
  }
  if (m.indptr.length !== rows + 1) {
    throw new Error(`eval: ${name}.indptr has length ${m.indptr.length}, expected numUsers + 1 = ${rows + 1}`);
  }
  if (m.indptr[0] !== 0 || m.indptr[rows] > m.indices.length) {
    throw new Error(`eval: ${name}.indptr is inconsistent with indices (length ${m.indices.length})`);
  }
  for (let r = 0; r < rows; r++) {
    if (m.indptr[r + 1] < m.indptr[r]) throw new Error(`eval: ${name}.indptr decreases at row ${r}`);
  }
  const nnz = m.indptr[rows];
  for (let p = 0; p < nnz; p++) {
    const c = m.indices[p];
    if (c < 0 || c >= cols) throw new Error(`eval: ${name} has item index ${c} outside [0, ${cols})`);
  }
}

/**
 * Reusable scorer: fills a masked [b x numItems] score block for a batch of users.
 */
class BlockScorer {
  readonly numItems: number;
  readonly batchSize: number;
  readonly scores: Float32Array;
  private readonly userBuf: Float32Array | null;
  private readonly opts: ScoringOptions;

  constructor(opts: ScoringOptions, maxUsers: number) {
    this.opts = opts;
    const { numUsers, numItems } = opts;
    if (!Number.isInteger(numUsers) || numUsers < 0) throw new Error(`eval: invalid numUsers ${numUsers}`);
    if (!Number.isInteger(numItems) || numItems <= 0) throw new Error(`eval: invalid numItems ${numItems}`);
    const bs = opts.batchSize ?? DEFAULT_EVAL_BATCH;
    if (!Number.isInteger(bs) || bs <= 0) throw new Error(`eval: invalid batchSize ${bs}`);
    this.numItems = numItems;
    this.batchSize = Math.max(1, Math.min(bs, maxUsers));
    if (!opts.scoreBlock) {
      const { userEmb, itemEmb, dim } = opts;
      if (!userEmb || !itemEmb || dim === undefined) {
        throw new Error('eval: userEmb, itemEmb and dim are required unless scoreBlock is given');
      }
      if (!Number.isInteger(dim) || dim < 0) throw new Error(`eval: invalid dim ${dim}`);
      if (userEmb.length < numUsers * dim) throw new Error(`eval: userEmb has ${userEmb.length} values, need numUsers * dim = ${numUsers * dim}`);
      if (itemEmb.length < numItems * dim) throw new Error(`eval: itemEmb has ${itemEmb.length} values, need numItems * dim = ${numItems * dim}`);
      this.userBuf = new Float32Array(this.batchSize * dim);
    } else {
      this.userBuf = null;
    }
    this.scores = new Float32Array(this.batchSize * numItems);
  }

  /** Scores users (length <= batchSize) into `out` (users.length x numItems), raw. */
  scoreInto(users: Int32Array, out: Float32Array): void {
    const b = users.length;
    const n = this.numItems;
    const { kernels, scoreBlock } = this.opts;
    if (scoreBlock) {
      scoreBlock(users, out);
    } else {
      const dim = this.opts.dim!;
      const ub = this.userBuf!.subarray(0, b * dim);
      kernels.gatherRows(dim, this.opts.userEmb!, users, ub);
      // (b x dim) @ (numItems x dim)^T
      kernels.gemm(false, true, b, n, dim, 1, ub, Math.max(1, dim), this.opts.itemEmb!, Math.max(1, dim), 0, out, n);
    }
  }

  /** Sets the masked entries of a score block of `users` to MASK_SCORE. */
  static mask(users: Int32Array, mask: CsrPattern, out: Float32Array, n: number): void {
    const { indptr, indices } = mask;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const o = r * n;
      for (let p = indptr[u], e = indptr[u + 1]; p < e; p++) out[o + indices[p]] = MASK_SCORE;
    }
  }

  /** Blocked top-k over `users` (blocks of batchSize), masked with `mask`; see blockedTopK. */
  topK(users: Int32Array, k: number, mask: CsrPattern | undefined, onBlock: (start: number, users: Int32Array, idx: Int32Array, val: Float32Array) => void): void {
    const n = this.numItems;
    blockedTopK({
      kernels: this.opts.kernels, rows: users.length, numItems: n, k, batchSize: this.batchSize, scratch: this.scores,
      score: (s, b, out) => this.scoreInto(users.subarray(s, s + b), out),
      mask: mask ? (s, b, out) => BlockScorer.mask(users.subarray(s, s + b), mask, out, n) : undefined,
      onBlock: (s, b, idx, val) => onBlock(s, users.subarray(s, s + b), idx, val),
    });
  }
}

export interface BlockedTopKOptions {
  kernels: Kernels;
  /** Query rows to rank for. */
  rows: number;
  /** Columns (items) of every score row. */
  numItems: number;
  /** Top-k per row (at most numItems). */
  k: number;
  /** Rows per score block. */
  batchSize: number;
  /** Writes the raw scores of rows [start, start + b) into `out` (b x numItems). */
  score: (start: number, b: number, out: Float32Array) => void;
  /** Edits (masks) the scores of rows [start, start + b) in place. */
  mask?: (start: number, b: number, scores: Float32Array) => void;
  /** Receives each block's top-k, best first: views (b x k) into buffers reused by the next block. */
  onBlock: (start: number, b: number, idx: Int32Array, val: Float32Array) => void;
  /** A score buffer to reuse (at least min(batchSize, rows) x numItems entries). */
  scratch?: Float32Array;
}

/**
 * The blocked top-k scorer evaluation and serving both rank with: for blocks of at most
 * `batchSize` rows, one [b x numItems] score block (one buffer, reused), masked in place, then
 * `kernels.topkRows` (ties: lower item index first). Memory: the score buffer and b x k top-k
 * buffers, whatever the number of rows.
 */
export function blockedTopK(o: BlockedTopKOptions): void {
  const { kernels, rows, numItems: n, k } = o;
  if (rows <= 0) return;
  const bs = Math.max(1, Math.min(o.batchSize, rows));
  const S = o.scratch && o.scratch.length >= bs * n ? o.scratch : new Float32Array(bs * n);
  const idx = new Int32Array(bs * k);
  const val = new Float32Array(bs * k);
  for (let s = 0; s < rows; s += bs) {
    const b = Math.min(bs, rows - s);
    const block = S.subarray(0, b * n);
    o.score(s, b, block);
    o.mask?.(s, b, block);
    const bi = idx.subarray(0, b * k);
    const bv = val.subarray(0, b * k);
    kernels.topkRows(b, n, block, k, bi, bv);
    o.onBlock(s, b, bi, bv);
  }
}

function checkUsers(users: Int32Array, numUsers: number): void {
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (u < 0 || u >= numUsers) throw new Error(`eval: user ${u} outside [0, ${numUsers})`);
  }
}

/** The users with at least one item in `groundTruth` (ascending). */
export function evaluatedUsers(groundTruth: CsrPattern, numUsers: number): Int32Array {
  let n = 0;
  for (let u = 0; u < numUsers; u++) if (groundTruth.indptr[u + 1] > groundTruth.indptr[u]) n++;
  const out = new Int32Array(n);
  n = 0;
  for (let u = 0; u < numUsers; u++) if (groundTruth.indptr[u + 1] > groundTruth.indptr[u]) out[n++] = u;
  return out;
}

/**
 * Top-k item indices (best first) for the given users: Int32Array of users.length x k,
 * row-major. Masked items (score -1e8) can still appear when fewer than k items are unmasked.
 */
export function topKForUsers(opts: TopKOptions): Int32Array {
  const { users, k, numUsers, numItems, mask } = opts;
  if (!Number.isInteger(k) || k <= 0) throw new Error(`topKForUsers: invalid k ${k}`);
  if (k > numItems) throw new Error(`topKForUsers: k (${k}) > numItems (${numItems})`);
  checkUsers(users, numUsers);
  if (mask) checkCsr('mask', mask, numUsers, numItems);
  if (opts.outScores && opts.outScores.length < users.length * k) {
    throw new Error(`topKForUsers: outScores has ${opts.outScores.length} entries, need ${users.length * k}`);
  }
  const out = new Int32Array(users.length * k);
  if (users.length === 0) return out;
  const scorer = new BlockScorer(opts, users.length);
  scorer.topK(users, k, mask, (s, _batch, idx, val) => {
    out.set(idx, s * k);
    if (opts.outScores) opts.outScores.set(val, s * k);
  });
  return out;
}

/**
 * Full-ranking evaluation over every user with >= 1 ground-truth item (see the module doc).
 * The result does not depend on `batchSize`.
 */
export function evaluateFullRanking(opts: FullRankingOptions): FullRankingResult {
  const { numUsers, numItems, trainMask, groundTruth, onUser } = opts;
  const ks = checkKs(opts.ks);
  const K = Math.max(...ks);
  if (K > numItems) throw new Error(`evaluateFullRanking: max(ks) = ${K} > numItems (${numItems})`);
  const acc = new MetricAccumulator(ks, opts.metrics, numItems);
  checkCsr('trainMask', trainMask, numUsers, numItems);
  checkCsr('groundTruth', groundTruth, numUsers, numItems);

  const users = evaluatedUsers(groundTruth, numUsers);
  if (users.length > 0) {
    const scorer = new BlockScorer(opts, users.length);
    const hits = new Uint8Array(K);
    // stamp[item] === u + 1 <=> item is in u's ground truth (no clearing between users).
    const stamp = new Int32Array(numItems);
    const gtp = groundTruth.indptr;
    const gti = groundTruth.indices;
    scorer.topK(users, K, trainMask, (_s, batch, topIdx) => {
      for (let r = 0; r < batch.length; r++) {
        const u = batch[r];
        const tag = u + 1;
        const g0 = gtp[u];
        const g1 = gtp[u + 1];
        for (let p = g0; p < g1; p++) stamp[gti[p]] = tag;
        const o = r * K;
        for (let j = 0; j < K; j++) hits[j] = stamp[topIdx[o + j]] === tag ? 1 : 0;
        const v = acc.addHits(hits, g1 - g0);
        acc.addExposure(topIdx, o);
        if (onUser) onUser(u, topIdx.subarray(o, o + K), v);
      }
    });
  }
  return acc.result();
}
