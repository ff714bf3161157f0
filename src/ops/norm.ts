// RMSNorm (Zhang & Sennrich 2019), as in LLaMA: y = x / sqrt(mean(x²) + eps) · w over the last axis,
// or over each D-wide chunk of it when the weight is narrower (Qwen3-MoE's per-head q/k norm, interop §3.4).
import { backend } from '../backend/index.js';
import { ShapeError, shapeStr, needsGrad, output, record, scratch, type Tensor } from '../tensor/index.js';
import { lastDim, gradTarget } from './util.js';

export function rmsnorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const D = w.size;
  if (lastDim(x) % D !== 0) throw new ShapeError(`rmsnorm: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const T = x.size / D;
  const be = backend();
  const y = output(x.shape, needsGrad(x, w));
  const rstd = scratch(T); // [T]
  be.rmsnormForward(y.data, rstd, x.data, w.data, T, D, eps);
  if (y.requiresGrad) {
    record(() => {
      if (!y.grad) return;
      // The kernel accumulates into both; an input that needs no gradient gets a throwaway buffer.
      const dx = gradTarget(x);
      const dw = gradTarget(w);
      be.rmsnormBackward(dx, dw, y.grad, x.data, w.data, rstd, T, D);
    });
  }
  return y;
}
