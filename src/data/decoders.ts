// tokenizer.json decoders (interop.md §4.6): token strings → text.
import { appendByteLevelBytes } from './bytelevel.js';
import { TokenizerError, componentType, unsupportedComponent } from './errors.js';

export interface Decoder {
  /** HF's decode_chain: tokens in, (fewer) strings out; the tokenizer concatenates the result. */
  decodeChain(tokens: string[]): string[];
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['ByteLevel'];

export function decoderFromJSON(json: unknown, field = 'decoder'): Decoder {
  const type = componentType(json, field);
  if (type !== 'ByteLevel') throw unsupportedComponent(field, type, SUPPORTED);
  const o = json as Record<string, unknown>;
  for (const key of ['add_prefix_space', 'trim_offsets', 'use_regex']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new TokenizerError(`${field}.${key} must be true or false`);
  }
  // The ByteLevel decoder ignores its options (they only matter to the pre-tokenizer); kept for saving.
  return new ByteLevelDecoder(o.add_prefix_space !== false, o.trim_offsets !== false, o.use_regex !== false);
}

// ignoreBOM: keep a leading U+FEFF (the default would silently strip it, HF does not).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** Byte-level characters → bytes → UTF-8, invalid sequences → U+FFFD (as Rust's from_utf8_lossy). */
export class ByteLevelDecoder implements Decoder {
  constructor(readonly addPrefixSpace = true, readonly trimOffsets = true, readonly useRegex = true) {}

  decodeChain(tokens: string[]): string[] {
    const bytes: number[] = [];
    for (const t of tokens) {
      // A token outside the byte alphabet (e.g. an added token "<|im_start|> x") is taken as its own UTF-8.
      if (!appendByteLevelBytes(t, bytes)) for (const b of utf8Encoder.encode(t)) bytes.push(b);
    }
    return [utf8.decode(Uint8Array.from(bytes))];
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: this.trimOffsets, use_regex: this.useRegex };
  }
}
