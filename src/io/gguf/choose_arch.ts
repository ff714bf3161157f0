// The exporter's decision (interop.md §5.9): the llama.cpp architecture a model becomes and the MoE
// hyperparameters llama.cpp will use; anything that would change the model's outputs is refused with
// the reason, unless the caller opts into an approximate export.
import { expertsPerLayer, moeLayerIndices, type ModelConfig } from '../../models/config.js';
import { routedExperts, sharedExperts } from '../../moe/index.js';
import { ARCHS, type GgufArch } from './archs.js';
import { checkAttention, checkMla, checkSharedExpert, checkYarn } from './checks.js';
import { deepseek2Gating, routingFor, softmaxGating, withoutMla, type Deepseek2Gating } from './routing.js';
import { unexportable, type GgufExportOptions } from './types.js';

export interface ArchChoice {
  arch: GgufArch;
  /**
   * null for a dense model. `sharedWidth`: the model's shared expert (0 = none; a `gated` or `ungated`
   * arch then gets a zero placeholder); `denseLead`: leading dense layers (deepseek archs).
   */
  moe: { experts: number; k: number; width: number; moeLayers: number[]; sharedWidth: number; denseLead: number } | null;
  /** deepseek2's routing keys; null for the other architectures, whose routing is hard-coded. */
  gating: Deepseek2Gating | null;
  exact: boolean;
  warnings: string[];
}

