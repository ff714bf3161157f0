// Rotary position embedding, rotate-half convention (HF LLaMA; Su et al. 2021, RoFormer), optionally with
// scaled frequencies: YaRN (and its cos/sin factor), Llama-3.1's llama3, or linear position interpolation.
// x is [R, H·hd] (R rows = tokens); each head's vector is rotated by angles pos·theta^(-2j/hd).
import { backend } from '../backend/index.js';
import { ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';

/** cos/sin tables [maxPos, hd/2] computed in float64, stored f32. */
export interface RopeTables {
  cos: Float32Array;
  sin: Float32Array;
  maxPos: number;
  headDim: number;
}

/**
 * YaRN context extension (Peng et al. 2023, arXiv 2309.00071; HF `rope_type: "yarn"`, interop §3.2): the
 * high-frequency dims keep their frequency, the low ones are divided by `factor`, with a linear ramp
 * between the dims that make beta_fast and beta_slow rotations over the original context; cos and sin are
 * multiplied by `attentionFactor`.
 */
export interface YarnRope {
  factor: number;
  originalMaxPositions: number;
  betaFast: number;
  betaSlow: number;
  /** Round the ramp's ends outwards to whole dims (HF `truncate`, default true). */
  truncate: boolean;
  attentionFactor: number;
}

/** Llama-3.1's frequency scaling (HF rope_type "llama3", interop §3.7). */
export interface Llama3Rope {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

/** How the RoPE frequencies are scaled (HF rope types other than "default"). */
export type RopeScalingRule = ({ type: 'yarn' } & YarnRope) | ({ type: 'llama3' } & Llama3Rope) | { type: 'linear'; factor: number };

/** YaRN's attention-temperature term 0.1·m·ln(s) + 1 (1 when s <= 1). */
export function yarnMscale(factor: number, m = 1): number {
  return factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1;
}

/** The cos/sin factor HF derives when `attention_factor` is not given: mscale(s, m)/mscale(s, m_all), else mscale(s). */
export function yarnAttentionFactor(factor: number, mscale: number | null, mscaleAllDim: number | null): number {
  return mscale && mscaleAllDim ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim) : yarnMscale(factor);
}

/**
 * One llama3-scaled inverse frequency (interop §3.7), in float32 step by step as HF computes it: a
 * wavelength 2π/f longer than original/low_freq_factor is interpolated (f / factor), one shorter than
 * original/high_freq_factor kept, and between them s = (original/wavelength − low)/(high − low) mixes
 * the two: (1 − s)·f/factor + s·f.
 */
function llama3Frequency(inv: number, r: Llama3Rope): number {
  const f = Math.fround;
  const wavelength = f(f(2 * Math.PI) / inv);
  if (wavelength > f(r.originalMaxPositions / r.lowFreqFactor)) return f(inv / f(r.factor));
  if (wavelength < f(r.originalMaxPositions / r.highFreqFactor)) return inv;
  const smooth = f(f(f(f(r.originalMaxPositions) / wavelength) - f(r.lowFreqFactor)) / f(r.highFreqFactor - r.lowFreqFactor));
  return f(f(f(f(1 - smooth) * inv) / f(r.factor)) + f(smooth * inv));
}

/** Inverse frequencies [hd/2], rounded to float32 as HF computes them. */
export function ropeInverseFrequencies(headDim: number, theta: number, rule: RopeScalingRule | null): Float32Array {
  const half = headDim / 2;
  const f = Math.fround;
  // HF computes inv_freq in float32; round it the same way so the tables agree to the last bit.
  const plain = Float32Array.from({ length: half }, (_, j) => f(1 / Math.pow(theta, (2 * j) / headDim)));
  if (!rule) return plain;
  if (rule.type === 'linear') return plain.map((inv) => f(inv / f(rule.factor)));
  if (rule.type === 'llama3') return plain.map((inv) => llama3Frequency(inv, rule));
  const yarn = rule;
  // the dim whose wavelength makes `rotations` turns over the original context
  const dimFor = (rotations: number) => (headDim * Math.log(yarn.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = dimFor(yarn.betaFast);
  let high = dimFor(yarn.betaSlow);
  if (yarn.truncate) { low = Math.floor(low); high = Math.ceil(high); }
  low = Math.max(low, 0);
  high = Math.min(high, headDim - 1);
  if (low === high) high += 0.001; // HF's guard against a zero-width ramp
  return plain.map((_, j) => {
    const posFreq = f(Math.pow(theta, f((2 * j) / headDim)));
    const extrapolation = f(1 / posFreq);
    const interpolation = f(1 / f(yarn.factor * posFreq));
    const keep = f(1 - Math.min(1, Math.max(0, f(f(j - low) / f(high - low))))); // 1 = original frequency
    return f(f(interpolation * f(1 - keep)) + f(extrapolation * keep));
  });
}

export function ropeTables(headDim: number, maxPos: number, theta: number, scaling: RopeScalingRule | null = null): RopeTables {
  if (headDim % 2 !== 0) throw new ShapeError(`rope: head_dim must be even, got ${headDim}`);
  const half = headDim / 2;
  const invFreq = ropeInverseFrequencies(headDim, theta, scaling);
  const scale = scaling?.type === 'yarn' ? Math.fround(scaling.attentionFactor) : 1;
  const cos = new Float32Array(maxPos * half);
  const sin = new Float32Array(maxPos * half);
  for (let j = 0; j < half; j++) {
    for (let p = 0; p < maxPos; p++) {
      const angle = Math.fround(p * invFreq[j]);
      cos[p * half + j] = Math.cos(angle) * scale;
      sin[p * half + j] = Math.sin(angle) * scale;
    }
  }
  return { cos, sin, maxPos, headDim };
}

export function rope(x: Tensor, tables: RopeTables, pos: Int32Array, heads: number): Tensor {
  const hd = tables.headDim;
  const R = pos.length;
  if (x.size !== R * heads * hd) {
    throw new ShapeError(`rope: input ${shapeStr(x.shape)} is not [${R} rows, ${heads} heads × ${hd}]`);
  }
  for (let r = 0; r < R; r++) {
    if (pos[r] < 0 || pos[r] >= tables.maxPos) {
      throw new ShapeError(`rope: position ${pos[r]} at row ${r} is outside [0, max_position_embeddings = ${tables.maxPos})`);
    }
  }
  const be = backend();
  const y = output(x.shape, needsGrad(x));
  be.ropeForward(y.data, x.data, tables.cos, tables.sin, pos, R, heads, hd);
  if (y.requiresGrad) {
    record(() => {
      if (y.grad) be.ropeBackward(x.ensureGrad(), y.grad, tables.cos, tables.sin, pos, R, heads, hd);
    });
  }
  return y;
}
