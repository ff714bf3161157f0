// Matmuls with 16-bit weights: the weights widened exactly (dtype.ts), then the f32 kernels of
// matmul.ts and moe.ts. The widened copy is allocated per call: the oracle favours clarity over speed.
import type { F32, I32 } from '../backend.js';
import { checkLength } from './check.js';
import { bf16ToF32, f16ToF32 } from './dtype.js';
import { matmul } from './matmul.js';
import { groupedMatmul } from './moe.js';

function widened(b: Uint16Array, bf16: boolean): Float32Array {
  const out = new Float32Array(b.length);
  (bf16 ? bf16ToF32 : f16ToF32)(out, b, b.length);
  return out;
}

export function matmulHalf(c: F32, a: F32, b: Uint16Array, bf16: boolean, M: number, N: number, K: number,
  accumulate: boolean): void {
  checkLength('matmulHalf', 'b', b, N * K, 'N·K');
  matmul(c, a, widened(b, bf16), M, N, K, false, true, accumulate);
}

export function groupedMatmulHalf(c: F32, a: F32, b: Uint16Array, bf16: boolean, offsets: I32, E: number, N: number,
  K: number): void {
  checkLength('groupedMatmulHalf', 'b', b, E * N * K, 'E·N·K');
  groupedMatmul(c, a, widened(b, bf16), offsets, E, N, K, true, false);
}
