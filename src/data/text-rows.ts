/**
 * A frozen text-vector table kept as float16 bits (what `irllrec embed --dtype float16` and
 * `irllrec synth --dtype float16` write): half the memory of float32 (1M users x 3072 is 6 GB
 * instead of 12). Scalable training reads only a sample's rows per step, decoded on demand
 * (exactly: every float16 value is a float32 value); anything that needs every row at once (the
 * reference computation) decodes the table once with {@link denseText}.
 */
import { Tensor } from '../tensor/tensor.js';
import { decodeFloat16, readNpyFloat16Bits, readNpyHeader } from './formats/numpy.js';
import { checkTextShape, loadTextKinds, nonFiniteText, readTextMatrix } from './text-vectors.js';
import type { TextVectors } from './text-types.js';

export class HalfRows {
  private dense: Tensor | null = null;

  constructor(readonly bits: Uint16Array, readonly rows: number, readonly cols: number) {
    if (bits.length !== rows * cols) throw new RangeError(`HalfRows: ${bits.length} values for ${rows} x ${cols}`);
  }

  /** Rows idx as float32, row-major (into `out` when given). */
  gather(idx: ArrayLike<number>, out: Float32Array = new Float32Array(idx.length * this.cols)): Float32Array {
    const d = this.cols;
    for (let i = 0; i < idx.length; i++) decodeFloat16(this.bits.subarray(idx[i]! * d, (idx[i]! + 1) * d), out, i * d);
    return out;
  }

  /** The whole table as a float32 tensor, decoded on first use and kept. */
  toTensor(): Tensor {
    return (this.dense ??= new Tensor(decodeFloat16(this.bits), [this.rows, this.cols]));
  }
}

/** A text-vector table as training uses it: float32 in memory, or float16 decoded by rows. */
export type TextMatrix = Tensor | HalfRows;

/** Every row as a float32 tensor (a float16 table is decoded once and kept). */
export function denseText(t: TextMatrix): Tensor {
  return t instanceof HalfRows ? t.toTensor() : t;
}

/** Copies rows idx as float32 (no gradient). */
export function gatherText(t: TextMatrix, idx: ArrayLike<number>, out?: Float32Array): Float32Array {
  if (t instanceof HalfRows) return t.gather(idx, out);
  const d = t.cols;
  const o = out ?? new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) o.set(t.data.subarray(idx[i]! * d, (idx[i]! + 1) * d), i * d);
  return o;
}

/** The four text-vector kinds (see TEXT_FILES in text-vectors.ts). */
export type TextKind = keyof TextVectors;

/** The text vectors a model trains with: each float32, or float16 decoded by rows. */
export type TrainingText = Partial<Record<TextKind, TextMatrix>>;

/** True for the float16 bit patterns of Inf and NaN (exponent all ones). */
function firstNonFinite(bits: Uint16Array): number {
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7c00) === 0x7c00) return i;
  return -1;
}

/**
 * Loads the kinds `need` from dir like loadTextVectors does (same file names, checks and
 * messages), except that with `keepFloat16` a float16 .npy stays float16 in memory (a HalfRows):
 * what scalable training uses, which reads a sample's rows per step.
 */
export function loadTrainingText(dir: string, numUsers: number, numItems: number, need: TextKind[], o: { keepFloat16?: boolean } = {}): TrainingText {
  return loadTextKinds<TextMatrix>(dir, numUsers, numItems, need, (path, rows, what) => {
    if (!(o.keepFloat16 && path.endsWith('.npy') && readNpyHeader(path).dtype === 'float16')) return readTextMatrix(path, rows, what);
    const { shape, bits } = readNpyFloat16Bits(path);
    const [r, c] = checkTextShape(path, shape, rows, what);
    const bad = firstNonFinite(bits);
    if (bad >= 0) throw nonFiniteText(path, what, bad, c, decodeFloat16(bits.subarray(bad, bad + 1))[0]!);
    return new HalfRows(bits, r, c);
  });
}
