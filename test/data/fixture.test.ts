// The independent oracle: a tokenizer.json written by HuggingFace tokenizers 0.23 and its outputs
// (shared/fixtures/tokenizer_bpe, see fixtures/README.md).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { Tokenizer } from '../../src/data/tokenizer.js';

// dist/test/data/ → the repository root → ../shared/fixtures
const dir = fileURLToPath(new URL('../../../../shared/fixtures/tokenizer_bpe/', import.meta.url));
const skip = existsSync(dir) ? false : `fixtures not found at ${dir}`;

interface Case {
  text: string;
  ids: number[];
  tokens: string[];
  ids_no_special: number[];
  decoded: string;
  decoded_skip_special: string;
  decoded_no_special: string;
}

test('fixture tokenizer_bpe: every reference case encodes and decodes as HuggingFace does', { skip }, () => {
  const tok = Tokenizer.load(`${dir}tokenizer.json`);
  const ref = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8')) as {
    cases: Case[];
    special_tokens: Record<string, number>;
    vocab_size_with_added: number;
  };
  assert.equal(tok.vocabSize, ref.vocab_size_with_added);
  for (const [content, id] of Object.entries(ref.special_tokens)) assert.equal(tok.specialId(content), id);
  assert.equal(ref.cases.length, 35);
  for (const c of ref.cases) {
    const what = JSON.stringify(c.text);
    assert.deepEqual(tok.encode(c.text), c.ids, what);
    assert.deepEqual(tok.encode(c.text, { addSpecial: false }), c.ids_no_special, what);
    assert.deepEqual(c.ids.map((id) => tok.idToToken(id)), c.tokens, what);
    assert.equal(tok.decode(c.ids), c.decoded, what);
    assert.equal(tok.decode(c.ids, { skipSpecial: true }), c.decoded_skip_special, what);
    assert.equal(tok.decode(c.ids_no_special), c.decoded_no_special, what);
  }
});

test('fixture tokenizer_bpe: save → load keeps every encoding', { skip }, () => {
  const tok = Tokenizer.load(`${dir}tokenizer.json`);
  const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  const ref = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8')) as { cases: Case[] };
  for (const c of ref.cases) assert.deepEqual(again.encode(c.text), c.ids, JSON.stringify(c.text));
});
