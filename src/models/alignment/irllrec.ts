/**
 * IRLLRec (Wang et al., SIGIR 2025) intent alignment, as the official `lightgcn_int` computes it:
 * - interaction intents: per layer l, intent vectors ê = softmax(E^(l) C) C^T (user and item
 *   prototypes C, K of them), edge weights alpha = (1 + cos(ê_h, ê_t)) / 2 on every training edge,
 *   row-normalised, aggregated R^(l) = G^(l) E^(l) (E^(l+1) for BIGCF), R = mean over layers;
 * - text intents Z = int_mlp(intent vectors);
 * - PA (kd_int_loss): InfoNCE between R and Z (anchors vs all users, pos/neg in batch);
 * - TA (kd_int_2_loss): ssl_con_loss between Z(1+eps1) and E(1+eps2) over ALL users and items
 *   (N x N, computed in blocks), times kd_int_weight_2;
 * - ITM (loss_itm): kd_int_weight_3 * (0.4 * TA - 0.6 * mean_n sum_k log_softmax(Z)_nk softmax(Z_m)_nk)
 *   with Z_m from the momentum teacher (updated before its forward);
 * plus RLMRec-Con's profile kd term, which the official _int code keeps.
 * A term whose weight is exactly 0 is skipped (with TA's weight 0, ITM's TA part is 0 too).
 * `model.intent_prototypes=false` (the ablation without intent prototypes): the edge weights come
 * from the layer embeddings themselves, ê = E^(l), and no prototypes are created or read.
 */
import { edgeListOf } from '../../data/graph.js';
import { EmaTeacher } from '../../nn/ema.js';
import { xavierUniform } from '../../nn/init.js';
import { MLP } from '../../nn/mlp.js';
import type { ParamStore } from '../../nn/params.js';
import {
  addN, concatRows, gatherRows, intentEdgeWeights, lincomb, logSoftmaxRows, mul, scale, sliceRows,
  softmaxRows, spmmValues, sslConLoss, sum, type EdgeList,
} from '../../tensor/ops/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RandomSource, Rng } from '../../util/rng.js';
import type { Backbone, BackboneOutput } from '../backbones/types.js';
import { defineAlignment, FLAG, INTENT_NUM, lightgcnFallback, TEMPERATURE, WEIGHT } from '../descriptor.js';
import type { IntentPrototypes, TextTowers } from '../types.js';
import { intentVectors } from '../intent-vectors.js';
import { constRows, pairwiseAlignment, uniqueIndex, userPool, ZERO, type UserPool } from './common.js';
import { PROFILE_KEYS, ProfileContrast } from './rlmrec-con.js';
import { denseText, type TextMatrix } from '../../data/text-rows.js';
import type { AlignContext, Alignment, TrainingText } from './types.js';

export interface IntentAlignmentConfig {
  embeddingSize: number;
  intentNum: number;
  kdWeight: number;
  kdTemperature: number;
  kdIntWeight: number;
  kdIntTemperature: number;
  kdIntWeight2: number;
  kdIntWeight3: number;
  /** Aggregate E^(l+1) instead of E^(l) (BIGCF_int). */
  aggregateNext?: boolean;
  /** Drop the negative-item PA term (SimGCL_int). */
  paNegTerm?: boolean;
  /**
   * Whether the momentum teacher exists (lightgcn_int always has one, and it enters the L2
   * term; on other backbones only when ITM is on).
   */
  withTeacher?: boolean;
  /** Use the EMA pre-activation shortcut for the teacher (exact up to rounding). */
  teacherShortcut?: boolean;
  teacherResyncEvery?: number;
  /** Project the layer embeddings onto learnable intent prototypes (default true); false: use them as they are. */
  intentPrototypes?: boolean;
}

export class IntentAlignment implements Alignment {
  readonly kind = 'irllrec';
  /** The prototypes C_U, C_I (d x K), absent with intentPrototypes false. */
  userIntent?: Tensor;
  itemIntent?: Tensor;
  intMlp!: MLP;
  intMlpM?: MLP;
  teacher?: EmaTeacher;
  readonly profile: ProfileContrast;
  private aggregateNext = false;
  private readonly usr: TextMatrix;
  private readonly itm: TextMatrix;

