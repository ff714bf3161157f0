// Auxiliary router losses, each with its value and analytic gradient w.r.t. the router logits [T, E].
// Per MoE layer with token means over the routing group (§0); layers are combined by reduceLayers /
// poolLayers (`sum|mean|pooled`). Values are unscaled; coefficients multiply them in weightedTotal.
import { AssignmentBuilder, expertCounts, pairCount, type Assignment } from './assignment.js';
import { logSumExp, normalCdf, normalPdf, sigmoid, softmaxBackward, softmaxRows, softplus, descendingOrder } from './math.js';
import type { AuxLoss, RouterOutput } from './routers/types.js';

/** Coefficient defaults: LB α (§1.3, §5), entropy β (§1.3), z-loss c_z (§6), noisy CV² w (§3). */
export const LOSS_COEFFICIENTS = { loadBalance: 1e-2, entropy: 1e-4, zLoss: 1e-3, noisyCv: 0.1 } as const;

export interface LossValue {
  value: number;
  /** d value / d logits [T, E] */
  grad: Float32Array;
  /** d value / d noise logits [T, E] (noisy top-k) */
  gradNoise?: Float32Array;
}

/** scale · Σ_i f_i Q_i with Q_i = mean_t softmax(z_t)_i and f constant: ∂/∂P_{t,i} = scale · f_i / T. */
function fDotMeanProb(logits: Float32Array, T: number, E: number, f: ArrayLike<number>, scale: number): LossValue {
  const P = softmaxRows(logits, T, E, 1, new Float64Array(T * E)); // [T, E]
  const dP = new Float64Array(T * E);
  let value = 0;
  for (let i = 0; i < E; i++) {
    let Q = 0;
    for (let t = 0; t < T; t++) Q += P[t * E + i];
    value += f[i] * (Q / T);
    for (let t = 0; t < T; t++) dP[t * E + i] = (scale * f[i]) / T;
  }
  return { value: scale * value, grad: softmaxBackward(P, dP, T, E) };
}

/**
 * Load balance `E · Σ_i f_i Q_i` (§1.3 Top-P, §5 Switch, §2 HF top-k form): f_i = pre-drop pairs of
 * expert i over the tokens (`tokens`: Σf = mean k, balanced value = mean k) or over all pairs
 * (`assignments`: Σf = 1). f is a count (no gradient); the gradient flows through Q.
 */
export function loadBalanceLoss(logits: Float32Array, T: number, E: number, a: Assignment,
  fNorm: 'tokens' | 'assignments' = 'tokens'): LossValue {
  const denom = fNorm === 'tokens' ? T : Math.max(1, pairCount(a));
  return fDotMeanProb(logits, T, E, Array.from(expertCounts(a, E), (n) => n / denom), E);
}

/**
 * GShard aux, scaled form (§4): E · Σ_e (c_e/S) m_e per group of S tokens, c_e = first-choice (rank 0)
 * count incl. overflow, m_e = mean gate; averaged over the `groups` contiguous groups.
 */
export function gshardAuxLoss(logits: Float32Array, T: number, E: number, a: Assignment, groups = 1): LossValue {
  const S = T / groups;
  const firstChoices = new Float64Array(groups * E); // [groups, E] c_e / S
  for (let i = 0; i < pairCount(a); i++) if (a.rank[i] === 0) firstChoices[Math.floor(a.token[i] / S) * E + a.expert[i]] += 1 / S;
  const grad = new Float32Array(T * E);
  let value = 0;
  for (let g = 0; g < groups; g++) {
    const group = fDotMeanProb(logits.subarray(g * S * E, (g + 1) * S * E), S, E, firstChoices.subarray(g * E, (g + 1) * E), E / groups);
    value += group.value;
    grad.set(group.grad, g * S * E);
  }
  return { value, grad };
}

/** DeepSeekMoE expert-level f_i = (N' / (K' T)) · count_i over the N' routed experts (§13). */
function deepseekF(a: Assignment, T: number, E: number, k: number): Float64Array {
  return Float64Array.from(expertCounts(a, E), (n) => (E / (k * T)) * n);
}

