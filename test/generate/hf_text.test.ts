// Streaming text with a SentencePiece-BPE tokenizer (Llama-2 / Mixtral style: "▁" for spaces, byte
// fallback <0xNN> tokens for characters outside the vocabulary, a decoder that strips the first leading
// space): sampled generations of a random model, whose tokens include byte pieces of multi-byte
// characters, must stream pieces that extend the prompt's text exactly as decoding prompt + completion
// at once does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadHfTokenizer } from '../../src/data/index.js';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { generateText, generateTokens, type GenerateOptions } from '../../src/generate/index.js';

const TOKENIZER = fileURLToPath(new URL('../../../test/fixtures/tokenizers/hf_mixtral_style/', import.meta.url));

test('SentencePiece-BPE streaming: decode(prompt) + pieces = decode(prompt + completion), pieces never end mid-character', () => {
  const { tokenizer } = loadHfTokenizer(TOKENIZER);
  const model = new DecoderLM(parseModelConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2,
    num_key_value_heads: 1, max_position_embeddings: 96, initializer_range: 0.5,
  }), { seed: 4 });
  const prompt = tokenizer.encode('Grüße, the café — ');
  let sawBytePiece = false;
  for (const seed of [1, 2, 3, 4, 5]) {
    const opts: GenerateOptions = { maxTokens: 40, sampling: { temperature: 1.5, topK: 0, topP: 1, seed } };
    const ids = [...generateTokens(model, prompt, opts).stream];
    sawBytePiece ||= ids.some((id) => /^<0x[0-9A-F]{2}>$/.test(tokenizer.idToToken(id) ?? ''));
    const pieces = [...generateText(model, tokenizer, prompt, opts).stream];
    for (const p of pieces.slice(0, -1)) assert.ok(!p.endsWith('\uFFFD'), `a piece ends mid-character: ${JSON.stringify(p)}`);
    const full = tokenizer.decode([...prompt, ...ids], { skipSpecial: true });
    const head = tokenizer.decode(prompt, { skipSpecial: true });
    assert.equal(head + pieces.join(''), full, `seed ${seed}`);
  }
  assert.ok(sawBytePiece, 'the sampled completions include byte-fallback tokens');
});
