// Elementwise product with a constant tensor of factors (no gradient to the factors):
//   forward   y = x ⊙ f          backward  dx += dy ⊙ f
// Serves expert dropout (f = mask / (1 − p), spec §5) and Switch input jitter (f ~ U(1−ε, 1+ε), §5).
import { needsGrad, output, record, ShapeError, type Rng, type Tensor } from '../tensor/index.js';

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

/** Inverted-dropout factors: 0 with probability p, else 1/(1 − p), so the expectation is unchanged. */
export function dropoutFactors(rng: Pick<Rng, 'uniform'>, n: number, p: number): Float32Array {
  const f = new Float32Array(n);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) f[i] = rng.uniform() < p ? 0 : keep;
  return f;
}