  constructor(text: TrainingText, private readonly edges: EdgeList, readonly cfg: IntentAlignmentConfig) {
    if (!text.usrInt || !text.itmInt) throw new Error('irllrec needs user and item intent vectors');
    this.usr = text.usrInt;
    this.itm = text.itmInt;
    this.profile = new ProfileContrast(text, { kdWeight: cfg.kdWeight, kdTemperature: cfg.kdTemperature, embeddingSize: cfg.embeddingSize });
  }

  register(params: ParamStore, rng: Rng, backbone: Backbone): void {
    const d = this.cfg.embeddingSize;
    const K = this.cfg.intentNum;
    const usePrototypes = this.cfg.intentPrototypes ?? true;
    if (usePrototypes && backbone.prototypes) {
      // DCCF and BIGCF already learn intent prototypes; IRLLRec uses theirs
      this.userIntent = backbone.prototypes.user;
      this.itemIntent = backbone.prototypes.item;
    } else if (usePrototypes) {
      this.userIntent = params.add('user_intent', xavierUniform([d, K], rng));
      this.itemIntent = params.add('item_intent', xavierUniform([d, K], rng));
    }
    this.aggregateNext = this.cfg.aggregateNext ?? backbone.intentAggregatesNext ?? false;
    this.profile.register(params, rng, backbone);
    const din = this.usr.cols;
    const dims: [number, number, number] = [din, MLP.hidden(din, d), d];
    this.intMlp = new MLP(params, 'int_mlp', dims, rng);
    // The teacher starts as a copy whose weights are then re-drawn independently (only the
    // biases stay equal), as the reference's copy_params() + _init_weight() leave it.
    if (!(this.cfg.withTeacher ?? true)) return;
    if (this.cfg.kdIntWeight3 !== 0 && this.cfg.withTeacher === false) throw new Error('ITM needs the momentum teacher');
    this.intMlpM = new MLP(params, 'int_mlp_m', dims, rng, false);
    this.intMlpM.b0.data.set(this.intMlp.b0.data);
    this.intMlpM.b2.data.set(this.intMlp.b2.data);
    this.teacher = new EmaTeacher(this.intMlp, this.intMlpM, 0.999, this.cfg.teacherResyncEvery ?? 1000, this.cfg.teacherShortcut ?? true);
  }

  /**
   * The teacher's cached pre-activations are recomputed from its weights at every epoch start,
   * so a run resumed from a checkpoint (weights only) continues with identical numbers.
   */
  beginEpoch(): void {
    this.teacher?.invalidate();
  }

  textTowers(): TextTowers {
    return { profile: this.profile.mlp, intent: this.intMlp };
  }

  intentPrototypes(): IntentPrototypes | null {
    return this.userIntent && this.itemIntent ? { user: this.userIntent, item: this.itemIntent } : null;
  }

  /** ê of layer embeddings e: their intent vectors, or e itself without prototypes. */
  private intentsOf(e: Tensor, numUsers: number): Tensor {
    return this.userIntent && this.itemIntent ? intentVectors(e, numUsers, this.userIntent, this.itemIntent) : e;
  }

  /** R = mean_l G^(l) E^(l) (or E^(l+1)), the interaction-intent representation. */
  interactionIntents(out: BackboneOutput, numUsers: number): Tensor {
    const L = out.layers.length - 1;
    const rs: Tensor[] = [];
    for (let l = 0; l < L; l++) {
      const e = out.layers[l]!;
      const ehat = this.intentsOf(e, numUsers);
      const w = intentEdgeWeights(ehat, this.edges);
      rs.push(spmmValues(this.edges, w, this.aggregateNext ? out.layers[l + 1]! : e));
    }
    return scale(addN(rs), 1 / L);
  }

  /** Scratch for subgraphIntents: position of each node in the current compact set (stamped). */
  private slot: Int32Array | null = null;
  private stamp: Int32Array | null = null;
  private stampTag = 0;

