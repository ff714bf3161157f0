import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DataError } from '../../src/data/errors.js';
import { loadDataFiles } from '../../src/data/files.js';

const dir = mkdtempSync(join(tmpdir(), 'moekit-files-'));
const file = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

test('files: .txt is one document; .jsonl one per line with optional source', () => {
  const txt = file('story.txt', 'Once upon a time.\n\nThe end.\n');
  const jsonl = file('mix.jsonl', '{"text": "first doc", "source": "web"}\n\n{"text": "second\\ndoc"}\n');
  const docs = loadDataFiles([txt, jsonl]);
  assert.deepEqual(docs, [
    { id: txt, source: 'story.txt', text: 'Once upon a time.\n\nThe end.\n' },
    { id: `${jsonl}#1`, source: 'web', text: 'first doc' },
    { id: `${jsonl}#3`, source: 'mix.jsonl', text: 'second\ndoc' },
  ]);
});

function rejects(paths: string[], message: RegExp): void {
  assert.throws(() => loadDataFiles(paths), (e: unknown) => {
    assert.ok(e instanceof DataError, String(e));
    assert.match(e.message, message);
    assert.ok(e.hint, 'a hint');
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('files: bad input → one-line DataError naming the file and line', () => {
  rejects([join(dir, 'missing.txt')], /missing\.txt: no such file/);
  rejects([file('empty.txt', '  \n')], /empty\.txt: file is empty/);
  rejects([file('bad.jsonl', '{"text": "ok"}\n{"text": oops}\n')], /bad\.jsonl:2: invalid JSON/);
  rejects([file('notext.jsonl', '{"body": "x"}\n')], /notext\.jsonl:1: missing "text"/);
  rejects([file('numtext.jsonl', '{"text": 42}\n')], /numtext\.jsonl:1: "text" is not a string/);
  rejects([file('arr.jsonl', '["text"]\n')], /arr\.jsonl:1: expected a JSON object/);
  rejects([file('src.jsonl', '{"text": "a", "source": 3}\n')], /src\.jsonl:1: "source" is not a string/);
  rejects([file('blank.jsonl', '{"text": " "}\n')], /blank\.jsonl:1: "text" is empty/);
  rejects([file('data.csv', 'a,b\n')], /data\.csv: unsupported file type "\.csv"/);
  mkdirSync(join(dir, 'folder.txt'));
  rejects([join(dir, 'folder.txt')], /folder\.txt: is a directory/);
  rejects([], /no files/);
});
