// Bias add for the few layers that carry one (Residual-MoE's coefficient Linear, spec §12):
//   forward   y[M, N]  = x[M, N] + b[N]  (broadcast over rows)
//   backward  dx      += dy;  db[N] += Σ_rows dy[M, N]
import { backend } from '../backend/index.js';
import { ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { lastDim } from './util.js';

export function addBias(x: Tensor, b: Tensor): Tensor {
  const N = lastDim(x);
  if (b.shape.length !== 1 || b.shape[0] !== N) throw new ShapeError(`addBias: bias ${shapeStr(b.shape)} does not fit input ${shapeStr(x.shape)} (expected [${N}])`);
  const M = x.size / N;
  const y = output(x.shape, needsGrad(x, b));
  for (let r = 0; r < M; r++) for (let j = 0; j < N; j++) y.data[r * N + j] = x.data[r * N + j] + b.data[j];
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      if (x.requiresGrad) backend().add(x.ensureGrad(), x.grad!, dy, x.size);
      if (b.requiresGrad) {
        const db = b.ensureGrad();
        for (let r = 0; r < M; r++) for (let j = 0; j < N; j++) db[j] += dy[r * N + j];
      }
    });
  }
  return y;
}
