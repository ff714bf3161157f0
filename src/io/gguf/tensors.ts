// The GGUF tensors of a model (interop.md §5.4, §5.5, §5.7): HF names → llama.cpp names, ne = reversed
// PyTorch shape, Q/K rows permuted for NORM RoPE, experts stacked, placeholders where an architecture
// needs a tensor the model lacks. Sources are taken (shape-checked) now, encoded when the writer gets there.
import { ropeScalingRule, type ModelConfig } from '../../models/index.js';
import { ropeInverseFrequencies } from '../../ops/index.js';
import { concatArrays } from '../concat.js';
import { ZERO_SHARED_WIDTH, type GgufArch } from './archs.js';
import type { ArchChoice } from './choose_arch.js';
import type { GgmlType } from './format.js';
import { ropeSliceToPairs, splitKvB } from './mla.js';
import { encodeF32 } from './quantize.js';
import type { GgufTensorSpec } from './writer.js';
import { unexportable, type SourceTensor } from './types.js';
import { beyondF16, F16_MAX, f32Values } from '../weight_values.js';

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
export class TensorList {
  readonly specs: GgufTensorSpec[] = [];
  private readonly used = new Set<string>();

  constructor(private readonly params: ReadonlyMap<string, SourceTensor>, private readonly dtype: GgmlType, private readonly source: string) {}

  /**
   * The HF tensor `name`, which must have `shape`, checked now and read when the writer gets there (a
   * 16-bit weight is widened then, one tensor at a time).
   */
  take(name: string, shape: readonly number[]): () => Float32Array {
    const t = this.params.get(name);
    if (!t) throw unexportable(this.source, `missing tensor ${name} [${shape.join(', ')}]`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw unexportable(this.source, `tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    this.used.add(name);
    return () => f32Values(t);
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
    this.specs.push({ name, type, ne, data: () => this.encode(name, values(), type) });
  }

  /** The tensor's bytes; an F16 one refuses values float16 cannot hold (they would become ±inf). */
  private encode(name: string, values: Float32Array, type: GgmlType): Uint8Array {
    const worst = type === 'F16' ? beyondF16(values) : 0;
    if (worst > 0) {
      throw unexportable(this.source, `tensor ${name}: a value of magnitude ${worst} is beyond float16's range (±${F16_MAX}); an f16 GGUF would make it infinite`,
        'export with --dtype bf16 (the range of f32) or f32');
    }
    return encodeF32(values, type);
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
    list.add(`${b}.ffn_gate_inp_shexp.weight`, { shape: [H], values: list.take(`${p}.mlp.shared_expert_gate.weight`, [1, H]) });
  }
  for (const [proj, gguf, shape] of [['gate_proj', 'gate', [width, H]], ['up_proj', 'up', [width, H]], ['down_proj', 'down', [H, width]]] as const) {
    list.add(`${b}.ffn_${gguf}_shexp.weight`, { shape, values: list.take(`${p}.mlp.shared_experts.${proj}.weight`, shape) });
  }
}

