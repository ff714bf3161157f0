// Column gathers on row-major matrices, for attention variants whose heads are slices of wider
// projections (MLA, interop.md §3.4 deepseek_v2: q = [q_nope | q_rope] per head, k_rope shared by heads).
//   selectColumns  y[t, j] = x[t, cols[j]]            backward  dx[t, cols[j]] += dy[t, j]  (scatter-add:
//                                                     a column picked twice gets both gradients)
//   concatColumns  y = [a_0 | a_1 | …] along the last axis; backward hands each part its columns of dy
import { ShapeError, shapeStr, needsGrad, output, record, type Tensor } from '../tensor/index.js';
import { lastDim } from './util.js';

/** x [T, C] → [T, cols.length], y[:, j] = x[:, cols[j]] (columns may repeat or be left out). */
export function selectColumns(x: Tensor, cols: Int32Array): Tensor {
  const C = lastDim(x);
  const T = x.size / C;
  const n = cols.length;
  for (let j = 0; j < n; j++) {
    if (!(cols[j] >= 0 && cols[j] < C)) throw new ShapeError(`selectColumns: column ${cols[j]} (entry ${j}) is outside the ${C} columns of ${shapeStr(x.shape)}`);
  }
  const y = output([...x.shape.slice(0, -1), n], needsGrad(x));
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) y.data[t * n + j] = x.data[t * C + cols[j]];
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      const dx = x.ensureGrad();
      for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) dx[t * C + cols[j]] += dy[t * n + j];
    });
  }
  return y;
}

/** [T, C_0], [T, C_1], … → [T, Σ C_i]. */
export function concatColumns(parts: readonly Tensor[]): Tensor {
  if (parts.length === 0) throw new ShapeError('concatColumns: no inputs');
  const widths = parts.map(lastDim);
  const T = parts[0].size / widths[0];
  for (const p of parts) {
    if (p.size / lastDim(p) !== T || p.shape.length !== parts[0].shape.length) {
      throw new ShapeError(`concatColumns: inputs ${parts.map((q) => shapeStr(q.shape)).join(', ')} do not have the same rows`);
    }
  }
  const W = widths.reduce((a, b) => a + b, 0);
  const y = output([...parts[0].shape.slice(0, -1), W], needsGrad(...parts));
  let offset = 0;
  const offsets = widths.map((w) => (offset += w) - w);
  parts.forEach((p, i) => {
    const w = widths[i];
    for (let t = 0; t < T; t++) y.data.set(p.data.subarray(t * w, (t + 1) * w), t * W + offsets[i]);
  });
  if (y.requiresGrad) {
    record(() => {
      const dy = y.grad;
      if (!dy) return;
      parts.forEach((p, i) => {
        if (!p.requiresGrad) return;
        const dp = p.ensureGrad();
        const w = widths[i];
        for (let t = 0; t < T; t++) for (let j = 0; j < w; j++) dp[t * w + j] += dy[t * W + offsets[i] + j];
      });
    });
  }
  return y;
}
