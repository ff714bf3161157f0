import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { type TokenStream, TrainBatches, ValidBatches, encodeDocuments, sequenceCount } from '../../src/data/packing.js';
import { END_OF_TEXT } from '../../src/data/tokenizer.js';
import { trainTokenizer } from '../../src/data/train_tokenizer.js';

// A stream whose token i is i: windows and shifts can be read off the values. Source = i / 10.
function countingStream(n: number): TokenStream {
  const tokens = Int32Array.from({ length: n }, (_, i) => i);
  return { tokens, sources: tokens.map((t) => Math.floor(t / 10)) };
}

test('packing: documents joined with <|endoftext|>, each token tagged with its source', () => {
  const docs = [
    { id: 'a', source: 'news', text: 'The jury said.' },
    { id: 'b', source: 'humor', text: 'A joke.' },
  ];
  const tok = trainTokenizer(docs.map((d) => d.text), { vocabSize: 300 });
  const eot = tok.specialId(END_OF_TEXT);
  const stream = encodeDocuments(tok, docs, new Map([['humor', 0], ['news', 1]]));
  const a = tok.encode(docs[0].text);
  const b = tok.encode(docs[1].text);
  assert.deepEqual([...stream.tokens], [...a, eot, ...b, eot]);
  assert.deepEqual([...stream.sources], [...a.map(() => 1), 1, ...b.map(() => 0), 0]);
});

test('packing: windows of T+1 tokens, targets = inputs shifted by one, sources follow targets', () => {
  const stream = countingStream(1001);
  const T = 16;
  const B = 4;
  assert.equal(sequenceCount(stream, T), 62); // floor(1000 / 16)
  const batches = new TrainBatches(stream, { seqLen: T, batchSize: B, seed: 3 });
  const batch = batches.batch(0);
  assert.equal(batch.inputs.length, B * T);
  assert.equal(batch.targets.length, B * T);
  assert.equal(batch.sources.length, B * T);
  for (let r = 0; r < B; r++) {
    const start = batch.inputs[r * T];
    assert.equal(start % T, 0, 'windows start on multiples of T');
    for (let t = 0; t < T; t++) {
      assert.equal(batch.inputs[r * T + t], start + t);
      assert.equal(batch.targets[r * T + t], start + t + 1);
      assert.equal(batch.sources[r * T + t], Math.floor((start + t + 1) / 10));
    }
  }
});

test('packing: batch(step) is a pure function of (seed, step); each epoch visits every sequence once', () => {
  const stream = countingStream(8 * 10 + 1); // 10 sequences of 8+1 tokens
  const a = new TrainBatches(stream, { seqLen: 8, batchSize: 2, seed: 42 });
  const b = new TrainBatches(stream, { seqLen: 8, batchSize: 2, seed: 42 });
  assert.deepEqual(a.batch(7), b.batch(7)); // b jumps straight to step 7 (resume)
  assert.deepEqual(a.batch(3), b.batch(3));
  assert.equal(a.stepsPerEpoch, 5);
  const firstOfRows = (steps: number[]): number[] =>
    steps.flatMap((s) => { const x = a.batch(s); return [x.inputs[0] / 8, x.inputs[8] / 8]; });
  const epoch0 = firstOfRows([0, 1, 2, 3, 4]);
  const epoch1 = firstOfRows([5, 6, 7, 8, 9]);
  assert.deepEqual([...epoch0].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...epoch1].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(epoch0, epoch1, 'reshuffled every epoch');
  const c = new TrainBatches(stream, { seqLen: 8, batchSize: 2, seed: 43 });
  assert.notDeepEqual([0, 1, 2, 3, 4].map((s) => c.batch(s).inputs[0]), [0, 1, 2, 3, 4].map((s) => a.batch(s).inputs[0]));
});

test('packing: validation batches are fixed and in order; the last one may be short', () => {
  const v = new ValidBatches(countingStream(8 * 5 + 1), { seqLen: 8, batchSize: 2 });
  assert.equal(v.count, 3);
  assert.deepEqual([0, 1, 2].map((i) => v.batch(i).rows), [2, 2, 1]);
  assert.deepEqual([...v.batch(1).inputs.subarray(0, 8)], [16, 17, 18, 19, 20, 21, 22, 23]);
  assert.equal(v.batch(2).targets[7], 40);
  assert.throws(() => v.batch(3), RangeError);
});

test('packing: data too small for one batch → DataError with a hint', () => {
  assert.throws(() => new TrainBatches(countingStream(50), { seqLen: 16, batchSize: 4, seed: 0 }),
    (e: unknown) => e instanceof DataError && /3 sequences of 16\+1 tokens, one batch needs 4/.test(e.message) && !!e.hint);
  assert.throws(() => new ValidBatches(countingStream(10), { seqLen: 16, batchSize: 4 }), DataError);
  assert.throws(() => new TrainBatches(countingStream(50), { seqLen: 0, batchSize: 1, seed: 0 }), DataError);
});
