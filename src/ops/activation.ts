// SwiGLU (Shazeer 2020, "GLU Variants Improve Transformer"): silu(gate) ⊙ up, and softmax.
import { backend } from '../backend/index.js';
import { needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { expectSameShape, lastDim, gradTarget } from './util.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  expectSameShape('swiglu', gate, up);
  const be = backend();
  const n = gate.size;
  const y = output(gate.shape, needsGrad(gate, up));
  be.swigluForward(y.data, gate.data, up.data, n);
  if (y.requiresGrad) {
    record(() => {
      if (!y.grad) return;
      const dg = gradTarget(gate);
      const du = gradTarget(up);
      be.swigluBackward(dg, du, y.grad, gate.data, up.data, n);
    });
  }
  return y;
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const cols = lastDim(x);
  const rows = x.size / cols;
  const be = backend();
  const y = output(x.shape, needsGrad(x));
  be.softmaxForward(y.data, x.data, rows, cols);
  if (y.requiresGrad) {
    record(() => {
      if (y.grad) be.softmaxBackward(x.ensureGrad(), y.grad, y.data, rows, cols);
    });
  }
  return y;
}
