// Fused log-softmax + cross-entropy over the vocabulary.
// Forward saves lse = logsumexp(logits[t,:]) so that the backward needs neither the probabilities
// nor a second pass over the row: softmax = exp(logit − lse), computed element by element, which is
// also what makes the in-place backward (dlogits === logits) safe.
import type { F32, I32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

function checkTargets(k: string, targets: I32, T: number, V: number): void {
  for (let t = 0; t < T; t++) {
    if (targets[t] >= V) throw new Error(`${k}: targets[${t}] = ${targets[t]} is out of range (V = ${V})`);
  }
}

/** losses[T], lse[T], logits[T,V], targets[T] (< 0: ignored, loss 0). */
export function crossEntropyForward(losses: F32, lse: F32, logits: F32, targets: I32, T: number, V: number): void {
  const k = 'crossEntropyForward';
  checkSize(k, 'T', T);
  checkSize(k, 'V', V);
  checkLength(k, 'losses', losses, T, 'T');
  checkLength(k, 'lse', lse, T, 'T');
  checkLength(k, 'logits', logits, T * V, 'T·V');
  checkLength(k, 'targets', targets, T, 'T');
  checkTargets(k, targets, T, V);
  for (let t = 0; t < T; t++) {
    const o = t * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[o + j] - max);
    const l = max + Math.log(sum);
    lse[t] = l;
    losses[t] = targets[t] < 0 ? 0 : l - logits[o + targets[t]];
  }
}

/**
 * dlogits[T,V] = (softmax(logits) − onehot(targets))·dlosses[t]   (OVERWRITES; 0 for ignored rows).
 * dlogits may be the same buffer as logits.
 */
export function crossEntropyBackward(dlogits: F32, logits: F32, lse: F32, targets: I32, dlosses: F32,
  T: number, V: number): void {
  const k = 'crossEntropyBackward';
  checkSize(k, 'T', T);
  checkSize(k, 'V', V);
  checkLength(k, 'dlogits', dlogits, T * V, 'T·V');
  checkLength(k, 'logits', logits, T * V, 'T·V');
  checkLength(k, 'lse', lse, T, 'T');
  checkLength(k, 'targets', targets, T, 'T');
  checkLength(k, 'dlosses', dlosses, T, 'T');
  checkTargets(k, targets, T, V);
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const y = targets[t];
    if (y < 0) {
      dlogits.fill(0, o, o + V);
      continue;
    }
    const l = lse[t];
    const dl = dlosses[t];
    // Element j's gradient depends only on logits[o + j], read just before it is overwritten.
    for (let j = 0; j < V; j++) dlogits[o + j] = (Math.exp(logits[o + j] - l) - (j === y ? 1 : 0)) * dl;
  }
}
