// Fused causal self-attention with grouped-query heads (GQA, Ainslie et al. 2023):
// softmax(q·kᵀ/sqrt(hd) + causal mask)·v per (batch, head); query head h reads kv head floor(h·nkv/nh).
import { backend } from '../backend/index.js';
import { ShapeError, needsGrad, output, record, scratch, type Tensor } from '../tensor/index.js';
import { expectSize, gradTarget } from './util.js';

export interface AttentionDims {
  batch: number;
  seq: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** q [B·T, nh·hd], k and v [B·T, nkv·hd] → [B·T, nh·hd]. */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, d: AttentionDims): Tensor {
  const { batch: B, seq: T, heads: nh, kvHeads: nkv, headDim: hd } = d;
  if (nh % nkv !== 0) throw new ShapeError(`attention: num_attention_heads ${nh} is not a multiple of num_key_value_heads ${nkv}`);
  expectSize('attention', 'q', q, B * T * nh * hd, 'B·T·nh·hd');
  expectSize('attention', 'k', k, B * T * nkv * hd, 'B·T·nkv·hd');
  expectSize('attention', 'v', v, B * T * nkv * hd, 'B·T·nkv·hd');
  const be = backend();
  const y = output([B * T, nh * hd], needsGrad(q, k, v));
  const att = scratch(B * nh * T * T); // [B, nh, T, T] probabilities, saved for backward
  be.attentionForward(y.data, att, q.data, k.data, v.data, B, T, nh, nkv, hd);
  if (y.requiresGrad) {
    record(() => {
      if (!y.grad) return;
      const dq = gradTarget(q);
      const dk = gradTarget(k);
      const dv = gradTarget(v);
      be.attentionBackward(dq, dk, dv, y.grad, q.data, k.data, v.data, att, B, T, nh, nkv, hd);
    });
  }
  return y;
}
