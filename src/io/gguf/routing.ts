// moekit's routers as llama.cpp routing (interop.md §5.9): which architecture's hard-coded softmax →
// top-k → weights equals a router at inference, and the routing keys of deepseek2, whose gating is
// configurable.
import type { RouterConfig } from '../../moe/index.js';
import { ARCHS, type GgufArch } from './archs.js';
import { unexportable } from './types.js';

/**
 * The llama.cpp architecture whose hard-coded routing (softmax → top-k → weights) equals the router's at
 * inference, or why none does and, where llama's renormalised top-k is a meaningful stand-in, the k of
 * an approximate export.
 */
type Routing = { arch: GgufArch; k: number } | { reason: string; approximateK: number | null };

function evalCapacityProblem(router: RouterConfig): string | null {
  const cf = 'eval_capacity_factor' in router ? router.eval_capacity_factor : null;
  return cf === null ? null
    : `eval_capacity_factor ${cf} drops tokens over an expert's capacity at inference, and llama.cpp never drops tokens`;
}

/** How moekit's router (at inference) maps onto a llama.cpp architecture's routing. */
export function routingFor(router: RouterConfig): Routing {
  const capacity = evalCapacityProblem(router);
  const fixed = (arch: GgufArch, k: number): Routing => (capacity ? { reason: capacity, approximateK: k } : { arch, k });
  switch (router.type) {
    // renormalised: Mixtral (llama); raw probabilities: Qwen-MoE / OLMoE (qwen2moe)
    case 'top_k': return fixed(router.renormalize ? ARCHS.llama : ARCHS.qwen2moe, router.k);
    // Noise is drawn in training only; at inference G = softmax over the top-k clean logits (§3).
    case 'noisy_top_k': return fixed(ARCHS.llama, router.k);
    // Inference dispatches both choices, weights g/(g1+g2) over the pair (§4).
    case 'gshard': return fixed(ARCHS.llama, 2);
    // Top-1 weighted by its raw probability p; jitter is training only (§5).
    case 'switch': return fixed(ARCHS.qwen2moe, 1);
    case 'top_p':
      return { reason: `Top-P (p = ${router.top_p}) picks a variable number of experts per token; llama.cpp routes a fixed k`, approximateK: router.max_k ?? 2 };
    case 'dense_to_sparse':
      return { reason: `dense_to_sparse picks every expert whose gate exceeds ${router.threshold}: a variable number per token; llama.cpp routes a fixed k`, approximateK: 2 };
    case 'hash': return { reason: 'hash routing picks experts by token id, not by a softmax gate; llama.cpp has no such router', approximateK: null };
    case 'base': return { reason: 'BASE layers route by a balanced assignment over the batch; llama.cpp has no such router', approximateK: null };
    case 'expert_choice': return { reason: 'expert choice lets experts pick tokens (not causal, §14); llama.cpp has no such router', approximateK: null };
    // DeepSeekMoE (§13): raw softmax top-k beside the shared experts.
    case 'deepseek': return fixed(ARCHS.deepseek, router.k);
    // DeepSeek-V2/V3: deepseek2 only (it needs MLA), with the router's gating (deepseek2Gating).
    case 'group_limited': return fixed(ARCHS.deepseek2, router.k);
  }
}

/**
 * deepseek2's routing keys (§5.6): `expert_gating_func` (softmax / sigmoid scores), `exp_probs_b` (a
 * selection-only bias), `expert_group_count` / `expert_group_used_count`, `expert_weights_norm` (divide
 * by the sum) and `expert_weights_scale`.
 */
export interface Deepseek2Gating {
  scoring: 'softmax' | 'sigmoid';
  selectionBias: boolean;
  groups: { count: number; used: number } | null;
  renormalize: boolean;
  scale: number;
}

/** Softmax top-k, its weights raw or renormalised (the routing of the llama / qwen2moe rows). */
export function softmaxGating(renormalize: boolean): Deepseek2Gating {
  return { scoring: 'softmax', selectionBias: false, groups: null, renormalize, scale: 1 };
}

/**
 * The gating of a router whose inference routing is a fixed-k top-k (routingFor found an exact form),
 * written as deepseek2 keys, or why llama.cpp's deepseek2 cannot express it.
 */
export function deepseek2Gating(router: RouterConfig): Deepseek2Gating | string {
  switch (router.type) {
    case 'top_k': return softmaxGating(router.renormalize);
    case 'noisy_top_k': case 'gshard': return softmaxGating(true);
    case 'switch': case 'deepseek': return softmaxGating(false);
    case 'group_limited': {
      const { n_group: n, topk_group: used } = router;
      // Every group kept: the groups change nothing (and llama.cpp asserts used < count).
      const limited = n > 1 && used < n;
      // llama.cpp scores a group by the sum of its two best selection scores (DeepSeek-V3's noaux_tc).
      if (limited && router.group_score !== 'top2_sum') {
        return `group_score "${router.group_score}" (DeepSeek-V2 group_limited_greedy) over ${n} groups: llama.cpp's deepseek2 scores a group by the sum of its two best experts ("top2_sum")`;
      }
      return { scoring: router.scoring, selectionBias: router.correction_bias, groups: limited ? { count: n, used } : null,
        renormalize: router.renormalize, scale: router.routed_scaling_factor };
    }
    default: return `router "${router.type}" has no fixed top-k form`;
  }
}

/**
 * A group-limited router in a model without MLA: plain softmax top-k (one group or all kept, no bias, no
 * scale) is llama's (renormalised) or qwen2moe's / deepseek's (raw); the rest exists only in deepseek2.
 */
export function withoutMla(router: RouterConfig, source: string): GgufArch {
  const g = deepseek2Gating(router);
  if (typeof g !== 'string' && g.scoring === 'softmax' && !g.selectionBias && !g.groups && g.scale === 1) {
    return g.renormalize ? ARCHS.llama : ARCHS.qwen2moe;
  }
  throw unexportable(source, `router "${router.type}" (${typeof g === 'string' ? g : 'sigmoid scores, a selection bias, limited groups or a routed scale'}) `
    + 'has a llama.cpp form only in deepseek2, which needs multi-head latent attention (mla)');
}
