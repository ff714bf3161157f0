// `olmoe` (OlmoeForCausalLM, interop §3.4): every layer MoE with experts of width intermediate_size,
// RMSNorm of q and k over the whole projection before RoPE; weights renormalised only with norm_topk_prob.
import type { HfArchitecture } from './types.js';

export const olmoe: HfArchitecture = {
  modelType: 'olmoe',
  architecture: 'OlmoeForCausalLM',
  config(r) {
    r.unsupported('clip_qkv', () => false, 'clamping q/k/v');
    return {
      ...r.llamaBase({ eps: 1e-5, theta: 10000 }),
      qk_norm: 'full',
      num_experts: r.int('num_experts', 64),
      router: {
        type: 'top_k', k: r.int('num_experts_per_tok', 8), renormalize: r.bool('norm_topk_prob', false),
        load_balance_coef: r.num('router_aux_loss_coef', 0.01),
      },
      router_aux_loss_reduction: 'pooled',
    };
  },
  names: [],
};
