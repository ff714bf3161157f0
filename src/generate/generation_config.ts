// The decoding defaults a model ships in generation_config.json (interop §3.8), read as transformers reads
// them: do_sample false (or absent) is greedy whatever the temperature; do_sample true samples with the
// file's temperature, top_k and top_p, transformers' defaults (1.0, 50, 1.0) standing in for what it
// leaves out; repetition_penalty applies either way. max_new_tokens is the default length, and
// max_length (which counts the prompt) caps it. A request (a CLI flag) overrides each field.
import { ConfigError } from '../tensor/index.js';
import type { SamplingOptions } from './sampler.js';

export interface GenerationDefaults {
  sampling: Omit<SamplingOptions, 'seed'>;
  /** max_new_tokens, or null. */
  maxNewTokens: number | null;
  /** max_length (prompt included), or null. */
  maxLength: number | null;
}

/** transformers' GenerationConfig defaults for the fields a sampling file may omit. */
const HF_SAMPLING = { temperature: 1, topK: 50, topP: 1 };

/** `file` is generation_config.json's parsed content (null without one); `where` names it in errors. */
export function generationDefaults(file: Record<string, unknown> | null, where: string): GenerationDefaults {
  const g = file ?? {};
  const num = (key: string, ok: (x: number) => boolean, what: string): number | null => {
    const v = g[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !ok(v)) throw new ConfigError(`${where}: "${key}" must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const doSample = g.do_sample;
  if (doSample !== undefined && doSample !== null && typeof doSample !== 'boolean') {
    throw new ConfigError(`${where}: "do_sample" must be true or false, got ${JSON.stringify(doSample)}`);
  }
  // A greedy file may say temperature 0 (transformers only warns: the field is unused without sampling).
  const temperature = num('temperature', (x) => (x > 0 || (x === 0 && doSample !== true)) && Number.isFinite(x), 'a number > 0');
  const topK = num('top_k', (x) => Number.isInteger(x) && x >= 0, 'an integer >= 0');
  const topP = num('top_p', (x) => x > 0 && x <= 1, 'a number in (0, 1]');
  const repetitionPenalty = num('repetition_penalty', (x) => x > 0 && Number.isFinite(x), 'a number > 0') ?? 1;
  const sampling = doSample === true
    ? { temperature: temperature ?? HF_SAMPLING.temperature, topK: topK ?? HF_SAMPLING.topK, topP: topP ?? HF_SAMPLING.topP, repetitionPenalty }
    : { temperature: 0, topK: 0, topP: 1, repetitionPenalty };
  return {
    sampling,
    maxNewTokens: num('max_new_tokens', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
    maxLength: num('max_length', (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1'),
  };
}
