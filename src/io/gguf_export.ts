// moekit model → GGUF for llama.cpp (interop.md §5). A model becomes one llama.cpp architecture whose
// hard-coded routing (§5.9) reproduces moekit's router at inference; anything that would change the
// model's outputs is refused with the reason, unless the caller opts into an approximate export.
//
// Architectures are rows of ARCHS (name, RoPE style §5.5, whether output.weight is required §5.7, how
// the router weights its top-k §5.9) plus a rule in routingFor; the tensor names of §5.7 are shared.
// Today: `llama` (dense, and renormalised top-k MoE with every layer's FFN stacked as experts),
// `qwen2moe` (raw top-k weights, with the model's gated shared expert or one that contributes zero), and
// their q/k-norm twins `qwen3moe` (renormalised, per-head q/k norm) and `olmoe` (raw, full-width q/k
// norm), `deepseek` (DeepSeekMoE: raw top-k weights, an ungated shared expert, leading dense layers) and
// `deepseek2` (multi-head latent attention, whose routing — softmax or sigmoid, selection bias, expert
// groups, renormalisation, scale — is read from keys rather than hard-coded).
import { basename, resolve } from 'node:path';
import { expertsPerLayer, moeLayerIndices, type ModelConfig } from '../models/config.js';
import { loadModel } from './load.js';
import { Tokenizer } from '../data/index.js';
import { GgufError } from './errors.js';
import { encodeF32, gv, writeGguf, type GgmlType, type GgufTensorSpec, type GgufValue } from './gguf.js';
import { tokenizerMetadata } from './gguf_tokenizer.js';
import { concatArrays } from './concat.js';
import { ropeSliceToPairs, splitKvB } from './gguf_mla.js';
import { routedExperts, sharedExperts, type RouterConfig } from '../moe/index.js';
import { yarnAttentionFactor } from '../ops/index.js';

export type GgufDtype = 'f32' | 'f16' | 'bf16' | 'q8_0';
export const GGUF_DTYPES: readonly GgufDtype[] = ['f32', 'f16', 'bf16', 'q8_0'];

/** ggml type and `general.file_type` (§5.3) of each export dtype. */
const DTYPES: Readonly<Record<GgufDtype, { type: GgmlType; fileType: number }>> = {
  f32: { type: 'F32', fileType: 0 }, f16: { type: 'F16', fileType: 1 }, q8_0: { type: 'Q8_0', fileType: 7 }, bf16: { type: 'BF16', fileType: 32 },
};

interface GgufArch {
  name: string;
  /** NORM RoPE (adjacent pairs) needs the Q/K row permutation of §5.5; NEOX (rotate-half) does not. */
  rope: 'norm' | 'neox';
  /** §5.7: qwen2moe/olmoe need output.weight even when the embeddings are tied. */
  outputRequired: boolean;
  /**
   * llama.cpp's hard-coded top-k weights (§5.9): renormalised over the k, or the raw softmax probabilities;
   * `configured`: deepseek2 reads the gating from keys (Deepseek2Gating).
   */
  weights: 'renormalised' | 'raw' | 'configured';
  /** Where the expert width goes (§5.6): llama reuses feed_forward_length, qwen2moe has its own key. */
  expertWidthKey: 'feed_forward_length' | 'expert_feed_forward_length';
  /**
   * The always-on shared expert (§5.9): `none` (llama has none), or `gated` (qwen2moe requires one and
   * adds sigmoid(x·g)·FFN_shexp(x); a model without one gets a placeholder of zero weights), or `ungated`
   * (deepseek/deepseek2 add FFN_shexp(x) of width expert_shared_count × the expert width; zero placeholder).
   */
  sharedExpert: 'none' | 'gated' | 'ungated';
  /** Dense FFNs only in the first leading_dense_block_count layers (deepseek); otherwise experts in every layer. */
  leadingDense: boolean;
  /** RMSNorm of q and k before RoPE (§5.7): none, over each head (qwen3moe, [hd]) or the whole projection (olmoe, [H]). */
  qkNorm: 'none' | 'per_head' | 'full';
  /** Whether llama.cpp loads q/k/v/o biases (llama: all optional; qwen2moe: q/k/v; qwen3moe/olmoe: none). */
  attentionBias: 'qkvo' | 'qkv' | 'none';
  /** Writes `attention.key_length`/`value_length` even when head_dim = hidden/heads (qwen3moe's converter does). */
  alwaysKeyLength: boolean;
}