/** DeepSeekMoE expert-level balance Σ_i f_i P_i (§13, balanced value 1). */
export function deepseekExpertBalanceLoss(logits: Float32Array, T: number, E: number, a: Assignment, k: number): LossValue {
  return fDotMeanProb(logits, T, E, deepseekF(a, T, E, k), 1);
}

/**
 * DeepSeek-V3's sequence-wise balance Σ_i f_i P_i for sigmoid scores (arXiv 2412.19437 §2.1.2): f_i as in
 * §13, P_i = mean_t s'_{i,t} with s' = σ(z)/Σ_j σ(z_j) (the scores normalised per token, bias excluded).
 * ∂s'_i/∂z_j = σ'(z_j)(δ_ij − s'_i)/Σσ, so ∂L/∂z_j = σ'(z_j)(g_j − Σ_i g_i s'_i)/Σσ with g_i = f_i/T.
 */
export function sigmoidSequenceBalanceLoss(logits: Float32Array, T: number, E: number, a: Assignment, k: number): LossValue {
  const f = deepseekF(a, T, E, k);
  const grad = new Float32Array(T * E);
  let value = 0;
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let j = 0; j < E; j++) sum += sigmoid(logits[t * E + j]);
    let dot = 0; // Σ_i g_i s'_i
    for (let i = 0; i < E; i++) dot += (f[i] / T) * (sigmoid(logits[t * E + i]) / sum);
    value += dot;
    for (let j = 0; j < E; j++) {
      const s = sigmoid(logits[t * E + j]);
      grad[t * E + j] = (s * (1 - s) * (f[j] / T - dot)) / sum;
    }
  }
  return { value, grad };
}

/**
 * DeepSeekMoE device-level balance Σ_d f'_d P'_d (§13) over `devices` equal contiguous groups of experts:
 * f'_d = mean_{j∈E_d} f_j, P'_d = Σ_{j∈E_d} P_j, i.e. Σ_j f'_{d(j)} P_j.
 */
export function deepseekDeviceBalanceLoss(logits: Float32Array, T: number, E: number, a: Assignment, k: number,
  devices: number): LossValue {
  const f = deepseekF(a, T, E, k);
  const size = E / devices;
  const fDevice = new Float64Array(E);
  for (let d = 0; d < devices; d++) {
    let mean = 0;
    for (let j = d * size; j < (d + 1) * size; j++) mean += f[j] / size;
    fDevice.fill(mean, d * size, (d + 1) * size);
  }
  return fDotMeanProb(logits, T, E, fDevice, 1);
}

/** Dynamic (entropy) loss mean_t H(P_t) (§1.3); ∂H/∂z_j = −P_j (log P_j + H), 0·log 0 = 0. */
export function entropyLoss(logits: Float32Array, T: number, E: number): LossValue {
  const P = softmaxRows(logits, T, E, 1, new Float64Array(T * E));
  const grad = new Float32Array(T * E);
  let total = 0;
  for (let t = 0; t < T; t++) {
    let H = 0;
    for (let j = 0; j < E; j++) { const p = P[t * E + j]; if (p > 0) H -= p * Math.log(p); }
    total += H;
    for (let j = 0; j < E; j++) {
      const p = P[t * E + j];
      grad[t * E + j] = p > 0 ? (-p * (Math.log(p) + H)) / T : 0;
    }
  }
  return { value: total / T, grad };
}

/** Router z-loss mean_t lse_t² (§6); ∂/∂z_{t,j} = (2/T) lse_t softmax(z_t)_j. */
export function zLoss(logits: Float32Array, T: number, E: number): LossValue {
  const P = softmaxRows(logits, T, E, 1, new Float64Array(T * E));
  const grad = new Float32Array(T * E);
  let value = 0;
  for (let t = 0; t < T; t++) {
    const lse = logSumExp(logits, t * E, E);
    value += (lse * lse) / T;
    for (let j = 0; j < E; j++) grad[t * E + j] = ((2 / T) * lse) * P[t * E + j];
  }
  return { value, grad };
}

/** The z-loss entry of a router's aux-loss list when its coefficient is on (§6). */
export function zLossTerm(coefficient: number, logits: Float32Array, T: number, E: number): AuxLoss[] {
  return coefficient > 0 ? [{ name: 'z_loss', coefficient, ...zLoss(logits, T, E) }] : [];
}

