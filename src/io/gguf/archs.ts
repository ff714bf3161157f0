// The llama.cpp architectures the GGUF exporter writes (interop.md §5.5, §5.7, §5.9), one row each: RoPE
// style, whether output.weight is required, how the router weights its top-k, shared expert, q/k norm,
// attention biases. The tensor names of §5.7 are shared (tensors.ts); choose_arch.ts picks a row.
// Today: `llama` (dense, and renormalised top-k MoE with every layer's FFN stacked as experts),
// `qwen2moe` (raw top-k weights, with the model's gated shared expert or one that contributes zero), and
// their q/k-norm twins `qwen3moe` (renormalised, per-head q/k norm) and `olmoe` (raw, full-width q/k
// norm), `deepseek` (DeepSeekMoE: raw top-k weights, an ungated shared expert, leading dense layers) and
// `deepseek2` (multi-head latent attention, whose routing — softmax or sigmoid, selection bias, expert
// groups, renormalisation, scale — is read from keys rather than hard-coded).

export interface GgufArch {
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
export const ZERO_SHARED_WIDTH = 32;

export const ARCHS = {
  llama: { name: 'llama', rope: 'norm', outputRequired: false, weights: 'renormalised', expertWidthKey: 'feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'none', attentionBias: 'qkvo', alwaysKeyLength: false },
  qwen2moe: { name: 'qwen2moe', rope: 'neox', outputRequired: true, weights: 'raw', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'gated', leadingDense: false, qkNorm: 'none', attentionBias: 'qkv', alwaysKeyLength: false },
  qwen3moe: { name: 'qwen3moe', rope: 'neox', outputRequired: false, weights: 'renormalised', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'per_head', attentionBias: 'none', alwaysKeyLength: true },
  olmoe: { name: 'olmoe', rope: 'neox', outputRequired: true, weights: 'raw', expertWidthKey: 'feed_forward_length', sharedExpert: 'none', leadingDense: false, qkNorm: 'full', attentionBias: 'none', alwaysKeyLength: false },
  deepseek: { name: 'deepseek', rope: 'norm', outputRequired: true, weights: 'raw', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'ungated', leadingDense: true, qkNorm: 'none', attentionBias: 'none', alwaysKeyLength: false },
  // Its attention is MLA (mlaTensors); qkNorm / attentionBias describe the standard attention it lacks.
  deepseek2: { name: 'deepseek2', rope: 'norm', outputRequired: false, weights: 'configured', expertWidthKey: 'expert_feed_forward_length', sharedExpert: 'ungated', leadingDense: true, qkNorm: 'none', attentionBias: 'none', alwaysKeyLength: false },
} as const satisfies Record<string, GgufArch>;
