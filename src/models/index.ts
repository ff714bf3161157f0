export { parseModelConfig, toHfConfig, checkKeys, expertsPerLayer, moeLayerIndices, MODEL_CONFIG_KEYS, type ModelConfig, type MoeConfig } from './config.js';
export { DecoderLM, defaultFfn, type FfnFactory, type DecoderOptions, type ForwardOptions, type LossResult } from './decoder.js';
