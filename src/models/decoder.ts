// LLaMA-style decoder LM (Touvron et al. 2023), read like the paper (nanoGPT's Block):
//   h = embed(ids)
//   for each layer:  h = h + attn(rmsnorm(h));  h = h + ffn(rmsnorm(h))
//   logits = lm_head(rmsnorm(h))
// Parameter names are the HF llama names, so stateDict() is a loadable HF checkpoint.
// The FFN slot is a seam: `ffn(builder, layer, config)` decides what sits there (dense SwiGLU here;
// MoE layers plug in through the same factory).
import { add, crossEntropy, ropeTables, linear, type CrossEntropyResult, type RopeTables } from '../ops/index.js';
import { ConfigError, Rng, ShapeError, type Tensor } from '../tensor/index.js';
import {
  Embedding, Linear, ParamBuilder, RMSNorm, SelfAttention, SwiGLUMLP, type FeedForward, type FfnContext,
  type LayerReport, type ParamMap, type TokenLayout,
} from '../nn/index.js';
import { MoELayer, applyPooledAux, parseRouterConfig, type RouterConfig } from '../moe/index.js';
import { expertsPerLayer, type ModelConfig } from './config.js';

export type FfnFactory = (b: ParamBuilder, layer: number, config: ModelConfig, routingRng: Rng) => FeedForward;

/** Dense SwiGLU where the config has no experts, an MoE layer where it has. */
export const defaultFfn: FfnFactory = (b, layer, c, routingRng) => {
  const experts = expertsPerLayer(c)[layer];
  if (experts > 0 && c.moe) {
    const moeLayers = expertsPerLayer(c).filter((e) => e > 0).length;
    return new MoELayer(b, layer, {
      numExperts: experts, hidden: c.hidden_size, expertWidth: c.moe.moe_intermediate_size, router: c.moe.router,
      initStd: c.initializer_range, routerInitStd: c.moe.router_initializer_range, rng: routingRng,
      auxScale: c.moe.router_aux_loss_reduction === 'mean' ? 1 / moeLayers : 1,
      pooledAux: c.moe.router_aux_loss_reduction === 'pooled',
      residual: c.moe.residual, residualWidth: c.intermediate_size, expertDropout: c.moe.expert_dropout,
      sharedWidth: c.moe.shared_expert_intermediate_size, sharedGate: c.moe.shared_expert_gate,
    });
  }
  const mlp = new SwiGLUMLP(b, c.hidden_size, c.intermediate_size, c.initializer_range);
  return { forward: (x) => mlp.forward(x) };
};

/** How a forward pass runs: training or evaluation, at which step, with which routing randomness. */
export interface ForwardOptions {
  training: boolean;
  step: number;
}

export interface LossResult extends CrossEntropyResult {
  /** Per-layer reports of the FFN slots (MoE aux losses and routing). */
  reports: LayerReport[];
  /** Σ of the layers' weighted aux losses (its gradient is already part of backward). */
  auxTotal: number;
}

class DecoderBlock {
  readonly inputNorm: RMSNorm;
  readonly attn: SelfAttention;
  readonly postAttnNorm: RMSNorm;
  readonly ffn: FeedForward;

  constructor(b: ParamBuilder, readonly layer: number, c: ModelConfig, ffn: FfnFactory, routingRng: Rng) {
    this.inputNorm = new RMSNorm(b.pp('input_layernorm'), c.hidden_size, c.rms_norm_eps);
    if (c.mla) throw new ConfigError('multi-head latent attention (mla) is not available in this build');
    this.attn = new SelfAttention(b.pp('self_attn'), {
      hidden: c.hidden_size, heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, headDim: c.head_dim,
    }, c.initializer_range, {
      qkvBias: c.attention_bias || c.qkv_bias, outBias: c.attention_bias, qkNorm: c.qk_norm, eps: c.rms_norm_eps,
    });
    this.postAttnNorm = new RMSNorm(b.pp('post_attention_layernorm'), c.hidden_size, c.rms_norm_eps);
    this.ffn = ffn(b.pp('mlp'), layer, c, routingRng);
  }

  forward(h: Tensor, ctx: FfnContext, tables: RopeTables): Tensor {
    h = add(h, this.attn.forward(this.inputNorm.forward(h), ctx.layout, tables));
    return add(h, this.ffn.forward(this.postAttnNorm.forward(h), ctx));
  }
}

const EVAL: ForwardOptions = { training: false, step: 0 };

export interface DecoderOptions {
  seed: number;
  ffn?: FfnFactory;
  /** false: leave the parameters zero because a checkpoint will fill them (default true). */
  initialize?: boolean;
}

