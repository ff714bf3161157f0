import { causalAttention, rope, type RopeTables } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';
import { attendCached, type CacheLayerWidths, type KVCache } from './kv_cache.js';
import { Linear } from './linear.js';
import { RMSNorm } from './rmsnorm.js';

export interface AttentionShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** The per-architecture details of a LLaMA-family attention block (interop §3.3–§3.4). */
export interface AttentionVariant {
  /** Bias on q/k/v (Qwen2-MoE `qkv_bias`, or HF `attention_bias`). */
  qkvBias: boolean;
  /** Bias on o_proj (HF `attention_bias`). */
  outBias: boolean;
  /** RMSNorm of q and k before RoPE: over the whole projection (OLMoE) or per head (Qwen3-MoE). */
  qkNorm: 'none' | 'full' | 'per_head';
  eps: number;
}

const PLAIN: AttentionVariant = { qkvBias: false, outBias: false, qkNorm: 'none', eps: 1e-6 };

/** Where the tokens of a forward pass sit: B sequences of T tokens, and each row's position. */
export interface TokenLayout {
  batch: number;
  seq: number;
  /** [B·T] position of every row, for RoPE. */
  positions: Int32Array;
}

/** LLaMA self-attention: q/k/v/o projections, RoPE on q and k, causal GQA attention. */
export class SelfAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly qNorm: RMSNorm | null;
  readonly kNorm: RMSNorm | null;
  constructor(b: ParamBuilder, readonly shape: AttentionShape, std: number, variant: AttentionVariant = PLAIN) {
    const { hidden, heads, kvHeads, headDim } = shape;
    this.q = new Linear(b.pp('q_proj'), hidden, heads * headDim, std, variant.qkvBias);
    this.k = new Linear(b.pp('k_proj'), hidden, kvHeads * headDim, std, variant.qkvBias);
    this.v = new Linear(b.pp('v_proj'), hidden, kvHeads * headDim, std, variant.qkvBias);
    this.o = new Linear(b.pp('o_proj'), heads * headDim, hidden, std, variant.outBias);
    const perHead = variant.qkNorm === 'per_head';
    this.qNorm = variant.qkNorm === 'none' ? null : new RMSNorm(b.pp('q_norm'), perHead ? headDim : heads * headDim, variant.eps);
    this.kNorm = variant.qkNorm === 'none' ? null : new RMSNorm(b.pp('k_norm'), perHead ? headDim : kvHeads * headDim, variant.eps);
  }

  forward(x: Tensor, layout: TokenLayout, tables: RopeTables): Tensor {
    const { heads, kvHeads, headDim } = this.shape;
    const { q, k, v } = this.projectQKV(x, layout.positions, tables);
    const y = causalAttention(q, k, v, { batch: layout.batch, seq: layout.seq, heads, kvHeads, headDim });
    return this.o.forward(y);
  }

  /** q [R, nh·hd] and k [R, nkv·hd] (normed where the variant says, then roped) and v [R, nkv·hd] of rows x. */
  private projectQKV(x: Tensor, positions: Int32Array, tables: RopeTables): { q: Tensor; k: Tensor; v: Tensor } {
    const { heads, kvHeads } = this.shape;
    let q = this.q.forward(x);
    let k = this.k.forward(x);
    if (this.qNorm && this.kNorm) {
      q = this.qNorm.forward(q);
      k = this.kNorm.forward(k);
    }
    q = rope(q, tables, positions, heads);
    k = rope(k, tables, positions, kvHeads);
    return { q, k, v: this.v.forward(x) };
  }

  /** Row widths of this module's KV cache layer. */
  cacheWidths(): CacheLayerWidths {
    const { kvHeads, headDim } = this.shape;
    return { keyWidth: kvHeads * headDim, valueWidth: kvHeads * headDim };
  }

  /** Inference over T new rows x [T, hidden] at `positions` (cache.length …), through `layer`'s KV cache. */
  forwardCached(x: Tensor, positions: Int32Array, tables: RopeTables, cache: KVCache, layer: number): Tensor {
    const { heads, kvHeads, headDim } = this.shape;
    const { q, k, v } = this.projectQKV(x, positions, tables);
    const shape = { heads, kvHeads, headDim, valueDim: headDim, scale: 1 / Math.sqrt(headDim) };
    return this.o.forward(attendCached(q, k, v, shape, cache, layer));
  }
}
