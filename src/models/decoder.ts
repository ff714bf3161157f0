// LLaMA-style decoder LM (Touvron et al. 2023), read like the paper (nanoGPT's Block):
//   h = embed(ids)
//   for each layer:  h = h + attn(rmsnorm(h));  h = h + ffn(rmsnorm(h))
//   logits = lm_head(rmsnorm(h))
// Parameter names are the HF llama names, so stateDict() is a loadable HF checkpoint.
// The FFN slot is a seam: `ffn(builder, layer, config)` decides what sits there (dense SwiGLU here;
// MoE layers plug in through the same factory).
import { add, crossEntropy, ropeTables, linear, yarnAttentionFactor, type CrossEntropyResult, type RopeScalingRule, type RopeTables } from '../ops/index.js';
import { ConfigError, Rng, ShapeError, Tensor } from '../tensor/index.js';
import {
  Embedding, KVCache, Linear, MultiHeadLatentAttention, mlaSoftmaxScale, ParamBuilder, RMSNorm, SelfAttention, SwiGLUMLP,
  type FeedForward, type FfnContext, type LayerReport, type MatrixDtype, type ParamMap, type TokenLayout,
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
  readonly attn: SelfAttention | MultiHeadLatentAttention;
  readonly postAttnNorm: RMSNorm;
  readonly ffn: FeedForward;

  constructor(b: ParamBuilder, readonly layer: number, c: ModelConfig, ffn: FfnFactory, routingRng: Rng) {
    this.inputNorm = new RMSNorm(b.pp('input_layernorm'), c.hidden_size, c.rms_norm_eps);
    const m = c.mla;
    this.attn = m ? new MultiHeadLatentAttention(b.pp('self_attn'), {
      hidden: c.hidden_size, heads: c.num_attention_heads, qLoraRank: m.q_lora_rank, kvLoraRank: m.kv_lora_rank,
      qkNopeDim: m.qk_nope_head_dim, qkRopeDim: m.qk_rope_head_dim, vHeadDim: m.v_head_dim,
      ropeInterleave: m.rope_interleave, bias: c.attention_bias,
      scale: mlaSoftmaxScale(m.qk_nope_head_dim + m.qk_rope_head_dim,
        c.rope_scaling?.rope_type === 'yarn' ? { factor: c.rope_scaling.factor, mscaleAllDim: c.rope_scaling.mscale_all_dim ?? 0 } : undefined),
    }, c.initializer_range) : new SelfAttention(b.pp('self_attn'), {
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

  /** The same block over new rows, attention through the KV cache (ctx.layout.positions = their positions). */
  forwardCached(h: Tensor, ctx: FfnContext, tables: RopeTables, cache: KVCache): Tensor {
    h = add(h, this.attn.forwardCached(this.inputNorm.forward(h), ctx.layout.positions, tables, cache, this.layer));
    return add(h, this.ffn.forward(this.postAttnNorm.forward(h), ctx));
  }
}

/** The RoPE tables' frequency scaling from the config (null for plain RoPE). */
export function ropeScalingRule(c: ModelConfig): RopeScalingRule | null {
  const s = c.rope_scaling;
  if (!s) return null;
  if (s.rope_type === 'linear') return { type: 'linear', factor: s.factor };
  if (s.rope_type === 'llama3') {
    return { type: 'llama3', factor: s.factor, lowFreqFactor: s.low_freq_factor, highFreqFactor: s.high_freq_factor,
      originalMaxPositions: s.original_max_position_embeddings };
  }
  return {
    type: 'yarn', factor: s.factor, originalMaxPositions: s.original_max_position_embeddings, betaFast: s.beta_fast,
    betaSlow: s.beta_slow, truncate: s.truncate,
    attentionFactor: s.attention_factor ?? yarnAttentionFactor(s.factor, s.mscale, s.mscale_all_dim),
  };
}

const EVAL: ForwardOptions = { training: false, step: 0 };

export interface DecoderOptions {
  seed: number;
  ffn?: FfnFactory;
  /** false: leave the parameters zero because a checkpoint will fill them (default true). */
  initialize?: boolean;
  /**
   * How Linear and expert weights are held (default f32). 'bf16' / 'f16': an inference model, half the
   * memory and half the bytes each decode step streams; it cannot be trained or saved.
   */
  weights?: MatrixDtype;
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
  /** How weight matrices are held (DecoderOptions.weights). */
  readonly weights: MatrixDtype;

  constructor(readonly config: ModelConfig, opts: DecoderOptions) {
    this.weights = opts.weights ?? 'f32';
    const root = new ParamBuilder(this.params, opts.initialize === false ? null : new Rng(opts.seed), '', this.weights);
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
    this.tables = ropeTables(c.head_dim, c.max_position_embeddings, c.rope_theta, ropeScalingRule(c));
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

  /** An empty KV cache for up to maxLen positions (default and bound: max_position_embeddings). */
  newKVCache(maxLen = this.config.max_position_embeddings): KVCache {
    if (maxLen > this.config.max_position_embeddings) {
      throw new ShapeError(`newKVCache: ${maxLen} positions exceed max_position_embeddings ${this.config.max_position_embeddings}`);
    }
    return new KVCache(maxLen, this.layers.map((b) => b.attn.cacheWidths()));
  }

  /**
   * Batch-1 inference over new tokens ids [T] at positions positionsStart … through the KV cache, which
   * then holds them too. positionsStart may rewind the cache (≤ cache.length: a shared prefix is kept).
   * Logits [T, V] of the new rows, or [1, V] of the last row only with lastOnly (the LM head is then
   * applied to that row alone). Call inside noGrad; the logits live until the graph is released.
   */
  forwardCached(ids: Int32Array, cache: KVCache, positionsStart: number, opts: { lastOnly?: boolean } = {}): Tensor {
    const T = ids.length;
    if (T === 0) throw new ShapeError('forwardCached: no token ids');
    if (positionsStart > cache.length) {
      throw new ShapeError(`forwardCached: positionsStart ${positionsStart} is past the ${cache.length} cached positions`);
    }
    cache.truncate(positionsStart);
    const positions = cache.reserve(T); // [T] positionsStart …
    const reports: LayerReport[] = [];
    const layout: TokenLayout = { batch: 1, seq: T, positions };
    let h = this.embed.forward(ids); // [T, d]
    for (const block of this.layers) {
      h = block.forwardCached(h, { layer: block.layer, ids, layout, training: false, step: 0, reports }, this.tables, cache);
    }
    cache.commit(T);
    const d = this.config.hidden_size;
    if (opts.lastOnly && T > 1) h = new Tensor(h.data.subarray((T - 1) * d, T * d), [1, d]); // a view of the last row
    h = this.norm.forward(h);
    return this.lmHead ? this.lmHead.forward(h) : linear(h, this.embed.weight); // [T or 1, V]
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
