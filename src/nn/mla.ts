// Multi-head Latent Attention (DeepSeek-V2 arXiv 2405.04434 §2.1; HF names: interop.md §3.4 deepseek_v2):
//   q      = q_b_proj(rmsnorm(q_a_proj(x)))  (or q_proj(x) without a q LoRA)     [R, nh·(dn + dr)]
//   kv_a   = kv_a_proj_with_mqa(x) = [c_kv | k_rope]                            [R, kvr + dr]
//   kv     = kv_b_proj(rmsnorm(c_kv)) = per head [k_nope | v]                   [R, nh·(dn + dv)]
//   head h: q_h = [q_nope_h | RoPE(q_rope_h)], k_h = [k_nope_h | RoPE(k_rope)] (one k_rope for all heads),
//           v_h; y = o_proj(causal softmax(q_h·k_hᵀ · scale) v_h)
// RoPE rotates only the dr rope columns. DeepSeek's rope columns are interleaved pairs (2j, 2j+1) — V2
// always, V3 when `rope_interleave` — which transformers de-interleaves (evens, then odds) before its
// rotate-half RoPE; the same column permutation is applied here when the slices are gathered. The
// attention kernel needs one head width: q and k have dk = dn + dr, v has dv, so the narrower side is
// padded with zero columns (adds 0 to the scores / gives 0 outputs that are dropped), and q is pre-scaled
// so the kernel's 1/sqrt(width) becomes `scale`.
import { causalAttention, concatColumns, rope, scaleBy, selectColumns, yarnMscale, type RopeTables } from '../ops/index.js';
import { ConfigError, ShapeError, Tensor } from '../tensor/index.js';
import type { TokenLayout } from './attention.js';
import type { ParamBuilder } from './builder.js';
import { attendCached, type CacheLayerWidths, type KVCache } from './kv_cache.js';
import { Linear } from './linear.js';
import { RMSNorm } from './rmsnorm.js';

/** transformers builds q_a_layernorm / kv_a_layernorm with the RMSNorm default eps, not rms_norm_eps. */
const LATENT_NORM_EPS = 1e-6;

export interface MlaShape {
  hidden: number;
  heads: number;
  /** Rank of the query compression (HF q_lora_rank); null = a plain q_proj. */
  qLoraRank: number | null;
  /** Rank of the joint key/value compression (HF kv_lora_rank). */
  kvLoraRank: number;
  /** Per-head widths: dn (qk_nope_head_dim), dr (qk_rope_head_dim), dv (v_head_dim). */
  qkNopeDim: number;
  qkRopeDim: number;
  vHeadDim: number;
  /** Rope columns stored as interleaved pairs (2j, 2j+1) rather than halves (HF rope_interleave). */
  ropeInterleave: boolean;
  /** Softmax scale (mlaSoftmaxScale). */
  scale: number;
  /** Biases on q_a_proj, kv_a_proj_with_mqa and o_proj (HF attention_bias; the other projections have none). */
  bias: boolean;
}

/**
 * 1/sqrt(dn + dr); under YaRN rope scaling DeepSeek multiplies it by mscale(factor, mscale_all_dim)²
 * (mscale_all_dim 0 or absent: no correction).
 */
export function mlaSoftmaxScale(qkHeadDim: number, yarn?: { factor: number; mscaleAllDim: number }): number {
  const base = 1 / Math.sqrt(qkHeadDim);
  if (!yarn || !yarn.mscaleAllDim) return base;
  const m = yarnMscale(yarn.factor, yarn.mscaleAllDim);
  return base * m * m;
}

const range = (n: number, f: (i: number) => number) => Int32Array.from({ length: n }, (_, i) => f(i));

