// Residual-MoE combine (spec §12, DeepSpeed-MoE): y = c₀ · MoE_top1(u) + c₁ · MLP(u) with
// [c₀, c₁] = softmax(W_c u + b_c) per token (`learned`), or y = MoE + MLP (`sum`). MoE_top1 already
// includes the gate probability. Forward and backward side by side.
import { needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { softmaxInto } from './math.js';

/** y [T, d] from the routed output moe [T, d], the dense output mlp [T, d] and coefficient logits [T, 2]. */
export function residualCombineForward(moe: Float32Array, mlp: Float32Array, coefLogits: Float32Array | null,
  T: number, d: number): { y: Float32Array; coef: Float32Array } {
  const coef = new Float32Array(T * 2).fill(1); // `sum` mode: c = [1, 1]
  if (coefLogits) for (let t = 0; t < T; t++) softmaxInto(coefLogits, 2 * t, 2, coef);
  const y = new Float32Array(T * d);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < d; i++) y[t * d + i] = coef[2 * t] * moe[t * d + i] + coef[2 * t + 1] * mlp[t * d + i];
  }
  return { y, coef };
}

/** Gradients w.r.t. moe, mlp [T, d] and (learned mode) the coefficient logits [T, 2]. */
export function residualCombineBackward(dy: Float32Array, moe: Float32Array, mlp: Float32Array, coef: Float32Array,
  learned: boolean, T: number, d: number): { dMoe: Float32Array; dMlp: Float32Array; dCoefLogits: Float32Array | null } {
  const dMoe = new Float32Array(T * d);
  const dMlp = new Float32Array(T * d);
  const dCoefLogits = learned ? new Float32Array(T * 2) : null;
  for (let t = 0; t < T; t++) {
    let dc0 = 0;
    let dc1 = 0;
    for (let i = 0; i < d; i++) {
      dMoe[t * d + i] = coef[2 * t] * dy[t * d + i];
      dMlp[t * d + i] = coef[2 * t + 1] * dy[t * d + i];
      dc0 += dy[t * d + i] * moe[t * d + i];
      dc1 += dy[t * d + i] * mlp[t * d + i];
    }
    if (dCoefLogits) { // 2-way softmax: dz₀ = c₀c₁(dc₀ − dc₁) = −dz₁
      const g = coef[2 * t] * coef[2 * t + 1] * (dc0 - dc1);
      dCoefLogits[2 * t] = g;
      dCoefLogits[2 * t + 1] = -g;
    }
  }
  return { dMoe, dMlp, dCoefLogits };
}

/**
 * The combine as a differentiable op: moe [T, d], mlp [T, d], coefLogits [T, 2] (`learned`) or null
 * (`sum`) → y [T, d]. Backward sends dMoe, dMlp and dCoefLogits to the inputs that need them.
 */
export function residualCombine(moe: Tensor, mlp: Tensor, coefLogits: Tensor | null): Tensor {
  const [T, d] = moe.shape;
  const { y: value, coef } = residualCombineForward(moe.data, mlp.data, coefLogits?.data ?? null, T, d);
  const y = output([T, d], needsGrad(moe, mlp, coefLogits));
  y.data.set(value);
  if (y.requiresGrad) {
    record(() => {
      if (!y.grad) return;
      const g = residualCombineBackward(y.grad, moe.data, mlp.data, coef, coefLogits !== null, T, d);
      accumulate(moe, g.dMoe);
      accumulate(mlp, g.dMlp);
      if (coefLogits && g.dCoefLogits) accumulate(coefLogits, g.dCoefLogits);
    });
  }
  return y;
}

function accumulate(t: Tensor, d: Float32Array): void {
  if (!t.requiresGrad) return;
  const g = t.ensureGrad();
  for (let i = 0; i < g.length; i++) g[i] += d[i];
}
