// Linear layer without bias, HF/PyTorch layout: W [out, in], y = x·Wᵀ.
//   forward   y[M, out]  = x[M, in] · W[out, in]ᵀ          (matmul transB)
//   backward  dx[M, in] += dy[M, out] · W[out, in]          (matmul NN)
//             dW[out,in] += dy[M, out]ᵀ · x[M, in]         (matmul transA)
//   A weight held as 16-bit floats (an inference model) is widened by the kernel; no gradient flows.
import { backend } from '../backend/index.js';
import { DtypeError, ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { lastDim } from './util.js';

/** Half weights serve inference only: refuses a graph that would need a gradient through one. */
export function inferenceOnly(op: string, x: Tensor, w: Tensor): void {
  if (needsGrad(x)) {
    throw new DtypeError(`${op}: the weight ${shapeStr(w.shape)} is held as ${w.half!.dtype} for inference, and a gradient cannot flow through it`,
      'load the model with --weights f32 to train or to take gradients');
  }
}

export function linear(x: Tensor, w: Tensor): Tensor {
  const [outF, inF] = w.shape;
  if (w.shape.length !== 2 || lastDim(x) !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)} (last input dim must equal weight.shape[1])`);
  }
  const M = x.size / inF;
  const be = backend();
  if (w.half) {
    inferenceOnly('linear', x, w);
    const y = output([...x.shape.slice(0, -1), outF], false);
    be.matmulHalf(y.data, x.data, w.half.bits, w.half.dtype === 'bf16', M, outF, inF, false);
    return y;
  }
  const y = output([...x.shape.slice(0, -1), outF], needsGrad(x, w));
  be.matmul(y.data, x.data, w.data, M, outF, inF, false, true, false);
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      if (x.requiresGrad) be.matmul(x.ensureGrad(), dy, w.data, M, inF, outF, false, false, true);
      if (w.requiresGrad) be.matmul(w.ensureGrad(), dy, x.data, outF, inF, M, true, false, true);
    });
  }
  return y;
}