  /**
   * Scalable mode: the interaction intents R of the given nodes only, exactly as the full
   * computation gives those rows. A row of R needs the intent vectors of the node and of its graph
   * neighbours (its edge weights are normalised over its own edges), so the layers are gathered for
   * that compact set C (users first, then items) and the edge list restricted to the nodes' rows.
   * Returns R over C (rows of C outside `nodes` are zero) and each node's row in it.
   */
  subgraphIntents(
    out: BackboneOutput, numUsers: number, nodes: Int32Array, fanout: number | null = null, rnd?: RandomSource,
  ): { R: Tensor; row: (node: number) => number } {
    const N = this.edges.rows;
    const { indptr, indices } = this.edges;
    if (!this.slot || this.slot.length !== N) {
      this.slot = new Int32Array(N);
      this.stamp = new Int32Array(N);
      this.stampTag = 0;
    }
    const slot = this.slot;
    const stamp = this.stamp!;
    const tag = ++this.stampTag;
    // each node's edges (positions into indices): all of them, or at most `fanout` drawn uniformly
    // without replacement (Floyd's algorithm) so a popular item costs no more than a rare one
    const edgeOf = neighbourSample(indptr, nodes, fanout, rnd);
    // C = nodes and their (sampled) neighbours, sorted (users < numUsers come first)
    const members: number[] = [];
    const add = (v: number) => {
      if (stamp[v] !== tag) {
        stamp[v] = tag;
        members.push(v);
      }
    };
    for (let j = 0; j < nodes.length; j++) {
      add(nodes[j]!);
      for (let q = edgeOf.ptr[j]!; q < edgeOf.ptr[j + 1]!; q++) add(indices[edgeOf.pos[q]!]!);
    }
    const C = Int32Array.from(members).sort();
    for (let i = 0; i < C.length; i++) slot[C[i]!] = i;
    let usersInC = 0;
    while (usersInC < C.length && C[usersInC]! < numUsers) usersInC++;
    // the edge list of the nodes' rows, in C's numbering; other rows empty
    const headOf = new Int32Array(C.length).fill(-1); // position in `nodes` of each head of C
    for (let j = 0; j < nodes.length; j++) headOf[slot[nodes[j]!]!] = j;
    const subIndptr = new Int32Array(C.length + 1);
    for (let i = 0; i < C.length; i++) {
      const j = headOf[i]!;
      subIndptr[i + 1] = subIndptr[i]! + (j >= 0 ? edgeOf.ptr[j + 1]! - edgeOf.ptr[j]! : 0);
    }
    const nnz = subIndptr[C.length]!;
    const subIndices = new Int32Array(nnz);
    const rowOf = new Int32Array(nnz);
    for (let i = 0; i < C.length; i++) {
      const j = headOf[i]!;
      if (j < 0) continue;
      let q = subIndptr[i]!;
      for (let r = edgeOf.ptr[j]!; r < edgeOf.ptr[j + 1]!; r++, q++) {
        subIndices[q] = slot[indices[edgeOf.pos[r]!]!]!;
        rowOf[q] = i;
      }
    }
    const sub: EdgeList = { rows: C.length, indptr: subIndptr, indices: subIndices, rowOf };
    const L = out.layers.length - 1;
    const rs: Tensor[] = [];
    for (let l = 0; l < L; l++) {
      const e = gatherRows(out.layers[l]!, C);
      const ehat = this.intentsOf(e, usersInC);
      const w = intentEdgeWeights(ehat, sub);
      rs.push(spmmValues(sub, w, this.aggregateNext ? gatherRows(out.layers[l + 1]!, C) : e));
    }
    return { R: scale(addN(rs), 1 / L), row: (node) => slot[node]! };
  }

