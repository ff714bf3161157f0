// The data layer's front door: load documents, split them, get a tokenizer (trained on the training
// split or loaded), encode both splits — cached on disk by a hash of every input. Prints nothing.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { loadBrown } from './brown.js';
import { readCache, writeCache } from './cache.js';
import type { Document } from './document.js';
import { DataError, TokenizerError } from './errors.js';
import { loadDataFiles } from './files.js';
import { type TokenStream, encodeDocuments, sequenceCount } from './packing.js';
import { splitDocuments } from './split.js';
import { Tokenizer } from './tokenizer.js';
import { DEFAULT_VOCAB_SIZE, trainTokenizer } from './train_tokenizer.js';

export { type ChatMessage, ChatTemplate, type ChatTemplateOptions, applyChatTemplate } from './chat_template.js';
export type { Document } from './document.js';
export { DataError, TokenizerError } from './errors.js';
export { type HfTokenizer, loadHfTokenizer } from './hf_tokenizer.js';
export { type Batch, type TokenStream, TrainBatches, ValidBatches, encodeDocuments, sequenceCount } from './packing.js';
export { splitDocuments } from './split.js';
export { END_OF_TEXT, Tokenizer } from './tokenizer.js';
export { DEFAULT_VOCAB_SIZE, trainTokenizer } from './train_tokenizer.js';

/** Bump when the prepared format or any step's output changes, to invalidate old caches. */
const CACHE_FORMAT = 1;

/** Users' files (--data) if given, else the bundled Brown corpus. */
export function loadCorpus(opts: { data?: readonly string[] } = {}): Document[] {
  return opts.data && opts.data.length > 0 ? loadDataFiles(opts.data) : loadBrown();
}

export type PrepareStage = 'count-words' | 'merge' | 'encode';

export interface PrepareDataOptions {
  docs: readonly Document[];
  /** Ids of a tokenizer trained here (default 4096); unused with tokenizerPath. */
  vocabSize?: number;
  /** Checked so that both splits hold at least one sequence of seqLen + 1 tokens. */
  seqLen: number;
  /** Seeds the train/validation split. */
  seed: number;
  validFraction?: number;
  /** An existing tokenizer.json to use instead of training one. */
  tokenizerPath?: string;
  /** Where to keep prepared data between runs, e.g. <out>/data-cache; no caching when absent. */
  cacheDir?: string;
  onProgress?: (stage: PrepareStage, fraction: number) => void;
}

export interface PreparedData {
  tokenizer: Tokenizer;
  train: TokenStream;
  valid: TokenStream;
  /** Source names (sorted); TokenStream.sources holds indices into this list. */
  sources: string[];
  trainDocs: number;
  validDocs: number;
  /** True when everything came from cacheDir. */
  fromCache: boolean;
}

export function prepareData(opts: PrepareDataOptions): PreparedData {
  const { docs, seqLen, seed, onProgress } = opts;
  const vocabSize = opts.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const key = opts.cacheDir ? cacheKey(opts, vocabSize) : '';
  const cached = opts.cacheDir ? readCache(opts.cacheDir, key) : undefined;
  if (cached) return checked({ ...cached, fromCache: true }, seqLen);

  const { train, valid } = splitDocuments(docs, { seed, validFraction: opts.validFraction });
  if (valid.length === 0) {
    throw new DataError(`need at least 2 documents to hold one out for validation, got ${docs.length}`,
      'pass several .txt files, or a .jsonl file with one document per line');
  }
  const tokenizer = opts.tokenizerPath
    ? Tokenizer.load(opts.tokenizerPath)
    : trainTokenizer(train.map((d) => d.text), { vocabSize, onProgress });
  const sources = [...new Set(docs.map((d) => d.source))].sort();
  const sourceIndex = new Map(sources.map((s, i) => [s, i]));
  const total = train.length + valid.length;
  const data = {
    tokenizer,
    train: encodeDocuments(tokenizer, train, sourceIndex, (f) => onProgress?.('encode', (f * train.length) / total)),
    valid: encodeDocuments(tokenizer, valid, sourceIndex, (f) => onProgress?.('encode', (train.length + f * valid.length) / total)),
    sources,
    trainDocs: train.length,
    validDocs: valid.length,
  };
  if (opts.cacheDir) writeCache(opts.cacheDir, key, data);
  return checked({ ...data, fromCache: false }, seqLen);
}

function checked(data: PreparedData, seqLen: number): PreparedData {
  for (const [name, stream] of [['training', data.train], ['validation', data.valid]] as const) {
    if (sequenceCount(stream, seqLen) === 0) {
      throw new DataError(`${name} data too small: ${stream.tokens.length} tokens do not fill one sequence of ${seqLen}+1 tokens`,
        'use more text, or a smaller sequence length');
    }
  }
  return data;
}

/** sha256 of everything the prepared data depends on (documents, options, tokenizer file, byte order). */
function cacheKey(opts: PrepareDataOptions, vocabSize: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({
    format: CACHE_FORMAT,
    endianness: endianness(),
    seed: opts.seed,
    validFraction: opts.validFraction ?? null,
    vocabSize: opts.tokenizerPath ? null : vocabSize,
  }));
  if (opts.tokenizerPath) {
    try {
      h.update(readFileSync(opts.tokenizerPath));
    } catch (e) {
      throw new TokenizerError(`cannot read ${opts.tokenizerPath}: ${(e as Error).message}`, 'pass a HuggingFace tokenizer.json');
    }
  }
  for (const d of opts.docs) {
    // Length prefixes keep the concatenation unambiguous.
    h.update(`\n${d.id.length}:${d.id}${d.source.length}:${d.source}${d.text.length}:`);
    h.update(d.text);
  }
  return h.digest('hex').slice(0, 24);
}
