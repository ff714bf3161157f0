// Linear layer without bias, HF/PyTorch layout: W [out, in], y = x·Wᵀ.
//   forward   y[M, out]  = x[M, in] · W[out, in]ᵀ          (matmul transB)
//   backward  dx[M, in] += dy[M, out] · W[out, in]          (matmul NN)
//             dW[out,in] += dy[M, out]ᵀ · x[M, in]         (matmul transA)
import { backend } from '../backend/index.js';
import { ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { lastDim } from './util.js';

export function linear(x: Tensor, w: Tensor): Tensor {
  const [outF, inF] = w.shape;
  if (w.shape.length !== 2 || lastDim(x) !== inF) {
    throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)} (last input dim must equal weight.shape[1])`);
  }
  const M = x.size / inF;
  const be = backend();
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
