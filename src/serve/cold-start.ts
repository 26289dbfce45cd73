/**
 * Cold start: recommendations for a user unknown to training, from raw text (through the run's
 * embedder, src/serve/embedder.ts, and the model's text tower), text vectors, and/or items they
 * are known to like. Strategies: 'neighbors' (the warm users closest in the tower's output space,
 * their embeddings averaged) and 'tower' (the tower's output is the user vector); RLMRec-Gen's
 * reconstruction models use the nearest warm users by profile vectors.
 */
import { gatherText, type TextMatrix } from '../data/text-rows.js';
import type { MLP } from '../nn/mlp.js';
import { noGrad, Tensor } from '../tensor/tensor.js';
import type { ServeCore } from './core.js';
import type { TextEmbedder, TextKind } from './embedder.js';
import { InvalidArgumentError, UnavailableError } from './errors.js';
import { topIndices } from './intents.js';
import { checkK, normalize, normalizeRows } from './ranker.js';
import type { ColdStartInput, ColdStartOptions, ColdStartResult } from './types.js';

/** Rows per block when a whole text table goes through a tower or is normalised (bounded scratch). */
export const TEXT_BLOCK_ROWS = 8192;

/**
 * `fn` over consecutive blocks of a text table's rows as float32 (a float16 table decoded one block
 * at a time, never whole): fn(start, rows, block) with block = rows x cols.
 */
export function forTextBlocks(t: TextMatrix, fn: (start: number, rows: number, block: Float32Array) => void, blockRows = TEXT_BLOCK_ROWS): void {
  const idx = new Int32Array(Math.min(blockRows, t.rows));
  const buf = new Float32Array(idx.length * t.cols);
  for (let s = 0; s < t.rows; s += blockRows) {
    const n = Math.min(blockRows, t.rows - s);
    for (let r = 0; r < n; r++) idx[r] = s + r;
    const block = buf.subarray(0, n * t.cols);
    gatherText(t, idx.subarray(0, n), block);
    fn(s, n, block);
  }
}

export class ColdStart {
  private readonly towerUsers: Partial<Record<TextKind, Float32Array>> = {};
  private profileUnit: Float32Array | null = null;

  constructor(private readonly c: ServeCore, private readonly embedder: () => TextEmbedder | null) {}

  async prepare(): Promise<void> {
    const t = this.c.towers;
    if (!t) return;
    const kinds: TextKind[] = [...(t.text.usrPrf ? ['profile' as const] : []), ...(t.text.usrInt ? ['intent' as const] : [])];
    for (const kind of kinds) {
      const e = this.embedder();
      if (e) await e.embed(['warm up'], kind);
      this.warmTower(kind);
    }
  }

  private towerOut(mlp: MLP, v: Float32Array, rows: number): Float32Array {
    return noGrad(() => mlp.forward(new Tensor(v, [rows, v.length / rows])).data);
  }

  /** Warm users' tower outputs for one kind (normalised), computed once. */
  private warmTower(kind: TextKind): Float32Array | null {
    const have = this.towerUsers[kind];
    if (have) return have;
    const t = this.c.towers;
    const mlp = kind === 'profile' ? t?.profile : t?.intent;
    const src = kind === 'profile' ? t?.text.usrPrf : t?.text.usrInt;
    if (!mlp || !src) return null;
    // the tower is applied a block of users at a time (a row's output does not depend on the
    // others: the same numbers as one pass over the whole table, without its float32 copy)
    const d = this.c.dim;
    const z = new Float32Array(src.rows * d);
    forTextBlocks(src, (s, n, block) => {
      z.set(normalizeRows(this.towerOut(mlp, block, n), n, d), s * d);
    });
    this.towerUsers[kind] = z;
    return z;
  }

  /** The warm users' profile vectors, rows L2-normalised (RLMRec-Gen's neighbours), computed once. */
  private unitProfiles(src: TextMatrix): Float32Array {
    if (this.profileUnit) return this.profileUnit;
    const P = new Float32Array(src.rows * src.cols);
    forTextBlocks(src, (s, n, block) => P.set(normalizeRows(block, n, src.cols), s * src.cols));
    this.profileUnit = P;
    return P;
  }

