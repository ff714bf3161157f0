// tokenizer.json decoders (interop.md §4.6): token strings → text. Each is HF's decode_chain: a list of
// strings in, a list out; a Sequence feeds one's output to the next, and the tokenizer joins the end.
import { BYTE_TOKEN } from './bpe.js';
import { appendByteLevelBytes } from './bytelevel.js';
import { TokenizerError, boolField, componentType, stringField, unsupportedComponent } from './errors.js';
import { type PrependScheme, prependSchemeFromJSON } from './pretokenizers.js';
import { type PatternJSON, patternFromJSON } from './regex.js';

export interface Decoder {
  /** HF's decode_chain: tokens in, (fewer) strings out; the tokenizer concatenates the result. */
  decodeChain(tokens: string[]): string[];
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['Sequence', 'ByteLevel', 'Replace', 'ByteFallback', 'Fuse', 'Strip', 'Metaspace'];

export function decoderFromJSON(json: unknown, field = 'decoder'): Decoder {
  const type = componentType(json, field);
  const o = json as Record<string, unknown>;
  switch (type) {
    case 'Sequence':
      if (!Array.isArray(o.decoders)) throw new TokenizerError(`${field}.decoders must be an array`);
      return new SequenceDecoder(o.decoders.map((d, i) => decoderFromJSON(d, `${field}.decoders[${i}]`)));
    case 'ByteLevel':
      // The ByteLevel decoder ignores its options (they only matter to the pre-tokenizer); kept for saving.
      return new ByteLevelDecoder(boolField(o, 'add_prefix_space', true, field), boolField(o, 'trim_offsets', true, field), boolField(o, 'use_regex', true, field));
    case 'Replace': {
      const { pattern, regex } = patternFromJSON(o.pattern, `${field}.pattern`);
      return new ReplaceDecoder(pattern, regex, stringField(o, 'content', field));
    }
    case 'ByteFallback':
      return new ByteFallbackDecoder();
    case 'Fuse':
      return new FuseDecoder();
    case 'Strip': {
      const content = stringField(o, 'content', field);
      if ([...content].length !== 1) throw new TokenizerError(`${field}.content must be one character, got ${JSON.stringify(content)}`);
      return new StripDecoder(content, count(o, 'start', field), count(o, 'stop', field));
    }
    case 'Metaspace':
      return new MetaspaceDecoder(stringField(o, 'replacement', field), prependSchemeFromJSON(o, field), boolField(o, 'split', true, field));
    default:
      throw unsupportedComponent(field, type, SUPPORTED);
  }
}

function count(o: Record<string, unknown>, key: string, field: string): number {
  const v = o[key] ?? 0;
  if (!Number.isInteger(v) || (v as number) < 0) throw new TokenizerError(`${field}.${key} must be a count ≥ 0, got ${JSON.stringify(v)}`);
  return v as number;
}

// ignoreBOM: keep a leading U+FEFF (the default would silently strip it, HF does not).
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export class SequenceDecoder implements Decoder {
  constructor(readonly steps: readonly Decoder[]) {}

  decodeChain(tokens: string[]): string[] {
    return this.steps.reduce((t, step) => step.decodeChain(t), tokens);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Sequence', decoders: this.steps.map((s) => s.toJSON()) };
  }
}

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

/** Replaces the pattern in each token (Llama-2: "▁" → " "); `content` is literal. */
export class ReplaceDecoder implements Decoder {
  constructor(readonly pattern: PatternJSON, private readonly regex: RegExp, readonly content: string) {}

  decodeChain(tokens: string[]): string[] {
    return tokens.map((t) => t.replace(this.regex, () => this.content));
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Replace', pattern: this.pattern, content: this.content };
  }
}

/**
 * Runs of `<0xHH>` tokens → their bytes as UTF-8. A run that is not valid UTF-8 becomes one U+FFFD per
 * byte (HF's ByteFallback, unlike from_utf8_lossy's one per maximal subpart).
 */
export class ByteFallbackDecoder implements Decoder {
  decodeChain(tokens: string[]): string[] {
    const out: string[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length === 0) return;
      try {
        out.push(utf8Strict.decode(Uint8Array.from(run)));
      } catch {
        for (let i = 0; i < run.length; i++) out.push('\ufffd');
      }
      run = [];
    };
    for (const t of tokens) {
      const m = BYTE_TOKEN.exec(t);
      if (m) {
        run.push(parseInt(m[1], 16));
      } else {
        flush();
        out.push(t);
      }
    }
    flush();
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ByteFallback' };
  }
}

export class FuseDecoder implements Decoder {
  decodeChain(tokens: string[]): string[] {
    return [tokens.join('')];
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Fuse' };
  }
}

/** Removes up to `start` leading and `stop` trailing `content` characters from each token. */
export class StripDecoder implements Decoder {
  constructor(readonly content: string, readonly start: number, readonly stop: number) {}

  decodeChain(tokens: string[]): string[] {
    return tokens.map((t) => {
      const chars = [...t];
      let from = 0;
      while (from < this.start && from < chars.length && chars[from] === this.content) from++;
      let to = chars.length;
      while (chars.length - to < this.stop && to > from && chars[to - 1] === this.content) to--;
      return chars.slice(from, to).join('');
    });
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Strip', content: this.content, start: this.start, stop: this.stop };
  }
}

/**
 * "▁" → " ". In the first token every "▁" is dropped unless prepend_scheme is "never" (HF drops them
 * all there, not only the leading one: the prefix space the pre-tokenizer added).
 */
export class MetaspaceDecoder implements Decoder {
  constructor(readonly replacement: string, readonly prependScheme: PrependScheme, readonly split: boolean) {}

  decodeChain(tokens: string[]): string[] {
    return tokens.map((t, i) => t.replaceAll(this.replacement, i === 0 && this.prependScheme !== 'never' ? '' : ' '));
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Metaspace', replacement: this.replacement, prepend_scheme: this.prependScheme, split: this.split };
  }
}
