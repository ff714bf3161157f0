// What every router takes and returns (spec §0). A router is a pure function of its inputs: all
// randomness comes from ctx.rng, so the same seed gives the same Assignment.
import type { Rng } from '../../tensor/index.js';
import type { Assignment } from '../assignment.js';
import type { CapacityOptions } from '../capacity.js';
import type { ConfigReader } from '../config.js';

/** The draws routers make (tests substitute fixed sequences to replay the spec's examples). */
export type RandomSource = Pick<Rng, 'uniform' | 'normal'>;

export interface RouterContext {
  training: boolean;
  rng: RandomSource;
  /** Input token ids [T] (hash routing, §7). */
  tokenIds?: Int32Array;
  /** Optimizer step (temperature schedules, §9). */
  step?: number;
  /** Overrides the capacity options of the router config (§15). */
  capacity?: CapacityOptions;
  /** Noise-scale logits x·W_noise [T, E] (noisy top-k, §3). */
  noiseLogits?: Float32Array;
  /** Added to the scores for selection only, per expert [E] (DeepSeek-V3 e_score_correction_bias). */
  selectionBias?: Float32Array;
}

export interface RouterOutput {
  assignment: Assignment;
  /** Slots per expert C that capacity enforced (§15); absent or null = dropless. */
  capacity?: number | null;
  /** The router's probabilities [T, E] as its section defines them (e.g. softmax(z); noisy top-k: G). */
  probs: Float32Array;
  /**
   * dL/dlogits [T, E] from dL/dweight [A] (§0: selection is a constant). Dropped pairs contribute 0
   * whatever their dWeight, since their effective weight is 0.
   */
  backward(dWeight: Float32Array): Float32Array;
  /** dL/dnoiseLogits [T, E] (noisy top-k only). */
  backwardNoise?(dWeight: Float32Array): Float32Array;
  /** Noisy top-k internals for its load loss (§3): H [T, E] and ε [T, E]. */
  noisy?: { logits: Float32Array; eps: Float32Array };
}

/** One auxiliary loss of a layer: its unscaled value, its coefficient and d value/d logits [T, E]. */
export interface AuxLoss {
  name: string;
  value: number;
  coefficient: number;
  grad: Float32Array;
  /** d value/d noiseLogits [T, E] (noisy top-k load loss). */
  gradNoise?: Float32Array;
}

/** One routing method: one file, registered by one line in routers/index.ts. */
export interface RouterModule<C extends { type: string }> {
  /** Option keys accepted besides "type". */
  keys: readonly string[];
  /** Builds the config from a key-checked reader; `numExperts` counts all experts of the layer. */
  parse(r: ConfigReader, numExperts: number): C;
  route(logits: Float32Array, T: number, E: number, config: C, ctx: RouterContext): RouterOutput;
  auxLosses(out: RouterOutput, logits: Float32Array, T: number, E: number, config: C, ctx: RouterContext): AuxLoss[];
}
