// The registry of HF architecture mappings and the detection rule of interop §3.10: `model_type` first,
// then the Dynamic-MoE special case (§3.5: it calls itself "llama").
import { ConfigError } from '../../tensor/index.js';
import { deepseek } from './deepseek.js';
import { deepseekV2, deepseekV3 } from './deepseek_v2.js';
import { dynmoe } from './dynmoe.js';
import { mixtral } from './mixtral.js';
import { llama, moekitMoe } from './moekit.js';
import { olmoe } from './olmoe.js';
import { qwen2Moe, qwen3Moe } from './qwen_moe.js';
import type { HfArchitecture } from './types.js';

export const HF_ARCHITECTURES: readonly HfArchitecture[] = [llama, moekitMoe, mixtral, olmoe, qwen2Moe, qwen3Moe, deepseek, deepseekV2, deepseekV3, dynmoe];

/** The mapping for a config.json (and the checkpoint's tensor names, for the Dynamic-MoE check). */
export function detectArchitecture(raw: Record<string, unknown>, tensorNames: readonly string[], where: string): HfArchitecture {
  const type = raw.model_type ?? 'llama'; // moekit's model config defaults to llama
  if (typeof type !== 'string') throw new ConfigError(`${where}: "model_type" must be a string, got ${JSON.stringify(type)}`);
  if (type === 'llama' && (raw.top_p_threshold !== undefined || tensorNames.some((n) => n.endsWith('.mlp.router.weight')))) return dynmoe;
  const arch = HF_ARCHITECTURES.find((a) => a.modelType === type && a !== dynmoe);
  if (!arch) {
    throw new ConfigError(`${where}: model_type "${type}" is not supported`,
      `supported: ${HF_ARCHITECTURES.filter((a) => a !== dynmoe).map((a) => a.modelType).join(', ')} (and Dynamic-MoE's llama variant)`);
  }
  return arch;
}

export type { HfArchitecture, NameRule } from './types.js';
export { HfConfigReader } from './config_reader.js';
