// Row gate: y[t, :] = s[t, :] · σ(g[t]) — Qwen2-MoE scales its shared expert by sigmoid(u·w_g)
// (interop §3.4 qwen2_moe row):
//   forward   y = s ⊙ σ(g)                      s [T, d], g [T, 1]
//   backward  ds += dy · σ(g);  dg[t] += σ'(g[t]) · Σ_j dy[t, j] · s[t, j],  σ' = σ(1 − σ)
import { needsGrad, output, record, ShapeError, shapeStr, type Tensor } from '../tensor/index.js';
import { lastDim } from './util.js';

export function sigmoidGate(s: Tensor, g: Tensor): Tensor {
  const d = lastDim(s);
  const T = s.size / d;
  if (g.size !== T) throw new ShapeError(`sigmoidGate: gate ${shapeStr(g.shape)} needs one value per row of ${shapeStr(s.shape)}`);
  const sig = new Float32Array(T);
  for (let t = 0; t < T; t++) sig[t] = 1 / (1 + Math.exp(-g.data[t]));
  const y = output(s.shape, needsGrad(s, g));
  for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) y.data[t * d + j] = s.data[t * d + j] * sig[t];
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      if (s.requiresGrad) {
        const ds = s.ensureGrad();
        for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) ds[t * d + j] += dy[t * d + j] * sig[t];
      }
      if (g.requiresGrad) {
        const dg = g.ensureGrad();
        for (let t = 0; t < T; t++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += dy[t * d + j] * s.data[t * d + j];
          dg[t] += dot * sig[t] * (1 - sig[t]);
        }
      }
    });
  }
  return y;
}