export class MultiHeadLatentAttention {
  readonly q: Linear | null;
  readonly qA: Linear | null;
  readonly qANorm: RMSNorm | null;
  readonly qB: Linear | null;
  readonly kvA: Linear;
  readonly kvANorm: RMSNorm;
  readonly kvB: Linear;
  readonly o: Linear;
  /** Head width the attention kernel runs at: max(dk, dv). */
  private readonly width: number;
  private readonly cols: { qRope: Int32Array; latent: Int32Array; kRope: Int32Array; q: Int32Array; k: Int32Array; v: Int32Array };
  /** forward's column maps at the kernel width w: [q|0] or [k|0] → heads of w (dk < w), [v|0] → heads of w (dv < w), heads of w → v. */
  private readonly padCols: { qk: Int32Array; v: Int32Array; unpadV: Int32Array };

  constructor(b: ParamBuilder, readonly shape: MlaShape, std: number) {
    const { hidden, heads: nh, qLoraRank, kvLoraRank: kvr, qkNopeDim: dn, qkRopeDim: dr, vHeadDim: dv } = shape;
    for (const [name, v] of Object.entries({ heads: nh, kvLoraRank: kvr, qkNopeDim: dn, qkRopeDim: dr, vHeadDim: dv })) {
      if (!Number.isInteger(v) || v < 1) throw new ConfigError(`MLA: ${name} must be a positive integer, got ${v}`);
    }
    if (dr % 2 !== 0) throw new ConfigError(`MLA: qk_rope_head_dim must be even for RoPE, got ${dr}`);
    const dk = dn + dr;
    const bias = shape.bias;
    if (qLoraRank === null) {
      this.q = new Linear(b.pp('q_proj'), hidden, nh * dk, std);
      this.qA = this.qANorm = this.qB = null;
    } else {
      this.q = null;
      this.qA = new Linear(b.pp('q_a_proj'), hidden, qLoraRank, std, bias);
      this.qANorm = new RMSNorm(b.pp('q_a_layernorm'), qLoraRank, LATENT_NORM_EPS);
      this.qB = new Linear(b.pp('q_b_proj'), qLoraRank, nh * dk, std);
    }
    this.kvA = new Linear(b.pp('kv_a_proj_with_mqa'), hidden, kvr + dr, std, bias);
    this.kvANorm = new RMSNorm(b.pp('kv_a_layernorm'), kvr, LATENT_NORM_EPS);
    this.kvB = new Linear(b.pp('kv_b_proj'), kvr, nh * (dn + dv), std);
    this.o = new Linear(b.pp('o_proj'), nh * dv, hidden, std, bias);

    // rope column order: de-interleaved (0, 2, 4, …, 1, 3, 5, …) or as stored
    const ropeOrder = range(dr, (j) => (shape.ropeInterleave ? (j < dr / 2 ? 2 * j : 2 * (j - dr / 2) + 1) : j));
    this.width = Math.max(dk, dv);
    this.cols = {
      qRope: range(nh * dr, (i) => Math.floor(i / dr) * dk + dn + ropeOrder[i % dr]), // of q    → [R, nh·dr]
      latent: range(kvr, (i) => i),                                                 // of kv_a → [R, kvr]
      kRope: range(dr, (j) => kvr + ropeOrder[j]),                                  // of kv_a → [R, dr]
      // of [q | q_rope]: head h = [q_nope_h | q_rope_h]
      q: range(nh * dk, (i) => { const h = Math.floor(i / dk); const j = i % dk; return j < dn ? h * dk + j : nh * dk + h * dr + j - dn; }),
      // of [kv | k_rope]: head h = [k_nope_h | k_rope]
      k: range(nh * dk, (i) => { const h = Math.floor(i / dk); const j = i % dk; return j < dn ? h * (dn + dv) + j : nh * (dn + dv) + j - dn; }),
      // of kv: head h = v_h
      v: range(nh * dv, (i) => Math.floor(i / dv) * (dn + dv) + dn + (i % dv)),
    };
    // of [t | zero column], t [R, nh·d]: head h = [t_h | 0 …] at width w (index nh·d is the zero column)
    const w = this.width;
    const padTo = (d: number) => range(nh * w, (i) => (i % w < d ? Math.floor(i / w) * d + (i % w) : nh * d));
    this.padCols = { qk: padTo(dk), v: padTo(dv), unpadV: range(nh * dv, (i) => Math.floor(i / dv) * w + (i % dv)) };
  }

