// One HuggingFace architecture = one small mapping (design.md "one file per architecture mapping",
// mlx-lm's `sanitize`): how its config.json becomes a moekit model config, and how its tensor names map
// onto moekit's parameter names (which are HF llama / qwen-MoE names, interop §3.3–§3.4).
import type { ModelConfig } from '../../models/index.js';
import type { HfConfigReader } from './config_reader.js';

/** A tensor-name rewrite: `pattern` on one side, `$1`-style template on the other (both directions). */
export interface NameRule {
  /** The name as the checkpoint stores it, e.g. `model.layers.(\d+).block_sparse_moe.gate.weight`. */
  hf: string;
  /** The moekit parameter name, e.g. `model.layers.$1.mlp.gate.weight`. */
  moekit: string;
}

export interface HfArchitecture {
  /** The `model_type` this mapping reads (the registry key; Dynamic-MoE is detected, interop §3.5). */
  modelType: string;
  /** `architectures[0]` written on export. */
  architecture: string;
  /** config.json → the raw moekit model config (validated afterwards by parseModelConfig). */
  config(r: HfConfigReader): Record<string, unknown>;
  /** Renames beyond the shared llama names; the first match wins. */
  names: readonly NameRule[];
  /** config.json written by `convert --to hf` (the inverse of `config`), for models this mapping can hold. */
  exportConfig?(c: ModelConfig): Record<string, unknown>;
}