/** Width of the zero shared expert written where the architecture requires one and the model has none. */
const ZERO_SHARED_WIDTH = 32;

const ARCHS = {
  llama: { name: 'llama', rope: 'norm', outputRequired: false, weights: 'renormalised', expertWidthKey: 'feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'none', attentionBias: 'qkvo', alwaysKeyLength: false },
  qwen2moe: { name: 'qwen2moe', rope: 'neox', outputRequired: true, weights: 'raw', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'gated', leadingDense: false, qkNorm: 'none', attentionBias: 'qkv', alwaysKeyLength: false },
  qwen3moe: { name: 'qwen3moe', rope: 'neox', outputRequired: false, weights: 'renormalised', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'per_head', attentionBias: 'none', alwaysKeyLength: true },
  olmoe: { name: 'olmoe', rope: 'neox', outputRequired: true, weights: 'raw', expertWidthKey: 'feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'full', attentionBias: 'none', alwaysKeyLength: false },
  deepseek: { name: 'deepseek', rope: 'norm', outputRequired: true, weights: 'raw', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'ungated', leadingDense: true, qkNorm: 'none', attentionBias: 'none', alwaysKeyLength: false },
  // Its attention is MLA (mlaTensors); qkNorm / attentionBias describe the standard attention it lacks.
  deepseek2: { name: 'deepseek2', rope: 'norm', outputRequired: false, weights: 'configured', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'ungated', leadingDense: true, qkNorm: 'none', attentionBias: 'none', alwaysKeyLength: false },
} as const satisfies Record<string, GgufArch>;

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

/** A named tensor in PyTorch layout (row-major, shape as HF writes it). */
export interface SourceTensor {
  data: Float32Array;
  shape: readonly number[];
}

export interface GgufExportOptions {
  dtype?: GgufDtype;
  /**
   * Export routers llama.cpp cannot reproduce (Top-P and other variable-k routers, token-dropping eval
   * capacity) as llama's renormalised top-k anyway; outputs then differ from moekit's. Each difference is
   * a warning.
   */
  approximate?: boolean;
  /** Experts per token of an approximate export (default: the router's k; Top-P: max_k, else 2). */
  approximateK?: number;
  /** `general.name` (default: the model directory's name). */
  name?: string;
  onTensor?(index: number, count: number, name: string): void;
}

export interface GgufPlan {
  arch: string;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorSpec[];
  /** True when llama.cpp computes the same function as moekit (up to float rounding). */
  exact: boolean;
  warnings: string[];
}

// ---- routing (§5.9) ---------------------------------------------------------------------------------------

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
interface Deepseek2Gating {
  scoring: 'softmax' | 'sigmoid';
  selectionBias: boolean;
  groups: { count: number; used: number } | null;
  renormalize: boolean;
  scale: number;
}

/** Softmax top-k, its weights raw or renormalised (the routing of the llama / qwen2moe rows). */
function softmaxGating(renormalize: boolean): Deepseek2Gating {
  return { scoring: 'softmax', selectionBias: false, groups: null, renormalize, scale: 1 };
}

/**
 * The gating of a router whose inference routing is a fixed-k top-k (routingFor found an exact form),
 * written as deepseek2 keys, or why llama.cpp's deepseek2 cannot express it.
 */
function deepseek2Gating(router: RouterConfig): Deepseek2Gating | string {
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

interface ArchChoice {
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

function unexportable(source: string, what: string, hint?: string): GgufError {
  return new GgufError('Unexportable', `${source}: ${what}`, hint);
}

/**
 * llama.cpp normalises deepseek2's q/kv latents with rms_norm_eps, while DeepSeek (and moekit, src/nn/mla.ts)
 * use the RMSNorm default 1e-6 there.
 */
const MLA_LATENT_EPS = 1e-6;

/** Picks the architecture and the MoE hyperparameters llama.cpp will use, refusing what it cannot express. */
function chooseArch(c: ModelConfig, opts: GgufExportOptions, source: string): ArchChoice {
  if (c.rope_scaling) checkYarn(c, source);
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
 * A group-limited router in a model without MLA: plain softmax top-k (one group or all kept, no bias, no
 * scale) is llama's (renormalised) or qwen2moe's / deepseek's (raw); the rest exists only in deepseek2.
 */
function withoutMla(router: RouterConfig, source: string): GgufArch {
  const g = deepseek2Gating(router);
  if (typeof g !== 'string' && g.scoring === 'softmax' && !g.selectionBias && !g.groups && g.scale === 1) {
    return g.renormalize ? ARCHS.llama : ARCHS.qwen2moe;
  }
  throw unexportable(source, `router "${router.type}" (${typeof g === 'string' ? g : 'sigmoid scores, a selection bias, limited groups or a routed scale'}) `
    + 'has a llama.cpp form only in deepseek2, which needs multi-head latent attention (mla)');
}

/** Refuses a shared expert `arch` cannot hold: qwen2moe's is gated, deepseek's ungated and a whole number of experts wide. */
function checkSharedExpert(arch: GgufArch, width: number, gated: boolean, expertWidth: number, source: string): void {
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
function checkYarn(c: ModelConfig, source: string): void {
  const y = c.rope_scaling!;
  const what = `rope_scaling "${y.rope_type}" (factor ${y.factor}, mscale ${y.mscale}, mscale_all_dim ${y.mscale_all_dim})`;
  if (!c.mla) throw unexportable(source, `${what} is exported only for multi-head latent attention (deepseek2); the exporter writes plain RoPE for the other architectures`);
  if (!y.truncate) throw unexportable(source, `${what} with truncate = false: llama.cpp rounds YaRN's correction range outwards to whole dims`);
  if (!(y.factor > 1)) throw unexportable(source, `${what}: llama.cpp's deepseek2 YaRN needs factor > 1`);
  const cosSinFactor = yarnCosSinFactor(c);
  if (Math.abs(cosSinFactor - 1) > 1e-6) {
    throw unexportable(source, `${what} scales cos/sin by ${cosSinFactor}: llama.cpp's deepseek2 keeps them at magnitude 1 `
      + '(its attn_factor also multiplies the softmax scale), so only mscale = mscale_all_dim (or attention_factor 1) exports exactly');
  }
}

/** The factor moekit multiplies cos/sin by under YaRN (src/models/decoder.ts). */
function yarnCosSinFactor(c: ModelConfig): number {
  const y = c.rope_scaling!;
  return y.attention_factor ?? yarnAttentionFactor(y.factor, y.mscale, y.mscale_all_dim);
}

/** Refuses MLA that llama.cpp's deepseek2 computes differently (§5.7; src/nn/mla.ts). */
function checkMla(c: ModelConfig, source: string): void {
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
function checkAttention(c: ModelConfig, arch: GgufArch, source: string): void {
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

// ---- tensors (§5.4, §5.5, §5.7) ---------------------------------------------------------------------------

/**
 * Moves the rows of a [n·hd, cols] projection within each head: row s·hd/2 + j (rotate-half order) ↔
 * row 2j + s (adjacent pairs). `toPairs` gives the order llama.cpp's NORM RoPE needs (§5.5), the inverse
 * reads it back.
 */
function moveHeadRows(w: Float32Array, heads: number, headDim: number, cols: number, toPairs: boolean): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) {
        const [from, to] = toPairs ? [s * half + j, 2 * j + s] : [2 * j + s, s * half + j];
        const src = (h * headDim + from) * cols;
        out.set(w.subarray(src, src + cols), (h * headDim + to) * cols);
      }
    }
  }
  return out;
}

/** HF rotate-half rows → llama's adjacent pairs (§5.5): new_row[2j + s] = old_row[s·hd/2 + j] per head. */
export function permuteRotateHalfRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  return moveHeadRows(w, heads, headDim, cols, true);
}

/** The inverse, for reading a llama-arch GGUF: old[s·hd/2 + j] = new[2j + s]. */
export function unpermuteRotateHalfRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  return moveHeadRows(w, heads, headDim, cols, false);
}

/** A [rows, cols] matrix zero-padded to [rows', cols'] (dense FFN → expert width). */
function padMatrix(w: Float32Array, rows: number, cols: number, toRows: number, toCols: number): Float32Array {
  if (rows === toRows && cols === toCols) return w;
  const out = new Float32Array(toRows * toCols);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols, (r + 1) * cols), r * toCols);
  return out;
}

