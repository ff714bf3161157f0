// Users' own data (--data FILES): `.txt` = one document per file, `.jsonl` = one document per line.
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Document } from './document.js';
import { DataError } from './errors.js';

const SUPPORTED = '.txt (one document per file) or .jsonl (one {"text", "source"?} object per line)';

/** Reads every file in order; throws DataError naming the file (and line) on the first problem. */
export function loadDataFiles(paths: readonly string[]): Document[] {
  if (paths.length === 0) throw new DataError('--data was given no files', `pass ${SUPPORTED}`);
  const docs: Document[] = [];
  for (const path of paths) {
    const ext = extname(path).toLowerCase();
    if (ext === '.txt') docs.push(readTxt(path));
    else if (ext === '.jsonl') docs.push(...readJsonl(path));
    else throw new DataError(`${path}: unsupported file type "${ext || '(none)'}"`, `use ${SUPPORTED}`);
  }
  return docs;
}

function readFile(path: string): string {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new DataError(`${path}: no such file`, 'check the path given to --data');
  }
  if (isDir) throw new DataError(`${path}: is a directory`, 'list the files, e.g. --data dir/*.txt');
  const text = readFileSync(path, 'utf8');
  if (text.trim() === '') throw new DataError(`${path}: file is empty`, 'remove it from --data');
  return text;
}

function readTxt(path: string): Document {
  return { id: path, source: basename(path), text: readFile(path) };
}

function readJsonl(path: string): Document[] {
  const docs: Document[] = [];
  const lines = readFile(path).split('\n');
  const hint = 'each line must be a JSON object like {"text": "...", "source": "..."}';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue; // blank lines (e.g. the final newline) carry no document
    const where = `${path}:${i + 1}`;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${where}: invalid JSON (${(e as Error).message})`, hint);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new DataError(`${where}: expected a JSON object`, hint);
    }
    const { text, source } = obj as { text?: unknown; source?: unknown };
    if (typeof text !== 'string') {
      throw new DataError(`${where}: ${text === undefined ? 'missing "text"' : '"text" is not a string'}`, hint);
    }
    if (text.trim() === '') throw new DataError(`${where}: "text" is empty`, 'remove the line');
    if (source !== undefined && typeof source !== 'string') {
      throw new DataError(`${where}: "source" is not a string`, hint);
    }
    docs.push({ id: `${path}#${i + 1}`, source: source ?? basename(path), text });
  }
  return docs;
}
