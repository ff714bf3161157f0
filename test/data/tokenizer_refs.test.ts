// The oracle: tokenizer.json files built and trained by HuggingFace tokenizers 0.23 in the layouts of
// interop.md §4.9, with its own outputs for ~28 tricky strings each (scripts/ref/make_tokenizer_refs.py,
// test/fixtures/tokenizers/<name>/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Tokenizer } from '../../src/data/tokenizer.js';
import { FIXTURES } from './tokenizer_fixtures.js';

interface Case {
  text: string;
  ids: number[];
  tokens: string[];
  ids_no_special: number[];
  ids_specials_as_text: number[];
  decoded: string | null; // null: tokenizers itself panics there (its Strip decoder on no tokens)
  decoded_skip_special: string | null;
}

interface Reference {
  cases: Case[];
  /** Id lists with invalid UTF-8 byte runs: ByteFallback gives one U+FFFD per byte, ByteLevel one per maximal subpart. */
  decode_cases: { ids: number[]; decoded: string }[];
  special_tokens: Record<string, number>;
  vocab_size_with_added: number;
}

const NAMES = {
  llama2_prepend: 'Llama-2 tokenizers-era: Prepend+Replace normalizer, byte_fallback, fuse_unk, <s> template',
  llama2_metaspace: 'Llama-2 transformers-5: Metaspace prepend_scheme first, split false',
  metaspace_always: 'Metaspace always+split, Strip and Regex Replace normalizers, Metaspace decoder, normalized added token',
  llama3: 'Llama-3: Split with (?i:) regex + ByteLevel, ignore_merges, lstrip/rstrip and single_word added tokens',
  qwen2: 'Qwen2: NFC + Split(Qwen regex) + ByteLevel, no BOS',
  legacy_merges: 'legacy "a b" merges, unk + fuse_unk, ## prefix, </w> suffix, NFKD/Lowercase/Strip, pair template',
};

const readRef = (name: string): Reference => JSON.parse(readFileSync(`${FIXTURES}${name}/reference.json`, 'utf8')) as Reference;
const readJson = (name: string): Record<string, any> => JSON.parse(readFileSync(`${FIXTURES}${name}/tokenizer.json`, 'utf8'));

for (const [name, what] of Object.entries(NAMES)) {
  test(`tokenizer refs ${name}: ${what}`, () => {
    const tok = Tokenizer.load(`${FIXTURES}${name}/tokenizer.json`);
    const ref = readRef(name);
    assert.equal(tok.vocabSize, ref.vocab_size_with_added);
    for (const [content, id] of Object.entries(ref.special_tokens)) assert.equal(tok.tokenToId(content), id, content);
    assert.ok(ref.cases.length >= 25);
    for (const c of ref.cases) {
      const what = `${name} ${JSON.stringify(c.text)}`;
      assert.deepEqual(tok.encode(c.text), c.ids, what);
      assert.deepEqual(c.ids.map((id) => tok.idToToken(id)), c.tokens, what);
      assert.deepEqual(tok.encode(c.text, { addSpecial: false }), c.ids_no_special, what);
      assert.deepEqual(tok.encode(c.text, { addSpecial: false, parseSpecial: false }), c.ids_specials_as_text, what);
      if (c.decoded !== null) assert.equal(tok.decode(c.ids), c.decoded, what);
      if (c.decoded_skip_special !== null) assert.equal(tok.decode(c.ids, { skipSpecial: true }), c.decoded_skip_special, what);
    }
    for (const d of ref.decode_cases) assert.equal(tok.decode(d.ids), d.decoded, `${name} decode ${JSON.stringify(d.ids)}`);
  });
}

test('tokenizer refs: every fixture survives toJSON → fromJSON with the same ids and decodes', () => {
  for (const name of Object.keys(NAMES)) {
    const tok = Tokenizer.fromJSON(Tokenizer.load(`${FIXTURES}${name}/tokenizer.json`).toJSON());
    for (const c of readRef(name).cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, `${name} ${JSON.stringify(c.text)}`);
      if (c.decoded !== null) assert.equal(tok.decode(c.ids), c.decoded, `${name} ${JSON.stringify(c.text)}`);
    }
  }
});

test('tokenizer refs: legacy merges with a "#version" line and pair-form merges encode the same', () => {
  const json = readJson('legacy_merges');
  assert.equal(typeof json.model.merges[0], 'string'); // the fixture really is in the legacy form
  const withVersion = Tokenizer.fromJSON({ ...json, model: { ...json.model, merges: ['#version: 0.2', ...json.model.merges] } });
  const pairs = Tokenizer.fromJSON({ ...json, model: { ...json.model, merges: json.model.merges.map((m: string) => m.split(' ')) } });
  for (const c of readRef('legacy_merges').cases) {
    assert.deepEqual(withVersion.encode(c.text), c.ids, JSON.stringify(c.text));
    assert.deepEqual(pairs.encode(c.text), c.ids, JSON.stringify(c.text));
  }
});

test('tokenizer refs: a pair goes through the pair template ([CLS] $A [SEP] $B [SEP])', () => {
  const tok = Tokenizer.load(`${FIXTURES}legacy_merges/tokenizer.json`);
  const ref = readRef('legacy_merges');
  const a = ref.cases.find((c) => c.text === 'Hello world') as Case;
  const b = ref.cases.find((c) => c.text === 'the zebra zone') as Case;
  const [cls, sep] = [ref.special_tokens['[CLS]'], ref.special_tokens['[SEP]']];
  // single = [CLS] $A [SEP] (from HF's ids); pair = [CLS] $A [SEP] $B [SEP] (the template in tokenizer.json)
  assert.deepEqual(a.ids, [cls, ...a.ids_no_special, sep]);
  assert.deepEqual(tok.postProcessor?.process(a.ids_no_special, b.ids_no_special), [cls, ...a.ids_no_special, sep, ...b.ids_no_special, sep]);
});

test('tokenizer refs: a document of 200k tokens goes through the template (no call-stack overflow)', () => {
  const tok = Tokenizer.load(`${FIXTURES}llama2_prepend/tokenizer.json`);
  const ref = readRef('llama2_prepend');
  const hello = ref.cases.find((c) => c.text === 'Hello world') as Case; // [<s>, ▁Hello, ▁world]
  const ids = tok.encode(`Hello world${' Hello world'.repeat(100_000)}`);
  assert.equal(ids.length, 1 + 2 * 100_001);
  assert.deepEqual(ids.slice(0, 3), hello.ids);
  assert.deepEqual(ids.slice(-2), hello.ids_no_special);
});
