// Elementwise product with a constant tensor of factors (no gradient to the factors):
//   forward   y = x ⊙ f          backward  dx += dy ⊙ f
// Serves expert dropout (f = mask / (1 − p), spec §5) and Switch input jitter (f ~ U(1−ε, 1+ε), §5).
import { needsGrad, output, record, ShapeError, type Tensor } from '../tensor/index.js';

export function scaleBy(x: Tensor, factors: Float32Array): Tensor {
  if (factors.length !== x.size) throw new ShapeError(`scaleBy: ${factors.length} factors for an input of ${x.size} elements`);
  const n = x.size;
  const y = output(x.shape, needsGrad(x));
  for (let i = 0; i < n; i++) y.data[i] = x.data[i] * factors[i];
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dx = x.ensureGrad();
      for (let i = 0; i < n; i++) dx[i] += dy[i] * factors[i];
    });
  }
  return y;
}