  private vectorOf(kind: TextKind, v: ArrayLike<number>): Float32Array {
    const src = kind === 'profile' ? this.c.towers?.text.usrPrf : this.c.towers?.text.usrInt;
    if (!src) throw new UnavailableError(`${this.c.model} has no ${kind} text tower`);
    if (!v || typeof v !== 'object' || typeof (v as ArrayLike<number>).length !== 'number') {
      throw new InvalidArgumentError(`vectors.${kind} must be a list of ${src.cols} numbers`);
    }
    if (v.length !== src.cols) throw new InvalidArgumentError(`vectors.${kind} has ${v.length} values, the ${kind} vectors of this model have ${src.cols}`);
    const out = new Float32Array(v.length);
    for (let c = 0; c < v.length; c++) {
      const x = v[c];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidArgumentError(`vectors.${kind}[${c}] is not a finite number`);
      out[c] = x;
    }
    return out;
  }

  /**
   * Recommendations for a user unknown to training, from text (through the dataset's embedder and
   * the model's text tower), text vectors, and/or items they are known to like.
   */
  async run(input: ColdStartInput, o: ColdStartOptions = {}): Promise<ColdStartResult> {
    if (!input || typeof input !== 'object') throw new InvalidArgumentError('cold start needs {text}, {vectors} or {items}');
    const k = checkK(o.k ?? 10, this.c.numItems);
    const strategy = o.strategy ?? 'neighbors';
    if (strategy !== 'tower' && strategy !== 'neighbors') throw new InvalidArgumentError(`strategy must be "tower" or "neighbors", got ${JSON.stringify(strategy)}`);
    const vecs: Partial<Record<TextKind, Float32Array>> = {};
    let embedderName: string | undefined;
    if (input.vectors !== undefined) {
      if (typeof input.vectors !== 'object' || input.vectors === null) throw new InvalidArgumentError('vectors must be an object {profile?, intent?}');
      for (const kind of ['profile', 'intent'] as const) {
        const v = input.vectors[kind];
        if (v !== undefined) vecs[kind] = this.vectorOf(kind, v);
      }
    }
    if (input.text !== undefined) {
      const t = input.text;
      const texts: Partial<Record<TextKind, string>> = {};
      if (typeof t === 'string') {
        if (this.c.towers?.text.usrPrf) texts.profile = t;
        if (this.c.towers?.text.usrInt) texts.intent = t;
      } else if (t && typeof t === 'object') {
        if (t.profile !== undefined) texts.profile = t.profile;
        if (t.intent !== undefined) texts.intent = t.intent;
      }
      for (const [kind, s] of Object.entries(texts) as [TextKind, unknown][]) {
        if (typeof s !== 'string' || s.trim() === '') throw new InvalidArgumentError(`text${typeof t === 'string' ? '' : `.${kind}`} must be a non-empty string`);
        if (s.length > 20_000) throw new InvalidArgumentError(`text is too long (${s.length} characters, at most 20000)`);
      }
      if (!this.c.towers) throw new UnavailableError(`${this.c.model} has no text tower: cold start from text needs a model trained with --align rlmrec-con, rlmrec-gen or irllrec (pass items instead)`);
      if (Object.keys(texts).length === 0) throw new InvalidArgumentError('text must be a string or {profile?, intent?}');
      const embedder = this.embedder();
      if (!embedder) {
        throw new UnavailableError('no text embedder for this run (the dataset has no embed.json with its profiles, or none was configured): pass text vectors ({vectors: {profile, intent}}) instead');
      }
      embedderName = embedder.name;
      for (const [kind, s] of Object.entries(texts) as [TextKind, string][]) {
        if (vecs[kind]) continue;
        const [v] = await embedder.embed([s], kind, o.signal);
        vecs[kind] = this.vectorOf(kind, v!);
      }
    }
    const given = input.items !== undefined ? this.c.itemIndices(input.items, 'items')! : new Int32Array(0);
    const used: string[] = [];
    const d = this.c.dim;
    const u = new Float32Array(d);
    const t = this.c.towers;
    const textKinds = (Object.keys(vecs) as TextKind[]).filter((kk) => vecs[kk]);
    if (textKinds.length && !t) throw new UnavailableError(`${this.c.model} has no text tower (pass items instead)`);
    let usedStrategy: ColdStartResult['strategy'] = 'items';
    if (textKinds.length && t) {
      if (t.recon) {
        // RLMRec-Gen maps embeddings to text: the nearest warm users by their profile vectors
        const p = vecs.profile;
        if (!p) throw new UnavailableError(`${this.c.model} uses profile text only`);
        const src = t.text.usrPrf!;
        const P = this.unitProfiles(src);
        const sims = new Float32Array(src.rows);
        this.c.kernels.gemm(false, true, 1, src.rows, src.cols, 1, normalize(Float32Array.from(p)), src.cols, P, src.cols, 0, sims, src.rows);
        this.addNeighbours(sims, u);
        used.push('profile');
        usedStrategy = 'neighbors';
      } else if (strategy === 'tower') {
        for (const kind of textKinds) {
          const mlp = kind === 'profile' ? t.profile : t.intent;
          if (!mlp) throw new UnavailableError(`${this.c.model} has no ${kind} text tower`);
          const z = normalize(this.towerOut(mlp, vecs[kind]!, 1));
          for (let c = 0; c < d; c++) u[c]! += z[c]!;
          used.push(kind);
        }
        usedStrategy = 'tower';
      } else {
        const sims = new Float32Array(this.c.numUsers);
        for (const kind of textKinds) {
          const mlp = kind === 'profile' ? t.profile : t.intent;
          const Z = this.warmTower(kind);
          if (!mlp || !Z) throw new UnavailableError(`${this.c.model} has no ${kind} text tower`);
          const z = normalize(this.towerOut(mlp, vecs[kind]!, 1));
          const s = new Float32Array(this.c.numUsers);
          this.c.kernels.gemm(false, true, 1, this.c.numUsers, d, 1, z, d, Z, d, 0, s, this.c.numUsers);
          this.c.kernels.axpy(this.c.numUsers, 1 / textKinds.length, s, sims);
          used.push(kind);
        }
        this.addNeighbours(sims, u);
        usedStrategy = 'neighbors';
      }
    }
    if (given.length) {
      const h = new Float32Array(d);
      for (const i of given) for (let c = 0; c < d; c++) h[c]! += this.c.itemEmb[i * d + c]!;
      normalize(h);
      normalize(u);
      for (let c = 0; c < d; c++) u[c]! += h[c]!;
      used.push('items');
    }
    if (!used.length) throw new InvalidArgumentError('cold start needs {text}, {vectors} or {items} (none given)');
    const ex = this.c.itemIndices(o.exclude, 'exclude');
    const cand = this.c.itemIndices(o.candidates, 'candidates');
    const excludeGiven = o.excludeGiven ?? true;
    const [r] = this.c.ranker.rank(u, 1, this.c.itemEmb, k, cand, (_r, set) => {
      if (excludeGiven) for (const i of given) set(i);
      if (ex) for (let j = 0; j < ex.length; j++) set(ex[j]!);
    });
    return { items: this.c.scored(r!.items, r!.scores), used, strategy: usedStrategy, ...(embedderName ? { embedder: embedderName } : {}) };
  }

  /** u += sum over the 50 most similar warm users of softmax(sim / 0.1) * e_v. */
  private addNeighbours(sims: Float32Array, u: Float32Array, m = 50, temp = 0.1): void {
    const top = topIndices(sims, 0, sims.length, m);
    if (!top.length) return;
    const mx = sims[top[0]!]!;
    let z = 0;
    const w = top.map((v) => {
      const e = Math.exp((sims[v]! - mx) / temp);
      z += e;
      return e;
    });
    const d = this.c.dim;
    top.forEach((v, j) => {
      for (let c = 0; c < d; c++) u[c]! += (w[j]! / z) * this.c.userEmb[v * d + c]!;
    });
  }
}
