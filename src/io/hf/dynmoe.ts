// The Top-P paper's Dynamic-MoE checkpoints (github ZhenweiAn/Dynamic_MoE, interop §3.5): `model_type`
// says "llama", so it is detected by `top_p_threshold` or an `mlp.router` tensor. Layer L is MoE iff
// L % expert_frequency == 0; MHA (no GQA); RoPE base fixed at 10000 in its code; Top-P routing with the
// strict `>` rule and raw probability weights (moe-methods §1); its own norm and dense-MLP names.
import type { HfArchitecture } from './types.js';

export const dynmoe: HfArchitecture = {
  modelType: 'dynmoe',
  architecture: 'MoEForCausalLM',
  config(r) {
    const base = r.llamaBase({ eps: 1e-6, theta: 10000 });
    return {
      ...base,
      num_key_value_heads: base.num_attention_heads, // its attention ignores num_key_value_heads
      rope_theta: 10000,
      num_experts: r.int('num_experts'),
      expert_frequency: r.int('expert_frequency', 2),
      router: { type: 'top_p', top_p: r.num('top_p_threshold', 0.4) },
    };
  },
  names: [
    { hf: 'model.layers.(\\d+).input_norm.weight', moekit: 'model.layers.$1.input_layernorm.weight' },
    { hf: 'model.layers.(\\d+).post_attention_norm.weight', moekit: 'model.layers.$1.post_attention_layernorm.weight' },
    { hf: 'model.layers.(\\d+).mlp.router.weight', moekit: 'model.layers.$1.mlp.gate.weight' },
    { hf: 'model.layers.(\\d+).mlp.mlp.(gate_proj|up_proj|down_proj).weight', moekit: 'model.layers.$1.mlp.$2.weight' },
  ],
};
