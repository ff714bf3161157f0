// Cross-entropy against a target distribution (knowledge distillation, spec §5 / §12 staged KD):
//   forward   L = (1/count) Σ_t −Σ_v r[t, v] · log softmax(z_t)_v        z, r [T, V]
//   backward  dz[t, v] = (dL/count) · (Σ_u r[t, u] · p[t, v] − r[t, v])   (= p − r when Σr = 1)
// A row whose targets are all zero (an ignored position) adds nothing to the loss or the gradient.
import { ShapeError, shapeStr, needsGrad, output, record, scratch, type Tensor } from '../tensor/index.js';

export function softCrossEntropy(logits: Tensor, targets: Float32Array, count: number): Tensor {
  if (logits.shape.length !== 2 || targets.length !== logits.size) {
    throw new ShapeError(`softCrossEntropy: logits ${shapeStr(logits.shape)} and ${targets.length} target probabilities must both be [T, V]`);
  }
  const [T, V] = logits.shape;
  const lse = scratch(T);
  let sum = 0;
  for (let t = 0; t < T; t++) {
    const z = logits.data.subarray(t * V, (t + 1) * V);
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, z[v]);
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(z[v] - m);
    lse[t] = m + Math.log(s);
    for (let v = 0; v < V; v++) if (targets[t * V + v] !== 0) sum -= targets[t * V + v] * (z[v] - lse[t]);
  }
  const loss = output([1], needsGrad(logits));
  loss.data[0] = count > 0 ? sum / count : 0;
  if (loss.requiresGrad) {
    record(() => {
      if (!loss.grad || count === 0) return;
      const g = loss.grad[0] / count;
      const dz = logits.ensureGrad();
      for (let t = 0; t < T; t++) {
        let mass = 0;
        for (let v = 0; v < V; v++) mass += targets[t * V + v];
        for (let v = 0; v < V; v++) {
          const p = Math.exp(logits.data[t * V + v] - lse[t]);
          dz[t * V + v] += g * (mass * p - targets[t * V + v]);
        }
      }
    });
  }
  return loss;
}
