// `moekit generate`: text from a model directory, streamed to stdout as it is decoded (batch 1, KV
// cache), with a stats line on stderr. Greedy by default, so a run is reproducible without a seed.
import { dirname, join, resolve } from 'node:path';
import { backend } from '../backend/index.js';
import { ConfigError } from '../tensor/index.js';
import { loadModel, type LoadedModel } from '../io/load.js';
import { END_OF_TEXT, loadHfTokenizer, type HfTokenizer } from '../data/index.js';
import { checkSampling, generateText, generationDefaults, type GenerationStats, type SamplingOptions } from '../generate/index.js';
import type { Command } from './command.js';
import { intFlag, numberFlag, parseFlags, stringFlag, UsageError } from './args.js';
import { THREADS_FLAG, THREADS_USAGE, applyThreadsFlag } from './threads_flag.js';
import { WEIGHTS_FLAG, WEIGHTS_USAGE, weightsFromFlags } from './weights_flag.js';

/** What `moekit generate --json` prints. */
export interface GenerateReport {
  text: string;
  finish_reason: GenerationStats['finishReason'];
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: { prefill_tok_per_s: number; decode_tok_per_s: number | null; prefill_ms: number; decode_ms: number };
}

const USAGE = `moekit generate --model DIR --prompt TEXT [options]

  --model DIR        a model directory (config.json, model.safetensors, tokenizer.json)
  --prompt TEXT      the text to continue
  --max-tokens N     most new tokens (default: max_new_tokens, else 128; at most max_length − prompt)
  --temperature T    0 = greedy, the most likely token every step; > 0 samples from softmax(logits / T)
                     (default: greedy, unless generation_config.json has do_sample: true)
  --top-k K          sample among the K most likely tokens only (0 = off)
  --top-p P          nucleus sampling: the fewest most likely tokens holding probability P (1 = off)
  --repetition-penalty R
                     logits of tokens already in the context ÷ R (if > 0) or × R (1 = off)
  --seed S           seed of the sampler (default 0): the same seed, model and flags give the same text
  --stop STR         stop before the first occurrence of STR (repeatable; STR is not printed)
  --chat             send the prompt as a user message through the model's chat template
                     (tokenizer_config.json chat_template or chat_template.jinja)
  --json             print one JSON object at the end instead of streaming
                     {text, finish_reason, usage: {prompt_tokens, completion_tokens}, timings}
${THREADS_USAGE}
${WEIGHTS_USAGE}

Defaults come from the model's generation_config.json as transformers reads it (do_sample, temperature,
top_k, top_p, repetition_penalty, max_new_tokens, max_length; a sampling file's omitted fields take
transformers' defaults, e.g. top_k 50); without one, greedy, 128 tokens. Each flag overrides its field.
Generation also ends at the model's end-of-sequence ids (eos_token_id of config.json and
generation_config.json, tokenizer_config.json's eos_token, the tokenizer's ${END_OF_TEXT}). finish_reason: eos, stop (a --stop string) or length.`;

