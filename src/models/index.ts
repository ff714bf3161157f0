export { parseModelConfig, toHfConfig, checkKeys, expertsPerLayer, moeLayerIndices, MODEL_CONFIG_KEYS, ROPE_TYPES, type ModelConfig, type RopeScaling, type MoeConfig } from './config.js';
export { DecoderLM, defaultFfn, ropeScalingRule, type FfnFactory, type DecoderOptions, type ForwardOptions, type LossResult } from './decoder.js';
