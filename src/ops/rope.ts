// Rotary position embedding, rotate-half convention (HF LLaMA; Su et al. 2021, RoFormer).
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

export function ropeTables(headDim: number, maxPos: number, theta: number): RopeTables {
  if (headDim % 2 !== 0) throw new ShapeError(`rope: head_dim must be even, got ${headDim}`);
  const half = headDim / 2;
  const cos = new Float32Array(maxPos * half);
  const sin = new Float32Array(maxPos * half);
  for (let j = 0; j < half; j++) {
    // HF computes inv_freq in float32; round it the same way so the tables agree to the last bit.
    const invFreq = Math.fround(1 / Math.pow(theta, (2 * j) / headDim));
    for (let p = 0; p < maxPos; p++) {
      const angle = Math.fround(p * invFreq);
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
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