/** CV² = Var/(Mean² + 1e-10) with population variance (§3), and its gradient w.r.t. x. */
export function cvSquared(x: ArrayLike<number>): { value: number; grad: Float64Array } {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i] - mean) ** 2 / n;
  const denom = mean * mean + 1e-10;
  // ∂Var/∂x_i = 2(x_i − μ)/n; ∂μ²/∂x_i = 2μ/n
  const grad = Float64Array.from({ length: n }, (_, i) => (2 * (x[i] - mean)) / n / denom - (variance * 2 * mean) / n / (denom * denom));
  return { value: variance / denom, grad };
}

/** Σ over pairs of each expert's surviving weight (importance, §3; DTS gate mass, §9) [E]. */
function weightPerExpert(a: Assignment, E: number): Float64Array {
  const sum = new Float64Array(E);
  for (let i = 0; i < pairCount(a); i++) if (!a.dropped[i]) sum[a.expert[i]] += a.weight[i];
  return sum;
}

/** Importance loss CV²(Σ_x G(x)) (§3); the gradient reaches the logits through the router's backward. */
export function importanceLoss(out: RouterOutput, E: number): LossValue {
  const cv = cvSquared(weightPerExpert(out.assignment, E));
  const dWeight = Float32Array.from(out.assignment.expert, (e) => cv.grad[e]);
  return { value: cv.value, grad: out.backward(dWeight), gradNoise: out.backwardNoise?.(dWeight) };
}

/**
 * Smooth load estimator of noisy gating (§3): P(x, i) = Φ((z_i − kth_excluding(H, k, i)) / σ_i) with
 * σ = softplus(noise logits); the threshold is H's (k+1)-th value for i in the top-k, else its k-th.
 * Returns P [T, E], the z-scores [T, E] and the index j of the H entry used as threshold (−1: none, k = E).
 */
export function noisyLoadProbabilities(logits: Float32Array, noiseLogits: Float32Array, H: Float32Array, T: number,
  E: number, k: number): { prob: Float64Array; zScore: Float64Array; threshold: Int32Array } {
  const prob = new Float64Array(T * E);
  const zScore = new Float64Array(T * E);
  const threshold = new Int32Array(T * E);
  for (let t = 0; t < T; t++) {
    const order = descendingOrder(H, t * E, E);
    const inTopK = new Uint8Array(E);
    for (let r = 0; r < k; r++) inTopK[order[r]] = 1;
    for (let i = 0; i < E; i++) {
      const j = inTopK[i] ? (k < E ? order[k] : -1) : order[k - 1];
      threshold[t * E + i] = j;
      zScore[t * E + i] = j < 0 ? Infinity : (logits[t * E + i] - H[t * E + j]) / softplus(noiseLogits[t * E + i]);
      prob[t * E + i] = normalCdf(zScore[t * E + i]);
    }
  }
  return { prob, zScore, threshold };
}

/**
 * Noisy-gating load loss CV²(Load), Load_i = Σ_x P(x, i) (§3). Gradients reach the clean logits, the
 * noise scale σ_i, and the threshold entry H_j = z_j + ε_j σ_j.
 */
export function noisyLoadLoss(logits: Float32Array, noiseLogits: Float32Array, H: Float32Array, eps: Float32Array,
  T: number, E: number, k: number): LossValue {
  const { prob, zScore, threshold } = noisyLoadProbabilities(logits, noiseLogits, H, T, E, k);
  const load = new Float64Array(E);
  for (let i = 0; i < T * E; i++) load[i % E] += prob[i];
  const cv = cvSquared(load);
  const grad = new Float32Array(T * E);
  const gradNoise = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < E; i++) {
      const j = threshold[t * E + i];
      if (j < 0) continue;
      const sigma = softplus(noiseLogits[t * E + i]);
      const dArg = (cv.grad[i] * normalPdf(zScore[t * E + i])) / sigma; // dL/d(z_i − H_j)
      grad[t * E + i] += dArg;
      grad[t * E + j] -= dArg;
      gradNoise[t * E + j] -= dArg * eps[t * E + j] * sigmoid(noiseLogits[t * E + j]); // ∂H_j/∂n_j = ε_j σ'(n_j)
      gradNoise[t * E + i] -= dArg * zScore[t * E + i] * sigmoid(noiseLogits[t * E + i]); // ∂/∂σ_i = −zs/σ_i
    }
  }
  return { value: cv.value, grad, gradNoise };
}

