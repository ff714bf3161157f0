// --weights, shared by the inference commands (generate, inspect, eval): how a loaded model holds its
// Linear and expert weights.
import { parseWeightsOption, type WeightsOption } from '../io/load.js';
import { stringFlag, UsageError } from './args.js';

export const WEIGHTS_FLAG = { weights: { type: 'string' } } as const;

export const WEIGHTS_USAGE = `  --weights DTYPE    how weight matrices (Linear, experts, embedding) are held: auto (default: the checkpoint's bf16 or f16
                     when all its matrices have it, else f32; exact either way), f32, bf16 or f16
                     (16-bit halves the memory and the bytes each decode step reads; rounds f32 weights)`;

export function weightsFromFlags(values: Record<string, unknown>): WeightsOption {
  const value = stringFlag(values.weights) ?? 'auto';
  try {
    return parseWeightsOption(value, '--weights');
  } catch (e) {
    throw new UsageError((e as Error).message, 'use auto, f32, bf16 or f16');
  }
}
