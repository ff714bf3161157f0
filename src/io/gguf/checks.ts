// The GGUF exporter's refusals (interop.md §5.7, §5.9): model features that llama.cpp's chosen
// architecture would compute differently or not load — shared experts, RoPE scaling, MLA details, attention biases.
import type { ModelConfig, YarnScaling } from '../../models/config.js';
import { yarnAttentionFactor } from '../../ops/index.js';
import type { GgufArch } from './archs.js';
import { unexportable } from './types.js';

/**
 * llama.cpp normalises deepseek2's q/kv latents with rms_norm_eps, while DeepSeek (and moekit, src/nn/mla.ts)
 * use the RMSNorm default 1e-6 there.
 */
const MLA_LATENT_EPS = 1e-6;

/** Refuses a shared expert `arch` cannot hold: qwen2moe's is gated, deepseek's ungated and a whole number of experts wide. */
export function checkSharedExpert(arch: GgufArch, width: number, gated: boolean, expertWidth: number, source: string): void {
  if (width === 0 || (arch.sharedExpert === 'gated' && gated)) return;
  if (arch.sharedExpert === 'ungated' && !gated) {
    if (width % expertWidth !== 0) {
      throw unexportable(source, `the shared expert's width ${width} is not a multiple of the expert width ${expertWidth}: `
        + `llama.cpp's ${arch.name} sizes it expert_shared_count × expert_feed_forward_length`);
    }
    return;
  }
  throw unexportable(source, `a${gated ? ' gated' : 'n ungated'} shared expert beside ${arch.weights} top-k weights has no llama.cpp form `
    + '(qwen2moe: raw weights + a gated shared expert; deepseek: raw weights + an ungated one; deepseek2, whose weights may be renormalised, needs multi-head latent attention)');
}

/**
 * YaRN as llama.cpp's deepseek2 computes it: the frequency ramp of HF's truncated YaRN (ggml rounds the
 * correction dims outwards too), cos/sin at magnitude 1, and the MLA softmax scale × mscale(s, m_all)²
 * through `rope.scaling.yarn_log_multiplier` (src/nn/mla.ts mlaSoftmaxScale). So the model's cos/sin
 * attention factor must be 1 (DeepSeek-V2/V3 set mscale = mscale_all_dim); the other archs are not exported.
 */
export function checkYarn(c: ModelConfig, y: YarnScaling, source: string): void {
  const what = `rope_scaling "${y.rope_type}" (factor ${y.factor}, mscale ${y.mscale}, mscale_all_dim ${y.mscale_all_dim})`;
  if (!c.mla) throw unexportable(source, `${what} is exported only for multi-head latent attention (deepseek2); the exporter writes plain RoPE for the other architectures`);
  if (!y.truncate) throw unexportable(source, `${what} with truncate = false: llama.cpp rounds YaRN's correction range outwards to whole dims`);
  if (!(y.factor > 1)) throw unexportable(source, `${what}: llama.cpp's deepseek2 YaRN needs factor > 1`);
  const cosSinFactor = y.attention_factor ?? yarnAttentionFactor(y.factor, y.mscale, y.mscale_all_dim); // as src/models/decoder.ts
  if (Math.abs(cosSinFactor - 1) > 1e-6) {
    throw unexportable(source, `${what} scales cos/sin by ${cosSinFactor}: llama.cpp's deepseek2 keeps them at magnitude 1 `
      + '(its attn_factor also multiplies the softmax scale), so only mscale = mscale_all_dim (or attention_factor 1) exports exactly');
  }
}

/**
 * Linear and llama3 RoPE scaling: llama.cpp reads `rope.scaling.type` "linear" for every architecture
 * (positions × 1/factor, the same angles as frequencies ÷ factor) and llama3's per-frequency divisors from
 * the `rope_freqs.weight` tensor, which only its llama architecture loads. Neither is written for MLA.
 */
export function checkRopeScaling(c: ModelConfig, arch: GgufArch, source: string): void {
  const s = c.rope_scaling;
  if (!s || s.rope_type === 'yarn') return;
  if (c.mla) throw unexportable(source, `rope_scaling "${s.rope_type}" with multi-head latent attention: the exporter writes only YaRN for deepseek2`);
  if (s.rope_type === 'llama3' && arch.name !== 'llama') {
    throw unexportable(source, `rope_scaling "llama3" on llama.cpp's ${arch.name}: only its llama architecture reads the rope_freqs.weight tensor that carries it`);
  }
}

/** Refuses MLA that llama.cpp's deepseek2 computes differently (§5.7; src/nn/mla.ts). */
export function checkMla(c: ModelConfig, source: string): void {
  const mla = c.mla!;
  if (c.attention_bias) throw unexportable(source, 'attention_bias on multi-head latent attention (q_a_proj / kv_a_proj_with_mqa / o_proj biases): llama.cpp\'s deepseek2 has no attention biases');
  if (Math.fround(c.rms_norm_eps) !== Math.fround(MLA_LATENT_EPS)) {
    throw unexportable(source, `rms_norm_eps ${c.rms_norm_eps}: llama.cpp's deepseek2 also normalises the MLA latents with it, `
      + `where DeepSeek (and moekit) use ${MLA_LATENT_EPS}; only rms_norm_eps = ${MLA_LATENT_EPS} exports exactly`);
  }
  // llama.cpp takes these layer counts (with vocab 128256 for 48) for q-LoRA-free "lite" models and then
  // never reads q_lora_rank.
  const L = c.num_hidden_layers;
  if (mla.q_lora_rank !== null && (L === 26 || L === 27 || (L === 48 && c.vocab_size === 128256))) {
    throw unexportable(source, `a q LoRA (q_lora_rank ${mla.q_lora_rank}) in a ${L}-layer model: llama.cpp's deepseek2 treats ${L}-layer models as DeepSeek-V2-Lite (no q LoRA)`);
  }
}

/** Refuses attention llama.cpp's `arch` would not load: biases it lacks, olmoe's full-width q/k norm beyond nkv = nh (§5.7). */
export function checkAttention(c: ModelConfig, arch: GgufArch, source: string): void {
  const bias = c.attention_bias ? 'qkvo' : c.qkv_bias ? 'qkv' : 'none';
  if (bias !== 'none' && !arch.attentionBias.startsWith(bias)) {
    throw unexportable(source, `${c.attention_bias ? 'attention_bias (q/k/v/o biases)' : 'qkv_bias (q/k/v biases)'}: llama.cpp's ${arch.name} `
      + `${arch.attentionBias === 'none' ? 'has no attention biases' : `has only ${arch.attentionBias.split('').join('/')} biases`}`);
  }
  if (arch.qkNorm === 'full') {
    const { hidden_size: H, num_attention_heads: nh, num_key_value_heads: nkv, head_dim: hd } = c;
    if (nkv !== nh || nh * hd !== H) {
      throw unexportable(source, `llama.cpp's ${arch.name} sizes both q/k norms to hidden_size (${H}), so it needs num_key_value_heads = num_attention_heads `
        + `and heads × head_dim = hidden_size; got ${nkv} kv heads, ${nh} heads of ${hd}`);
    }
  }
}
