export { Sampler, GREEDY, argmax, checkSampling, type SamplingOptions } from './sampler.js';
export { generationDefaults, type GenerationDefaults } from './generation_config.js';
export { Detokenizer, type TokenDecoder } from './detokenizer.js';
export { StopStrings, type StopCheck } from './stop.js';
export { DecodeSession } from './session.js';
export { generateTokens, generateText, type Generation, type GenerateOptions, type GenerationStats } from './generate.js';
