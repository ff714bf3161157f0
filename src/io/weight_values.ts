// What the exporters read from a parameter: its f32 values, widened (exactly) from a 16-bit inference
// weight when it is held as one, and the file dtype string of each 16-bit storage dtype.
import { backend } from '../backend/index.js';
import type { HalfDtype, Tensor } from '../tensor/index.js';

/** The safetensors / HF dtype string of a 16-bit storage dtype. */
export const FILE_DTYPE: Readonly<Record<HalfDtype, 'BF16' | 'F16'>> = { bf16: 'BF16', f16: 'F16' };

/** float16's largest finite value: beyond it, rounding gives ±inf. */
export const F16_MAX = 65504;

/** The largest finite magnitude in `values` that float16 cannot hold (it would become ±inf), or 0. */
export function beyondF16(values: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > worst && a !== Infinity) worst = a;
  }
  return worst > F16_MAX ? worst : 0;
}

/** t's values as f32: its own buffer, or a widened copy of a 16-bit weight. */
export function f32Values(t: Pick<Tensor, 'half' | 'data' | 'size'>): Float32Array {
  if (!t.half) return t.data;
  const out = new Float32Array(t.size);
  (t.half.dtype === 'bf16' ? backend().bf16ToF32 : backend().f16ToF32)(out, t.half.bits, t.size);
  return out;
}
