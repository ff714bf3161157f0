// Model configuration with HuggingFace field names (config.json of LlamaForCausalLM), validated:
// an unknown key is an error naming the nearest valid one (loaders that drop unknown keys silently
// turn typos into wrong models).
import { ConfigError, nearest } from '../tensor/index.js';
import { parseRouterConfig, sharedExperts, type RouterConfig } from '../moe/index.js';

/**
 * Mixture-of-Experts settings. Layer placement follows the sources: Dynamic_MoE's `expert_frequency`
 * (layer l is MoE iff l % freq == 0; methods spec §1.1), DeepSeekMoE's `first_k_dense_replace` (the first
 * k layers stay dense, §13), or an explicit `moe_layers` list. `num_experts` may be a list with one
 * entry per MoE layer (PR-MoE pyramid, §12).
 */
export interface MoeConfig {
  num_experts: number | number[];
  /** Width of one expert's SwiGLU (default: intermediate_size). */
  moe_intermediate_size: number;
  /** The router config object of the methods spec, e.g. {"type": "top_p", "top_p": 0.4}. */
  router: RouterConfig;
  expert_frequency: number;
  first_k_dense_replace: number;
  moe_layers: number[] | null;
  /**
   * How aux losses of the MoE layers combine (§0): summed (default), averaged, or `pooled` (one loss over
   * the concatenated (layer, token) rows, HF `load_balancing_loss_func`).
   */
  router_aux_loss_reduction: 'sum' | 'mean' | 'pooled';
  /** Residual-MoE (§12): a dense SwiGLU MLP beside the experts, combined `learned` or by `sum`; null = none. */
  residual: 'learned' | 'sum' | null;
  /** Dropout on the experts' SwiGLU hidden activations in training (§5 Switch: 0.4 for fine-tuning). */
  expert_dropout: number;
  /**
   * Std of the router weight's initial normal draw (default: initializer_range). Routing at the start
   * depends on it: a larger std gives sharper router probabilities, hence fewer Top-P experts.
   */
  router_initializer_range: number;
  /**
   * Width of an always-on shared expert beside the routed ones (Qwen2-MoE `shared_expert`, DeepSeekMoE's
   * `n_shared_experts × moe_intermediate_size`, §13); 0 = none.
   */
  shared_expert_intermediate_size: number;
  /** Qwen2-MoE: the shared expert's output is scaled by sigmoid(x·w_g), w_g = `shared_expert_gate` [1, d]. */
  shared_expert_gate: boolean;
}

/**
 * Multi-head latent attention (DeepSeek-V2/V3, interop §3.4): queries (optionally through a low-rank
 * `q_lora_rank` bottleneck) and keys/values from a shared `kv_lora_rank` latent; RoPE only on the
 * `qk_rope_head_dim` slice, whose key part is shared by all heads.
 */
export interface MlaConfig {
  q_lora_rank: number | null;
  kv_lora_rank: number;
  qk_nope_head_dim: number;
  qk_rope_head_dim: number;
  v_head_dim: number;
  /** RoPE pairs adjacent dims (2j, 2j+1) of the rope slice instead of rotate-half halves. */
  rope_interleave: boolean;
}

/**
 * YaRN RoPE scaling (HF v4 `rope_scaling` / v5 `rope_parameters` with rope_type "yarn", interop §3.2), as
 * DeepSeek-V2/V3 checkpoints use it. Absent optional fields keep HF's meaning: factor = max/original
 * positions, attention_factor derived from mscale / mscale_all_dim.
 */
export interface YarnScaling {
  rope_type: 'yarn';
  factor: number;
  original_max_position_embeddings: number;
  beta_fast: number;
  beta_slow: number;
  mscale: number | null;
  mscale_all_dim: number | null;
  attention_factor: number | null;
  truncate: boolean;
}

/**
 * Llama-3.1's RoPE scaling (rope_type "llama3", interop §3.7): frequencies whose wavelength exceeds
 * original/low_freq_factor are divided by `factor`, those under original/high_freq_factor kept, and the
 * band between interpolated smoothly.
 */
