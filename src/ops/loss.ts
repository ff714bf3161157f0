// Cross-entropy over the vocabulary, fused with log-softmax (one pass over the logits forward, one
// backward). Mean over the positions whose target is not ignored (target < 0).
import { backend } from '../backend/index.js';
import { MoekitError, ShapeError, shapeStr, needsGrad, output, record, scratch, type Tensor } from '../tensor/index.js';

export interface CrossEntropyResult {
  /** Scalar mean loss (differentiable). */
  loss: Tensor;
  /** Per-position loss [T] (0 at ignored positions); valid until the graph is released. */
  perToken: Float32Array;
  /** Number of positions that count. */
  count: number;
}

export function crossEntropy(logits: Tensor, targets: Int32Array): CrossEntropyResult {
  if (logits.shape.length !== 2 || logits.shape[0] !== targets.length) {
    throw new ShapeError(`crossEntropy: logits ${shapeStr(logits.shape)} do not fit ${targets.length} targets (expected [T, V])`);
  }
  const [T, V] = logits.shape;
  let count = 0;
  for (let t = 0; t < T; t++) {
    if (targets[t] >= V) throw new MoekitError(`crossEntropy: target ${targets[t]} at position ${t} is outside the vocabulary [0, ${V})`);
    if (targets[t] >= 0) count++;
  }
  const be = backend();
  const perToken = scratch(T);
  const lse = scratch(T);
  be.crossEntropyForward(perToken, lse, logits.data, targets, T, V);
  let sum = 0;
  for (let t = 0; t < T; t++) sum += perToken[t];
  const loss = output([1], needsGrad(logits));
  loss.data[0] = count > 0 ? sum / count : 0;
  if (loss.requiresGrad) {
    record(() => {
      if (!loss.grad || count === 0) return;
      const dlosses = scratch(T).fill(loss.grad[0] / count);
      if (!logits.grad) {
        // Nothing else reads the logits after the loss: write dlogits over them (saves a [T, V] buffer).
        logits.grad = logits.data;
        be.crossEntropyBackward(logits.data, logits.data, lse, targets, dlosses, T, V);
      } else {
        const d = scratch(T * V);
        be.crossEntropyBackward(d, logits.data, lse, targets, dlosses, T, V);
        be.add(logits.grad, logits.grad, d, T * V);
      }
    });
  }
  return { loss, perToken, count };
}