  terms(ctx: AlignContext): [string, Tensor][] {
    const cfg = this.cfg;
    const U = ctx.backbone.adj.numUsers;
    const out: [string, Tensor][] = [...this.profile.terms(ctx)];
    // DCCF's own interaction intents come from its prototypes: without prototypes they are computed here
    const backboneIntents = this.cfg.intentPrototypes === false ? undefined : ctx.intents;
    const needTA = cfg.kdIntWeight2 !== 0;
    const needITM = cfg.kdIntWeight3 !== 0;
    const needAll = needTA || needITM;
    if (cfg.kdIntWeight === 0 && !needAll) {
      out.push(['kd_int_loss', ZERO()]);
      return out;
    }
    // Text-intent tower: every user; every item when TA/ITM need them, else only batch items.
    // Scalable mode: only the (sampled) batch's users and items, which are then the contrast's
    // negatives and TA/ITM's nodes (docs/models.md).
    const scal = ctx.scalable === true;
    const b = ctx.batch;
    let pool: UserPool | null = null;
    let poolItems: Int32Array | null = null;
    let xU: Tensor;
    let ancIdx = b.ancs;
    if (scal) {
      pool = userPool(b.ancs, U, ctx.userPool ?? null, ctx.rnd);
      ancIdx = pool.ancIdx;
      xU = constRows(this.usr, pool.users);
    } else xU = denseText(this.usr);
    const preU = this.intMlp.pre(xU);
    const zU = this.intMlp.head(preU);
    let preI: Tensor | null = null;
    let zI: Tensor;
    let xI: Tensor;
    let posIdx = b.poss;
    let negIdx = b.negs;
    if (needAll && !scal) {
      xI = denseText(this.itm);
      preI = this.intMlp.pre(xI);
      zI = this.intMlp.head(preI);
    } else {
      const u = uniqueIndex([b.poss, b.negs], scal ? 1 : 512);
      poolItems = u.uniq;
      xI = constRows(this.itm, poolItems);
      preI = this.intMlp.pre(xI);
      zI = this.intMlp.head(preI);
      posIdx = u.pos[0]!;
      negIdx = u.pos[1]!;
    }
    if (cfg.kdIntWeight !== 0) {
      let rAnc: Tensor;
      let rPos: Tensor;
      let rNeg: Tensor;
      if (scal && !backboneIntents) {
        // only the rows PA reads, computed exactly on their neighbourhood
        const nodes = Int32Array.from(new Set([...b.ancs, ...Array.from(b.poss, (i) => i + U), ...Array.from(b.negs, (i) => i + U)]));
        const { R, row } = this.subgraphIntents(ctx.intentOut, U, nodes, ctx.intentFanout ?? null, ctx.rnd);
        rAnc = gatherRows(R, Int32Array.from(b.ancs, row));
        rPos = gatherRows(R, Int32Array.from(b.poss, (i) => row(i + U)));
        rNeg = gatherRows(R, Int32Array.from(b.negs, (i) => row(i + U)));
      } else {
        const R = backboneIntents ?? this.interactionIntents(ctx.intentOut, U);
        const rU = sliceRows(R, 0, U);
        const rI = sliceRows(R, U, R.rows);
        rAnc = gatherRows(rU, b.ancs);
        rPos = gatherRows(rI, b.poss);
        rNeg = gatherRows(rI, b.negs);
      }
      const pa = pairwiseAlignment(
        rAnc, rPos, rNeg,
        { users: zU, items: zI, ancIdx, posIdx, negIdx }, b, cfg.kdIntTemperature, cfg.kdIntWeight, cfg.paNegTerm ?? true,
      );
      out.push(['kd_int_loss', pa]);
    } else out.push(['kd_int_loss', ZERO()]);
    if (!needAll) return out;

    // TA/ITM nodes: every user and item, or (scalable) the sample's users (not the whole pool) and items
    let zAll: Tensor;
    let taNodes = scal ? nodeIds(pool!.batchUsers, poolItems!, U) : null;
    let teacherIn: Tensor[] | null = null;
    if (scal && ctx.taUniform) {
      // as many nodes as the sample holds, drawn uniformly from every user and item (sorted: users first)
      const N = ctx.out.all.rows;
      taNodes = Int32Array.from(new Set(Array.from(ctx.rnd.rand(taNodes!.length), (r) => Math.min(N - 1, Math.floor(r * N))))).sort();
      let nu = 0;
      while (nu < taNodes.length && taNodes[nu]! < U) nu++;
      const xu = constRows(this.usr, taNodes.subarray(0, nu));
      const xi = constRows(this.itm, Int32Array.from(taNodes.subarray(nu), (v) => v - U));
      teacherIn = [xu, xi];
      zAll = concatRows([this.intMlp.forward(xu), this.intMlp.forward(xi)]);
    } else zAll = concatRows([pool && pool.users.length !== pool.batchUsers.length ? gatherRows(zU, pool.batchRows) : zU, zI]);
    let ta: Tensor = ZERO();
    if (needTA) {
      const eAll = scal ? gatherRows(ctx.out.all, taNodes!) : ctx.out.all;
      const eps1 = new Tensor(ctx.rnd.randn(zAll.size), zAll.shape);
      const eps2 = new Tensor(ctx.rnd.randn(eAll.size), eAll.shape);
      const n1 = addN([zAll, mul(zAll, eps1)]);
      const n2 = addN([eAll, mul(eAll, eps2)]);
      ta = scale(sslConLoss(n1, n2, 1.0), cfg.kdIntWeight2);
    }
    out.push(['kd_int_2_loss', ta]);
    if (needITM) {
      const xUb = pool && pool.users.length !== pool.batchUsers.length ? constRows(this.usr, pool.batchUsers) : xU;
      const [tU, tI] = scal ? this.teacher!.stepOn(teacherIn ?? [xUb, xI]) : this.teacher!.step([xU, xI], [preU, preI!]);
      const zM = softmaxRows(concatRows([tU!, tI!]));
      const ce = scale(sum(mul(logSoftmaxRows(zAll), zM)), 1 / zAll.rows);
      out.push(['loss_itm', scale(lincomb(0.4, ta, -0.6, ce), cfg.kdIntWeight3)]);
    } else out.push(['loss_itm', ZERO()]);
    return out;
  }
}

