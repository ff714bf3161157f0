// One MoE FFN layer (design.md "Inside one MoE layer"):
//   u [T, d] → router logits z = u·W_rᵀ [T, E] → Router (pure function) → Assignment
//   → dispatch (gather rows in expert order) → grouped SwiGLU experts → combine (weighted scatter-add)
//   (+ shared experts, DeepSeekMoE §13) (+ Residual-MoE's dense MLP, §12) ; aux losses → their gradient
//   is added to dL/dz.
// Gradients reach the router through the combine weights (router.backward: §0, selection is constant)
// and through the aux losses.
import { add, addBias, combineRows, customLeaf, gatherRows, linear, scaleBy, sigmoidGate } from '../ops/index.js';
import { ConfigError, record, type Rng, type Tensor } from '../tensor/index.js';
import { Linear, SwiGLUMLP, type FeedForward, type FfnContext, type ParamBuilder } from '../nn/index.js';
import { expertOffsets } from './assignment.js';
import { weightedTotal } from './losses.js';
import { createRouter, routedExperts, sharedExperts, type Router, type RouterConfig, type RouterOutput } from './routers/index.js';
import { jitterFactors } from './routers/switch.js';
import { GroupedExperts } from './experts.js';
import { residualCombine } from './residual.js';
import type { DeferredAux } from './pooled.js';

/** Residual-MoE (§12): `learned` y = c₀·MoE + c₁·MLP with c = softmax(W_c u + b_c); `sum` y = MoE + MLP. */
export type ResidualMode = 'learned' | 'sum';

export interface MoeLayerOptions {
  /** All experts of the layer (DeepSeek: shared + routed). */
  numExperts: number;
  hidden: number;
  /** Width of one expert's SwiGLU. */
  expertWidth: number;
  router: RouterConfig;
  initStd: number;
  /** Std of the router weight's initial draw. */
  routerInitStd: number;
  /** Multiplies this layer's aux-loss gradients (layer reduction: 1 for sum, 1/L for mean, §0). */
  auxScale: number;
  /** `pooled` reduction (§0): leave the aux losses to applyPooledAux after the last layer. */
  pooledAux: boolean;
  /** Randomness of routing (noise, jitter, GShard's second expert): the trainer saves its state. */
  rng: Rng;
  /** Residual-MoE's always-on dense MLP and how it combines (§12); null = none. */
  residual: ResidualMode | null;
  /** Width of the residual MLP (the model's intermediate_size). */
  residualWidth: number;
  /** Dropout probability on the experts' hidden activations in training (§5); 0 = off. */
  expertDropout: number;
  /** Width of an always-on shared expert (Qwen2-MoE, DeepSeekMoE as HF stores it); 0 = none. */
  sharedWidth: number;
  /** Scale the shared expert by sigmoid(u·w_g) (Qwen2-MoE `shared_expert_gate`). */
  sharedGate: boolean;
}

/** What an MoE layer exposes of one forward pass, for statistics (§16). */
export interface MoeRouting {
  T: number;
  E: number;
  output: RouterOutput;
  /** Set under the `pooled` reduction: what the pooled aux loss needs from this layer (src/moe/pooled.ts). */
  deferred?: DeferredAux;
}

export class MoELayer implements FeedForward {
  readonly gate: Linear;
  readonly noise: Linear | null;
  /** DeepSeek-V3 `mlp.gate.e_score_correction_bias` [E]: selection only, not trained by gradient. */
  readonly selectionBias: Tensor | null;
  readonly experts: GroupedExperts;
  readonly shared: SwiGLUMLP | null;
  /** Qwen2-MoE's shared-expert gate `shared_expert_gate.weight` [1, d]. */
  readonly sharedGate: Linear | null;
  readonly residualMlp: SwiGLUMLP | null;
  /** Residual-MoE coefficient Linear with bias (`learned`): weight [2, d], bias [2]. */
  readonly coefficient: { weight: Tensor; bias: Tensor } | null;
  router: Router;
  readonly routed: number;
  private warnedNonCausal = false;

