// Documents → one token stream → fixed windows of seqLen + 1 tokens → batches. Every token keeps the
// index of its document's source, so losses can be reported per genre.
import { Rng } from '../tensor/rng.js';
import type { Document } from './document.js';
import { DataError } from './errors.js';
import { END_OF_TEXT, type Tokenizer } from './tokenizer.js';

export interface TokenStream {
  /** All documents, each followed by <|endoftext|>. */
  tokens: Int32Array;
  /** sources[i] = index (into the source list) of the document token i belongs to; its separator included. */
  sources: Int32Array;
}

export interface Batch {
  /** [rows * seqLen] token ids, row-major. */
  inputs: Int32Array;
  /** [rows * seqLen] the next token of each input position. */
  targets: Int32Array;
  /** [rows * seqLen] source index of each target token. */
  sources: Int32Array;
  rows: number;
  seqLen: number;
}

/**
 * Encodes documents in the given order. Text is encoded as plain text: a literal "<|endoftext|>"
 * inside a document does not become a separator.
 */
export function encodeDocuments(
  tokenizer: Tokenizer,
  docs: readonly Document[],
  sourceIndex: ReadonlyMap<string, number>,
  onProgress?: (fraction: number) => void,
  /** The id that ends each document: <|endoftext|> (moekit's tokenizers), or a checkpoint's EOS. */
  separator: number = tokenizer.specialId(END_OF_TEXT),
): TokenStream {
  const parts: number[][] = [];
  let total = 0;
  docs.forEach((d, i) => {
    const ids = tokenizer.encode(d.text, { parseSpecial: false, addSpecial: false });
    ids.push(separator);
    parts.push(ids);
    total += ids.length;
    if (onProgress && (i % 16 === 15 || i === docs.length - 1)) onProgress((i + 1) / docs.length);
  });
  const tokens = new Int32Array(total);
  const sources = new Int32Array(total);
  let at = 0;
  parts.forEach((ids, i) => {
    const src = sourceIndex.get(docs[i].source);
    if (src === undefined) throw new DataError(`document ${docs[i].id}: source "${docs[i].source}" is not in the source list`);
    tokens.set(ids, at);
    sources.fill(src, at, at + ids.length);
    at += ids.length;
  });
  return { tokens, sources };
}

/** Windows of seqLen + 1 tokens starting every seqLen tokens: each token is a target exactly once. */
export function sequenceCount(stream: TokenStream, seqLen: number): number {
  return Math.max(0, Math.floor((stream.tokens.length - 1) / seqLen));
}

function emptyBatch(rows: number, seqLen: number): Batch {
  const n = rows * seqLen;
  return { inputs: new Int32Array(n), targets: new Int32Array(n), sources: new Int32Array(n), rows, seqLen };
}

function copyWindow(stream: TokenStream, seq: number, batch: Batch, row: number): void {
  const T = batch.seqLen;
  const start = seq * T;
  batch.inputs.set(stream.tokens.subarray(start, start + T), row * T);
  batch.targets.set(stream.tokens.subarray(start + 1, start + T + 1), row * T);
  batch.sources.set(stream.sources.subarray(start + 1, start + T + 1), row * T);
}

function checkSeqLen(seqLen: number, batchSize: number): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new DataError(`seqLen must be a positive integer, got ${seqLen}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError(`batchSize must be a positive integer, got ${batchSize}`);
}

/**
 * Training batches: sequences in a seeded random order, reshuffled every epoch. `batch(step)` is a pure
 * function of the step, so training resumes at any step without replaying earlier batches.
 */
export class TrainBatches {
  readonly sequences: number;
  private permEpoch = -1;
  private perm = new Int32Array(0);

  constructor(
    private readonly stream: TokenStream,
    readonly opts: { seqLen: number; batchSize: number; seed: number },
  ) {
    checkSeqLen(opts.seqLen, opts.batchSize);
    this.sequences = sequenceCount(stream, opts.seqLen);
    if (this.sequences < opts.batchSize) {
      throw new DataError(
        `training data too small: ${stream.tokens.length} tokens make ${this.sequences} sequences of ${opts.seqLen}+1 tokens, one batch needs ${opts.batchSize}`,
        'use more text, or a smaller sequence length or batch size',
      );
    }
  }

  /** Steps per pass over the data (fractional: batches run across epoch boundaries). */
  get stepsPerEpoch(): number {
    return this.sequences / this.opts.batchSize;
  }

  batch(step: number): Batch {
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
    const { seqLen, batchSize } = this.opts;
    const batch = emptyBatch(batchSize, seqLen);
    for (let row = 0; row < batchSize; row++) {
      const position = step * batchSize + row; // position in the endless sequence of shuffled epochs
      const epoch = Math.floor(position / this.sequences);
      copyWindow(this.stream, this.permutation(epoch)[position - epoch * this.sequences], batch, row);
    }
    return batch;
  }

  private permutation(epoch: number): Int32Array {
    if (epoch !== this.permEpoch) {
      const perm = Int32Array.from({ length: this.sequences }, (_, i) => i);
      new Rng((this.opts.seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0).shuffle(perm);
      this.perm = perm;
      this.permEpoch = epoch;
    }
    return this.perm;
  }
}

/** Validation batches: every sequence once, in stream order; the last batch may have fewer rows. */
export class ValidBatches {
  readonly sequences: number;
  readonly count: number;

  constructor(
    private readonly stream: TokenStream,
    readonly opts: { seqLen: number; batchSize: number },
  ) {
    checkSeqLen(opts.seqLen, opts.batchSize);
    this.sequences = sequenceCount(stream, opts.seqLen);
    if (this.sequences === 0) {
      throw new DataError(
        `validation data too small: ${stream.tokens.length} tokens do not fill one sequence of ${opts.seqLen}+1 tokens`,
        'use more text (more documents are held out), or a smaller sequence length',
      );
    }
    this.count = Math.ceil(this.sequences / opts.batchSize);
  }

  batch(index: number): Batch {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new RangeError(`validation batch ${index} out of range [0, ${this.count})`);
    }
    const { seqLen, batchSize } = this.opts;
    const first = index * batchSize;
    const rows = Math.min(batchSize, this.sequences - first);
    const batch = emptyBatch(rows, seqLen);
    for (let row = 0; row < rows; row++) copyWindow(this.stream, first + row, batch, row);
    return batch;
  }
}
