import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBrown, parseBrownText } from '../../src/data/brown.js';

// spec/data.md: genre → number of documents, from cats.txt.
const GENRE_COUNTS: Record<string, number> = {
  news: 44, editorial: 27, reviews: 17, religion: 17, hobbies: 36, lore: 48, belles_lettres: 75,
  government: 30, learned: 80, fiction: 29, mystery: 24, science_fiction: 6, adventure: 29, romance: 29, humor: 9,
};

const docs = loadBrown();

test('brown: 500 documents in 15 genres with the counts of data.md', () => {
  assert.equal(docs.length, 500);
  const counts: Record<string, number> = {};
  for (const d of docs) counts[d.source] = (counts[d.source] ?? 0) + 1;
  assert.deepEqual(counts, GENRE_COUNTS);
  assert.equal(new Set(docs.map((d) => d.id)).size, 500);
  assert.equal(docs[0].id, 'ca01');
  assert.equal(docs[499].id, 'cr09');
});

test('brown: the first sentence of ca01 as running text', () => {
  // `` and '' become ", with no space after the opening quote nor before the closing one (data.md).
  const first = 'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election '
    + 'produced "no evidence" that any irregularities took place.';
  assert.ok(docs[0].text.startsWith(`${first}\n\nThe jury further said in term-end presentments that the City `
    + 'Executive Committee, which had over-all charge of the election, "deserves the praise and thanks of the City '
    + 'of Atlanta" for the manner in which the election was conducted.\n\n'));
  assert.equal(docs[0].source, 'news');
});

test('brown: no tags or opening-quote markup survive in any document', () => {
  // '' may remain inside words: inch marks such as 1/4''/nn (ce07) are part of the word.
  for (const d of docs) {
    assert.ok(!/``|\/(at|nn|vbd|in|nn-tl)(\s|$)/.test(d.text), d.id);
    assert.ok(d.text.length > 5000, d.id);
  }
});

test('brown: tagged format → text (last slash, punctuation spacing, paragraphs)', () => {
  const tagged = "\n\n\t``/`` Hello/uh ,/, and/or/cc (/( 1/2/cd )/) world/nn ''/'' !/. \n"
    + '\tSecond/od sentence/nn ;/. it/pps is/bez //in 10/cd :/: done/vbn ?/.\n\n\n\tNew/jj para/nn ./.\n';
  assert.equal(parseBrownText(tagged),
    '"Hello, and/or (1/2) world"! Second sentence; it is / 10: done?\n\nNew para.');
});
