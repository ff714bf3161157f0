import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBrown } from '../../src/data/brown.js';
import { BYTE_ALPHABET, BYTE_TO_CHAR } from '../../src/data/bytelevel.js';
import { TokenizerError } from '../../src/data/errors.js';
import { END_OF_TEXT, Tokenizer } from '../../src/data/tokenizer.js';
import { trainTokenizer } from '../../src/data/train_tokenizer.js';

const texts = loadBrown().slice(0, 40).map((d) => d.text);
const tok = trainTokenizer(texts, { vocabSize: 1000 });

const HARD_TEXTS = [
  '',
  ' ',
  'Hello, world!',
  '\ufeffa leading byte-order mark',
  '  leading and trailing  ',
  'whitespace   runs\t\ttabs\n\n\nnewlines\r\n',
  'naïve café, Ünïcödé straße, Ελληνικά, русский',
  '日本語のテキスト 中文测试句子 한국어 문장',
  'emoji 😀🚀 👍🏽 family 👨‍👩‍👧‍👦',
  'function add(a, b) {\n\treturn a + b; // sum\n}\nconst x = [1, 2, 3].map((v) => v ** 2);',
  "it's we're they've I'm you'll he'd",
  '\u0000\u0001\u007f\u0085\u00a0\u2028\ufeff zero-width\u200bjoiner',
  'unpaired surrogate-free but rare: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ℌ ﬁ',
  `${END_OF_TEXT} written in text`,
];

test('tokenizer: trained GPT-2 style, specials after the merges', () => {
  assert.equal(tok.vocabSize, 1000);
  assert.equal(tok.specialId(END_OF_TEXT), 999);
  assert.equal(tok.idToToken(220), 'Ġ');
  assert.equal(tok.idToToken(256), 'Ġt'); // the most frequent English pair
});

test('tokenizer: encode → decode is exact for arbitrary text', () => {
  for (const text of HARD_TEXTS) {
    assert.equal(tok.decode(tok.encode(text)), text, JSON.stringify(text));
    assert.equal(tok.decode(tok.encode(text, { parseSpecial: false })), text, JSON.stringify(text));
  }
  assert.deepEqual(tok.encode(''), []);
  for (const text of texts.slice(0, 5)) assert.equal(tok.decode(tok.encode(text)), text);
});

test('tokenizer: special tokens in text are parsed unless told otherwise', () => {
  const eot = tok.specialId(END_OF_TEXT);
  const ids = tok.encode(`a${END_OF_TEXT}b`);
  assert.deepEqual(ids, [...tok.encode('a'), eot, ...tok.encode('b')]);
  assert.ok(!tok.encode(`a${END_OF_TEXT}b`, { parseSpecial: false }).includes(eot));
  assert.equal(tok.decode(ids, { skipSpecial: true }), 'ab');
});

test('tokenizer: invalid UTF-8 decodes to U+FFFD like HuggingFace', () => {
  const byteId = (b: number): number => BYTE_ALPHABET.indexOf(BYTE_TO_CHAR[b]);
  // 0xE6 0x97 starts a 3-byte character that never ends: one U+FFFD for the maximal subpart.
  assert.equal(tok.decode([byteId(0xe6), byteId(0x97), byteId(0x41)]), '\ufffdA');
  assert.equal(tok.decode([byteId(0xff)]), '\ufffd');
  assert.throws(() => tok.decode([5000]), TokenizerError);
});

test('tokenizer: save → load gives the same tokenizer.json and the same ids', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'moekit-tok-')), 'tokenizer.json');
  tok.save(path);
  const loaded = Tokenizer.load(path);
  assert.deepEqual(loaded.toJSON(), tok.toJSON());
  for (const text of [...HARD_TEXTS, ...texts.slice(0, 3)]) assert.deepEqual(loaded.encode(text), tok.encode(text));
});

