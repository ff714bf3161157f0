// Incremental detokenization for streaming: text pieces that, concatenated, equal decode(all ids), with
// text held back while it may still change:
// - the last tokens end inside a multi-byte UTF-8 sequence (a byte-level token may carry half a
//   character: the decoder then ends the text with U+FFFD, the replacement character);
// - the last token is a byte-fallback piece <0xNN> (SentencePiece-BPE, interop.md §4.6): HF's ByteFallback
//   decodes a whole run of them at once and turns every byte of an invalid run into U+FFFD, so a byte
//   that decodes alone (<0x39> = "9") may still become U+FFFD when the next byte arrives.
// Each step decodes only the tokens since the last emitted piece plus the ones before it (a window),
// so decoders whose output depends on the previous token (leading-space rules) see their context, and
// the cost does not grow with the length of the generation.
import { BYTE_TOKEN } from '../data/bpe.js';

/** What the detokenizer needs of a tokenizer. */
export interface TokenDecoder {
  decode(ids: ArrayLike<number>, opts?: { skipSpecial?: boolean }): string;
  /** The token string of an id (to recognise byte-fallback pieces). */
  idToToken(id: number): string | undefined;
}

const REPLACEMENT = '\uFFFD';

export class Detokenizer {
  private readonly ids: number[];
  /** ids[prefix, read) decode to the text already emitted (the context window); ids[read, …) are pending. */
  private prefix = 0;
  private read: number;

  /** context: the ids before the first new one (the end of the prompt), decoded for context only. */
  constructor(private readonly tokenizer: TokenDecoder, context: ArrayLike<number> = []) {
    this.ids = Array.from(context);
    this.read = this.ids.length;
  }

  /** Adds a token; returns the text it completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    if (BYTE_TOKEN.test(this.tokenizer.idToToken(id) ?? '')) return ''; // its run may go on
    const piece = this.pending();
    if (piece === '' || piece.endsWith(REPLACEMENT)) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return piece;
  }

  /** The held-back text at the end of generation (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const piece = this.pending();
    this.prefix = this.read = this.ids.length;
    return piece;
  }

  private pending(): string {
    const decode = (from: number, to: number) => this.tokenizer.decode(this.ids.slice(from, to), { skipSpecial: true });
    // A character left incomplete at the end of the context (the prompt's end) is completed by the new
    // tokens: its U+FFFD is not part of what was seen.
    const before = decode(this.prefix, this.read).replace(/\uFFFD+$/, '');
    const now = decode(this.prefix, this.ids.length);
    return now.length > before.length ? now.slice(before.length) : '';
  }
}
