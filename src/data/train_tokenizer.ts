// Train moekit's tokenizer: GPT-2's recipe (ByteLevel pre-tokenizer with the GPT-2 regex, byte-level
// BPE, ByteLevel decoder), special tokens appended after the merges. The result is an ordinary
// tokenizer.json that HuggingFace tokenizers loads (same layout as fixtures/tokenizer_bpe).
import { AddedTokens } from './added_tokens.js';
import { BpeModel } from './bpe.js';
import { trainBpe } from './bpe_trainer.js';
import { ByteLevelDecoder } from './decoders.js';
import { TokenizerError } from './errors.js';
import { ByteLevelPostProcessor } from './postprocessors.js';
import { ByteLevelPreTokenizer } from './pretokenizers.js';
import { END_OF_TEXT, Tokenizer } from './tokenizer.js';

export const DEFAULT_VOCAB_SIZE = 4096;

export interface TrainTokenizerOptions {
  /** Total ids including the special tokens (default 4096). Fewer if the text runs out of pairs seen twice. */
  vocabSize?: number;
  minFrequency?: number;
  /** Added after the merges, in order (default [END_OF_TEXT]). */
  specialTokens?: string[];
  onProgress?: (stage: 'count-words' | 'merge', fraction: number) => void;
}

export function trainTokenizer(texts: readonly string[], opts: TrainTokenizerOptions = {}): Tokenizer {
  const vocabSize = opts.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const specials = opts.specialTokens ?? [END_OF_TEXT];
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length) {
    throw new TokenizerError(`vocab size must be an integer ≥ ${256 + specials.length} (256 bytes + special tokens), got ${vocabSize}`);
  }
  const preTokenizer = new ByteLevelPreTokenizer({ addPrefixSpace: false });

  // Words are counted once each; special-token strings inside the text stay plain text.
  const counts = new Map<string, number>();
  texts.forEach((text, i) => {
    preTokenizer.split(text, (w) => counts.set(w, (counts.get(w) ?? 0) + 1));
    if (opts.onProgress && (i % 16 === 15 || i === texts.length - 1)) opts.onProgress('count-words', (i + 1) / texts.length);
  });

  const { tokens, merges } = trainBpe(counts, {
    vocabSize: vocabSize - specials.length,
    minFrequency: opts.minFrequency,
    onProgress: (f) => opts.onProgress?.('merge', f),
  });
  return new Tokenizer({
    model: new BpeModel(new Map(tokens.map((t, i) => [t, i])), merges),
    preTokenizer,
    decoder: new ByteLevelDecoder(),
    postProcessor: new ByteLevelPostProcessor(),
    added: new AddedTokens(specials.map((content, i) => ({ id: tokens.length + i, content, special: true }))),
  });
}