export class DecoderLM {
  readonly params: ParamMap = new Map();
  readonly embed: Embedding;
  readonly layers: DecoderBlock[] = [];
  readonly norm: RMSNorm;
  readonly lmHead: Linear | null;
  private readonly tables: RopeTables;
  /** Randomness of routing (noise, jitter, sampled experts); checkpoints save its state. */
  readonly routingRng: Rng;

  constructor(readonly config: ModelConfig, opts: DecoderOptions) {
    const root = new ParamBuilder(this.params, opts.initialize === false ? null : new Rng(opts.seed));
    this.routingRng = new Rng(opts.seed ^ 0x5eed);
    const model = root.pp('model');
    const c = config;
    this.embed = new Embedding(model.pp('embed_tokens'), c.vocab_size, c.hidden_size, c.initializer_range);
    for (let l = 0; l < c.num_hidden_layers; l++) {
      this.layers.push(new DecoderBlock(model.pp('layers').pp(l), l, c, opts.ffn ?? defaultFfn, this.routingRng));
    }
    this.norm = new RMSNorm(model.pp('norm'), c.hidden_size, c.rms_norm_eps);
    // Tied embeddings: HF omits lm_head.weight and reuses the embedding matrix (interop §1.4).
    this.lmHead = c.tie_word_embeddings ? null : new Linear(root.pp('lm_head'), c.hidden_size, c.vocab_size, c.initializer_range);
    this.tables = ropeTables(c.head_dim, c.max_position_embeddings, c.rope_theta);
  }

  /**
   * Logits [B·T, V] for B sequences of T tokens (ids [B·T], row-major by sequence). Layer reports
   * (MoE aux losses, routing) are appended to `reports`.
   */
  forward(ids: Int32Array, batch: number, seq: number, run: ForwardOptions = EVAL, reports: LayerReport[] = []): Tensor {
    if (ids.length !== batch * seq) throw new ShapeError(`forward: ${ids.length} ids do not form ${batch} sequences of ${seq}`);
    if (seq > this.config.max_position_embeddings) {
      throw new ShapeError(`forward: sequence length ${seq} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    const positions = new Int32Array(batch * seq);
    for (let i = 0; i < positions.length; i++) positions[i] = i % seq;
    const layout: TokenLayout = { batch, seq, positions };
    let h = this.embed.forward(ids); // [B·T, d]
    const first = reports.length;
    for (const block of this.layers) {
      h = block.forward(h, { layer: block.layer, ids, layout, training: run.training, step: run.step, reports }, this.tables);
    }
    applyPooledAux(reports.slice(first)); // `pooled` aux losses (§0): one loss over all MoE layers' rows
    h = this.norm.forward(h);
    return this.lmHead ? this.lmHead.forward(h) : linear(h, this.embed.weight); // [B·T, V]
  }

  /** Mean next-token cross-entropy (targets < 0 ignored), plus the layers' aux losses. */
  loss(inputs: Int32Array, targets: Int32Array, batch: number, seq: number, run: ForwardOptions = EVAL): LossResult {
    const reports: LayerReport[] = [];
    const ce = crossEntropy(this.forward(inputs, batch, seq, run, reports), targets);
    return { ...ce, reports, auxTotal: reports.reduce((s, r) => s + r.auxTotal, 0) };
  }

  /**
   * Route every MoE layer with `router` (a router config object, validated against each layer's expert
   * count), keeping the parameters; returns the router configs it replaced, for `restoreRouters`.
   */
  setRouter(router: unknown): RouterConfig[] {
    const moe = this.config.moe;
    const layers = this.moeLayers();
    if (!moe || layers.length === 0) throw new ConfigError('a router override needs an MoE model; this model is dense (no MoE layers)', 'drop --router');
    const configs = layers.map((l) => parseRouterConfig(router, l.opts.numExperts, `router override (layer ${l.layer})`));
    const previous = layers.map((l) => l.opts.router);
    layers.forEach((l, i) => l.setRouter(configs[i]));
    moe.router = configs[0];
    return previous;
  }

  /** Undo setRouter with the configs it returned. */
  restoreRouters(previous: readonly RouterConfig[]): void {
    this.moeLayers().forEach((l, i) => l.setRouter(previous[i]));
    this.config.moe!.router = previous[0];
  }

  /** The MoE layers, in depth order. */
  moeLayers(): MoELayer[] {
    return this.layers.flatMap((b) => (b.ffn instanceof MoELayer ? [b.ffn] : []));
  }

  parameterCount(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.size;
    return n;
  }
}
