// GGUF tensor data to and from f32 (interop.md §5.3): F32 as is, F16/BF16 rounded to nearest even, and
// Q8_0 quantised and dequantised block by block (32 values, one f16 scale).
import { backend } from '../../backend/index.js';
import { GgufError } from '../errors.js';
import { quoteName as q, type GgmlType, type GgufTensorInfo } from './format.js';

// ---- encoding f32 values -------------------------------------------------------------------------------

/** The bytes of f32 values stored as `type` (F16/BF16 round to nearest even; Q8_0 per §5.3). */
export function encodeF32(values: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case 'F32': return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16': case 'BF16': {
      const out = new Uint16Array(values.length);
      if (type === 'F16') backend().f32ToF16(out, values, values.length);
      else backend().f32ToBf16(out, values, values.length);
      return new Uint8Array(out.buffer);
    }
    case 'Q8_0': return quantizeQ8_0(values);
  }
}

/**
 * Q8_0 (§5.3): blocks of 32 along ne[0]; d = amax/127 stored as f16, q = round-half-away(x/d), in f32
 * arithmetic as ggml's reference quantiser does it.
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) throw new GgufError('InvalidTensor', `Q8_0 needs a multiple of 32 values, got ${values.length}`);
  const blocks = values.length / 32;
  const d = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    d[b] = Math.fround(amax / 127);
  }
  const dBits = new Uint16Array(blocks);
  backend().f32ToF16(dBits, d, blocks);
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    view.setUint16(b * 34, dBits[b], true);
    const id = d[b] === 0 ? 0 : Math.fround(1 / d[b]);
    for (let j = 0; j < 32; j++) {
      const x = Math.fround(values[b * 32 + j] * id);
      view.setInt8(b * 34 + 2 + j, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}

// ---- decoding tensor data to f32 ---------------------------------------------------------------------------

function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  backend().f16ToF32(out, bits, bits.length);
  return out;
}

/** The f32 values of a tensor's bytes (F32, F16, BF16, Q8_0 dequantised as x = d·q, §5.3). */
export function decodeTensor(source: string, info: GgufTensorInfo, bytes: Uint8Array): Float32Array {
  const numel = info.ne.reduce((a, b) => a * b, 1);
  const copy = bytes.slice(); // aligned for the typed arrays below
  switch (info.type) {
    case 'F32': return new Float32Array(copy.buffer, 0, numel);
    case 'F16': return f16ToF32(new Uint16Array(copy.buffer, 0, numel));
    case 'BF16': {
      const out = new Float32Array(numel);
      backend().bf16ToF32(out, new Uint16Array(copy.buffer, 0, numel), numel);
      return out;
    }
    case 'Q8_0': {
      const blocks = numel / 32;
      const view = new DataView(copy.buffer);
      const d = new Uint16Array(blocks);
      for (let b = 0; b < blocks; b++) d[b] = view.getUint16(b * 34, true);
      const scale = f16ToF32(d);
      const out = new Float32Array(numel);
      for (let b = 0; b < blocks; b++) {
        for (let j = 0; j < 32; j++) out[b * 32 + j] = scale[b] * view.getInt8(b * 34 + 2 + j);
      }
      return out;
    }
    default:
      throw new GgufError('UnsupportedType', `${source}: tensor ${q(info.name)} is ${info.type}; moekit decodes F32, F16, BF16 and Q8_0`);
  }
}
