// Model configuration with HuggingFace field names (config.json of LlamaForCausalLM), validated:
// an unknown key is an error naming the nearest valid one (loaders that drop unknown keys silently
// turn typos into wrong models).
import { ConfigError, nearest } from '../tensor/index.js';

export interface ModelConfig {
  model_type: 'llama';
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
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  initializer_range: number;
  hidden_act: 'silu';
  bos_token_id: number | null;
  eos_token_id: number | null;
}

const DEFAULTS: Omit<ModelConfig, 'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' |
  'num_attention_heads' | 'num_key_value_heads' | 'head_dim'> = {
  model_type: 'llama',
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  max_position_embeddings: 2048,
  tie_word_embeddings: false,
  initializer_range: 0.02,
  hidden_act: 'silu',
  bos_token_id: null,
  eos_token_id: null,
};

const REQUIRED = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads'] as const;
const OPTIONAL = ['model_type', 'num_key_value_heads', 'head_dim', 'rms_norm_eps', 'rope_theta',
  'max_position_embeddings', 'tie_word_embeddings', 'initializer_range', 'hidden_act', 'bos_token_id',
  'eos_token_id'] as const;
/** Keys HF writes into config.json that carry nothing for this model: accepted and dropped. */
const HF_BOOKKEEPING = ['architectures', 'torch_dtype', 'dtype', 'transformers_version', 'use_cache',
  'attention_bias', 'attention_dropout', 'mlp_bias', 'pretraining_tp', 'pad_token_id', 'rope_scaling',
  'rope_parameters', '_name_or_path'] as const;
export const MODEL_CONFIG_KEYS: readonly string[] = [...REQUIRED, ...OPTIONAL, ...HF_BOOKKEEPING];

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
  if (o.model_type !== undefined && o.model_type !== 'llama') {
    fail(where, 'model_type', `must be "llama" for a trainable model, got ${JSON.stringify(o.model_type)}`);
  }
  if (o.hidden_act !== undefined && o.hidden_act !== 'silu') fail(where, 'hidden_act', `must be "silu", got ${JSON.stringify(o.hidden_act)}`);
  if (o.rope_scaling !== undefined && o.rope_scaling !== null) fail(where, 'rope_scaling', 'is not supported yet (only null)');

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
  return {
    model_type: 'llama',
    vocab_size: positiveInt(where, 'vocab_size', o.vocab_size),
    hidden_size: hidden,
    intermediate_size: positiveInt(where, 'intermediate_size', o.intermediate_size),
    num_hidden_layers: positiveInt(where, 'num_hidden_layers', o.num_hidden_layers),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rms_norm_eps: positiveNumber(where, 'rms_norm_eps', o.rms_norm_eps ?? DEFAULTS.rms_norm_eps),
    rope_theta: positiveNumber(where, 'rope_theta', theta),
    max_position_embeddings: positiveInt(where, 'max_position_embeddings', o.max_position_embeddings ?? DEFAULTS.max_position_embeddings),
    tie_word_embeddings: (o.tie_word_embeddings as boolean | undefined) ?? DEFAULTS.tie_word_embeddings,
    initializer_range: positiveNumber(where, 'initializer_range', o.initializer_range ?? DEFAULTS.initializer_range),
    hidden_act: 'silu',
    bos_token_id: optionalId(where, 'bos_token_id', o.bos_token_id),
    eos_token_id: optionalId(where, 'eos_token_id', o.eos_token_id),
  };
}

/** config.json as HF writes it for LlamaForCausalLM (v4 keys and v5 rope_parameters, interop §3.2). */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    ...c,
    rope_scaling: null,
    rope_parameters: { rope_theta: c.rope_theta, rope_type: 'default' },
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: 'float32',
  };
}
