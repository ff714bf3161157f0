// Rotary position embedding, rotate-half convention (HF LLaMA). Each head vector of hd values is
// split into halves (x1, x2) = (x[j], x[j+hd/2]) and the pair is rotated by θ = pos·theta^(-2j/hd):
//   out1 = x1·cos − x2·sin,  out2 = x2·cos + x1·sin.
// The backward applies the transpose, i.e. the rotation by −θ.
import type { F32, I32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

/** Validates the shared arguments and returns maxPos (rows of the cos/sin tables). */
function checkRope(k: string, a: F32, aName: string, b: F32, bName: string, cos: F32, sin: F32, pos: I32,
  R: number, H: number, hd: number): number {
  checkSize(k, 'R', R);
  checkSize(k, 'H', H);
  checkSize(k, 'hd', hd);
  if (hd === 0 || hd % 2 !== 0) throw new Error(`${k}: hd must be even and positive (got ${hd})`);
  const half = hd / 2;
  checkLength(k, aName, a, R * H * hd, 'R·H·hd');
  checkLength(k, bName, b, R * H * hd, 'R·H·hd');
  checkLength(k, 'pos', pos, R, 'R');
  if (cos.length % half !== 0) {
    throw new Error(`${k}: cos has ${cos.length} elements, expected a multiple of hd/2 = ${half}`);
  }
  checkLength(k, 'sin', sin, cos.length, 'cos.length');
  const maxPos = cos.length / half;
  for (let r = 0; r < R; r++) {
    if (pos[r] < 0 || pos[r] >= maxPos) {
      throw new Error(`${k}: pos[${r}] = ${pos[r]} is out of range [0, ${maxPos}) of the cos/sin tables`);
    }
  }
  return maxPos;
}

/** x, out [R,H,hd]; cos, sin [maxPos, hd/2]; pos [R]. out may alias x. */
export function ropeForward(out: F32, x: F32, cos: F32, sin: F32, pos: I32, R: number, H: number, hd: number): void {
  checkRope('ropeForward', out, 'out', x, 'x', cos, sin, pos, R, H, hd);
  const half = hd / 2;
  for (let r = 0; r < R; r++) {
    const tab = pos[r] * half;
    for (let h = 0; h < H; h++) {
      const base = (r * H + h) * hd;
      for (let j = 0; j < half; j++) {
        const c = cos[tab + j];
        const s = sin[tab + j];
        // Both halves are read before either is written, so out may alias x.
        const x1 = x[base + j];
        const x2 = x[base + j + half];
        out[base + j] = x1 * c - x2 * s;
        out[base + j + half] = x2 * c + x1 * s;
      }
    }
  }
}

/** dx [R,H,hd] += rotation of dout [R,H,hd] by −θ. */
export function ropeBackward(dx: F32, dout: F32, cos: F32, sin: F32, pos: I32, R: number, H: number, hd: number): void {
  checkRope('ropeBackward', dx, 'dx', dout, 'dout', cos, sin, pos, R, H, hd);
  const half = hd / 2;
  for (let r = 0; r < R; r++) {
    const tab = pos[r] * half;
    for (let h = 0; h < H; h++) {
      const base = (r * H + h) * hd;
      for (let j = 0; j < half; j++) {
        const c = cos[tab + j];
        const s = sin[tab + j];
        const d1 = dout[base + j];
        const d2 = dout[base + j + half];
        dx[base + j] += d1 * c + d2 * s;
        dx[base + j + half] += d2 * c - d1 * s;
      }
    }
  }
}