/**
 * deepseek2's multi-head latent attention (src/nn/mla.ts; llama.cpp's absorbed form, mla.ts): q
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
    list.add(`${b}.attn_q.weight`, { shape: [nh * dk, H], values: () => qRows(q(), H) });
  } else {
    const qA = list.take(`${a}.q_a_proj.weight`, [qr, H]);
    list.add(`${b}.attn_q_a.weight`, { shape: [qr, H], values: qA });
    const qNorm = list.take(`${a}.q_a_layernorm.weight`, [qr]);
    list.add(`${b}.attn_q_a_norm.weight`, { shape: [qr], values: qNorm });
    const qB = list.take(`${a}.q_b_proj.weight`, [nh * dk, qr]);
    list.add(`${b}.attn_q_b.weight`, { shape: [nh * dk, qr], values: () => qRows(qB(), qr) });
  }
  const kvA = list.take(`${a}.kv_a_proj_with_mqa.weight`, [kvr + dr, H]);
  list.add(`${b}.attn_kv_a_mqa.weight`, { shape: [kvr + dr, H], values: () => (pairs ? kvA() : ropeSliceToPairs(kvA(), 1, kvr + dr, kvr, dr, H)) });
  const kvNorm = list.take(`${a}.kv_a_layernorm.weight`, [kvr]);
  list.add(`${b}.attn_kv_a_norm.weight`, { shape: [kvr], values: kvNorm });
  const kvB = list.take(`${a}.kv_b_proj.weight`, [nh * (dn + dv), kvr]);
  list.add(`${b}.attn_k_b.weight`, { shape: [nh, kvr, dn], values: () => splitKvB(kvB(), nh, dn, dv, kvr).kB });
  list.add(`${b}.attn_v_b.weight`, { shape: [nh, dv, kvr], values: () => splitKvB(kvB(), nh, dn, dv, kvr).vB });
  const o = list.take(`${a}.o_proj.weight`, [H, nh * dv]);
  list.add(`${b}.attn_output.weight`, { shape: [H, nh * dv], values: o });
}

/** Standard attention (§5.7): q/k/v/o with optional biases and q/k norms; Q/K rows permuted for NORM RoPE (§5.5). */
function attentionTensors(c: ModelConfig, arch: GgufArch, b: string, p: string, list: TensorList): void {
  const H = c.hidden_size;
  const hd = c.head_dim;
  const nh = c.num_attention_heads;
  const nkv = c.num_key_value_heads;
  const permute = arch.rope === 'norm';
  const copy = (name: string, shape: [number] | [number, number]) => ({ shape, values: list.take(name, shape) });
  for (const [proj, gguf, heads] of [['q_proj', 'attn_q', nh], ['k_proj', 'attn_k', nkv]] as const) {
    const w = list.take(`${p}.self_attn.${proj}.weight`, [heads * hd, H]);
    list.add(`${b}.${gguf}.weight`, { shape: [heads * hd, H], values: () => (permute ? permuteRotateHalfRows(w(), heads, hd, H) : w()) });
    if (c.attention_bias || c.qkv_bias) { // biases are permuted like the weight rows (§5.5)
      const bias = list.take(`${p}.self_attn.${proj}.bias`, [heads * hd]);
      list.add(`${b}.${gguf}.bias`, { shape: [heads * hd], values: () => (permute ? permuteRotateHalfRows(bias(), heads, hd, 1) : bias()) });
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

export function decoderTensors(c: ModelConfig, choice: ArchChoice, list: TensorList): void {
  const H = c.hidden_size;
  // Sources are taken (shape-checked) now; reads and conversions run when the writer gets there.
  const copy = (name: string, shape: [number] | [number, number], keepF32 = false) => ({ shape, values: list.take(name, shape), keepF32 });
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
        list.add(`${b}.ffn_${gguf}_exps.weight`, { shape: [E, ...shape], values: () => stack(parts.map((part) => part())) });
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
      list.add(`${b}.ffn_${gguf}_exps.weight`, { shape: [E, W, H], values: () => stack(new Array(E).fill(padMatrix(w(), I, H, W, H))) });
    }
    const down = list.take(`${p}.mlp.down_proj.weight`, [H, I]);
    list.add(`${b}.ffn_down_exps.weight`, { shape: [E, H, W], values: () => stack(new Array(E).fill(padMatrix(down(), H, I, H, W))) });
  }
  list.add('output_norm.weight', copy('model.norm.weight', [H]));
  const rule = ropeScalingRule(c);
  if (rule?.type === 'llama3') { // llama.cpp divides each frequency by its factor: plain / scaled
    const plain = ropeInverseFrequencies(c.head_dim, c.rope_theta, null);
    const scaled = ropeInverseFrequencies(c.head_dim, c.rope_theta, rule);
    list.add('rope_freqs.weight', { shape: [c.head_dim / 2], values: () => plain.map((f, j) => f / scaled[j]), keepF32: true });
  }
  // Tied embeddings: llama falls back to token_embd when output.weight is absent (§5.7).
  if (!c.tie_word_embeddings) list.add('output.weight', copy('lm_head.weight', [c.vocab_size, H]));
  else if (choice.arch.outputRequired) list.add('output.weight', copy('model.embed_tokens.weight', [c.vocab_size, H]));
}