/** Picks the architecture and the MoE hyperparameters llama.cpp will use, refusing what it cannot express. */
export function chooseArch(c: ModelConfig, opts: GgufExportOptions, source: string): ArchChoice {
  if (c.rope_scaling?.rope_type === 'yarn') checkYarn(c, c.rope_scaling, source);
  const m = c.moe;
  if (!m) {
    if (c.mla) throw unexportable(source, 'a dense model with multi-head latent attention (mla) has no llama.cpp form the exporter writes (deepseek2 is an MoE architecture)');
    if (c.qk_norm !== 'none') {
      throw unexportable(source, `a dense model with qk_norm "${c.qk_norm}" needs llama.cpp's qwen3 / olmo2 architectures, which the exporter does not write yet`);
    }
    return { arch: ARCHS.llama, moe: null, gating: null, exact: true, warnings: [] };
  }
  if (m.residual) {
    throw unexportable(source, `Residual-MoE (residual: ${JSON.stringify(m.residual)}) adds a dense MLP beside the experts; no llama.cpp architecture has it`);
  }
  const counts = [...new Set(expertsPerLayer(c).filter((e) => e > 0))];
  if (counts.length > 1) {
    throw unexportable(source, `MoE layers have different expert counts (${counts.join(', ')}); llama.cpp has one expert_count per model`);
  }
  const routing = routingFor(m.router);
  const warnings: string[] = [];
  let arch: GgufArch;
  let k: number;
  if ('k' in routing) {
    ({ arch, k } = routing);
  } else {
    if (!opts.approximate || routing.approximateK === null) {
      throw unexportable(source, `router "${m.router.type}" has no exact llama.cpp equivalent: ${routing.reason}`,
        routing.approximateK === null ? 'no approximate export exists for this router either'
          : 'pass --approximate to export llama\'s renormalised top-k anyway (outputs will differ from moekit\'s)');
    }
    arch = ARCHS.llama;
    k = opts.approximateK ?? routing.approximateK;
    warnings.push(`approximate export: router "${m.router.type}": ${routing.reason}; llama.cpp will route softmax → top-${k} → renormalise`);
  }
  const W = m.moe_intermediate_size;
  // DeepSeek's shared experts are K_s routed-width experts fused into one MLP (§13); Qwen's has its own width.
  const sharedWidth = sharedExperts(m.router) * W || m.shared_expert_intermediate_size;
  const moeLayers = moeLayerIndices(c.num_hidden_layers, m.expert_frequency, m.first_k_dense_replace, m.moe_layers);
  const hasDense = moeLayers.length < c.num_hidden_layers;
  if (!c.mla && arch === ARCHS.deepseek2) arch = withoutMla(m.router, source);
  let gating: Deepseek2Gating | null = null;
  if (c.mla) {
    // MLA exists only in deepseek2, whose gating keys express every fixed top-k router moekit has.
    arch = ARCHS.deepseek2;
    // (an approximate export routes softmax → top-k → renormalise, as its warning says)
    const g = 'k' in routing ? deepseek2Gating(m.router) : softmaxGating(true);
    if (typeof g === 'string') throw unexportable(source, `router "${m.router.type}" has no llama.cpp form: ${g}`);
    gating = g;
    checkMla(c, source);
  } else if (arch.weights === 'raw' && c.qk_norm === 'none' && ((sharedWidth > 0 && !m.shared_expert_gate) || hasDense)) {
    // Raw top-k weights with an ungated shared expert or dense layers: DeepSeekMoE's layout.
    arch = ARCHS.deepseek;
  }
  arch = withQkNorm(arch, c, m.router.type, source);
  checkAttention(c, arch, source);
  const experts = routedExperts(m.router, counts[0]);
  if (!Number.isInteger(k) || k < 1 || k > experts) throw unexportable(source, `experts per token k = ${k} must be in [1, ${experts}]`);
  checkSharedExpert(arch, sharedWidth, m.shared_expert_gate, W, source);
  let denseLead = 0;
  if (hasDense && arch.leadingDense) {
    denseLead = c.num_hidden_layers - moeLayers.length;
    if (moeLayers.some((l, i) => l !== denseLead + i)) {
      throw unexportable(source, `dense layers after an MoE layer (MoE layers ${moeLayers.join(', ')} of ${c.num_hidden_layers}) have no llama.cpp form: `
        + `${arch.name} has dense layers only before the first MoE layer (leading_dense_block_count)`);
    }
  } else if (hasDense) {
    // llama needs experts in every layer (§5.7): a dense FFN becomes E identical experts whose weights
    // renormalise to 1 (§5.9), zero-padded to the expert width (silu(0)·0 = 0 adds nothing). Raw weights
    // sum to less than 1, so there the trick does not work.
    if (arch.weights === 'raw') {
      throw unexportable(source, `dense layers inside an MoE with raw top-k weights (router "${m.router.type}") have no llama.cpp form: `
        + `${arch.name} puts experts in every layer, and its raw weights do not sum to 1 over copies of the dense FFN`);
    }
    if (c.intermediate_size > W) {
      throw unexportable(source, `dense layers (intermediate_size ${c.intermediate_size}) are wider than the experts `
        + `(moe_intermediate_size ${W}); ${arch.name} stores them as experts, which cannot hold them`);
    }
  }
  return { arch, moe: { experts, k, width: W, moeLayers, sharedWidth, denseLead }, gating, exact: warnings.length === 0, warnings };
}

/**
 * The architecture with the routing of `base` (its top-k weights) and the model's q/k norm: llama →
 * qwen3moe and qwen2moe → olmoe when there is one (§5.9), or why none exists.
 */
function withQkNorm(base: GgufArch, c: ModelConfig, router: string, source: string): GgufArch {
  if (c.qk_norm === base.qkNorm) return base;
  const archs: readonly GgufArch[] = Object.values(ARCHS);
  const found = archs.find((a) => a.qkNorm === c.qk_norm && a.weights === base.weights);
  if (found) return found;
  const other = archs.find((a) => a.qkNorm === c.qk_norm);
  throw unexportable(source, `qk_norm "${c.qk_norm}" with ${base.weights} top-k weights (router "${router}") has no llama.cpp form: `
    + `${other ? `${other.name}, the architecture with that q/k norm, hard-codes ${other.weights} weights` : 'no architecture has that q/k norm'}`);
}
