import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainBpe } from '../../src/data/bpe_trainer.js';

// Sennrich et al.'s example. Pair counts: e-s 9, s-t 9, w-e 8, l-o 7, o-w 7, n-e 6, e-w 6, ...
// Worked by hand: highest count first, ties → the smallest (left, right) strings.
const WORDS = new Map([['low', 5], ['lower', 2], ['newest', 6], ['widest', 3]]);
const EXPECTED = [
  ['e', 's'], // 9, ties s-t 9; "e" < "s"
  ['es', 't'], // 9
  ['l', 'o'], // 7, ties o-w 7
  ['lo', 'w'], // 7
  ['e', 'w'], // 6, ties n-e and w-est
  ['ew', 'est'], // 6, ties n-ew
  ['n', 'ewest'], // 6
  ['d', 'est'], // 3, ties i-d and w-i
  ['i', 'dest'], // 3
  ['w', 'idest'], // 3
  ['e', 'r'], // 2, ties low-e
  ['low', 'er'], // 2; then every word is one token
];

test('bpe training: hand-checked merges, then it stops when no pair is left', () => {
  const { tokens, merges } = trainBpe(WORDS, { vocabSize: 1000 });
  assert.deepEqual(merges, EXPECTED);
  assert.equal(tokens.length, 256 + EXPECTED.length);
  assert.deepEqual(tokens.slice(256), EXPECTED.map(([a, b]) => a + b));
});

test('bpe training: vocab size caps the merges; word order does not matter', () => {
  assert.deepEqual(trainBpe(WORDS, { vocabSize: 259 }).merges, EXPECTED.slice(0, 3));
  const reversed = new Map([...WORDS].reverse());
  assert.deepEqual(trainBpe(reversed, { vocabSize: 1000 }).merges, EXPECTED);
});

test('bpe training: minFrequency stops before rare pairs', () => {
  assert.deepEqual(trainBpe(WORDS, { vocabSize: 1000, minFrequency: 3 }).merges, EXPECTED.slice(0, 10));
});

test('bpe training: repeated symbols merge left to right and counts stay exact', () => {
  // "aaaa" ×1 has pairs a-a ×3; after merging, "aa aa" has one aa-aa pair.
  const { merges } = trainBpe(new Map([['aaaa', 2], ['aaa', 1]]), { vocabSize: 1000 });
  assert.deepEqual(merges, [['a', 'a'], ['aa', 'aa']]);
});
