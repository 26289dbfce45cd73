/**
 * The shape of a dataset's text vectors, owned by the data layer (src/data/text-vectors.ts reads
 * them; models, training, runs and serving consume them).
 *
 * NOTE: src/models/alignment/types.ts still declares a structurally identical `TextVectors` of its
 * own (that file is being edited elsewhere); it is to become `export type { TextVectors } from
 * '../../data/text-types.js'` so the type has one owner.
 */
import type { Tensor } from '../tensor/tensor.js';

/** Per-entity text vectors (rows: users / items), frozen inputs of the text tower. */
export interface TextVectors {
  usrPrf?: Tensor;
  itmPrf?: Tensor;
  usrInt?: Tensor;
  itmInt?: Tensor;
}