test('tokenizer.json: HF layout, merges as "a b" strings, both merge forms load', () => {
  const json = tok.toJSON() as Record<string, any>;
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.model.merges[0], 'Ġ t');
  assert.deepEqual(json.pre_tokenizer, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
  assert.equal(json.decoder.type, 'ByteLevel');
  assert.deepEqual(json.added_tokens[0], {
    id: 999, content: END_OF_TEXT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  const pairs = { ...json, model: { ...json.model, merges: json.model.merges.map((m: string) => m.split(' ')) } };
  const text = texts[3].slice(0, 2000);
  assert.deepEqual(Tokenizer.fromJSON(pairs).encode(text), tok.encode(text));
});

test('tokenizer.json: unsupported components fail naming the field and the supported types', () => {
  const json = tok.toJSON() as Record<string, any>;
  const bad = (patch: Record<string, unknown>, message: RegExp): void =>
    assert.throws(() => Tokenizer.fromJSON({ ...json, ...patch }), (e: unknown) => e instanceof TokenizerError && message.test(e.message));
  bad({ pre_tokenizer: { type: 'Whitespace' } }, /pre_tokenizer\.type "Whitespace" is not supported; supported: ByteLevel, Split, Metaspace, Sequence/);
  bad({ pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }] } }, /pre_tokenizer\.pretokenizers\[0\]\.type "Whitespace"/);
  bad({ normalizer: { type: 'BertNormalizer' } },
    /normalizer\.type "BertNormalizer" is not supported; supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip/);
  // SentencePiece's charsmap: named as unsupported even inside a Sequence, never skipped.
  bad({ normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Precompiled', precompiled_charsmap: 'AAAA' }] } },
    /normalizer\.normalizers\[1\]\.type "Precompiled" \(a SentencePiece charsmap\) is not supported/);
  bad({ decoder: { type: 'WordPiece' } }, /decoder\.type "WordPiece" is not supported; supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace/);
  bad({ post_processor: { type: 'RobertaProcessing' } }, /post_processor\.type "RobertaProcessing" is not supported; supported: TemplateProcessing, ByteLevel, Sequence/);
  bad({ model: { type: 'Unigram' } }, /model\.type "Unigram" is not supported; supported: BPE/);
  bad({ model: { ...json.model, merges: ['Ġ t x'] } }, /model\.merges\[0\]/);
  bad({ model: { ...json.model, merges: [['q', 'zz']] } }, /"zz", which is not in model.vocab/);
  bad({ model: { ...json.model, merges: [['q']] } }, /model\.merges\[0\] = \["q"\]: expected/);
  bad({ model: { ...json.model, merges: 'Ġ t' } }, /model\.merges must be an array/);
  bad({ model: { ...json.model, byte_fallback: 'yes' } }, /model\.byte_fallback must be true or false/);
  // Flags that used to read anything but false as true.
  bad({ normalizer: { type: 'Strip', strip_left: 'no', strip_right: true } }, /normalizer\.strip_left must be true or false, got "no"/);
  bad({ decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: 0 } }, /decoder\.split must be true or false, got 0/);
  bad({ pre_tokenizer: { type: 'Split', pattern: { Regex: '(?i:[a-z])' }, behavior: 'Isolated' } }, /pre_tokenizer\.pattern\.Regex: regex .* has a letter in a \[class\] inside \(\?i:/);
  bad({ pre_tokenizer: { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated' } }, /pre_tokenizer\.pattern\.Regex: regex "\(" does not compile/);
  bad({ pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'sometimes' } }, /pre_tokenizer\.prepend_scheme "sometimes" is not one of always, first, never/);
  bad({ post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }], special_tokens: {} } },
    /template uses special token "<s>", which special_tokens lacks/);
});

test('pre-tokenizers: Split behaviors and Sequence, as HF documents them', () => {
  const split = (behavior: string, invert = false): string[] => {
    const t = Tokenizer.fromJSON({
      model: { type: 'BPE', vocab: {}, merges: [] },
      pre_tokenizer: { type: 'Split', pattern: { String: '-' }, behavior, invert },
    });
    const out: string[] = [];
    t.preTokenizer?.split('the-final--countdown', (p) => out.push(p));
    return out;
  };
  assert.deepEqual(split('Removed'), ['the', 'final', 'countdown']);
  assert.deepEqual(split('Isolated'), ['the', '-', 'final', '-', '-', 'countdown']);
  assert.deepEqual(split('MergedWithPrevious'), ['the-', 'final-', '-', 'countdown']);
  assert.deepEqual(split('MergedWithNext'), ['the', '-final', '-', '-countdown']);
  assert.deepEqual(split('Contiguous'), ['the', '-', 'final', '--', 'countdown']);
  assert.deepEqual(split('Removed', true), ['-', '-', '-']);
});

test('bpe: merges apply one at a time, lowest rank first, leftmost on ties (HF word.rs order)', () => {
  // Merge list where a merge creates a pair of *lower* rank: (ab, a) rank 0, (a, b) rank 1.
  const t = Tokenizer.fromJSON({
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, aba: 3 }, merges: ['ab a', 'a b'] },
  });
  // "abab": (a,b)@0 merges first (leftmost) → [ab, a, b]; the new (ab, a) has rank 0 and goes next →
  // [aba, b]. Merging every (a, b) at once would give [ab, ab].
  assert.deepEqual(t.encode('abab'), [3, 1]);
  assert.deepEqual(t.encode('aab'), [0, 2]);
});
