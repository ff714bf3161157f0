// The kernel interface. One name, two implementations with identical signatures:
// `reference` (plain TypeScript, the test oracle) and `native` (C++ through N-API, no copies).
//
// Conventions (llm.c style, see design.md "Examples to follow" 4):
// - Buffers are flat row-major Float32Arrays (token ids / targets / positions are Int32Array).
//   Shapes are given in the comments; sizes are passed explicitly.
// - Forward kernels OVERWRITE their outputs.
// - Backward kernels ACCUMULATE (+=) into every gradient buffer they are given, so that a tensor used
//   twice (residual stream, tied embeddings) sums its gradients without extra adds. The one exception
//   is `crossEntropyBackward`, which overwrites and may run in place over the logits (memory).
// - Kernels never allocate what the caller can pass, never keep references to their arguments, and are
//   deterministic for a fixed thread count (rows are split by thread index, reductions are summed in a
//   fixed order).

export type F32 = Float32Array;
export type I32 = Int32Array;

export interface Backend {
  readonly name: 'reference' | 'native';
  /** Instruction set the kernels were compiled for: 'avx512' | 'avx2' | 'scalar' | 'js'. */
  readonly isa: string;
  threads(): number;
  /** Number of threads the kernels may use (>= 1). The reference backend ignores it. */
  setThreads(n: number): void;
  /**
   * A zeroed ArrayBuffer of `bytes` on 2 MiB-aligned huge pages where the OS allows, for long-lived
   * buffers a decode step streams (weights, the KV cache): fewer TLB misses. Not a kernel: the
   * reference backend returns a plain ArrayBuffer.
   */
  hugeBuffer(bytes: number): ArrayBuffer;

  // ---- GEMM -------------------------------------------------------------------------------------
  /**
   * c[M,N] (= or +=) op(a) · op(b).
   * op(a) = a stored [M,K] (transA = false) or aᵀ with a stored [K,M] (transA = true).
   * op(b) = b stored [K,N] (transB = false) or bᵀ with b stored [N,K] (transB = true).
   * Linear forward y = x·Wᵀ is (transA=false, transB=true); dX = dY·W is (false,false);
   * dW += dYᵀ·X is (true,false, accumulate). transA && transB is not needed and throws.
   */
  matmul(c: F32, a: F32, b: F32, M: number, N: number, K: number,
    transA: boolean, transB: boolean, accumulate: boolean): void;
  /**
   * The Linear forward with 16-bit weights (inference): c[M,N] (= or +=) a[M,K] · bᵀ, b [N,K] of
   * bfloat16 (bf16 = true) or float16 bits. Widening a half to f32 is exact, so this equals `matmul` on
   * the widened b (native: the same kernels, bit for bit).
   */
  matmulHalf(c: F32, a: F32, b: Uint16Array, bf16: boolean, M: number, N: number, K: number, accumulate: boolean): void;

  // ---- embedding --------------------------------------------------------------------------------
  /** out[T,D] = table[ids[t], :]. ids must lie in [0, V). */
  embeddingForward(out: F32, ids: I32, table: F32, T: number, D: number, V: number): void;
  /** embeddingForward from a 16-bit table (bf16 = true: bfloat16 bits, else float16), rows widened exactly. */
  embeddingForwardHalf(out: F32, ids: I32, table: Uint16Array, bf16: boolean, T: number, D: number, V: number): void;
  /** dtable[ids[t], :] += dout[t, :]. */
  embeddingBackward(dtable: F32, dout: F32, ids: I32, T: number, D: number): void;

  // ---- RMSNorm: out = x * rstd * w,  rstd = 1/sqrt(mean(x²) + eps) ------------------------------
  /** out[T,D], rstd[T] (saved for backward), x[T,D], w[D]. */
  rmsnormForward(out: F32, rstd: F32, x: F32, w: F32, T: number, D: number, eps: number): void;
  /** dx[T,D] +=, dw[D] += ; needs x, w and the rstd saved by the forward. */
  rmsnormBackward(dx: F32, dw: F32, dout: F32, x: F32, w: F32, rstd: F32, T: number, D: number): void;

  // ---- RoPE, rotate-half convention (HF LLaMA): for j < hd/2, with θ = pos · theta^(-2j/hd),
  //      out[j] = x[j]·cos − x[j+hd/2]·sin,  out[j+hd/2] = x[j+hd/2]·cos + x[j]·sin -------------
  /**
   * x, out [R, H, hd] (R rows = tokens, H heads); pos[R] = position of each row;
   * cos, sin [maxPos, hd/2] precomputed tables. out may alias x (in place).
   */
  ropeForward(out: F32, x: F32, cos: F32, sin: F32, pos: I32, R: number, H: number, hd: number): void;
  /** dx += rotation by −θ of dout (the transpose of the forward rotation). */
  ropeBackward(dx: F32, dout: F32, cos: F32, sin: F32, pos: I32, R: number, H: number, hd: number): void;

