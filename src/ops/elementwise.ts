// Elementwise ops on same-shaped tensors.
import { backend } from '../backend/index.js';
import { needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { expectSameShape } from './util.js';

/** a + b (the residual stream). */
export function add(a: Tensor, b: Tensor): Tensor {
  expectSameShape('add', a, b);
  const be = backend();
  const n = a.size;
  const y = output(a.shape, needsGrad(a, b));
  be.add(y.data, a.data, b.data, n);
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      if (a.requiresGrad) be.add(a.ensureGrad(), a.grad!, dy, n);
      if (b.requiresGrad) be.add(b.ensureGrad(), b.grad!, dy, n);
    });
  }
  return y;
}
