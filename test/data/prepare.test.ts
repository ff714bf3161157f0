import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DataError, END_OF_TEXT, loadCorpus, prepareData } from '../../src/data/index.js';

const brown = loadCorpus();
const fixtureTokenizer = fileURLToPath(new URL('../../../../shared/fixtures/tokenizer_bpe/tokenizer.json', import.meta.url));

test('prepareData on Brown: tokenizer from the training split, every genre in validation', () => {
  const stages = new Set<string>();
  const data = prepareData({ docs: brown, vocabSize: 2048, seqLen: 128, seed: 1, onProgress: (s) => stages.add(s) });
  assert.deepEqual([...stages], ['count-words', 'merge', 'encode']);
  assert.equal(data.tokenizer.vocabSize, 2048);
  assert.equal(data.sources.length, 15);
  assert.equal(data.trainDocs + data.validDocs, 500);
  assert.deepEqual(new Set(data.valid.sources), new Set(data.sources.map((_, i) => i)));
  assert.equal(data.train.tokens.length, data.train.sources.length);
  const eot = data.tokenizer.specialId(END_OF_TEXT);
  assert.equal(data.train.tokens.filter((t) => t === eot).length, data.trainDocs);
  assert.equal(data.fromCache, false);
});

test('prepareData: the second run reads the cache and gives identical data', () => {
  const cacheDir = join(mkdtempSync(join(tmpdir(), 'moekit-cache-')), 'data-cache');
  const docs = brown.filter((_, i) => i % 10 === 0);
  const opts = { docs, vocabSize: 600, seqLen: 64, seed: 5, cacheDir };
  const first = prepareData(opts);
  const second = prepareData(opts);
  assert.equal(first.fromCache, false);
  assert.equal(second.fromCache, true);
  assert.deepEqual(second.tokenizer.toJSON(), first.tokenizer.toJSON());
  assert.deepEqual(second.train, first.train);
  assert.deepEqual(second.valid, first.valid);
  assert.deepEqual(second.sources, first.sources);
  assert.equal(readdirSync(cacheDir).length, 1);
  assert.equal(prepareData({ ...opts, seed: 6 }).fromCache, false, 'another seed is another entry');
  assert.equal(readdirSync(cacheDir).length, 2);
});

test('prepareData: an existing tokenizer.json is used as is', { skip: !existsSync(fixtureTokenizer) }, () => {
  const docs = brown.filter((_, i) => i % 25 === 0);
  const data = prepareData({ docs, seqLen: 32, seed: 0, tokenizerPath: fixtureTokenizer });
  assert.equal(data.tokenizer.vocabSize, 400);
  assert.ok(data.train.tokens.every((t) => t < 400));
});

test('prepareData: too little data → DataError', () => {
  const one = [{ id: 'x', source: 'x', text: 'Only one document.' }];
  assert.throws(() => prepareData({ docs: one, seqLen: 8, seed: 0 }), /at least 2 documents/);
  const tiny = [0, 1, 2].map((i) => ({ id: `d${i}`, source: 's', text: 'short text' }));
  assert.throws(() => prepareData({ docs: tiny, vocabSize: 300, seqLen: 64, seed: 0 }),
    (e: unknown) => e instanceof DataError && /training data too small: 6 tokens/.test(e.message));
});
