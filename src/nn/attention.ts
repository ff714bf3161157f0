import { causalAttention, rope, type RopeTables } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';
import { attendCached, type CacheLayerWidths, type KVCache } from './kv_cache.js';
import { Linear } from './linear.js';

export interface AttentionShape {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

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
  constructor(b: ParamBuilder, readonly shape: AttentionShape, std: number) {
    const { hidden, heads, kvHeads, headDim } = shape;
    this.q = new Linear(b.pp('q_proj'), hidden, heads * headDim, std);
    this.k = new Linear(b.pp('k_proj'), hidden, kvHeads * headDim, std);
    this.v = new Linear(b.pp('v_proj'), hidden, kvHeads * headDim, std);
    this.o = new Linear(b.pp('o_proj'), heads * headDim, hidden, std);
  }

  forward(x: Tensor, layout: TokenLayout, tables: RopeTables): Tensor {
    const { heads, kvHeads, headDim } = this.shape;
    const q = rope(this.q.forward(x), tables, layout.positions, heads);   // [B·T, nh·hd]
    const k = rope(this.k.forward(x), tables, layout.positions, kvHeads); // [B·T, nkv·hd]
    const v = this.v.forward(x);                                          // [B·T, nkv·hd]
    const y = causalAttention(q, k, v, { batch: layout.batch, seq: layout.seq, heads, kvHeads, headDim });
    return this.o.forward(y);
  }

  /** Row widths of this module's KV cache layer. */
  cacheWidths(): CacheLayerWidths {
    const { kvHeads, headDim } = this.shape;
    return { keyWidth: kvHeads * headDim, valueWidth: kvHeads * headDim };
  }

  /** Inference over T new rows x [T, hidden] at `positions` (cache.length …), through `layer`'s KV cache. */
  forwardCached(x: Tensor, positions: Int32Array, tables: RopeTables, cache: KVCache, layer: number): Tensor {
    const { heads, kvHeads, headDim } = this.shape;
    const q = rope(this.q.forward(x), tables, positions, heads);
    const k = rope(this.k.forward(x), tables, positions, kvHeads);
    const shape = { heads, kvHeads, headDim, valueDim: headDim, scale: 1 / Math.sqrt(headDim) };
    return this.o.forward(attendCached(q, k, this.v.forward(x), shape, cache, layer));
  }
}
