import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBrown } from '../../src/data/brown.js';
import type { Document } from '../../src/data/document.js';
import { splitDocuments } from '../../src/data/split.js';

const brown = loadBrown();
const ids = (docs: Document[]): string[] => docs.map((d) => d.id);

test('split: whole documents, every genre in validation, ~10 % per genre', () => {
  const { train, valid } = splitDocuments(brown, { seed: 1 });
  assert.equal(train.length + valid.length, 500);
  assert.equal(new Set([...ids(train), ...ids(valid)]).size, 500);
  const genres = new Set(brown.map((d) => d.source));
  for (const g of genres) {
    const n = brown.filter((d) => d.source === g).length;
    const v = valid.filter((d) => d.source === g).length;
    assert.equal(v, Math.max(1, Math.round(0.1 * n)), g);
  }
  assert.deepEqual(ids(valid), [...ids(valid)].sort());
});

test('split: deterministic, independent of document order, changes with the seed', () => {
  const a = splitDocuments(brown, { seed: 7 });
  const b = splitDocuments([...brown].reverse(), { seed: 7 });
  assert.deepEqual(ids(a.valid), ids(b.valid));
  assert.deepEqual(ids(a.train), ids(b.train));
  assert.notDeepEqual(ids(splitDocuments(brown, { seed: 8 }).valid), ids(a.valid));
});

test('split: single-document sources are pooled so they still reach validation', () => {
  const docs = Array.from({ length: 10 }, (_, i) => ({ id: `f${i}.txt`, source: `f${i}.txt`, text: 'x' }));
  const { train, valid } = splitDocuments(docs, { seed: 0 });
  assert.equal(valid.length, 1);
  assert.equal(train.length, 9);
  assert.equal(splitDocuments(docs.slice(0, 1), { seed: 0 }).valid.length, 0);
  assert.throws(() => splitDocuments([docs[0], docs[0]], { seed: 0 }), /appears twice/);
});
