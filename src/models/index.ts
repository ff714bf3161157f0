export { parseModelConfig, toHfConfig, checkKeys, MODEL_CONFIG_KEYS, type ModelConfig } from './config.js';
export { DecoderLM, denseFfn, type FeedForward, type FfnContext, type FfnFactory, type DecoderOptions } from './decoder.js';
