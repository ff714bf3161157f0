// `deepseek_v2` and `deepseek_v3` (DeepseekV2ForCausalLM / DeepseekV3ForCausalLM, interop §3.4): the
// DeepSeekMoE layout of `deepseek` (layer L is MoE iff L ≥ first_k_dense_replace and L % moe_layer_freq == 0;
// n_shared_experts × moe_intermediate_size fused into one ungated shared MLP) with multi-head latent
// attention, and the group-limited router:
//   V2  softmax → greedy or group_limited_greedy (group score = max) → × routed_scaling_factor
//   V3  sigmoid + e_score_correction_bias for selection → noaux_tc (group score = top-2 sum)
//       → renormalised iff norm_topk_prob → × routed_scaling_factor
// V2 always pairs the rope dims as (2j, 2j+1) (a complex view); V3 does so when rope_interleave (default).
import type { HfConfigReader } from './config_reader.js';
import { deepseekMoeLayout } from './deepseek.js';
import type { HfArchitecture } from './types.js';

/** The config-class defaults of each version (used where config.json leaves a key out). */
interface Variant { experts: number; shared: number; width: number; k: number; firstDense: number; qLora: number; scaling: number }

/** Everything V2 and V3 share; `router` is the group-limited router's own part. */
function deepseekMla(r: HfConfigReader, d: Variant, ropeInterleave: boolean, router: Record<string, unknown>): Record<string, unknown> {
  return {
    ...r.llamaBase({ eps: 1e-6, theta: 10000 }),
    mla: {
      // HF: null = no query compression (a plain q_proj)
      q_lora_rank: r.raw.q_lora_rank === null ? null : r.int('q_lora_rank', d.qLora),
      kv_lora_rank: r.int('kv_lora_rank', 512),
      qk_nope_head_dim: r.int('qk_nope_head_dim', 128),
      qk_rope_head_dim: r.int('qk_rope_head_dim', 64),
      v_head_dim: r.int('v_head_dim', 128),
      rope_interleave: ropeInterleave,
    },
    ...deepseekMoeLayout(r, d),
    router: {
      type: 'group_limited', k: r.int('num_experts_per_tok', d.k),
      routed_scaling_factor: r.num('routed_scaling_factor', d.scaling), balance_coef: r.num('aux_loss_alpha', 0.001), ...router,
    },
  };
}

export const deepseekV2: HfArchitecture = {
  modelType: 'deepseek_v2',
  architecture: 'DeepseekV2ForCausalLM',
  config(r) {
    r.unsupported('scoring_func', (v) => v === 'softmax', 'DeepSeek-V2 scores with softmax');
    // transformers 5 ignores it for deepseek_v2 while DeepSeek's own code renormalises (interop §3.4):
    // the two disagree, so a checkpoint that sets it is refused rather than run one way silently.
    r.unsupported('norm_topk_prob', (v) => v === false, 'transformers ignores norm_topk_prob for deepseek_v2, DeepSeek\'s code honours it');
    const method = r.str('topk_method', 'greedy');
    r.unsupported('topk_method', (v) => v === 'greedy' || v === 'group_limited_greedy', 'DeepSeek-V2 selects by "greedy" or "group_limited_greedy"');
    const grouped = method === 'group_limited_greedy';
    return deepseekMla(r, { experts: 64, shared: 2, width: 1407, k: 6, firstDense: 0, qLora: 1536, scaling: 1 }, true, {
      scoring: 'softmax', renormalize: false, group_score: 'max',
      n_group: grouped ? r.int('n_group') : 1, topk_group: grouped ? r.int('topk_group') : 1,
    });
  },
  names: [],
};

export const deepseekV3: HfArchitecture = {
  modelType: 'deepseek_v3',
  architecture: 'DeepseekV3ForCausalLM',
  config(r) {
    r.unsupported('scoring_func', (v) => v === 'sigmoid', 'DeepSeek-V3 scores with sigmoid');
    r.unsupported('topk_method', (v) => v === 'noaux_tc', 'DeepSeek-V3 selects by "noaux_tc"');
    return deepseekMla(r, { experts: 256, shared: 1, width: 2048, k: 8, firstDense: 3, qLora: 1536, scaling: 2.5 }, r.bool('rope_interleave', true), {
      scoring: 'sigmoid', renormalize: r.bool('norm_topk_prob', true), group_score: 'top2_sum', correction_bias: true,
      n_group: r.int('n_group', 8), topk_group: r.int('topk_group', 4),
    });
  },
  names: [],
};