  /**
   * Per-head queries, keys and values at their own widths — q, k [R, nh·dk] (rope applied), v [R, nh·dv] —
   * what a KV cache stores (k and v rows) and a cached attention kernel reads, with `shape.scale`.
   */
  project(x: Tensor, positions: Int32Array, tables: RopeTables): { q: Tensor; k: Tensor; v: Tensor } {
    const { heads: nh, qkRopeDim: dr } = this.shape;
    if (tables.headDim !== dr) throw new ShapeError(`MLA: RoPE tables are for head_dim ${tables.headDim}, expected qk_rope_head_dim ${dr}`);
    const q = this.q ? this.q.forward(x) : this.qB!.forward(this.qANorm!.forward(this.qA!.forward(x))); // [R, nh·dk]
    const qRope = rope(selectColumns(q, this.cols.qRope), tables, positions, nh);                         // [R, nh·dr]
    const kvA = this.kvA.forward(x);                                                                       // [R, kvr + dr]
    const kRope = rope(selectColumns(kvA, this.cols.kRope), tables, positions, 1);                         // [R, dr]
    const kv = this.kvB.forward(this.kvANorm.forward(selectColumns(kvA, this.cols.latent)));               // [R, nh·(dn + dv)]
    return {
      q: selectColumns(concatColumns([q, qRope]), this.cols.q),
      k: selectColumns(concatColumns([kv, kRope]), this.cols.k),
      v: selectColumns(kv, this.cols.v),
    };
  }

  /** Row widths of this module's KV cache layer: every head's key (dk) and value (dv). */
  cacheWidths(): CacheLayerWidths {
    const { heads: nh, qkNopeDim: dn, qkRopeDim: dr, vHeadDim: dv } = this.shape;
    return { keyWidth: nh * (dn + dr), valueWidth: nh * dv };
  }

  /** Inference over T new rows x [T, hidden] at `positions` (cache.length …), through `layer`'s KV cache. */
  forwardCached(x: Tensor, positions: Int32Array, tables: RopeTables, cache: KVCache, layer: number): Tensor {
    const { heads: nh, qkNopeDim: dn, qkRopeDim: dr, vHeadDim: dv, scale } = this.shape;
    const { q, k, v } = this.project(x, positions, tables);
    return this.o.forward(attendCached(q, k, v, { heads: nh, kvHeads: nh, headDim: dn + dr, valueDim: dv, scale }, cache, layer));
  }

  /** x [B·T, hidden] → [B·T, hidden], causal within each of the B sequences. */
  forward(x: Tensor, layout: TokenLayout, tables: RopeTables): Tensor {
    const { heads: nh, qkRopeDim: dr, qkNopeDim: dn, vHeadDim: dv, scale } = this.shape;
    const dk = dn + dr;
    const { q, k, v } = this.project(x, layout.positions, tables);
    const R = layout.positions.length;
    const w = this.width;
    const zero = new Tensor(new Float32Array(R), [R, 1]); // the padding column
    // Zero columns up to the kernel's width w (a no-op for the wider side).
    const pad = (t: Tensor, d: number, cols: Int32Array) => (d === w ? t : selectColumns(concatColumns([t, zero]), cols));
    // the kernel divides by sqrt(w): pre-scale q so the product is q·k · scale
    const factor = Math.fround(scale * Math.sqrt(w));
    const qPadded = pad(q, dk, this.padCols.qk);
    const qs = factor === 1 ? qPadded : scaleBy(qPadded, new Float32Array(R * nh * w).fill(factor));
    const y = causalAttention(qs, pad(k, dk, this.padCols.qk), pad(v, dv, this.padCols.v), { batch: layout.batch, seq: layout.seq, heads: nh, kvHeads: nh, headDim: w });
    const out = dv === w ? y : selectColumns(y, this.padCols.unpadV); // [R, nh·dv]
    return this.o.forward(out);
  }
}