/**
 * DTS-Gate load balance (§9): E · Σ_i mean_t(G_i·1[sel]) · mean_t(1[sel]); the count factor is constant,
 * the gate factor reaches the logits through the router's backward (Gumbel softmax with temperature).
 */
export function denseToSparseBalanceLoss(out: RouterOutput, T: number, E: number): LossValue {
  const f = Float64Array.from(expertCounts(out.assignment, E), (n) => n / T); // pre-drop counts (§15)
  const gate = weightPerExpert(out.assignment, E);
  let value = 0;
  for (let i = 0; i < E; i++) value += E * (gate[i] / T) * f[i];
  const dWeight = Float32Array.from(out.assignment.expert, (e) => (E * f[e]) / T);
  return { value, grad: out.backward(dWeight) };
}

/** Σ coefficient · value of a layer's aux losses, and its gradients [T, E]. */
export function weightedTotal(losses: readonly AuxLoss[], T: number, E: number): LossValue {
  const grad = new Float32Array(T * E);
  let gradNoise: Float32Array | undefined;
  let value = 0;
  for (const l of losses) {
    value += l.coefficient * l.value;
    for (let i = 0; i < T * E; i++) grad[i] += l.coefficient * l.grad[i];
    if (l.gradNoise) {
      gradNoise ??= new Float32Array(T * E);
      for (let i = 0; i < T * E; i++) gradNoise[i] += l.coefficient * l.gradNoise[i];
    }
  }
  return { value, grad, gradNoise };
}

export type LayerReduction = 'sum' | 'mean' | 'pooled';

/**
 * Combines per-layer losses (§0): `sum` (moekit default) or `mean`; gradients are scaled to match.
 * `pooled` is not a reduction of per-layer values: concatenate the layers with poolLayers and compute one loss.
 */
export function reduceLayers(perLayer: readonly LossValue[], mode: 'sum' | 'mean'): { value: number; grads: Float32Array[] } {
  const scale = mode === 'mean' ? 1 / Math.max(1, perLayer.length) : 1;
  return {
    value: perLayer.reduce((s, l) => s + scale * l.value, 0),
    grads: perLayer.map((l) => l.grad.map((g) => g * scale)),
  };
}

/**
 * `pooled` (HF `load_balancing_loss_func`, §0): the rows of all layers concatenated along the token axis,
 * so one loss is computed over the (layer, token) rows (for the logits-based losses: LB, entropy, z,
 * GShard, DeepSeek). Returns the pooled inputs and a function that splits a pooled gradient [ΣT, E]
 * back into per-layer gradients.
 */
export function poolLayers(layers: readonly { logits: Float32Array; assignment: Assignment; T: number }[], E: number): {
  logits: Float32Array; assignment: Assignment; T: number; split(grad: Float32Array): Float32Array[];
} {
  const T = layers.reduce((s, l) => s + l.T, 0);
  const logits = new Float32Array(T * E); // [ΣT, E]
  const pairs = new AssignmentBuilder();
  const dropped: number[] = [];
  let row = 0; // first row of the layer
  for (const { logits: layerLogits, assignment: a, T: layerT } of layers) {
    logits.set(layerLogits, row * E);
    for (let i = 0; i < pairCount(a); i++) {
      pairs.push(row + a.token[i], a.expert[i], a.weight[i], a.rank[i]);
      dropped.push(a.dropped[i]);
    }
    row += layerT;
  }
  const assignment = pairs.finish();
  assignment.dropped.set(dropped);
  const split = (grad: Float32Array): Float32Array[] => {
    let first = 0; // first row of the layer
    return layers.map((l) => grad.slice(first * E, (first += l.T) * E));
  };
  return { logits, assignment, T, split };
}
