import { embedding } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/** Token embedding table [vocab, hidden]: a builder `matrix` (16-bit in a half inference model; a tied LM head multiplies by it). */
export class Embedding {
  readonly weight: Tensor;
  constructor(b: ParamBuilder, vocab: number, hidden: number, std: number) {
    this.weight = b.matrix('weight', [vocab, hidden], { kind: 'normal', std });
  }
  forward(ids: Int32Array): Tensor {
    return embedding(this.weight, ids);
  }
}
