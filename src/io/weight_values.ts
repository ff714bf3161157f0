// What the exporters read from a parameter: its f32 values, widened (exactly) from a 16-bit inference
// weight when it is held as one, and the file dtype string of each 16-bit storage dtype.
import { backend } from '../backend/index.js';
import type { HalfDtype, Tensor } from '../tensor/index.js';

/** The safetensors / HF dtype string of a 16-bit storage dtype. */
export const FILE_DTYPE: Readonly<Record<HalfDtype, 'BF16' | 'F16'>> = { bf16: 'BF16', f16: 'F16' };

/** t's values as f32: its own buffer, or a widened copy of a 16-bit weight. */
export function f32Values(t: Pick<Tensor, 'half' | 'data' | 'size'>): Float32Array {
  if (!t.half) return t.data;
  const out = new Float32Array(t.size);
  (t.half.dtype === 'bf16' ? backend().bf16ToF32 : backend().f16ToF32)(out, t.half.bits, t.size);
  return out;
}
