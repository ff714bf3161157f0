// The reference backend: every kernel of the Backend contract in plain TypeScript. It is the test
// oracle for the native kernels, so it favours clarity and accuracy (float64 accumulation) over speed,
// while staying fast enough to train a tiny model (typed-array loops, no allocation per call).
import type { Backend } from '../backend.js';
import { matmul } from './matmul.js';
import { groupedMatmulHalf, matmulHalf } from './half_matmul.js';
import { embeddingBackward, embeddingForward, embeddingForwardHalf } from './embedding.js';
import { rmsnormBackward, rmsnormForward } from './norm.js';
import { ropeBackward, ropeForward } from './rope.js';
import { attentionBackward, attentionForward } from './attention.js';
import { cachedAttentionForward } from './attention_cached.js';
import { add, scale, swigluBackward, swigluForward } from './elementwise.js';
import { softmaxBackward, softmaxForward } from './softmax.js';
import { crossEntropyBackward, crossEntropyForward } from './loss.js';
import { adamw, sumSquares } from './optim.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './dtype.js';
import {
  gatherRows, groupedMatmul, groupedMatmulWeightGrad, scatterAddRows, weightedScatterAdd, weightedScatterAddBackward,
} from './moe.js';
import { topPBackward, topPRoute } from './routing.js';

export const referenceBackend: Backend = {
  name: 'reference',
  isa: 'js',
  threads: () => 1,
  setThreads: () => {}, // single-threaded by design; accepted so callers need not special-case it
  hugeBuffer: (bytes: number) => new ArrayBuffer(bytes),
  matmul,
  matmulHalf,
  embeddingForward,
  embeddingForwardHalf,
  embeddingBackward,
  rmsnormForward,
  rmsnormBackward,
  ropeForward,
  ropeBackward,
  attentionForward,
  attentionBackward,
  cachedAttentionForward,
  swigluForward,
  swigluBackward,
  softmaxForward,
  softmaxBackward,
  crossEntropyForward,
  crossEntropyBackward,
  adamw,
  sumSquares,
  scale,
  add,
  gatherRows,
  scatterAddRows,
  groupedMatmul,
  groupedMatmulHalf,
  groupedMatmulWeightGrad,
  weightedScatterAdd,
  weightedScatterAddBackward,
  topPRoute,
  topPBackward,
  f32ToBf16,
  bf16ToF32,
  f32ToF16,
  f16ToF32,
};
