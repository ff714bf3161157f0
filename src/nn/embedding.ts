import { embedding } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/** Token embedding table [vocab, hidden]. */
export class Embedding {
  readonly weight: Tensor;
  constructor(b: ParamBuilder, vocab: number, hidden: number, std: number) {
    this.weight = b.param('weight', [vocab, hidden], { kind: 'normal', std });
  }
  forward(ids: Int32Array): Tensor {
    return embedding(this.weight, ids);
  }
}
