// On-disk cache of prepared data (tokenizer.json + encoded streams), so repeated runs on the same
// inputs skip tokenizer training and encoding. One folder per key; written to a temp folder and
// renamed into place, so a reader never sees half a cache entry. Unreadable entries count as misses.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenStream } from './packing.js';
import { Tokenizer } from './tokenizer.js';

export interface CachedData {
  tokenizer: Tokenizer;
  train: TokenStream;
  valid: TokenStream;
  sources: string[];
  trainDocs: number;
  validDocs: number;
}

interface Meta {
  key: string;
  sources: string[];
  trainDocs: number;
  validDocs: number;
}

const STREAM_FILES = ['train.tokens', 'train.sources', 'valid.tokens', 'valid.sources'] as const;

export function readCache(dir: string, key: string): CachedData | undefined {
  const entry = join(dir, key);
  if (!existsSync(join(entry, 'meta.json'))) return undefined;
  try {
    const meta = JSON.parse(readFileSync(join(entry, 'meta.json'), 'utf8')) as Meta;
    if (meta.key !== key) return undefined;
    const [trainTokens, trainSources, validTokens, validSources] = STREAM_FILES.map((f) => readInt32(join(entry, `${f}.i32`)));
    return {
      tokenizer: Tokenizer.load(join(entry, 'tokenizer.json')),
      train: { tokens: trainTokens, sources: trainSources },
      valid: { tokens: validTokens, sources: validSources },
      sources: meta.sources,
      trainDocs: meta.trainDocs,
      validDocs: meta.validDocs,
    };
  } catch {
    return undefined;
  }
}

export function writeCache(dir: string, key: string, data: CachedData): void {
  const entry = join(dir, key);
  const tmp = `${entry}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  data.tokenizer.save(join(tmp, 'tokenizer.json'));
  const arrays = [data.train.tokens, data.train.sources, data.valid.tokens, data.valid.sources];
  STREAM_FILES.forEach((f, i) => writeInt32(join(tmp, `${f}.i32`), arrays[i]));
  const meta: Meta = { key, sources: data.sources, trainDocs: data.trainDocs, validDocs: data.validDocs };
  writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
  rmSync(entry, { recursive: true, force: true });
  renameSync(tmp, entry);
}

/** Raw int32 in the machine's byte order (the cache key includes it). */
function writeInt32(path: string, a: Int32Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function readInt32(path: string): Int32Array {
  const buf = readFileSync(path);
  if (buf.byteLength % 4 !== 0) throw new Error(`${path}: truncated`);
  const copy = new Uint8Array(buf.byteLength); // own, 4-byte aligned buffer
  copy.set(buf);
  return new Int32Array(copy.buffer);
}