/**
 * For each of `nodes`, the positions (into the CSR `indices`) of its edges: every edge, or, with a
 * fanout, at most `fanout` of them drawn uniformly without replacement (Floyd's algorithm, kept in
 * CSR order). Node j's edges are pos[ptr[j] .. ptr[j+1]).
 */
export function neighbourSample(
  indptr: Int32Array, nodes: Int32Array, fanout: number | null, rnd?: RandomSource,
): { ptr: Int32Array; pos: Int32Array } {
  const ptr = new Int32Array(nodes.length + 1);
  for (let j = 0; j < nodes.length; j++) {
    const deg = indptr[nodes[j]! + 1]! - indptr[nodes[j]!]!;
    ptr[j + 1] = ptr[j]! + (fanout === null ? deg : Math.min(deg, fanout));
  }
  const pos = new Int32Array(ptr[nodes.length]!);
  const draws = fanout === null ? null : rnd!.rand(ptr[nodes.length]!);
  const chosen = new Set<number>();
  for (let j = 0; j < nodes.length; j++) {
    const e0 = indptr[nodes[j]!]!;
    const deg = indptr[nodes[j]! + 1]! - e0;
    const q0 = ptr[j]!;
    if (fanout === null || deg <= fanout) {
      for (let t = 0; t < deg; t++) pos[q0 + t] = e0 + t;
      continue;
    }
    chosen.clear();
    for (let k = deg - fanout, q = q0; k < deg; k++, q++) {
      const t = Math.min(k, Math.floor(draws![q]! * (k + 1)));
      chosen.add(chosen.has(t) ? k : t);
    }
    const picked = Int32Array.from(chosen).sort();
    for (let t = 0; t < picked.length; t++) pos[q0 + t] = e0 + picked[t]!;
  }
  return { ptr, pos };
}

/** Node ids (users first, items offset by U) of a sample's users and items. */
function nodeIds(users: Int32Array, items: Int32Array, U: number): Int32Array {
  const out = new Int32Array(users.length + items.length);
  out.set(users);
  for (let i = 0; i < items.length; i++) out[users.length + i] = items[i]! + U;
  return out;
}

