// Noisy top-k gating (spec §3; Shazeer et al., arXiv 1701.06538): H = z + ε·softplus(noise logits) in
// training, keep the top k of H, G = softmax over the kept entries.
import { AssignmentBuilder } from '../assignment.js';
import { importanceLoss, LOSS_COEFFICIENTS, noisyLoadLoss } from '../losses.js';
import { descendingOrder, RoutingError, sigmoid, softmaxInto, softplus } from '../math.js';
import { ShapeError } from '../../tensor/index.js';
import { pairGrid, subsetSoftmaxBackward } from './backward.js';
import type { RouterModule } from './types.js';

export interface NoisyTopKConfig {
  type: 'noisy_top_k';
  k: number;
  /** w_imp: CV²(Importance) (§3, [recall] 0.1). */
  importance_coef: number;
  /** w_load: CV²(Load) (§3, [recall] 0.1). */
  load_coef: number;
}

export const noisyTopK: RouterModule<NoisyTopKConfig> = {
  keys: ['k', 'importance_coef', 'load_coef'],

  parse(r, numExperts) {
    return {
      type: 'noisy_top_k',
      k: r.integer('k', 2, 1, numExperts),
      importance_coef: r.coefficient('importance_coef', LOSS_COEFFICIENTS.noisyCv),
      load_coef: r.coefficient('load_coef', LOSS_COEFFICIENTS.noisyCv),
    };
  },

  route(logits, T, E, config, ctx) {
    const { k } = config;
    // x·W_noise [T, E]; absent = 0, its initial value (W_noise starts at zero), σ = softplus(0) = ln 2
    const noiseLogits = ctx.noiseLogits ?? new Float32Array(T * E);
    if (noiseLogits.length !== T * E) throw new ShapeError(`noisy_top_k: noise logits have ${noiseLogits.length} values, expected [${T}, ${E}]`);
    const eps = new Float32Array(T * E); // ε ~ N(0, 1) in training, 0 at inference [T, E]
    const H = new Float32Array(T * E); // H = z + ε·softplus(z_noise) [T, E]
    for (let i = 0; i < T * E; i++) {
      if (ctx.training) eps[i] = ctx.rng.normal();
      H[i] = logits[i] + eps[i] * softplus(noiseLogits[i]);
    }
    const G = new Float32Array(T * E); // softmax(KeepTopK(H, k)): zeros outside the top k [T, E]
    const kept = new Int32Array(T * k); // [T, k]
    const keptH = new Float32Array(k);
    const keptG = new Float32Array(k);
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      kept.set(descendingOrder(H, t * E, E).subarray(0, k), t * k);
      for (let r = 0; r < k; r++) keptH[r] = H[t * E + kept[t * k + r]];
      softmaxInto(keptH, 0, k, keptG);
      for (let r = 0; r < k; r++) {
        G[t * E + kept[t * k + r]] = keptG[r];
        pairs.push(t, kept[t * k + r], keptG[r], r);
      }
    }
    const assignment = pairs.finish();
    // dL/dH: softmax over the kept entries; H depends on z (×1) and on the noise logits (×ε·σ'(n))
    const dH = (dWeight: Float32Array) => subsetSoftmaxBackward(pairGrid(assignment, dWeight, T, E), T, E, (t) => ({
      experts: kept.subarray(t * k, (t + 1) * k), weights: assignment.weight.subarray(t * k, (t + 1) * k),
    }));
    return {
      assignment,
      probs: G,
      backward: dH,
      backwardNoise: (dWeight) => dH(dWeight).map((d, i) => d * eps[i] * sigmoid(noiseLogits[i])),
      noisy: { logits: H, eps },
    };
  },

  auxLosses(out, logits, T, E, config, ctx) {
    const noisy = out.noisy;
    if (!noisy) throw new RoutingError('noisy_top_k: the aux losses need this router\'s own output (H and ε)');
    return [
      { name: 'importance', coefficient: config.importance_coef, ...importanceLoss(out, E) },
      { name: 'load', coefficient: config.load_coef,
        ...noisyLoadLoss(logits, ctx.noiseLogits ?? new Float32Array(T * E), noisy.logits, noisy.eps, T, E, config.k) },
    ];
  },
};
