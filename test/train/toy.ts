// A learnable toy language for training tests: token t+1 = (a·token t + 3) mod 24, a ∈ {1, 5, 7} per row.
import { Rng } from '../../src/tensor/index.js';
import type { Batch, TrainData } from '../../src/train/trainer.js';

/** The learnable toy language of the trainer tests, vocabulary 24. */
export function toyData(B: number, T: number): TrainData {
  const make = (index: number): Batch => {
    const rng = new Rng(index);
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const a = [1, 5, 7][rng.int(3)];
      let tok = rng.int(24);
      for (let t = 0; t < T; t++) {
        const next = (a * tok + 3) % 24;
        inputs[b * T + t] = tok;
        targets[b * T + t] = next;
        tok = next;
      }
    }
    return { inputs, targets };
  };
  return { trainBatch: (i) => make(i), validBatches: () => [make(1e6), make(1e6 + 1)], tokenizerJson: '{}' };
}