const KEYS = {
  ...PROFILE_KEYS,
  intent_num: INTENT_NUM,
  kd_int_weight: { ...WEIGHT, search: { log: [1e-3, 0.1] } },
  kd_int_temperature: TEMPERATURE,
  // TA and ITM are off (0) on the backbones whose official code never reads them: not searched there
  kd_int_weight_2: { ...WEIGHT, search: { log: [1e-7, 1e-2] } },
  kd_int_weight_3: { ...WEIGHT, search: { log: [1e-7, 1e-2] } },
  // older configs may lack these three: the model reads true, 1000, true
  teacher_shortcut: { ...FLAG, optional: true },
  teacher_resync_every: { kind: 'int', max: 1e9, optional: true },
  intent_prototypes: { ...FLAG, optional: true },
} as const;

/** TA and ITM off, as in the official code of every backbone but LightGCN (no code reads them there). */
const pa = (kd_weight: number, kd_temperature: number, kd_int_weight: number, kd_int_temperature: number) => ({
  kd_weight, kd_temperature, intent_num: 128, kd_int_weight, kd_int_temperature, kd_int_weight_2: 0, kd_int_weight_3: 0,
  teacher_shortcut: true, teacher_resync_every: 1000, intent_prototypes: true,
});
/** lightgcn_int: no edge dropout, TA and ITM on. */
const lg = (reg_weight: number, kd_weight: number, kd_temperature: number, kd_int_weight: number, kd_int_temperature: number) => ({
  reg_weight, keep_rate: 1.0, ...pa(kd_weight, kd_temperature, kd_int_weight, kd_int_temperature), kd_int_weight_2: 1e-7, kd_int_weight_3: 1e-7,
});

/** The official `<backbone>_int` values (rows laid over the backbone's; SGL's yelp section keeps its amazon cl values). */
const OFFICIAL = {
  lightgcn: { amazon: lg(1e-7, 1e-2, 0.2, 2e-2, 0.2), yelp: lg(1e-7, 1e-2, 0.2, 1e-2, 0.2), movie: lg(1e-6, 1e-3, 0.2, 3e-2, 0.2) },
  sgl: {
    amazon: pa(1e-2, 0.5, 1e-3, 0.1),
    yelp: { reg_weight: 1e-5, cl_weight: 0.1, cl_temperature: 0.2, ...pa(1e-2, 1.0, 1e-2, 1.0) },
    movie: pa(1e-2, 0.5, 2e-2, 0.2),
  },
  simgcl: { amazon: pa(1e-2, 0.2, 2e-2, 0.1), yelp: pa(1e-2, 0.1, 1e-2, 0.1), movie: pa(1e-2, 0.2, 3e-2, 0.2) },
  dccf: { amazon: pa(1e-2, 0.5, 2e-2, 0.1), yelp: pa(1e-2, 0.2, 1e-2, 0.2), movie: pa(1e-2, 0.1, 5e-2, 0.2) },
  bigcf: { amazon: pa(1e-2, 0.2, 2e-2, 0.1), yelp: pa(1e-2, 0.2, 3e-2, 0.2), movie: pa(1e-2, 0.2, 3e-2, 0.2) },
};

export const IRLLREC = defineAlignment({
  name: 'irllrec',
  suffix: '_int',
  keys: KEYS,
  // TA and ITM on as the paper has them
  defaults: lightgcnFallback(OFFICIAL, KEYS),
  text: ['usrPrf', 'itmPrf', 'usrInt', 'itmInt'],
  create: ({ text, adj, model: m, backbone }) => new IntentAlignment(text, edgeListOf(adj), {
    embeddingSize: m.embedding_size, intentNum: m.intent_num, kdWeight: m.kd_weight, kdTemperature: m.kd_temperature,
    kdIntWeight: m.kd_int_weight, kdIntTemperature: m.kd_int_temperature, kdIntWeight2: m.kd_int_weight_2,
    kdIntWeight3: m.kd_int_weight_3, teacherShortcut: m.teacher_shortcut, teacherResyncEvery: m.teacher_resync_every,
    intentPrototypes: m.intent_prototypes !== false,
    // SimGCL_int's PA drops the negative-item term, as SimGCL's own contrast does
    paNegTerm: backbone !== 'simgcl',
    // lightgcn_int always has the momentum teacher (it enters the L2 term); elsewhere only ITM needs it
    withTeacher: backbone === 'lightgcn' || m.kd_int_weight_3 !== 0,
  }),
});
