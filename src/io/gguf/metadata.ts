// The {arch}.* hyperparameter keys of a GGUF export (interop.md §5.6), with the exact types llama.cpp
// checks: shapes, attention (MLA's absorbed widths, YaRN, linear RoPE scaling), experts, shared experts and deepseek2 gating.
import type { ModelConfig } from '../../models/config.js';
import { ZERO_SHARED_WIDTH } from './archs.js';
import type { ArchChoice } from './choose_arch.js';
import { gv, type GgufValue } from './format.js';

/** The {arch}.* hyperparameter keys (§5.6), with the exact types llama.cpp checks. */
export function archMetadata(c: ModelConfig, choice: ArchChoice): Map<string, GgufValue> {
  const a = choice.arch.name;
  const keys = new Map<string, GgufValue>([
    [`${a}.vocab_size`, gv.u32(c.vocab_size)],
    [`${a}.context_length`, gv.u32(c.max_position_embeddings)],
    [`${a}.embedding_length`, gv.u32(c.hidden_size)],
    [`${a}.block_count`, gv.u32(c.num_hidden_layers)],
    [`${a}.feed_forward_length`, gv.u32(c.intermediate_size)],
    [`${a}.attention.head_count`, gv.u32(c.num_attention_heads)],
    [`${a}.attention.head_count_kv`, gv.u32(c.num_key_value_heads)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(c.rms_norm_eps)],
    [`${a}.rope.dimension_count`, gv.u32(c.head_dim)],
    [`${a}.rope.freq_base`, gv.f32(c.rope_theta)],
  ]);
  if (c.mla) {
    // Absorbed MLA is MQA over the latent (llama.cpp's converter): one kv head whose key is [latent | k_rope]
    // and value the latent; the per-head widths before absorption are the *_mla keys.
    const { q_lora_rank: qr, kv_lora_rank: kvr, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv } = c.mla;
    keys.set(`${a}.attention.head_count_kv`, gv.u32(1));
    keys.set(`${a}.attention.q_lora_rank`, gv.u32(qr ?? 0)).set(`${a}.attention.kv_lora_rank`, gv.u32(kvr));
    keys.set(`${a}.attention.key_length`, gv.u32(kvr + dr)).set(`${a}.attention.value_length`, gv.u32(kvr));
    keys.set(`${a}.attention.key_length_mla`, gv.u32(dn + dr)).set(`${a}.attention.value_length_mla`, gv.u32(dv));
    const y = c.rope_scaling; // checkYarn: truncated, cos/sin factor 1
    if (y?.rope_type === 'yarn') {
      keys.set(`${a}.rope.scaling.type`, gv.str('yarn')).set(`${a}.rope.scaling.factor`, gv.f32(y.factor));
      keys.set(`${a}.rope.scaling.original_context_length`, gv.u32(y.original_max_position_embeddings));
      keys.set(`${a}.rope.scaling.yarn_beta_fast`, gv.f32(y.beta_fast)).set(`${a}.rope.scaling.yarn_beta_slow`, gv.f32(y.beta_slow));
      // llama.cpp divides this by 0.1 (its converter writes 0.1 · mscale_all_dim) and scales the softmax by
      // (1 + 0.1 · m · ln s)², as DeepSeek does with m = mscale_all_dim.
      if (y.mscale_all_dim) keys.set(`${a}.rope.scaling.yarn_log_multiplier`, gv.f32(0.1 * y.mscale_all_dim));
    }
  } else if (choice.arch.alwaysKeyLength || c.head_dim * c.num_attention_heads !== c.hidden_size) {
    keys.set(`${a}.attention.key_length`, gv.u32(c.head_dim)).set(`${a}.attention.value_length`, gv.u32(c.head_dim));
  }
  // llama3's scaling travels as the rope_freqs.weight tensor (tensors.ts), as llama.cpp's converter writes it.
  if (c.rope_scaling?.rope_type === 'linear') {
    keys.set(`${a}.rope.scaling.type`, gv.str('linear')).set(`${a}.rope.scaling.factor`, gv.f32(c.rope_scaling.factor));
  }
  if (choice.moe) {
    keys.set(`${a}.expert_count`, gv.u32(choice.moe.experts)).set(`${a}.expert_used_count`, gv.u32(choice.moe.k));
    keys.set(`${a}.${choice.arch.expertWidthKey}`, gv.u32(choice.moe.width)); // llama: replaces feed_forward_length
  }
  if (choice.moe && choice.arch.sharedExpert === 'gated') {
    keys.set(`${a}.expert_shared_feed_forward_length`, gv.u32(choice.moe.sharedWidth || ZERO_SHARED_WIDTH));
  }
  if (choice.moe && choice.arch.sharedExpert === 'ungated') { // a model without one gets one zero expert
    keys.set(`${a}.expert_shared_count`, gv.u32(choice.moe.sharedWidth / choice.moe.width || 1));
    keys.set(`${a}.leading_dense_block_count`, gv.u32(choice.moe.denseLead));
    // deepseek scales its raw weights by this too; 1 leaves them as they are.
    keys.set(`${a}.expert_weights_scale`, gv.f32(choice.gating?.scale ?? 1));
  }
  const g = choice.gating;
  if (g) {
    keys.set(`${a}.expert_weights_norm`, gv.bool(g.renormalize));
    keys.set(`${a}.expert_gating_func`, gv.u32(g.scoring === 'softmax' ? 1 : 2));
    if (g.groups) keys.set(`${a}.expert_group_count`, gv.u32(g.groups.count)).set(`${a}.expert_group_used_count`, gv.u32(g.groups.used));
  }
  return keys;
}