  constructor(b: ParamBuilder, readonly layer: number, readonly opts: MoeLayerOptions) {
    this.routed = routedExperts(opts.router, opts.numExperts);
    this.router = createRouter(opts.router);
    // The router's weight is `mlp.gate.weight` [E, d] (OLMoE / Qwen-MoE / DeepSeek naming).
    this.gate = new Linear(b.pp('gate'), opts.hidden, this.routed, opts.routerInitStd, false, 'f32');
    // Noisy top-k (§3): W_noise starts at zero, so early training is noise with scale softplus(0).
    this.noise = opts.router.type === 'noisy_top_k' ? new Linear(b.pp('gate_noise'), opts.hidden, this.routed, 0, false, 'f32') : null;
    this.experts = new GroupedExperts(b, this.routed, opts.hidden, opts.expertWidth, opts.initStd);
    // A buffer in HF (updated by DeepSeek-V3's aux-loss-free balancing, not by the optimizer).
    this.selectionBias = opts.router.type === 'group_limited' && opts.router.correction_bias
      ? b.pp('gate').param('e_score_correction_bias', [this.routed], { kind: 'zeros' }) : null;
    if (this.selectionBias) this.selectionBias.requiresGrad = false;
    // Shared experts always run, unweighted (§13): DeepSeek fuses K_s of the routed width into one SwiGLU
    // as HF does; Qwen2-MoE has one of its own width.
    const shared = sharedExperts(opts.router) > 0 ? sharedExperts(opts.router) * opts.expertWidth : opts.sharedWidth;
    this.shared = shared > 0 ? new SwiGLUMLP(b.pp('shared_experts'), opts.hidden, shared, opts.initStd) : null;
    this.sharedGate = opts.sharedGate ? new Linear(b.pp('shared_expert_gate'), opts.hidden, 1, opts.initStd, false, 'f32') : null;
    // Residual-MoE (§12, DeepSpeed naming): `mlp.residual_mlp.*` and `mlp.coefficient.{weight,bias}`.
    this.residualMlp = opts.residual ? new SwiGLUMLP(b.pp('residual_mlp'), opts.hidden, opts.residualWidth, opts.initStd) : null;
    this.coefficient = opts.residual === 'learned' ? {
      weight: b.pp('coefficient').param('weight', [2, opts.hidden], { kind: 'normal', std: opts.initStd }),
      bias: b.pp('coefficient').param('bias', [2], { kind: 'zeros' }),
    } : null;
  }

  /**
   * Route with another router from now on, keeping every parameter (inference-time override: Top-P on a
   * top-k checkpoint, another k). Refused when the router needs parameters or experts the layer lacks.
   */
  setRouter(config: RouterConfig): void {
    if (routedExperts(config, this.opts.numExperts) !== this.routed) {
      throw new ConfigError(`layer ${this.layer}: the ${config.type} router would route ${routedExperts(config, this.opts.numExperts)} experts; this layer has ${this.routed} routed experts`);
    }
    if (config.type === 'noisy_top_k' && !this.noise) {
      throw new ConfigError(`layer ${this.layer}: noisy_top_k needs the noise weights (mlp.gate_noise) this model was not trained with`);
    }
    if (config.type === 'group_limited' && config.correction_bias && !this.selectionBias) {
      throw new ConfigError(`layer ${this.layer}: correction_bias needs the selection bias (mlp.gate.e_score_correction_bias) this model does not have`);
    }
    this.router = createRouter(config);
    this.opts.router = config;
    this.warnedNonCausal = false;
  }

