// Generation loops. generateTokens: prompt → prefill → (sample → step)*, yielding token ids; it stops at
// an end-of-sequence id (not yielded) or after maxTokens. generateText streams text pieces through the
// detokenizer (complete UTF-8 only) and the stop strings (never returned, never partly emitted).
// Both are plain generators: a consumer that stops iterating stops generation, and a server can
// interleave several of them. Timings count the model and the sampler only, not the consumer.
import { ShapeError } from '../tensor/index.js';
import type { DecoderLM } from '../models/index.js';
import { Detokenizer, type TokenDecoder } from './detokenizer.js';
import { Sampler, type SamplingOptions } from './sampler.js';
import { DecodeSession } from './session.js';
import { StopStrings } from './stop.js';

export interface GenerateOptions {
  /** Most new tokens (≥ 1). */
  maxTokens: number;
  sampling: SamplingOptions;
  /** Token ids that end generation (not part of the output). */
  eosIds?: readonly number[];
  /** Strings that end generation (not part of the output); text only. */
  stop?: readonly string[];
}

/** Filled in as generation runs. finishReason: 'eos' (an end id), 'stop' (a stop string), 'length'. */
export interface GenerationStats {
  promptTokens: number;
  completionTokens: number;
  prefillSeconds: number;
  /** Decode steps run (each after a sampled token) and their seconds, sampling included. */
  decodeSteps: number;
  decodeSeconds: number;
  finishReason: 'eos' | 'stop' | 'length' | null;
}

export interface Generation<T> {
  stream: Generator<T, void, undefined>;
  stats: GenerationStats;
}

const now = () => performance.now() / 1000;

/** Token ids after `prompt` (ids [P], P ≥ 1). The KV cache is sized for P + maxTokens. */
export function generateTokens(model: DecoderLM, prompt: ArrayLike<number>, opts: GenerateOptions): Generation<number> {
  const P = prompt.length;
  const maxPos = model.config.max_position_embeddings;
  if (P === 0) throw new ShapeError('generate: the prompt has no tokens');
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) throw new ShapeError(`generate: maxTokens must be an integer >= 1 (got ${opts.maxTokens})`);
  if (P > maxPos) throw new ShapeError(`generate: the prompt has ${P} tokens; the model reads at most ${maxPos} positions (max_position_embeddings)`);
  const V = model.config.vocab_size;
  for (let i = 0; i < P; i++) {
    if (!Number.isInteger(prompt[i]) || prompt[i] < 0 || prompt[i] >= V) throw new ShapeError(`generate: prompt id ${prompt[i]} at ${i} is outside the vocabulary [0, ${V})`);
  }
  const stats: GenerationStats = {
    promptTokens: P, completionTokens: 0, prefillSeconds: 0, decodeSteps: 0, decodeSeconds: 0, finishReason: null,
  };
  // The last token sampled is never run, so P + maxTokens − 1 positions suffice; generation also stops
  // at the model's last position.
  const maxLen = Math.min(maxPos, P + opts.maxTokens - 1);
  function* stream(): Generator<number, void, undefined> {
    const session = new DecodeSession(model, maxLen);
    const sampler = new Sampler(opts.sampling, V, prompt);
    const eos = new Set(opts.eosIds ?? []);
    let t0 = now();
    let logits = session.prefill(Int32Array.from(prompt));
    let id = sampler.sample(logits);
    stats.prefillSeconds = now() - t0;
    for (;;) {
      if (eos.has(id)) {
        stats.finishReason = 'eos';
        return;
      }
      stats.completionTokens++;
      yield id;
      if (stats.completionTokens >= opts.maxTokens || session.length >= maxLen) {
        stats.finishReason = 'length';
        return;
      }
      t0 = now();
      logits = session.step(id);
      id = sampler.sample(logits);
      stats.decodeSeconds += now() - t0;
      stats.decodeSteps++;
    }
  }
  return { stream: stream(), stats };
}

/**
 * Text pieces after `prompt`; concatenated, they are the decoded completion up to (excluding) the first
 * stop string. Special tokens are skipped in the text.
 */
export function generateText(model: DecoderLM, tokenizer: TokenDecoder, prompt: ArrayLike<number>, opts: GenerateOptions): Generation<string> {
  const tokens = generateTokens(model, prompt, opts);
  const stops = new StopStrings(opts.stop ?? []);
  function* stream(): Generator<string, void, undefined> {
    // A few prompt tokens give the decoder its context (a leading-space rule, a character split across
    // the prompt's end).
    const detok = new Detokenizer(tokenizer, Array.from(prompt).slice(-4));
    for (const id of tokens.stream) {
      const piece = detok.push(id);
      if (piece === '') continue;
      const out = stops.push(piece);
      if (out.emit !== '') yield out.emit;
      if (out.stopped) {
        tokens.stream.return();
        tokens.stats.finishReason = 'stop';
        return;
      }
    }
    const tail = stops.push(detok.flush());
    const rest = tail.stopped ? tail.emit : tail.emit + stops.flush();
    if (tail.stopped) tokens.stats.finishReason = 'stop';
    if (rest !== '') yield rest;
  }
  return { stream: stream(), stats: tokens.stats };
}