export const generateCommand: Command = {
  name: 'generate',
  summary: 'generate text from a model (KV cache, greedy / temperature / top-k / top-p, stop strings, streaming)',
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags('generate', argv, {
      model: { type: 'string' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string' },
      temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
      'repetition-penalty': { type: 'string' },
      stop: { type: 'string', multiple: true }, chat: { type: 'boolean' }, json: { type: 'boolean' },
      ...THREADS_FLAG, ...WEIGHTS_FLAG,
    });
    const dir = stringFlag(values.model);
    if (!dir) throw new UsageError('moekit generate: --model DIR is required', 'see moekit generate --help');
    const prompt = stringFlag(values.prompt);
    if (prompt === undefined) throw new UsageError('moekit generate: --prompt TEXT is required');
    const maxTokensFlag = intFlag('generate', 'max-tokens', values['max-tokens']);
    const flags = {
      temperature: numberFlag('generate', 'temperature', values.temperature),
      topK: intFlag('generate', 'top-k', values['top-k'], 0),
      topP: numberFlag('generate', 'top-p', values['top-p']),
      repetitionPenalty: numberFlag('generate', 'repetition-penalty', values['repetition-penalty']),
      seed: intFlag('generate', 'seed', values.seed, 0) ?? 0,
    };
    checkFlags({ temperature: flags.temperature ?? 0, topK: flags.topK ?? 0, topP: flags.topP ?? 1, repetitionPenalty: flags.repetitionPenalty ?? 1, seed: flags.seed });
    const stop = (values.stop as string[] | undefined) ?? [];
    if (stop.includes('')) throw new UsageError('moekit generate: --stop needs a non-empty string');
    applyThreadsFlag('generate', values);

    const loaded = loadModel(resolve(dir), { weights: weightsFromFlags(values) });
    if (!loaded.tokenizerPath) throw new ConfigError(`${dir} has no tokenizer.json`, 'moekit generate needs the model\'s tokenizer');
    // tokenizer_config.json's BOS/EOS, add_bos_token and added tokens apply, as in transformers.
    const hf = loadHfTokenizer(dirname(loaded.tokenizerPath));
    const tokenizer = hf.tokenizer;
    const promptIds = values.chat ? chatPromptIds(loaded, hf, prompt) : tokenizer.encode(prompt);
    if (promptIds.length === 0) throw new UsageError('moekit generate: the prompt is empty (it encodes to no tokens)');
    const defaults = generationDefaults(loaded.generationConfig, join(loaded.dir, 'generation_config.json'));
    const sampling: SamplingOptions = {
      temperature: flags.temperature ?? defaults.sampling.temperature,
      topK: flags.topK ?? defaults.sampling.topK,
      topP: flags.topP ?? defaults.sampling.topP,
      repetitionPenalty: flags.repetitionPenalty ?? defaults.sampling.repetitionPenalty,
      seed: flags.seed,
    };
    const fromFile = Math.min(defaults.maxNewTokens ?? 128, defaults.maxLength === null ? Infinity : defaults.maxLength - promptIds.length);
    const maxTokens = maxTokensFlag ?? Math.max(1, fromFile);

    const gen = generateText(loaded.model, tokenizer, promptIds, { maxTokens, sampling, stop, eosIds: eosIds(loaded, hf) });
    let text = '';
    for (const piece of gen.stream) {
      if (values.json) text += piece;
      else process.stdout.write(piece);
    }
    const s = gen.stats;
    const prefillRate = s.promptTokens / s.prefillSeconds;
    const decodeRate = s.decodeSteps > 0 ? s.decodeSteps / s.decodeSeconds : null;
    if (values.json) {
      const report: GenerateReport = {
        text, finish_reason: s.finishReason,
        usage: { prompt_tokens: s.promptTokens, completion_tokens: s.completionTokens },
        timings: {
          prefill_tok_per_s: Math.round(prefillRate), decode_tok_per_s: decodeRate === null ? null : Math.round(decodeRate),
          prefill_ms: +(s.prefillSeconds * 1000).toFixed(2), decode_ms: +(s.decodeSeconds * 1000).toFixed(2),
        },
      };
      process.stdout.write(JSON.stringify(report) + '\n');
    } else if (process.stdout.isTTY) {
      process.stdout.write('\n');
    }
    process.stderr.write(`moekit generate: ${s.promptTokens} prompt tokens, prefill ${Math.round(prefillRate)} tok/s; ` +
      `${s.completionTokens} new tokens, decode ${decodeRate === null ? '-' : Math.round(decodeRate)} tok/s ` +
      `(${backend().name}, ${backend().threads()} thread${backend().threads() === 1 ? '' : 's'}, ${loaded.model.weights} weights); finish: ${s.finishReason}\n`);
  },
};

/** The flags' sampling options, checked before the model loads (generation_config.json's are checked as it is read). */
function checkFlags(sampling: SamplingOptions): void {
  try {
    checkSampling(sampling);
  } catch (e) {
    throw new UsageError(`moekit generate: ${(e as Error).message}`);
  }
}

/**
 * The prompt as one user message in the model's chat template, ending with the assistant's header. The
 * rendered text already holds the template's BOS, so it is encoded without the post-processor's.
 */
function chatPromptIds(loaded: LoadedModel, hf: HfTokenizer, prompt: string): number[] {
  if (!hf.chatTemplate) {
    throw new ConfigError(`${loaded.dir}: this model directory has no chat template`,
      'tokenizer_config.json "chat_template" or chat_template.jinja holds one; run without --chat to continue the prompt as plain text');
  }
  const text = hf.chatTemplate.render([{ role: 'user', content: prompt }], { addGenerationPrompt: true, bosToken: hf.bosToken, eosToken: hf.eosToken });
  return hf.tokenizer.encode(text, { addSpecial: false });
}

/** End-of-sequence ids: config.json's, generation_config.json's, tokenizer_config.json's, and the tokenizer's END_OF_TEXT. */
function eosIds(loaded: LoadedModel, hf: HfTokenizer): number[] {
  const ids = new Set([...loaded.eosTokenIds, ...hf.eosTokenIds]);
  const eot = hf.tokenizer.tokenToId(END_OF_TEXT);
  if (eot !== undefined) ids.add(eot);
  return [...ids];
}
