// Streaming text: the detokenizer holds back a character split across tokens (byte-level tokens of
// "€" and "😀" in pieces) and its pieces concatenate to the full decode; stop strings are never returned
// nor partly emitted, also when one spans tokens; a held prefix that does not become a stop string is
// emitted later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../../src/data/index.js';
import { BYTE_TO_CHAR } from '../../src/data/bytelevel.js';
import { Detokenizer, StopStrings } from '../../src/generate/index.js';

const bl = (bytes: number[]) => bytes.map((b) => BYTE_TO_CHAR[b]).join('');
const utf8 = (s: string) => [...new TextEncoder().encode(s)];
// "€" = E2 82 AC, "😀" = F0 9F 98 80 (a surrogate pair in JS)
const TOKENS = [
  bl(utf8('a')), bl([0xe2]), bl([0x82, 0xac]), bl(utf8('</')), bl(utf8('s>')), bl(utf8(' x')),
  bl([0xf0]), bl([0x9f, 0x98]), bl([0x80]), bl(utf8('<')),
];
const tokenizer = Tokenizer.fromJSON({
  model: { type: 'BPE', vocab: Object.fromEntries(TOKENS.map((t, i) => [t, i])), merges: [] },
  decoder: { type: 'ByteLevel' },
});

function stream(ids: number[]): string[] {
  const d = new Detokenizer(tokenizer);
  const pieces = ids.map((id) => d.push(id));
  pieces.push(d.flush());
  return pieces;
}

test('detokenizer: a multi-byte character split across tokens is held back until complete', () => {
  assert.deepEqual(stream([0, 1, 2, 0]), ['a', '', '€', 'a', '']);
  assert.deepEqual(stream([6, 7, 8, 5]), ['', '', '😀', ' x', '']);
  const ids = [0, 6, 7, 1, 2, 8, 5, 3, 4];
  assert.equal(stream(ids).join(''), tokenizer.decode(ids));
  // generation that ends inside a character: the rest comes out at flush, as the decoder renders it
  assert.deepEqual(stream([0, 1]), ['a', '', '\uFFFD']);
  // a character begun in the context (the prompt's end) completes in the first new token
  const d = new Detokenizer(tokenizer, [0, 1]);
  assert.equal(d.push(2), '€');
});

function stops(stopList: string[], pieces: string[]): { out: string[]; stoppedAt: number } {
  const s = new StopStrings(stopList);
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const r = s.push(pieces[i]);
    out.push(r.emit);
    if (r.stopped) return { out, stoppedAt: i };
  }
  out.push(s.flush());
  return { out, stoppedAt: -1 };
}

test('stop strings: never returned, never partly emitted, found across pieces', () => {
  // "</s>" spans the pieces "c<", "/s", "> tail": "<" and "</s" are held, then dropped
  assert.deepEqual(stops(['</s>'], ['ab', 'c<', '/s', '> tail']), { out: ['ab', 'c', '', ''], stoppedAt: 3 });
  // a held "<" that turns out not to start the stop string is emitted with the next piece
  assert.deepEqual(stops(['</s>'], ['a<', 'b', '<', '/']), { out: ['a', '<b', '', '', '</'], stoppedAt: -1 });
  // the earliest of several stop strings wins; text before it in the same piece is emitted ("l" of
  // "hel" is held: it may begin "lo")
  assert.deepEqual(stops(['xyz', 'lo'], ['hel', 'lo xyz']), { out: ['he', 'l'], stoppedAt: 1 });
  assert.deepEqual(stops(['o w', 'xyz'], ['Hel', 'lo wo', 'rld']), { out: ['Hel', 'l'], stoppedAt: 1 });
  // overlapping prefixes: "aab" after "aa" — hold the longest suffix that begins the stop string
  assert.deepEqual(stops(['aab'], ['xa', 'a', 'ab']), { out: ['x', '', 'a'], stoppedAt: 2 });
  assert.throws(() => new StopStrings(['']), /must not be empty/);
});

test('detokenizer then stop strings: a stop string made of two tokens is cut, the € before it kept', () => {
  const d = new Detokenizer(tokenizer);
  const s = new StopStrings(['</s>']);
  let text = '';
  let stopped = false;
  for (const id of [0, 1, 2, 3, 4, 5]) {
    const r = s.push(d.push(id));
    text += r.emit;
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  assert.equal(text, 'a€');
  assert.ok(stopped);
});
