// Softmax over the last axis (max-subtracted, float64 sums) and its backward
// dx = out ⊙ (dout − Σ dout⊙out), the Jacobian-vector product of softmax.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { scratch64 } from './scratch.js';

/** out[rows,cols] = softmax(x[rows,cols]) row by row. */
export function softmaxForward(out: F32, x: F32, rows: number, cols: number): void {
  const k = 'softmaxForward';
  checkSize(k, 'rows', rows);
  checkSize(k, 'cols', cols);
  checkLength(k, 'out', out, rows * cols, 'rows·cols');
  checkLength(k, 'x', x, rows * cols, 'rows·cols');
  const e = scratch64(0, cols); // [cols] exponentials in float64, normalised once at the end
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c] > max) max = x[o + c];
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      e[c] = Math.exp(x[o + c] - max);
      sum += e[c];
    }
    for (let c = 0; c < cols; c++) out[o + c] = e[c] / sum;
  }
}

/** dx[rows,cols] += out ⊙ (dout − Σ dout⊙out); out is the forward's result. */
export function softmaxBackward(dx: F32, dout: F32, out: F32, rows: number, cols: number): void {
  const k = 'softmaxBackward';
  checkSize(k, 'rows', rows);
  checkSize(k, 'cols', cols);
  checkLength(k, 'dx', dx, rows * cols, 'rows·cols');
  checkLength(k, 'dout', dout, rows * cols, 'rows·cols');
  checkLength(k, 'out', out, rows * cols, 'rows·cols');
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dout[o + c] * out[o + c];
    for (let c = 0; c < cols; c++) dx[o + c] += out[o + c] * (dout[o + c] - dot);
  }
}
