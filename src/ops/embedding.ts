// Token embedding lookup: out[t, :] = table[ids[t], :]; gradient scatter-adds into the table rows.
// A 16-bit table (an inference model) is widened row by row; no gradient flows to it.
import { backend } from '../backend/index.js';
import { MoekitError, ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';

export function embedding(table: Tensor, ids: Int32Array): Tensor {
  if (table.shape.length !== 2) throw new ShapeError(`embedding: table must be [V, D], got ${shapeStr(table.shape)}`);
  const [V, D] = table.shape;
  const T = ids.length;
  for (let t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V) {
      throw new MoekitError(`embedding: token id ${ids[t]} at position ${t} is outside the vocabulary [0, ${V})`,
        'the tokenizer and the model disagree on vocab_size');
    }
  }
  const be = backend();
  if (table.half) {
    const y = output([T, D], false);
    be.embeddingForwardHalf(y.data, ids, table.half.bits, table.half.dtype === 'bf16', T, D, V);
    return y;
  }
  const y = output([T, D], needsGrad(table));
  be.embeddingForward(y.data, ids, table.data, T, D, V);
  if (y.requiresGrad) {
    record(() => {
      if (y.grad) be.embeddingBackward(table.ensureGrad(), y.grad, ids, T, D);
    });
  }
  return y;
}
