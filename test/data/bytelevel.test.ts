import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BYTE_ALPHABET, BYTE_TO_CHAR, appendByteLevelBytes, toByteLevel } from '../../src/data/bytelevel.js';

test('byte-level alphabet: the test values of interop.md §4.3', () => {
  const cp = (b: number): number => BYTE_TO_CHAR[b].codePointAt(0) as number;
  assert.equal(cp(0x00), 0x100);
  assert.equal(cp(0x0a), 0x10a);
  assert.equal(cp(0x20), 0x120);
  assert.equal(cp(0x7f), 0x121);
  assert.equal(cp(0xa0), 0x142);
  assert.equal(cp(0xad), 0x143);
  assert.equal(cp(0x41), 0x41);
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  assert.equal(BYTE_ALPHABET[0], '!');
  assert.equal(BYTE_ALPHABET.indexOf('Ġ'), 220); // GPT-2's id of the space byte
});

test('byte-level: text → alphabet → bytes is the UTF-8 encoding', () => {
  for (const text of ['Hello world', 'naïve 日本 😀', '\t\n\r\0\x7f']) {
    const bytes: number[] = [];
    assert.ok(appendByteLevelBytes(toByteLevel(text), bytes));
    assert.deepEqual(bytes, [...new TextEncoder().encode(text)]);
  }
  const out = [1];
  assert.equal(appendByteLevelBytes('a b', out), false); // a plain space is not in the alphabet
  assert.deepEqual(out, [1]);
});
