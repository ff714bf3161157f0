// Each normalizer, pre-tokenizer and decoder on its own, against what HuggingFace tokenizers 0.23's
// normalize_str / pre_tokenize_str / decode return for the same JSON (test/fixtures/tokenizers/components.json,
// scripts/ref/make_tokenizer_refs.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { decoderFromJSON } from '../../src/data/decoders.js';
import { normalizerFromJSON } from '../../src/data/normalizers.js';
import { preTokenizerFromJSON } from '../../src/data/pretokenizers.js';
import { FIXTURES } from './tokenizer_fixtures.js';

interface Component<T> {
  name: string;
  json: unknown;
  outputs: T[];
}

const ref = JSON.parse(readFileSync(`${FIXTURES}components.json`, 'utf8')) as {
  texts: string[];
  token_lists: string[][];
  normalizers: Component<string>[];
  pre_tokenizers: Component<string[]>[];
  decoders: Component<string>[];
};

test('components: normalizers (NFC/NFD/NFKC/NFKD, Lowercase, Strip, Prepend, Replace, Sequence) as HF', () => {
  assert.ok(ref.normalizers.length >= 11);
  for (const c of ref.normalizers) {
    const n = normalizerFromJSON(c.json);
    ref.texts.forEach((text, i) => assert.equal(n.normalize(text), c.outputs[i], `${c.name} ${JSON.stringify(text)}`));
    assert.deepEqual(normalizerFromJSON(n.toJSON()).normalize(ref.texts[3]), c.outputs[3], `${c.name} toJSON`);
  }
});

test('components: pre-tokenizers (Metaspace schemes × split, Split behaviors × invert, ByteLevel, Sequence) as HF', () => {
  assert.ok(ref.pre_tokenizers.length >= 20);
  for (const c of ref.pre_tokenizers) {
    const p = preTokenizerFromJSON(c.json);
    ref.texts.forEach((text, i) => {
      const pieces: string[] = [];
      p.split(text, (piece) => pieces.push(piece));
      assert.deepEqual(pieces, c.outputs[i], `${c.name} ${JSON.stringify(text)}`);
    });
  }
});

test('components: decoders (Metaspace, Strip, Replace, ByteFallback, Fuse, Sequence) as HF', () => {
  assert.ok(ref.decoders.length >= 7);
  for (const c of ref.decoders) {
    const d = decoderFromJSON(c.json);
    ref.token_lists.forEach((tokens, i) => assert.equal(d.decodeChain(tokens).join(''), c.outputs[i], `${c.name} ${JSON.stringify(tokens)}`));
  }
});
