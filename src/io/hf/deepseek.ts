// DeepSeekMoE v1 (remote-code `deepseek`, DeepseekForCausalLM, interop §3.4): layer L is MoE iff
// L ≥ first_k_dense_replace and L % moe_layer_freq == 0; routed experts of width moe_intermediate_size
// plus n_shared_experts fused into one ungated shared MLP; softmax → top-k, divided by the sum only when
// k > 1 and norm_topk_prob; no routed scaling factor in v1.
import type { HfConfigReader } from './config_reader.js';
import type { HfArchitecture } from './types.js';

/**
 * The DeepSeekMoE layer layout, shared by v1, V2 and V3 (§3.4): which layers are MoE, the routed
 * experts' count and width, and the shared experts fused into one MLP. `d` holds the config class's
 * defaults for keys config.json may leave out (undefined: the key is required).
 */
export function deepseekMoeLayout(r: HfConfigReader, d: { experts?: number; width?: number; shared: number; firstDense: number }):
  Record<string, unknown> {
  const layers = r.int('num_hidden_layers');
  const firstDense = r.int('first_k_dense_replace', d.firstDense);
  const freq = r.int('moe_layer_freq', 1);
  const width = r.int('moe_intermediate_size', d.width);
  return {
    num_experts: r.int('n_routed_experts', d.experts),
    moe_intermediate_size: width,
    moe_layers: Array.from({ length: layers }, (_, l) => l).filter((l) => l >= firstDense && l % freq === 0),
    shared_expert_intermediate_size: width * r.int('n_shared_experts', d.shared),
  };
}

export const deepseek: HfArchitecture = {
  modelType: 'deepseek',
  architecture: 'DeepseekForCausalLM',
  config(r) {
    r.unsupported('scoring_func', (v) => v === 'softmax', 'DeepSeekMoE v1 scores with softmax');
    r.unsupported('topk_method', (v) => v === 'greedy', 'DeepSeekMoE v1 selects greedily');
    const base = r.llamaBase({ eps: 1e-6, theta: 10000 });
    if (!r.has('n_routed_experts')) return base;
    const k = r.int('num_experts_per_tok');
    return {
      ...base,
      ...deepseekMoeLayout(r, { shared: 0, firstDense: 0 }),
      router: { type: 'top_k', k, renormalize: k > 1 && r.bool('norm_topk_prob', false), load_balance_coef: r.num('aux_loss_alpha', 0.001) },
    };
  },
  names: [],
};
