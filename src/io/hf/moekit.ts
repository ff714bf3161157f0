// moekit's own run directories: config.json is moekit's model config (HF llama field names plus the MoE
// section, src/models/config.ts), validated strictly by parseModelConfig. A plain HF `llama` config is a
// subset of it, so the `llama` mapping reads it the same way (an unknown key is an error, not dropped).
import type { HfArchitecture } from './types.js';

const identity: Omit<HfArchitecture, 'modelType' | 'architecture'> = {
  config: (r) => r.raw,
  names: [],
};

export const llama: HfArchitecture = { modelType: 'llama', architecture: 'LlamaForCausalLM', ...identity };
export const moekitMoe: HfArchitecture = { modelType: 'moekit_moe', architecture: 'MoekitMoeForCausalLM', ...identity };
