// GEMM: c[M,N] (= or +=) op(a)·op(b), with float64 accumulation. Each case keeps the innermost loop
// running over contiguous memory: row·row dot products for (false, true), and a float64 row
// accumulator (axpy over rows of b) for the two cases whose natural dot product would stride.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { scratch64 } from './scratch.js';

export function matmul(c: F32, a: F32, b: F32, M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean): void {
  const k = 'matmul';
  checkSize(k, 'M', M);
  checkSize(k, 'N', N);
  checkSize(k, 'K', K);
  if (transA && transB) throw new Error('matmul: transA && transB is not supported');
  checkLength(k, 'c', c, M * N, 'M·N');
  checkLength(k, 'a', a, M * K, transA ? 'K·M' : 'M·K');
  checkLength(k, 'b', b, K * N, transB ? 'N·K' : 'K·N');

  if (transB) {
    // a [M,K], b [N,K]: c[i,j] = a[i,:] · b[j,:]
    for (let i = 0; i < M; i++) {
      const ai = i * K;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let s = 0;
        for (let p = 0; p < K; p++) s += a[ai + p] * b[bj + p];
        c[i * N + j] = accumulate ? c[i * N + j] + s : s;
      }
    }
    return;
  }

  // b [K,N]; a [M,K] (stride 1 along p) or [K,M] (stride M along p).
  const acc = scratch64(0, N); // [N] float64 row of c
  const aRow = transA ? 1 : K; // step in a between consecutive i
  const aP = transA ? M : 1; // step in a between consecutive p
  for (let i = 0; i < M; i++) {
    acc.fill(0, 0, N);
    for (let p = 0; p < K; p++) {
      const aip = a[i * aRow + p * aP];
      const bp = p * N;
      for (let j = 0; j < N; j++) acc[j] += aip * b[bp + j];
    }
    const ci = i * N;
    for (let j = 0; j < N; j++) c[ci + j] = accumulate ? c[ci + j] + acc[j] : acc[j];
  }
}
