// Tiny moekit models with a trained byte-level BPE tokenizer, written as run directories (config.json,
// model.safetensors, tokenizer.json), for the GGUF export tests.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM, parseModelConfig, toHfConfig } from '../../src/models/index.js';
import { trainTokenizer, type Tokenizer } from '../../src/data/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { TestRng } from '../helpers.js';

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. It\'s 2024, and the dogs don\'t mind!',
  'Mixture-of-experts models route each token to a few experts; llama.cpp runs them on a CPU.',
  'Numbers like 12345 and 6.78 split into digits,   spaces   and punctuation (as GPT-2 does).',
  'Ünïcode wörds, naïve café, 東京 and emoji 🙂 are bytes underneath.',
];
/** moekit's own tokenizer recipe (GPT-2 byte-level BPE): up to 320 ids (the corpus runs out of pairs first), <|endoftext|> last. */
export const tokenizer: Tokenizer = trainTokenizer(CORPUS, { vocabSize: 320 });

/**
 * A seeded DecoderLM whose weights are redrawn N(0, σ²) with σ large enough that logits spread over
 * several units: greedy tokens then vary and are far from ties, so rounding cannot flip them.
 */
export function makeModel(extra: Record<string, unknown>, seed: number): DecoderLM {
  const config = parseModelConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 64, intermediate_size: 48, num_hidden_layers: 3,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5,
    rope_theta: 10000, ...extra,
  });
  const model = new DecoderLM(config, { seed });
  const rng = new TestRng(seed);
  for (const [name, p] of model.params) {
    if (name.endsWith('norm.weight')) {
      for (let i = 0; i < p.data.length; i++) p.data[i] = 0.8 + 0.4 * rng.uniform();
      continue;
    }
    const fanIn = p.shape[p.shape.length - 1];
    const std = name.includes('embed_tokens') ? 1 : name === 'lm_head.weight' ? 4 / Math.sqrt(fanIn)
      : name.endsWith('mlp.gate.weight') ? 2 / Math.sqrt(fanIn) : 1.5 / Math.sqrt(fanIn);
    for (let i = 0; i < p.data.length; i++) p.data[i] = std * rng.normal();
  }
  return model;
}

/** A run directory holding `model` and the shared tokenizer. */
export function writeRunDir(model: DecoderLM): string {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-gguf-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(model.config)));
  writeSafetensors(join(dir, 'model.safetensors'), [...model.params].map(([name, p]) => ({ name, dtype: 'F32' as const, shape: [...p.shape], data: p.data })));
  tokenizer.save(join(dir, 'tokenizer.json'));
  return dir;
}

