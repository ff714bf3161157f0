// `qwen2_moe` and `qwen3_moe` (interop §3.4): layer L is MoE iff L ∉ mlp_only_layers and
// (L + 1) % decoder_sparse_step == 0; dense layers use intermediate_size, experts moe_intermediate_size;
// weights renormalised only with norm_topk_prob. Qwen2-MoE adds q/k/v biases and a shared expert scaled
// by sigmoid(x·w_g); Qwen3-MoE has no shared expert, an explicit head_dim and per-head q/k RMSNorm.
import type { HfConfigReader } from './config_reader.js';
import type { HfArchitecture } from './types.js';

function qwenMoe(r: HfConfigReader, defaults: { experts: number; k: number; width: number }): Record<string, unknown> {
  r.unsupported('use_sliding_window', (v) => v === false, 'sliding-window attention');
  const layers = r.int('num_hidden_layers');
  const step = r.int('decoder_sparse_step', 1);
  const denseOnly = new Set(r.intList('mlp_only_layers'));
  // transformers 5 writes Qwen3-MoE's expert count as num_local_experts.
  const experts = r.has('num_experts') ? r.int('num_experts') : r.int('num_local_experts', defaults.experts);
  const moeLayers = experts > 0 && step > 0
    ? Array.from({ length: layers }, (_, l) => l).filter((l) => !denseOnly.has(l) && (l + 1) % step === 0) : [];
  if (moeLayers.length === 0) return {};
  return {
    num_experts: experts,
    moe_intermediate_size: r.int('moe_intermediate_size', defaults.width),
    moe_layers: moeLayers,
    router: {
      type: 'top_k', k: r.int('num_experts_per_tok', defaults.k), renormalize: r.bool('norm_topk_prob', false),
      load_balance_coef: r.num('router_aux_loss_coef', 0.001),
    },
    router_aux_loss_reduction: 'pooled',
  };
}

export const qwen2Moe: HfArchitecture = {
  modelType: 'qwen2_moe',
  architecture: 'Qwen2MoeForCausalLM',
  config(r) {
    const moe = qwenMoe(r, { experts: 60, k: 4, width: 1408 });
    const shared = r.int('shared_expert_intermediate_size', 5632);
    return {
      ...r.llamaBase({ eps: 1e-6, theta: 10000 }),
      qkv_bias: r.bool('qkv_bias', true),
      ...moe,
      ...(moe.num_experts && shared > 0 ? { shared_expert_intermediate_size: shared, shared_expert_gate: true } : {}),
    };
  },
  names: [
    { hf: 'model.layers.(\\d+).mlp.shared_expert.(gate_proj|up_proj|down_proj).weight', moekit: 'model.layers.$1.mlp.shared_experts.$2.weight' },
  ],
};

export const qwen3Moe: HfArchitecture = {
  modelType: 'qwen3_moe',
  architecture: 'Qwen3MoeForCausalLM',
  config(r) {
    return {
      ...r.llamaBase({ eps: 1e-6, theta: 10000 }),
      qk_norm: 'per_head',
      ...qwenMoe(r, { experts: 128, k: 8, width: 768 }),
    };
  },
  names: [],
};