/** Concatenation along a new slowest axis: expert e is slab e (§5.7 stacking). */
function stack(parts: readonly Float32Array[]): Float32Array {
  return concatArrays(parts, (n) => new Float32Array(n));
}

/** Collects the GGUF tensors, reading each HF parameter at most once and checking its shape. */
class TensorList {
  readonly specs: GgufTensorSpec[] = [];
  private readonly used = new Set<string>();

  constructor(private readonly params: ReadonlyMap<string, SourceTensor>, private readonly dtype: GgmlType, private readonly source: string) {}

  /** The HF tensor `name`, which must have `shape`. */
  take(name: string, shape: readonly number[]): Float32Array {
    const t = this.params.get(name);
    if (!t) throw unexportable(this.source, `missing tensor ${name} [${shape.join(', ')}]`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw unexportable(this.source, `tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(name);
    return t.data;
  }

  /**
   * Adds GGUF tensor `name` with PyTorch `shape` (ne = reversed shape, §5.4). Norms, 1-D tensors and the
   * router stay F32 (§5.3); a Q8_0 tensor whose ne[0] is not a multiple of 32 falls back to F16.
   */
  add(name: string, t: { shape: readonly number[]; values: () => Float32Array; keepF32?: boolean }): void {
    const { shape, values, keepF32 = false } = t;
    const ne = [...shape].reverse();
    let type: GgmlType = keepF32 || shape.length === 1 ? 'F32' : this.dtype;
    if (type === 'Q8_0' && ne[0] % 32 !== 0) type = 'F16';
    this.specs.push({ name, type, ne, data: () => encodeF32(values(), type) });
  }

  /** Every HF tensor must have gone somewhere, or been dropped on purpose: nothing vanishes silently. */
  checkAllUsed(dropped: (name: string) => boolean): void {
    const left = [...this.params.keys()].filter((n) => !this.used.has(n) && !dropped(n));
    if (left.length > 0) {
      throw unexportable(this.source, `${left.length} tensor(s) have no place in a llama.cpp model: ${left.slice(0, 4).join(', ')}${left.length > 4 ? ', …' : ''}`);
    }
  }
}

/**
 * The shared expert (§5.9): qwen2moe's sigmoid(x·g)·FFN_shexp(x) (HF `shared_expert_gate` [1, H] → ne [H])
 * or deepseek's ungated FFN_shexp(x), from HF `shared_experts`; for a model without one, zero FFN weights
 * of `placeholderWidth` that add exactly 0. A placeholder gate g is 1, not 0: llama.cpp computes the
 * sigmoid as silu(z)/z, which is 0/0 at z = 0 (with g = 1, z = Σ x_i is exactly 0 only by accident).
 */
function sharedExpertTensors(b: string, p: string, H: number, width: number, gated: boolean, placeholderWidth: number, list: TensorList): void {
  if (width === 0) {
    const S = placeholderWidth;
    if (gated) list.add(`${b}.ffn_gate_inp_shexp.weight`, { shape: [H], values: () => new Float32Array(H).fill(1) });
    list.add(`${b}.ffn_gate_shexp.weight`, { shape: [S, H], values: () => new Float32Array(S * H) });
    list.add(`${b}.ffn_up_shexp.weight`, { shape: [S, H], values: () => new Float32Array(S * H) });
    list.add(`${b}.ffn_down_shexp.weight`, { shape: [H, S], values: () => new Float32Array(H * S) });
    return;
  }
  if (gated) {
    const gate = list.take(`${p}.mlp.shared_expert_gate.weight`, [1, H]);
    list.add(`${b}.ffn_gate_inp_shexp.weight`, { shape: [H], values: () => gate });
  }
  for (const [proj, gguf, shape] of [['gate_proj', 'gate', [width, H]], ['up_proj', 'up', [width, H]], ['down_proj', 'down', [H, width]]] as const) {
    const w = list.take(`${p}.mlp.shared_experts.${proj}.weight`, shape);
    list.add(`${b}.ffn_${gguf}_shexp.weight`, { shape, values: () => w });
  }
}

/**
 * deepseek2's multi-head latent attention (src/nn/mla.ts; llama.cpp's absorbed form, gguf_mla.ts): q
 * (attn_q, or attn_q_a → attn_q_a_norm → attn_q_b), attn_kv_a_mqa, attn_kv_a_norm, kv_b_proj split into
 * attn_k_b / attn_v_b, attn_output. Rotate-half rope slices (rope_interleave false) become adjacent pairs.
 */
function mlaTensors(c: ModelConfig, b: string, p: string, list: TensorList): void {
  const { q_lora_rank: qr, kv_lora_rank: kvr, qk_nope_head_dim: dn, qk_rope_head_dim: dr, v_head_dim: dv, rope_interleave: pairs } = c.mla!;
  const H = c.hidden_size;
  const nh = c.num_attention_heads;
  const dk = dn + dr;
  const a = `${p}.self_attn`;
  const qRows = (w: Float32Array, cols: number) => (pairs ? w : ropeSliceToPairs(w, nh, dk, dn, dr, cols));
  if (qr === null) {
    const q = list.take(`${a}.q_proj.weight`, [nh * dk, H]);
    list.add(`${b}.attn_q.weight`, { shape: [nh * dk, H], values: () => qRows(q, H) });
  } else {
    const qA = list.take(`${a}.q_a_proj.weight`, [qr, H]);
    list.add(`${b}.attn_q_a.weight`, { shape: [qr, H], values: () => qA });
    const qNorm = list.take(`${a}.q_a_layernorm.weight`, [qr]);
    list.add(`${b}.attn_q_a_norm.weight`, { shape: [qr], values: () => qNorm });
    const qB = list.take(`${a}.q_b_proj.weight`, [nh * dk, qr]);
    list.add(`${b}.attn_q_b.weight`, { shape: [nh * dk, qr], values: () => qRows(qB, qr) });
  }
  const kvA = list.take(`${a}.kv_a_proj_with_mqa.weight`, [kvr + dr, H]);
  list.add(`${b}.attn_kv_a_mqa.weight`, { shape: [kvr + dr, H], values: () => (pairs ? kvA : ropeSliceToPairs(kvA, 1, kvr + dr, kvr, dr, H)) });
  const kvNorm = list.take(`${a}.kv_a_layernorm.weight`, [kvr]);
  list.add(`${b}.attn_kv_a_norm.weight`, { shape: [kvr], values: () => kvNorm });
  const kvB = list.take(`${a}.kv_b_proj.weight`, [nh * (dn + dv), kvr]);
  list.add(`${b}.attn_k_b.weight`, { shape: [nh, kvr, dn], values: () => splitKvB(kvB, nh, dn, dv, kvr).kB });
  list.add(`${b}.attn_v_b.weight`, { shape: [nh, dv, kvr], values: () => splitKvB(kvB, nh, dn, dv, kvr).vB });
  const o = list.take(`${a}.o_proj.weight`, [H, nh * dv]);
  list.add(`${b}.attn_output.weight`, { shape: [H, nh * dv], values: () => o });
}

/** Standard attention (§5.7): q/k/v/o with optional biases and q/k norms; Q/K rows permuted for NORM RoPE (§5.5). */
function attentionTensors(c: ModelConfig, arch: GgufArch, b: string, p: string, list: TensorList): void {
  const H = c.hidden_size;
  const hd = c.head_dim;
  const nh = c.num_attention_heads;
  const nkv = c.num_key_value_heads;
  const permute = arch.rope === 'norm';
  const copy = (name: string, shape: [number] | [number, number]) => {
    const w = list.take(name, shape);
    return { shape, values: () => w };
  };
  for (const [proj, gguf, heads] of [['q_proj', 'attn_q', nh], ['k_proj', 'attn_k', nkv]] as const) {
    const w = list.take(`${p}.self_attn.${proj}.weight`, [heads * hd, H]);
    list.add(`${b}.${gguf}.weight`, { shape: [heads * hd, H], values: () => (permute ? permuteRotateHalfRows(w, heads, hd, H) : w) });
    if (c.attention_bias || c.qkv_bias) { // biases are permuted like the weight rows (§5.5)
      const bias = list.take(`${p}.self_attn.${proj}.bias`, [heads * hd]);
      list.add(`${b}.${gguf}.bias`, { shape: [heads * hd], values: () => (permute ? permuteRotateHalfRows(bias, heads, hd, 1) : bias) });
    }
  }
  if (arch.qkNorm !== 'none') { // per head: one [hd] weight shared by all heads; full: [heads·hd]
    const perHead = arch.qkNorm === 'per_head';
    list.add(`${b}.attn_q_norm.weight`, copy(`${p}.self_attn.q_norm.weight`, [perHead ? hd : nh * hd]));
    list.add(`${b}.attn_k_norm.weight`, copy(`${p}.self_attn.k_norm.weight`, [perHead ? hd : nkv * hd]));
  }
  list.add(`${b}.attn_v.weight`, copy(`${p}.self_attn.v_proj.weight`, [nkv * hd, H]));
  if (c.attention_bias || c.qkv_bias) list.add(`${b}.attn_v.bias`, copy(`${p}.self_attn.v_proj.bias`, [nkv * hd]));
  list.add(`${b}.attn_output.weight`, copy(`${p}.self_attn.o_proj.weight`, [H, nh * hd]));
  if (c.attention_bias) list.add(`${b}.attn_output.bias`, copy(`${p}.self_attn.o_proj.bias`, [H]));
}

function decoderTensors(c: ModelConfig, choice: ArchChoice, list: TensorList): void {
  const H = c.hidden_size;
  // Sources are taken (shape-checked, by reference) now; conversions run when the writer gets there.
  const copy = (name: string, shape: [number] | [number, number], keepF32 = false) => {
    const w = list.take(name, shape);
    return { shape, values: () => w, keepF32 };
  };
  list.add('token_embd.weight', copy('model.embed_tokens.weight', [c.vocab_size, H]));
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const b = `blk.${l}`;
    list.add(`${b}.attn_norm.weight`, copy(`${p}.input_layernorm.weight`, [H]));
    if (c.mla) mlaTensors(c, b, p, list);
    else attentionTensors(c, choice.arch, b, p, list);
    list.add(`${b}.ffn_norm.weight`, copy(`${p}.post_attention_layernorm.weight`, [H]));
    const moe = choice.moe;
    const I = c.intermediate_size;
    if (!moe || l < moe.denseLead) {
      list.add(`${b}.ffn_gate.weight`, copy(`${p}.mlp.gate_proj.weight`, [I, H]));
      list.add(`${b}.ffn_up.weight`, copy(`${p}.mlp.up_proj.weight`, [I, H]));
      list.add(`${b}.ffn_down.weight`, copy(`${p}.mlp.down_proj.weight`, [H, I]));
      continue;
    }
    const { experts: E, width: W } = moe;
    if (moe.moeLayers.includes(l)) {
      list.add(`${b}.ffn_gate_inp.weight`, copy(`${p}.mlp.gate.weight`, [E, H], true));
      if (choice.gating?.selectionBias) list.add(`${b}.exp_probs_b.bias`, copy(`${p}.mlp.gate.e_score_correction_bias`, [E]));
      for (const [proj, gguf, shape] of [['gate_proj', 'gate', [W, H]], ['up_proj', 'up', [W, H]], ['down_proj', 'down', [H, W]]] as const) {
        const parts = Array.from({ length: E }, (_, e) => list.take(`${p}.mlp.experts.${e}.${proj}.weight`, shape));
        list.add(`${b}.ffn_${gguf}_exps.weight`, { shape: [E, ...shape], values: () => stack(parts) });
      }
      const shared = choice.arch.sharedExpert;
      if (shared !== 'none') sharedExpertTensors(b, p, H, moe.sharedWidth, shared === 'gated', shared === 'gated' ? ZERO_SHARED_WIDTH : W, list);
      continue;
    }
    // A dense layer in an MoE llama: a zero router (uniform probabilities, weights renormalising to 1)
    // over E copies of the dense FFN, zero-padded to the expert width (silu(0)·0 adds nothing) (§5.9).
    list.add(`${b}.ffn_gate_inp.weight`, { shape: [E, H], values: () => new Float32Array(E * H), keepF32: true });
    for (const [proj, gguf] of [['gate_proj', 'gate'], ['up_proj', 'up']] as const) {
      const w = list.take(`${p}.mlp.${proj}.weight`, [I, H]);
      list.add(`${b}.ffn_${gguf}_exps.weight`, { shape: [E, W, H], values: () => stack(new Array(E).fill(padMatrix(w, I, H, W, H))) });
    }
    const down = list.take(`${p}.mlp.down_proj.weight`, [H, I]);
    list.add(`${b}.ffn_down_exps.weight`, { shape: [E, H, W], values: () => stack(new Array(E).fill(padMatrix(down, H, I, H, W))) });
  }
  list.add('output_norm.weight', copy('model.norm.weight', [H]));
  // Tied embeddings: llama falls back to token_embd when output.weight is absent (§5.7).
  if (!c.tie_word_embeddings) list.add('output.weight', copy('lm_head.weight', [c.vocab_size, H]));
  else if (choice.arch.outputRequired) list.add('output.weight', copy('model.embed_tokens.weight', [c.vocab_size, H]));
}

/** The {arch}.* hyperparameter keys (§5.6), with the exact types llama.cpp checks. */
function archMetadata(c: ModelConfig, choice: ArchChoice): Map<string, GgufValue> {
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
    if (y) {
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

/**
 * The GGUF image of a model: metadata and lazily encoded tensors. `params` are HF-named tensors in
 * PyTorch layout (a DecoderLM's `params`), `source` names the model in errors.
 */
export function planGguf(config: ModelConfig, params: ReadonlyMap<string, SourceTensor>, tokenizer: Tokenizer,
  opts: GgufExportOptions = {}, source = 'model'): GgufPlan {
  const dtype = DTYPES[opts.dtype ?? 'f32'];
  if (!dtype) throw new GgufError('Unexportable', `${source}: unknown dtype ${JSON.stringify(opts.dtype)} (${GGUF_DTYPES.join(', ')})`);
  const choice = chooseArch(config, opts, source);
  const list = new TensorList(params, dtype.type, source);
  decoderTensors(config, choice, list);
  // W_noise of noisy top-k only scales training noise (§3); nothing else may be left over.
  list.checkAllUsed((name) => /\.mlp\.gate_noise\.weight$/.test(name));

  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gv.str(choice.arch.name)],
    ['general.type', gv.str('model')],
    ['general.name', gv.str(opts.name ?? 'moekit model')],
    ['general.file_type', gv.u32(dtype.fileType)],
    ...(dtype.type === 'Q8_0' ? [['general.quantization_version', gv.u32(2)] as [string, GgufValue]] : []),
    ...archMetadata(config, choice),
    // moekit's own record of what was exported (community keys are namespaced, §5.6)
    ...(config.moe ? [
      ['moekit.router', gv.str(JSON.stringify(config.moe.router))] as [string, GgufValue],
      ['moekit.moe_layers', gv.i32s(choice.moe!.moeLayers)] as [string, GgufValue],
    ] : []),
    ['moekit.exact', gv.bool(choice.exact)],
    ...tokenizerMetadata(tokenizer, config.vocab_size, { bos: config.bos_token_id, eos: config.eos_token_id }, source),
  ]);
  return { arch: choice.arch.name, metadata, tensors: list.specs, exact: choice.exact, warnings: choice.warnings };
}

export interface GgufExportResult extends Omit<GgufPlan, 'metadata' | 'tensors'> {
  path: string;
  tensorCount: number;
}

/** Export a moekit model directory (config.json, model.safetensors, tokenizer.json) to a GGUF file. */
export function exportGguf(dir: string, out: string, opts: GgufExportOptions = {}): GgufExportResult {
  const loaded = loadModel(dir);
  if (!loaded.tokenizerPath) {
    throw new GgufError('Unexportable', `${dir} has no tokenizer.json`, 'a GGUF file embeds the tokenizer; copy the tokenizer.json the model was trained with into the directory');
  }
  const tokenizer = Tokenizer.load(loaded.tokenizerPath);
  const plan = planGguf(loaded.config, loaded.model.params, tokenizer, { ...opts, name: opts.name ?? basename(resolve(dir)) }, dir);
  writeGguf(out, plan.metadata, plan.tensors, { onTensor: opts.onTensor });
  return { path: out, arch: plan.arch, exact: plan.exact, warnings: plan.warnings, tensorCount: plan.tensors.length };
}
