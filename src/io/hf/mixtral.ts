// `mixtral` (MixtralForCausalLM, interop §3.4): every layer MoE under `block_sparse_moe`, experts named
// w1 (gate) / w3 (up) / w2 (down) of width intermediate_size; softmax → top-k → always renormalised.
// transformers computes the aux loss pooled over all layers (moe-methods §0).
import type { HfArchitecture } from './types.js';

export const mixtral: HfArchitecture = {
  modelType: 'mixtral',
  architecture: 'MixtralForCausalLM',
  config(r) {
    r.unsupported('sliding_window', (v) => typeof v === 'number' && v >= r.int('max_position_embeddings', 2048), 'sliding-window attention');
    return {
      ...r.llamaBase({ eps: 1e-5, theta: 1e6 }),
      num_experts: r.int('num_local_experts', 8),
      router: { type: 'top_k', k: r.int('num_experts_per_tok', 2), renormalize: true, load_balance_coef: r.num('router_aux_loss_coef', 0.001) },
      router_aux_loss_reduction: 'pooled',
    };
  },
  names: [
    { hf: 'model.layers.(\\d+).block_sparse_moe.gate.weight', moekit: 'model.layers.$1.mlp.gate.weight' },
    { hf: 'model.layers.(\\d+).block_sparse_moe.experts.(\\d+).w1.weight', moekit: 'model.layers.$1.mlp.experts.$2.gate_proj.weight' },
    { hf: 'model.layers.(\\d+).block_sparse_moe.experts.(\\d+).w3.weight', moekit: 'model.layers.$1.mlp.experts.$2.up_proj.weight' },
    { hf: 'model.layers.(\\d+).block_sparse_moe.experts.(\\d+).w2.weight', moekit: 'model.layers.$1.mlp.experts.$2.down_proj.weight' },
  ],
  exportConfig(c) {
    const moe = c.moe!;
    const router = moe.router as { k: number; load_balance_coef: number };
    return {
      vocab_size: c.vocab_size, hidden_size: c.hidden_size, intermediate_size: moe.moe_intermediate_size,
      num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads,
      num_key_value_heads: c.num_key_value_heads, head_dim: c.head_dim, num_local_experts: moe.num_experts,
      num_experts_per_tok: router.k, router_aux_loss_coef: router.load_balance_coef,
    };
  },
};