  // ---- causal self-attention with grouped-query heads --------------------------------------------
  /**
   * q [B,T,nh,hd], k and v [B,T,nkv,hd], out [B,T,nh,hd], att [B,nh,T,T] (softmax probabilities,
   * saved for backward; entries above the diagonal are written as 0). Query head h reads kv head
   * floor(h·nkv/nh). Scale 1/sqrt(hd). nh must be a multiple of nkv.
   */
  attentionForward(out: F32, att: F32, q: F32, k: F32, v: F32,
    B: number, T: number, nh: number, nkv: number, hd: number): void;
  /** dq, dk, dv +=. */
  attentionBackward(dq: F32, dk: F32, dv: F32, dout: F32, q: F32, k: F32, v: F32, att: F32,
    B: number, T: number, nh: number, nkv: number, hd: number): void;
  /**
   * Inference attention of Tq new rows against a KV cache (no probabilities saved, no backward):
   * q [Tq, nh·dk] at positions start .. start+Tq−1, kcache [≥ start+Tq, nkv·dk], vcache [≥ start+Tq, nkv·dv]
   * (rows 0 .. start+Tq−1 hold every position's k and v), out [Tq, nh·dv]. Query row i sees keys
   * 0 .. start+i; query head h reads kv head floor(h·nkv/nh); nh must be a multiple of nkv. dk may differ
   * from dv (MLA); scores are multiplied by `scale`. Bit-identical for any thread count.
   */
  cachedAttentionForward(out: F32, q: F32, kcache: F32, vcache: F32, Tq: number, start: number,
    nh: number, nkv: number, dk: number, dv: number, scale: number): void;

  // ---- SwiGLU: out = silu(gate) ⊙ up, silu(x) = x·σ(x) -------------------------------------------
  swigluForward(out: F32, gate: F32, up: F32, n: number): void;
  /** dgate +=, dup +=. */
  swigluBackward(dgate: F32, dup: F32, dout: F32, gate: F32, up: F32, n: number): void;

  // ---- softmax over the last axis ----------------------------------------------------------------
  softmaxForward(out: F32, x: F32, rows: number, cols: number): void;
  /** dx += out ⊙ (dout − Σ dout⊙out). */
  softmaxBackward(dx: F32, dout: F32, out: F32, rows: number, cols: number): void;

  // ---- fused log-softmax + cross-entropy over the vocabulary --------------------------------------
  /**
   * losses[T] = lse[t] − logits[t, targets[t]], lse[T] = logsumexp(logits[t, :]) (saved).
   * A target < 0 is ignored: loss 0 (lse is still written). A target >= V throws.
   */
  crossEntropyForward(losses: F32, lse: F32, logits: F32, targets: I32, T: number, V: number): void;
  /**
   * dlogits[t, :] = (softmax(logits[t, :]) − onehot(targets[t])) · dlosses[t]   (OVERWRITES)
   * Rows with an ignored target get 0. dlogits may be the same buffer as logits.
   */
  crossEntropyBackward(dlogits: F32, logits: F32, lse: F32, targets: I32, dlosses: F32,
    T: number, V: number): void;

  // ---- optimizer and gradient utilities -----------------------------------------------------------
  /**
   * Fused AdamW step (decoupled weight decay, Loshchilov & Hutter), step counts from 1:
   *   m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²
   *   m̂ = m / (1−β1^step);  v̂ = v / (1−β2^step)
   *   p −= lr · (m̂ / (sqrt(v̂) + eps) + weightDecay · p)
   * grad is multiplied by gradScale first (gradient clipping / accumulation averaging).
   */
  adamw(param: F32, grad: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, step: number, gradScale: number): void;
  /** Σ x² accumulated in float64 (for global grad-norm clipping). */
  sumSquares(x: F32, n: number): number;
  /** x *= s. */
  scale(x: F32, n: number, s: number): void;
  /** out = a + b (out may alias a or b). */
  add(out: F32, a: F32, b: F32, n: number): void;

