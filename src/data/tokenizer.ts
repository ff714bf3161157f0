// A tokenizer.json pipeline (interop.md §4.1): added-token split → normalizer → pre-tokenizer → BPE
// model → post-processor; decoding: ids → tokens → decoder.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { AddedTokens } from './added_tokens.js';
import { BpeModel } from './bpe.js';
import { type Decoder, decoderFromJSON } from './decoders.js';
import { TokenizerError, componentType, unsupportedComponent } from './errors.js';
import { type Normalizer, normalizerFromJSON } from './normalizers.js';
import { type PostProcessor, postProcessorFromJSON } from './postprocessors.js';
import { type PreTokenizer, preTokenizerFromJSON } from './pretokenizers.js';

/** The document separator moekit trains with (GPT-2's). */
export const END_OF_TEXT = '<|endoftext|>';

export interface EncodeOptions {
  /** Match special tokens written in the text (HF default). False: encode them as plain text (HF encode_special_tokens). */
  parseSpecial?: boolean;
  /** Let the post-processor add its special tokens (HF add_special_tokens; default true). */
  addSpecial?: boolean;
}

export interface TokenizerParts {
  model: BpeModel;
  normalizer?: Normalizer | null;
  preTokenizer: PreTokenizer | null;
  decoder: Decoder | null;
  postProcessor: PostProcessor | null;
  added: AddedTokens;
}

export class Tokenizer {
  readonly model: BpeModel;
  readonly normalizer: Normalizer | null;
  readonly preTokenizer: PreTokenizer | null;
  readonly decoder: Decoder | null;
  readonly postProcessor: PostProcessor | null;
  readonly added: AddedTokens;
  /** Ids run from 0 to vocabSize - 1 (model vocab and added tokens): the embedding's row count. */
  readonly vocabSize: number;
  // One closure for the tokenizer's life: AddedTokens keys its normalized-token matcher on it.
  private readonly normalize: ((s: string) => string) | null;

  constructor(parts: TokenizerParts) {
    this.model = parts.model;
    this.normalizer = parts.normalizer ?? null;
    const normalizer = this.normalizer;
    this.normalize = normalizer ? (s) => normalizer.normalize(s) : null;
    this.preTokenizer = parts.preTokenizer;
    this.decoder = parts.decoder;
    this.postProcessor = parts.postProcessor;
    this.added = parts.added;
    this.vocabSize = Math.max(this.model.size, ...this.added.list.map((t) => t.id + 1));
  }

  /** `truncation` and `padding` are batch options of HF's encode; moekit's callers do their own. */
  static fromJSON(json: unknown): Tokenizer {
    if (typeof json !== 'object' || json === null) throw new TokenizerError('tokenizer.json must hold a JSON object');
    const o = json as Record<string, unknown>;
    const modelType = componentType(o.model, 'model');
    if (modelType !== 'BPE') throw unsupportedComponent('model', modelType, ['BPE']);
    return new Tokenizer({
      model: BpeModel.fromJSON(o.model as Record<string, unknown>),
      normalizer: o.normalizer == null ? null : normalizerFromJSON(o.normalizer),
      preTokenizer: o.pre_tokenizer == null ? null : preTokenizerFromJSON(o.pre_tokenizer),
      decoder: o.decoder == null ? null : decoderFromJSON(o.decoder),
      postProcessor: o.post_processor == null ? null : postProcessorFromJSON(o.post_processor),
      added: AddedTokens.fromJSON(o.added_tokens),
    });
  }

  static load(path: string): Tokenizer {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new TokenizerError(`cannot read ${path}: ${(e as Error).message}`, 'pass a HuggingFace tokenizer.json');
    }
    try {
      return Tokenizer.fromJSON(json);
    } catch (e) {
      if (e instanceof TokenizerError) throw new TokenizerError(`${path}: ${e.message}`, e.hint);
      throw e;
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.added.toJSON(),
      normalizer: this.normalizer?.toJSON() ?? null,
      pre_tokenizer: this.preTokenizer?.toJSON() ?? null,
      post_processor: this.postProcessor?.toJSON() ?? null,
      decoder: this.decoder?.toJSON() ?? null,
      model: this.model.toJSON(),
    };
  }

  /** Writes tokenizer.json atomically (temp file + rename), so a crash never leaves half a file. */
  save(path: string): void {
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(this.toJSON(), null, 2));
    renameSync(tmp, path);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    const encodeWord = (piece: string): void => this.model.encodeWord(piece, ids);
    this.added.split(text, { parseSpecial: opts.parseSpecial ?? true, normalize: this.normalize }, (s, atStart) => {
      if (this.preTokenizer === null) encodeWord(s);
      else this.preTokenizer.split(s, encodeWord, atStart);
    }, (id) => ids.push(id));
    return (opts.addSpecial ?? true) && this.postProcessor ? this.postProcessor.process(ids) : ids;
  }

  /** HF decode: ids → tokens (special ones dropped if asked) → decoder; with no decoder, tokens joined by " ". */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const added = this.added.get(ids[i]);
      if (added?.special && opts.skipSpecial) continue;
      tokens.push(added?.content ?? this.tokenOf(ids[i]));
    }
    return this.decoder ? this.decoder.decodeChain(tokens).join('') : tokens.join(' ');
  }

  /** The token string of an id (model vocab or added token). */
  idToToken(id: number): string | undefined {
    return this.added.get(id)?.content ?? this.model.tokens[id];
  }

  tokenToId(token: string): number | undefined {
    return this.added.idOf(token) ?? this.model.vocab.get(token);
  }

  /** The id of an added/special token, e.g. END_OF_TEXT; throws if the tokenizer lacks it. */
  specialId(content: string): number {
    const id = this.added.idOf(content);
    if (id === undefined) {
      throw new TokenizerError(`the tokenizer has no special token ${content}`, 'add it to added_tokens in tokenizer.json');
    }
    return id;
  }

  private tokenOf(id: number): string {
    const t = this.model.tokens[id];
    if (t === undefined) throw new TokenizerError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    return t;
  }
}
