// Typed reads of an HF config.json that name the file and the key in every error (interop §3.2). A key a
// mapping does not read is ignored — HF configs carry many (use_cache, output_router_logits, …) — but a
// key that would change the computation in a way moekit does not implement must be refused by the
// mapping through `unsupported`, never dropped.
import { ConfigError } from '../../tensor/index.js';
import { ROPE_TYPES } from '../../models/index.js';

export class HfConfigReader {
  constructor(readonly raw: Record<string, unknown>, readonly where: string) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  private fail(key: string, msg: string): never {
    throw new ConfigError(`${this.where}: "${key}" ${msg}`);
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) this.fail(key, 'is missing (a positive integer is required)');
      return fallback;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(key, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) this.fail(key, `must be a list of integers, got ${JSON.stringify(v)}`);
    return v as number[];
  }

  /** A key whose non-default value moekit cannot honour: refuse it rather than run a different model. */
  unsupported(key: string, isDefault: (v: unknown) => boolean, why: string): void {
    const v = this.raw[key];
    if (v !== undefined && v !== null && !isDefault(v)) this.fail(key, `= ${JSON.stringify(v)} is not supported: ${why}`);
  }

  /** RoPE base: v5 `rope_parameters.rope_theta`, else v4 `rope_theta`, else the model's default (§3.2). */
  ropeTheta(fallback: number): number {
    const params = this.raw.rope_parameters as Record<string, unknown> | undefined | null;
    const scaling = (params && typeof params === 'object' ? params : null) ?? (this.raw.rope_scaling as Record<string, unknown> | null | undefined);
    const type = scaling && typeof scaling === 'object' ? (scaling.rope_type ?? scaling.type ?? 'default') : 'default';
    if (!(ROPE_TYPES as readonly unknown[]).includes(type)) this.fail(params ? 'rope_parameters' : 'rope_scaling', `rope type ${JSON.stringify(type)} is not supported (${ROPE_TYPES.join(', ')} are)`);
    const theta = params && typeof params === 'object' && params.rope_theta !== undefined ? params.rope_theta : this.raw.rope_theta;
    if (theta === undefined || theta === null) return fallback;
    if (typeof theta !== 'number' || !(theta > 0)) this.fail('rope_theta', `must be a positive number, got ${JSON.stringify(theta)}`);
    return theta;
  }

  /** The scaling object of a YaRN, llama3 or linear checkpoint (v4 `rope_scaling` or v5 `rope_parameters`), else null; parseModelConfig validates it. */
  ropeScaling(): Record<string, unknown> | null {
    for (const key of ['rope_scaling', 'rope_parameters']) {
      const v = this.raw[key] as Record<string, unknown> | null | undefined;
      if (!v || typeof v !== 'object') continue;
      const type = v.rope_type ?? v.type;
      if (type === 'llama3' || type === 'linear') return v;
      if (type !== 'yarn') continue;
      const original = v.original_max_position_embeddings;
      if (typeof original !== 'number' || !Number.isInteger(original) || original <= 0) {
        this.fail(key, `(YaRN) needs "original_max_position_embeddings", a positive integer, got ${JSON.stringify(original)}`);
      }
      return v;
    }
    return null;
  }

  /** The llama fields every target shares (interop §3.2), as moekit config keys. */
  llamaBase(defaults: { eps: number; theta: number }): Record<string, unknown> {
    this.unsupported('hidden_act', (v) => v === 'silu', 'only SwiGLU with silu');
    this.unsupported('mlp_bias', (v) => v === false, 'MLP biases');
    this.unsupported('partial_rotary_factor', (v) => v === 1, 'partial RoPE');
    const eos = this.raw.eos_token_id;
    return {
      vocab_size: this.int('vocab_size'),
      hidden_size: this.int('hidden_size'),
      intermediate_size: this.int('intermediate_size'),
      num_hidden_layers: this.int('num_hidden_layers'),
      num_attention_heads: this.int('num_attention_heads'),
      num_key_value_heads: this.has('num_key_value_heads') ? this.int('num_key_value_heads') : undefined,
      head_dim: this.has('head_dim') ? this.int('head_dim') : undefined,
      rms_norm_eps: this.num('rms_norm_eps', defaults.eps),
      rope_theta: this.ropeTheta(defaults.theta),
      rope_scaling: this.ropeScaling(),
      max_position_embeddings: this.int('max_position_embeddings', 2048),
      tie_word_embeddings: this.bool('tie_word_embeddings', false),
      initializer_range: this.num('initializer_range', 0.02),
      bos_token_id: this.raw.bos_token_id ?? null,
      eos_token_id: Array.isArray(eos) ? (eos[0] ?? null) : (eos ?? null),
      attention_bias: this.bool('attention_bias', false),
    };
  }
}
