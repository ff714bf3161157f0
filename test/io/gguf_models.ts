// Tiny moekit models with a trained byte-level BPE tokenizer, written as run directories (config.json,
// model.safetensors, tokenizer.json), for the GGUF export tests.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM, parseModelConfig, toHfConfig } from '../../src/models/index.js';
import { Tokenizer, trainTokenizer } from '../../src/data/index.js';
import { writeSafetensors } from '../../src/io/safetensors/index.js';
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


/**
 * A 96-id byte-level BPE tokenizer for the committed HF fixtures (vocab_size 96): the 95 printable ASCII
 * bytes (ids 0..94, space as the byte-level 'Ġ') with no merges, and <|endoftext|> as id 95. It encodes
 * printable ASCII text only.
 */
export const asciiTokenizer: Tokenizer = (() => {
  const json = tokenizer.toJSON() as Record<string, unknown> & { added_tokens: Record<string, unknown>[]; model: Record<string, unknown> };
  const vocab: Record<string, number> = {};
  for (let b = 0x20; b <= 0x7e; b++) vocab[b === 0x20 ? '\u0120' : String.fromCharCode(b)] = b - 0x20;
  const eot = { ...json.added_tokens[0], id: 95 };
  return Tokenizer.fromJSON({ ...json, added_tokens: [eot], model: { ...json.model, vocab: { ...vocab, '<|endoftext|>': 95 }, merges: [] } });
})();

/**
 * A copy of HF fixture directory `dir` with `asciiTokenizer` beside it (a GGUF embeds the tokenizer), its
 * config.json keys replaced by `configPatch`'s.
 */
export function withAsciiTokenizer(dir: string, configPatch: Record<string, unknown> = {}): string {
  const out = mkdtempSync(join(tmpdir(), 'moekit-gguf-hf-'));
  cpSync(dir, out, { recursive: true });
  asciiTokenizer.save(join(out, 'tokenizer.json'));
  const config = join(out, 'config.json');
  writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), ...configPatch }));
  return out;
}