  forward(u: Tensor, ctx: FfnContext): Tensor {
    const T = u.shape[0];
    const E = this.routed;
    if (this.opts.router.type === 'expert_choice' && !this.warnedNonCausal) {
      this.warnedNonCausal = true;
      process.stderr.write('moekit: expert_choice routing is not causal (a token\'s experts depend on later tokens, §14); use it for analysis, not for generation.\n');
    }
    const logits = linear(this.routerInput(u, ctx.training), this.gate.weight); // [T, E]
    const noise = this.noise ? linear(u, this.noise.weight) : null;      // [T, E]
    const routerCtx = { training: ctx.training, rng: this.opts.rng, tokenIds: ctx.ids, step: ctx.step, noiseLogits: noise?.data,
      selectionBias: this.selectionBias?.data };
    const out = this.router.route(logits.data, T, E, routerCtx);
    const a = out.assignment;
    const { order, offsets } = expertOffsets(a, T, E);
    const n = order.length;
    const rows = new Int32Array(n);                                      // token of each dispatched row
    const weights = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      rows[i] = a.token[order[i]];
      weights[i] = a.weight[order[i]];
    }
    // Routed weights in dispatch order; their gradient goes back through the router to the logits.
    const w = customLeaf(weights, [n], logits.requiresGrad || (noise?.requiresGrad ?? false), (dw) => {
      const dPair = new Float32Array(a.token.length);
      for (let i = 0; i < n; i++) dPair[order[i]] = dw[i];
      addInto(logits, out.backward(dPair), 1);
      if (noise && out.backwardNoise) addInto(noise, out.backwardNoise(dPair), 1);
    });
    const dropout = ctx.training && this.opts.expertDropout > 0 ? { p: this.opts.expertDropout, rng: this.opts.rng } : null;
    const yPerm = this.experts.forward(gatherRows(u, rows), offsets, dropout); // [n, d]
    let y = combineRows(yPerm, w, rows, T);                              // [T, d]
    if (this.shared) {
      const s = this.shared.forward(u); // [T, d]
      y = add(y, this.sharedGate ? sigmoidGate(s, this.sharedGate.forward(u)) : s);
    }
    if (this.residualMlp) {
      const c = this.coefficient;
      const coefLogits = c ? addBias(linear(u, c.weight), c.bias) : null; // [T, 2]
      y = residualCombine(y, this.residualMlp.forward(u), coefLogits);
    }

    const routing: MoeRouting = { T, E, output: out };
    if (this.opts.pooledAux) {
      const inject = logits.requiresGrad ? (grad: Float32Array) => addInto(logits, grad, 1) : null;
      routing.deferred = { router: this.router, logits: logits.data, output: out, T, E, ctx: routerCtx, inject };
      ctx.reports.push({ layer: this.layer, auxLosses: {}, auxScaled: {}, auxTotal: 0, routing });
      return y;
    }
    const losses = this.router.auxLosses(out, logits.data, T, E, routerCtx);
    const total = weightedTotal(losses, T, E);
    const scale = this.opts.auxScale;
    if (logits.requiresGrad && losses.length > 0) {
      // Recorded after the logits were made, so the tape replays it before their producer's backward.
      record(() => {
        addInto(logits, total.grad, scale);
        if (noise && total.gradNoise) addInto(noise, total.gradNoise, scale);
      });
    }
    ctx.reports.push({
      layer: this.layer,
      auxLosses: Object.fromEntries(losses.map((l) => [l.name, l.value])),
      auxScaled: Object.fromEntries(losses.map((l) => [l.name, scale * l.coefficient * l.value])),
      auxTotal: scale * total.value,
      routing,
    });
    return y;
  }

  /**
   * Switch input jitter (§5): in training the router sees u ⊙ U(1−ε, 1+ε) drawn from the layer's rng;
   * the experts still get u.
   */
  private routerInput(u: Tensor, training: boolean): Tensor {
    const r = this.opts.router;
    if (r.type !== 'switch' || r.jitter_eps === 0 || !training) return u;
    return scaleBy(u, jitterFactors(this.opts.rng, u.size, r.jitter_eps));
  }
}

function addInto(t: Tensor, d: Float32Array, scale: number): void {
  const g = t.ensureGrad();
  for (let i = 0; i < g.length; i++) g[i] += scale * d[i];
}