  // ---- MoE: dispatch (gather in expert order) → grouped expert GEMMs → combine (weighted scatter-add)
  //      A = number of (token, expert) pairs; pairs are sorted by expert, and rows offsets[e] ..
  //      offsets[e+1] of the dispatched buffers belong to expert e (offsets [E+1], offsets[0] = 0).
  /** out[i, :] = x[rows[i], :] for i < n. out [n, D], x [T, D]. */
  gatherRows(out: F32, x: F32, rows: I32, n: number, D: number): void;
  /** dx[rows[i], :] += dout[i, :] for i < n. Rows may repeat (a token routed to several experts). */
  scatterAddRows(dx: F32, dout: F32, rows: I32, n: number, D: number): void;
  /**
   * Grouped GEMM, one matrix per expert: for each e, with R_e = rows offsets[e]..offsets[e+1],
   *   c[R_e, N] (= or +=) a[R_e, K] · op(b_e),  b stacked [E, N, K] with transB (op = transpose, the
   *   Linear forward) or [E, K, N] without (the input gradient). c [offsets[E], N], a [offsets[E], K].
   * Compute grows with the rows actually routed: an expert with no rows costs nothing.
   */
  groupedMatmul(c: F32, a: F32, b: F32, offsets: I32, E: number, N: number, K: number,
    transB: boolean, accumulate: boolean): void;
  /** groupedMatmul with transB and 16-bit expert weights b [E, N, K] (bf16 or f16 bits), as matmulHalf. */
  groupedMatmulHalf(c: F32, a: F32, b: Uint16Array, bf16: boolean, offsets: I32, E: number, N: number, K: number): void;
  /** Weight gradient of the grouped Linear: dw_e [N, K] += dy[R_e, N]ᵀ · x[R_e, K]; dw stacked [E, N, K]. */
  groupedMatmulWeightGrad(dw: F32, dy: F32, x: F32, offsets: I32, E: number, N: number, K: number): void;
  /** Combine: y[rows[i], :] += weights[i] · x[i, :] for i < n. y [T, D] (zero it for a pure combine). */
  weightedScatterAdd(y: F32, x: F32, rows: I32, weights: F32, n: number, D: number): void;
  /**
   * Backward of weightedScatterAdd: dx[i, :] += weights[i] · dy[rows[i], :] and
   * dweights[i] += Σ_d dy[rows[i], d] · x[i, d].
   */
  weightedScatterAddBackward(dx: F32, dweights: F32, dy: F32, x: F32, rows: I32, weights: F32,
    n: number, D: number): void;

  // ---- MoE routing (spec moe-methods.md §1): the per-token work of a router, over all T tokens at once
  /**
   * Top-P selection (§1.1), token by token. probs[t, :] = softmax(logits[t, :]) (max-subtracted, float64
   * exponentials and sums, float32 result); order[t, :] = the experts by probs descending, ties → lower
   * index; count[t] = k_t = the fewest leading experts of order[t, :] whose cumulative probability,
   * summed and compared in float32, exceeds p (`inclusive`: ≥ p, the paper's rule; else > p, the released
   * code's) — the crossing expert included — or E when none does, then clamped to [minK, maxK]. Token t's experts are order[t, 0 .. count[t]) and their
   * weights the raw probabilities. probs, order [T, E], count [T] (overwritten); needs minK <= maxK <= E.
   */
  topPRoute(probs: F32, order: I32, count: I32, logits: F32, T: number, E: number, p: number, inclusive: boolean,
    minK: number, maxK: number): void;
  /**
   * Backward of raw-probability weights over a per-token selection (§1.2: the selection is a constant):
   *   dlogits[t, j] += probs[t, j] · (g_j − Σ_i g_i probs[t, i]),
   * g_e = dweights of token t's pair with expert e (0 for the experts it did not select); O(E) per token.
   * The pairs are token-major as topPRoute lists them: token t's count[t] weights, for the experts
   * order[t, 0 .. count[t]), follow those of the tokens before it; dweights [Σ count].
   */
  topPBackward(dlogits: F32, dweights: F32, probs: F32, order: I32, count: I32, T: number, E: number): void;

  // ---- storage dtypes (round to nearest even; NaN stays NaN) -------------------------------------
  f32ToBf16(dst: Uint16Array, src: F32, n: number): void;
  bf16ToF32(dst: F32, src: Uint16Array, n: number): void;
  f32ToF16(dst: Uint16Array, src: F32, n: number): void;
  f16ToF32(dst: F32, src: Uint16Array, n: number): void;
}

/** Every kernel name of the interface, for suites that walk the backend (ggml test-backend-ops). */
export const KERNEL_NAMES = [
  'matmul', 'matmulHalf', 'embeddingForward', 'embeddingForwardHalf', 'embeddingBackward', 'rmsnormForward', 'rmsnormBackward',
  'ropeForward', 'ropeBackward', 'attentionForward', 'attentionBackward', 'cachedAttentionForward', 'swigluForward',
  'swigluBackward', 'softmaxForward', 'softmaxBackward', 'crossEntropyForward',
  'crossEntropyBackward', 'adamw', 'sumSquares', 'scale', 'add', 'gatherRows', 'scatterAddRows',
  'groupedMatmul', 'groupedMatmulHalf', 'groupedMatmulWeightGrad', 'weightedScatterAdd', 'weightedScatterAddBackward',
  'topPRoute', 'topPBackward',
  'f32ToBf16', 'bf16ToF32', 'f32ToF16', 'f16ToF32',
] as const satisfies readonly (keyof Backend)[];
