// The MoE data path as differentiable ops (design.md "Inside one MoE layer"):
//   dispatch  xPerm[n, d] = x[rows[i], :]                      (gather in expert order)
//   experts   h[n, N]     = xPerm[R_e] · W_eᵀ per expert e     (one grouped GEMM for all experts)
//   combine   y[T, d]     = Σ_i weights[i] · yPerm[i, :] at row rows[i]   (weighted scatter-add)
// Gradients: gather ↔ scatter-add are adjoint; the grouped GEMM's input gradient is a grouped NN GEMM
// and its weight gradient a per-expert TN GEMM; combine sends weights[i]·dy back to yPerm and
// ⟨dy[rows[i]], yPerm[i]⟩ to the weights (from there the router's backward takes it to the logits).
import { backend } from '../backend/index.js';
import { ShapeError, shapeStr, isRecording, needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { expectSize, gradTarget } from './util.js';
import { inferenceOnly } from './matmul.js';

/** x [T, D] → out [n, D] with out[i] = x[rows[i]]. */
export function gatherRows(x: Tensor, rows: Int32Array): Tensor {
  const D = x.shape[x.shape.length - 1];
  const n = rows.length;
  const be = backend();
  const y = output([n, D], needsGrad(x));
  be.gatherRows(y.data, x.data, rows, n, D);
  if (y.requiresGrad) {
    record(() => {
      if (y.grad) be.scatterAddRows(x.ensureGrad(), y.grad, rows, n, D);
    });
  }
  return y;
}

/**
 * Grouped Linear: rows offsets[e]..offsets[e+1] of x go through expert e's weight.
 * x [n, K], w stacked [E, N, K] (HF layout per expert: [out, in]) → [n, N].
 */
export function groupedLinear(x: Tensor, w: Tensor, offsets: Int32Array): Tensor {
  const [E, N, K] = w.shape;
  const n = offsets[E];
  if (w.shape.length !== 3 || offsets.length !== E + 1) {
    throw new ShapeError(`groupedLinear: weight ${shapeStr(w.shape)} must be [E, out, in] with E + 1 = ${offsets.length} offsets`);
  }
  expectSize('groupedLinear', 'input', x, n * K, `rows·in = ${n}·${K}`);
  const be = backend();
  if (w.half) {
    inferenceOnly('groupedLinear', x, w);
    const y = output([n, N], false);
    be.groupedMatmulHalf(y.data, x.data, w.half.bits, w.half.dtype === 'bf16', offsets, E, N, K);
    return y;
  }
  const y = output([n, N], needsGrad(x, w));
  be.groupedMatmul(y.data, x.data, w.data, offsets, E, N, K, true, false);
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      if (x.requiresGrad) be.groupedMatmul(x.ensureGrad(), dy, w.data, offsets, E, K, N, false, true);
      if (w.requiresGrad) be.groupedMatmulWeightGrad(w.ensureGrad(), dy, x.data, offsets, E, N, K);
    });
  }
  return y;
}

/** y [T, D] = Σ_i weights[i] · x[i, :] added at row rows[i]; x [n, D], weights [n]. */
export function combineRows(x: Tensor, weights: Tensor, rows: Int32Array, T: number): Tensor {
  const n = rows.length;
  const D = x.shape[x.shape.length - 1];
  expectSize('combineRows', 'x', x, n * D, `n·D = ${n}·${D}`);
  expectSize('combineRows', 'weights', weights, n, 'n');
  const be = backend();
  const y = output([T, D], needsGrad(x, weights));
  y.data.fill(0);
  be.weightedScatterAdd(y.data, x.data, rows, weights.data, n, D);
  if (y.requiresGrad) {
    record(() => {
      if (!y.grad) return;
      const dx = gradTarget(x);
      const dw = gradTarget(weights);
      be.weightedScatterAddBackward(dx, dw, y.grad, x.data, rows, weights.data, n, D);
    });
  }
  return y;
}

/**
 * A tensor whose value is given and whose gradient is handed to `backward` — the bridge from the
 * routed weights (computed by a router, a pure function of the logits) back into the graph.
 * `backward(dValue)` must accumulate into its sources' gradients itself.
 */
export function customLeaf(value: Float32Array, shape: readonly number[], requiresGrad: boolean,
  backwardFn: (dValue: Float32Array) => void): Tensor {
  const t = output(shape, requiresGrad && isRecording());
  t.data.set(value);
  if (t.requiresGrad) {
    record(() => {
      if (t.grad) backwardFn(t.grad);
    });
  }
  return t;
}