export interface Llama3Scaling {
  rope_type: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/** Position interpolation (rope_type "linear"): every frequency divided by `factor`. */
export interface LinearScaling {
  rope_type: 'linear';
  factor: number;
}

export type RopeScaling = YarnScaling | Llama3Scaling | LinearScaling;

/** How q and k are normalised before RoPE: OLMoE over the whole projection, Qwen3-MoE per head. */
export type QkNorm = 'none' | 'full' | 'per_head';

export interface ModelConfig {
  /** `llama` (dense) or `moekit_moe` (MoE layers in some FFN slots). */
  model_type: 'llama' | 'moekit_moe';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** hidden_size / num_attention_heads unless given. */
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  /** null = plain RoPE. */
  rope_scaling: RopeScaling | null;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
  hidden_act: 'silu';
  bos_token_id: number | null;
  eos_token_id: number | null;
  /** Biases on q/k/v/o (HF `attention_bias`). */
  attention_bias: boolean;
  /** Biases on q/k/v only (Qwen2-MoE `qkv_bias`). */
  qkv_bias: boolean;
  qk_norm: QkNorm;
  /** Multi-head latent attention instead of q/k/v projections (DeepSeek-V2/V3); null = standard attention. */
  mla: MlaConfig | null;
  /** null for a dense model. */
  moe: MoeConfig | null;
}

const DEFAULTS: Omit<ModelConfig, 'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' |
  'num_attention_heads' | 'num_key_value_heads' | 'head_dim' | 'moe'> = {
  model_type: 'llama',
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  rope_scaling: null,
  max_position_embeddings: 2048,
  tie_word_embeddings: false,
  initializer_range: 0.02,
  hidden_act: 'silu',
  bos_token_id: null,
  eos_token_id: null,
  attention_bias: false,
  qkv_bias: false,
  qk_norm: 'none',
  mla: null,
};

const REQUIRED = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'] as const;
const OPTIONAL = ['model_type', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta', 'rope_scaling',
  'max_position_embeddings', 'tie_word_embeddings', 'initializer_range', 'hidden_act', 'bos_token_id',
  'eos_token_id', 'attention_bias', 'qkv_bias', 'qk_norm', 'mla'] as const;
const MOE_KEYS = ['num_experts', 'moe_intermediate_size', 'router', 'expert_frequency', 'first_k_dense_replace',
  'moe_layers', 'router_aux_loss_reduction', 'residual', 'expert_dropout', 'router_initializer_range',
  'shared_expert_intermediate_size', 'shared_expert_gate'] as const;
/** Keys HF writes into config.json that carry nothing for this model: accepted and dropped. */
const HF_BOOKKEEPING = ['architectures', 'torch_dtype', 'dtype', 'transformers_version', 'use_cache',
  'attention_dropout', 'mlp_bias', 'pretraining_tp', 'pad_token_id',
  'rope_parameters', '_name_or_path'] as const;
export const MODEL_CONFIG_KEYS: readonly string[] = [...REQUIRED, ...OPTIONAL, ...MOE_KEYS, ...HF_BOOKKEEPING];

function fail(where: string, key: string, msg: string): never {
  throw new ConfigError(`${where}: "${key}" ${msg}`);
}

function positiveInt(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(where, key, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function positiveNumber(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(where, key, `must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function optionalId(where: string, key: string, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return optionalId(where, key, v[0]); // HF allows a list of eos ids
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(where, key, `must be a token id or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Reject keys that are not model-config keys, naming the nearest valid one. */
export function checkKeys(where: string, obj: Record<string, unknown>, valid: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!valid.includes(key)) {
      const near = nearest(key, valid);
      throw new ConfigError(`${where}: unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`,
        `valid keys: ${valid.join(', ')}`);
    }
  }
}

/** Validate a parsed config.json (or the "model" section of a training config) and fill defaults. */
export function parseModelConfig(raw: unknown, where = 'model config'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where}: expected a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  checkKeys(where, o, MODEL_CONFIG_KEYS);
  for (const k of REQUIRED) if (o[k] === undefined) throw new ConfigError(`${where}: missing required key "${k}"`);
  if (o.model_type !== undefined && o.model_type !== 'llama' && o.model_type !== 'moekit_moe') {
    fail(where, 'model_type', `must be "llama" or "moekit_moe" for a trainable model, got ${JSON.stringify(o.model_type)}`);
  }
  if (o.hidden_act !== undefined && o.hidden_act !== 'silu') fail(where, 'hidden_act', `must be "silu", got ${JSON.stringify(o.hidden_act)}`);
  if (o.mlp_bias === true) fail(where, 'mlp_bias', 'is not supported (MLP layers without bias only)');

  const heads = positiveInt(where, 'num_attention_heads', o.num_attention_heads);
  const hidden = positiveInt(where, 'hidden_size', o.hidden_size);
  const kvHeads = o.num_key_value_heads === undefined || o.num_key_value_heads === null
    ? heads : positiveInt(where, 'num_key_value_heads', o.num_key_value_heads);
  if (heads % kvHeads !== 0) fail(where, 'num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads})`);
  let headDim: number;
  if (o.head_dim === undefined || o.head_dim === null) {
    if (hidden % heads !== 0) fail(where, 'hidden_size', `(${hidden}) must be a multiple of num_attention_heads (${heads})`);
    headDim = hidden / heads;
  } else {
    headDim = positiveInt(where, 'head_dim', o.head_dim);
  }
  if (headDim % 2 !== 0) fail(where, 'head_dim', `(${headDim}) must be even for RoPE`);
  const theta = (o.rope_parameters as { rope_theta?: unknown } | undefined)?.rope_theta ?? o.rope_theta ?? DEFAULTS.rope_theta;
  if (o.tie_word_embeddings !== undefined && typeof o.tie_word_embeddings !== 'boolean') {
    fail(where, 'tie_word_embeddings', `must be true or false, got ${JSON.stringify(o.tie_word_embeddings)}`);
  }
  const layers = positiveInt(where, 'num_hidden_layers', o.num_hidden_layers);
  const intermediate = positiveInt(where, 'intermediate_size', o.intermediate_size);
  const vocab = positiveInt(where, 'vocab_size', o.vocab_size);
  const moe = parseMoe(where, o, layers, intermediate, vocab,
    positiveNumber(where, 'initializer_range', o.initializer_range ?? DEFAULTS.initializer_range));
  return {
    model_type: moe ? 'moekit_moe' : 'llama',
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    // MLA rotates only the rope slice: the decoder's RoPE tables are built for that width.
    head_dim: o.mla ? (o.mla as Record<string, number>).qk_rope_head_dim : headDim,
    rms_norm_eps: positiveNumber(where, 'rms_norm_eps', o.rms_norm_eps ?? DEFAULTS.rms_norm_eps),
    rope_theta: positiveNumber(where, 'rope_theta', theta),
    rope_scaling: parseRopeScaling(where, o),
    max_position_embeddings: positiveInt(where, 'max_position_embeddings', o.max_position_embeddings ?? DEFAULTS.max_position_embeddings),
    tie_word_embeddings: (o.tie_word_embeddings as boolean | undefined) ?? DEFAULTS.tie_word_embeddings,
    initializer_range: positiveNumber(where, 'initializer_range', o.initializer_range ?? DEFAULTS.initializer_range),
    hidden_act: 'silu',
    bos_token_id: optionalId(where, 'bos_token_id', o.bos_token_id),
    eos_token_id: optionalId(where, 'eos_token_id', o.eos_token_id),
    attention_bias: flag(where, 'attention_bias', o.attention_bias, DEFAULTS.attention_bias),
    qkv_bias: flag(where, 'qkv_bias', o.qkv_bias, DEFAULTS.qkv_bias),
    qk_norm: parseQkNorm(where, o.qk_norm),
    mla: parseMla(where, o),
    moe,
  };
}

function flag(where: string, key: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') fail(where, key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

const YARN_KEYS = ['rope_type', 'type', 'rope_theta', 'factor', 'original_max_position_embeddings', 'beta_fast', 'beta_slow',
  'mscale', 'mscale_all_dim', 'attention_factor', 'truncate'] as const;
const LLAMA3_KEYS = ['rope_type', 'type', 'rope_theta', 'factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'] as const;
const LINEAR_KEYS = ['rope_type', 'type', 'rope_theta', 'factor'] as const;
/** The rope types moekit computes (HF also has "dynamic" and "longrope", interop §3.2). */
export const ROPE_TYPES = ['default', 'linear', 'llama3', 'yarn'] as const;

/** `rope_scaling` (v4), else a non-default `rope_parameters` (v5): YaRN, llama3, linear or null; other rope types are refused. */
function parseRopeScaling(where: string, o: Record<string, unknown>): RopeScaling | null {
  const params = o.rope_parameters as Record<string, unknown> | null | undefined;
  const fromParams = o.rope_scaling === undefined || o.rope_scaling === null;
  const v = fromParams ? params : o.rope_scaling;
  const key = fromParams ? 'rope_parameters' : 'rope_scaling';
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, key, `must be an object or null, got ${JSON.stringify(v)}`);
  const r = v as Record<string, unknown>;
  const type = r.rope_type ?? r.type ?? 'default';
  if (type === 'default') return null;
  if (!(ROPE_TYPES as readonly unknown[]).includes(type)) fail(where, key, `rope type ${JSON.stringify(type)} is not supported (${ROPE_TYPES.join(', ')} are)`);
  const at = `${where}.${key}`;
  if (type === 'linear') {
    checkKeys(at, r, LINEAR_KEYS);
    return { rope_type: 'linear', factor: positiveNumber(at, 'factor', r.factor) };
  }
  if (type === 'llama3') {
    checkKeys(at, r, LLAMA3_KEYS);
    const low = positiveNumber(at, 'low_freq_factor', r.low_freq_factor);
    const high = positiveNumber(at, 'high_freq_factor', r.high_freq_factor);
    if (!(high > low)) fail(at, 'high_freq_factor', `(${high}) must exceed low_freq_factor (${low})`);
    return {
      rope_type: 'llama3', factor: positiveNumber(at, 'factor', r.factor), low_freq_factor: low, high_freq_factor: high,
      original_max_position_embeddings: positiveInt(at, 'original_max_position_embeddings', r.original_max_position_embeddings),
    };
  }
  checkKeys(at, r, YARN_KEYS);
  const number = (k: string, fallback: number | null): number | null =>
    r[k] === undefined || r[k] === null ? fallback : positiveNumber(at, k, r[k]);
  const original = positiveInt(at, 'original_max_position_embeddings', r.original_max_position_embeddings);
  const max = o.max_position_embeddings ?? DEFAULTS.max_position_embeddings;
  return {
    rope_type: 'yarn',
    factor: number('factor', typeof max === 'number' ? max / original : NaN)!,
    original_max_position_embeddings: original,
    beta_fast: number('beta_fast', 32)!,
    beta_slow: number('beta_slow', 1)!,
    mscale: number('mscale', null),
    mscale_all_dim: r.mscale_all_dim === 0 ? null : number('mscale_all_dim', null),
    attention_factor: number('attention_factor', null),
    truncate: flag(at, 'truncate', r.truncate, true),
  };
}

const QK_NORMS: readonly QkNorm[] = ['none', 'full', 'per_head'];

function parseQkNorm(where: string, v: unknown): QkNorm {
  if (v === undefined || v === null) return DEFAULTS.qk_norm;
  if (!QK_NORMS.includes(v as QkNorm)) fail(where, 'qk_norm', `must be one of ${QK_NORMS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as QkNorm;
}

const MLA_KEYS = ['q_lora_rank', 'kv_lora_rank', 'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'rope_interleave'] as const;

function parseMla(where: string, o: Record<string, unknown>): MlaConfig | null {
  const v = o.mla;
  if (v === undefined || v === null) return null;
  // MLA has its own projections: the q/k/v variants of standard attention do not apply (attention_bias does).
  if (o.qkv_bias === true) fail(where, 'qkv_bias', 'does not apply to multi-head latent attention (mla); use attention_bias');
  if (o.qk_norm !== undefined && o.qk_norm !== null && o.qk_norm !== 'none') fail(where, 'qk_norm', 'does not apply to multi-head latent attention (mla)');
  if (typeof v !== 'object' || Array.isArray(v)) fail(where, 'mla', `must be an object or null, got ${JSON.stringify(v)}`);
  const m = v as Record<string, unknown>;
  const at = `${where}.mla`;
  checkKeys(at, m, MLA_KEYS);
  const rope = positiveInt(at, 'qk_rope_head_dim', m.qk_rope_head_dim);
  if (rope % 2 !== 0) fail(at, 'qk_rope_head_dim', `(${rope}) must be even for RoPE`);
  return {
    q_lora_rank: m.q_lora_rank === undefined || m.q_lora_rank === null ? null : positiveInt(at, 'q_lora_rank', m.q_lora_rank),
    kv_lora_rank: positiveInt(at, 'kv_lora_rank', m.kv_lora_rank),
    qk_nope_head_dim: positiveInt(at, 'qk_nope_head_dim', m.qk_nope_head_dim),
    qk_rope_head_dim: rope,
    v_head_dim: positiveInt(at, 'v_head_dim', m.v_head_dim),
    rope_interleave: flag(at, 'rope_interleave', m.rope_interleave, false),
  };
}

function parseMoe(where: string, o: Record<string, unknown>, layers: number, intermediate: number, vocab: number,
  initRange: number): MoeConfig | null {
  const present = MOE_KEYS.filter((k) => o[k] !== undefined && o[k] !== null);
  if (present.length === 0 || o.num_experts === 0) return null;
  if (o.num_experts === undefined) fail(where, present[0], 'needs "num_experts" (the experts of each MoE layer)');
  if (o.router === undefined) fail(where, 'num_experts', 'needs a "router" object, e.g. {"type": "top_p", "top_p": 0.4}');
  const freq = o.expert_frequency === undefined ? 1 : positiveInt(where, 'expert_frequency', o.expert_frequency);
  const firstDense = o.first_k_dense_replace === undefined ? 0 : nonNegativeInt(where, 'first_k_dense_replace', o.first_k_dense_replace);
  let moeLayers: number[] | null = null;
  if (o.moe_layers !== undefined && o.moe_layers !== null) {
    if (!Array.isArray(o.moe_layers) || o.moe_layers.length === 0) fail(where, 'moe_layers', 'must be a non-empty list of layer indices');
    moeLayers = (o.moe_layers as unknown[]).map((l, i) => {
      if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= layers) fail(where, 'moe_layers', `entry ${i} must be a layer index in [0, ${layers}), got ${JSON.stringify(l)}`);
      return l;
    });
    if (new Set(moeLayers).size !== moeLayers.length) fail(where, 'moe_layers', 'lists a layer twice');
  }
  const placed = moeLayerIndices(layers, freq, firstDense, moeLayers);
  if (placed.length === 0) fail(where, 'expert_frequency', `and first_k_dense_replace leave no MoE layer among ${layers}`);
  let experts: number | number[];
  if (Array.isArray(o.num_experts)) {
    if (o.num_experts.length !== placed.length) {
      fail(where, 'num_experts', `lists ${o.num_experts.length} counts but there are ${placed.length} MoE layers (${placed.join(', ')})`);
    }
    experts = (o.num_experts as unknown[]).map((e) => positiveInt(where, 'num_experts', e));
  } else {
    experts = positiveInt(where, 'num_experts', o.num_experts);
  }
  const width = o.moe_intermediate_size === undefined ? intermediate : positiveInt(where, 'moe_intermediate_size', o.moe_intermediate_size);
  const reduction = o.router_aux_loss_reduction ?? 'sum';
  if (reduction !== 'sum' && reduction !== 'mean' && reduction !== 'pooled') {
    fail(where, 'router_aux_loss_reduction', `must be "sum", "mean" or "pooled", got ${JSON.stringify(reduction)}`);
  }
  const residual = o.residual ?? null;
  if (residual !== null && residual !== 'learned' && residual !== 'sum') fail(where, 'residual', `must be "learned", "sum" or null, got ${JSON.stringify(residual)}`);
  const dropout = o.expert_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(where, 'expert_dropout', `must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  // The router is validated against every distinct expert count (a pyramid has several).
  let routerRaw = o.router as Record<string, unknown>;
  if (routerRaw && typeof routerRaw === 'object' && routerRaw.type === 'hash' && routerRaw.table === undefined && routerRaw.vocab_size === undefined) {
    routerRaw = { ...routerRaw, vocab_size: vocab }; // a random table over the model's vocabulary (§7)
  }
  const counts = [...new Set(Array.isArray(experts) ? experts : [experts])];
  let router: RouterConfig | null = null;
  for (const e of counts) router = parseRouterConfig(routerRaw, e, `${where}.router`);
  if (reduction === 'pooled') checkPoolable(where, router!.type, counts);
  const sharedWidth = o.shared_expert_intermediate_size === undefined || o.shared_expert_intermediate_size === 0 ? 0
    : positiveInt(where, 'shared_expert_intermediate_size', o.shared_expert_intermediate_size);
  const sharedGate = flag(where, 'shared_expert_gate', o.shared_expert_gate, false);
  if (sharedGate && sharedWidth === 0) fail(where, 'shared_expert_gate', 'needs a shared expert (shared_expert_intermediate_size > 0)');
  if (sharedWidth > 0 && sharedExperts(router!) > 0) {
    fail(where, 'shared_expert_intermediate_size', `and the ${router!.type} router's shared_experts both add shared experts; use one`);
  }
  return {
    shared_expert_intermediate_size: sharedWidth, shared_expert_gate: sharedGate,
    num_experts: experts, moe_intermediate_size: width, router: router!, expert_frequency: freq,
    first_k_dense_replace: firstDense, moe_layers: moeLayers, router_aux_loss_reduction: reduction,
    residual, expert_dropout: dropout,
    router_initializer_range: o.router_initializer_range === undefined ? initRange
      : positiveNumber(where, 'router_initializer_range', o.router_initializer_range),
  };
}

/**
 * `pooled` concatenates the layers' logits [ΣT, E] (§0), so every MoE layer needs the same E, and the
 * router's losses must be functions of logits and assignment only (not of one layer's own noise/gates).
 */
function checkPoolable(where: string, router: string, counts: number[]): void {
  if (counts.length > 1) fail(where, 'router_aux_loss_reduction', `"pooled" needs one expert count in every MoE layer, got ${counts.join(', ')}`);
  if (router === 'noisy_top_k' || router === 'dense_to_sparse') {
    fail(where, 'router_aux_loss_reduction', `"pooled" is not defined for the ${router} router's losses; use "sum" or "mean"`);
  }
}

function nonNegativeInt(where: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(where, key, `must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

/** MoE layer indices: an explicit list, else l >= firstDense with l % freq == 0 (Dynamic_MoE, DeepSeekMoE). */
export function moeLayerIndices(layers: number, freq: number, firstDense: number, explicit: number[] | null): number[] {
  if (explicit) return [...explicit].sort((a, b) => a - b);
  const out: number[] = [];
  for (let l = firstDense; l < layers; l++) if (l % freq === 0) out.push(l);
  return out;
}

/** Experts of each layer (0 = dense FFN). */
export function expertsPerLayer(c: ModelConfig): number[] {
  const per = new Array<number>(c.num_hidden_layers).fill(0);
  if (!c.moe) return per;
  const m = c.moe;
  moeLayerIndices(c.num_hidden_layers, m.expert_frequency, m.first_k_dense_replace, m.moe_layers).forEach((l, i) => {
    per[l] = Array.isArray(m.num_experts) ? m.num_experts[i] : m.num_experts;
  });
  return per;
}

/** config.json as HF writes it for LlamaForCausalLM (v4 keys and v5 rope_parameters, interop §3.2). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const { moe, ...base } = c;
  return {
    architectures: [moe ? 'MoekitMoeForCausalLM' : 'LlamaForCausalLM'],
    ...base,
    ...(moe ?? {}),
    rope_scaling: c.rope_scaling,
    rope_parameters: { rope_theta: c.rope_theta, ...(c.rope_scaling ?? { rope_type: 'default' }) },
    mlp_bias: false,
    torch_dtype: 'float32',
  };
}
