// tokenizer.json normalizers (interop.md §4.5): text → text before pre-tokenization, applied to each
// stretch of text between added tokens. SentencePiece's `Precompiled` charsmap is not implemented and
// is rejected by name rather than skipped (skipping would silently tokenize differently).
import { TokenizerError, boolField, componentType, stringField, unsupportedComponent } from './errors.js';
import { type PatternJSON, patternFromJSON } from './regex.js';

export interface Normalizer {
  normalize(text: string): string;
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['Sequence', 'Prepend', 'Replace', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Strip'];
const UNICODE_FORMS = ['NFC', 'NFD', 'NFKC', 'NFKD'] as const;

export function normalizerFromJSON(json: unknown, field = 'normalizer'): Normalizer {
  const type = componentType(json, field);
  const o = json as Record<string, unknown>;
  switch (type) {
    case 'Sequence': {
      if (!Array.isArray(o.normalizers)) throw new TokenizerError(`${field}.normalizers must be an array`);
      return new SequenceNormalizer(o.normalizers.map((n, i) => normalizerFromJSON(n, `${field}.normalizers[${i}]`)));
    }
    case 'Prepend':
      return new PrependNormalizer(stringField(o, 'prepend', field));
    case 'Replace': {
      const { pattern, regex } = patternFromJSON(o.pattern, `${field}.pattern`);
      return new ReplaceNormalizer(pattern, regex, stringField(o, 'content', field));
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return new UnicodeNormalizer(type);
    case 'Lowercase':
      return new LowercaseNormalizer();
    case 'Strip':
      return new StripNormalizer(boolField(o, 'strip_left', true, field), boolField(o, 'strip_right', true, field));
    case 'Precompiled':
      throw new TokenizerError(`${field}.type "Precompiled" (a SentencePiece charsmap) is not supported; supported: ${SUPPORTED.join(', ')}`,
        'convert the tokenizer with a normalizer of the supported types (transformers writes none for Llama/Mixtral)');
    default:
      throw unsupportedComponent(field, type, SUPPORTED);
  }
}

export class SequenceNormalizer implements Normalizer {
  constructor(readonly steps: readonly Normalizer[]) {}

  normalize(text: string): string {
    return this.steps.reduce((s, step) => step.normalize(s), text);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Sequence', normalizers: this.steps.map((s) => s.toJSON()) };
  }
}

/** Llama-2's "▁" in front of every stretch of text; an empty stretch stays empty (HF prepends only to non-empty). */
export class PrependNormalizer implements Normalizer {
  constructor(readonly prepend: string) {}

  normalize(text: string): string {
    return text === '' ? text : this.prepend + text;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Prepend', prepend: this.prepend };
  }
}

export class ReplaceNormalizer implements Normalizer {
  constructor(readonly pattern: PatternJSON, private readonly regex: RegExp, readonly content: string) {}

  normalize(text: string): string {
    // A function replacement: `content` is literal ("$1" is not a back-reference in HF).
    return text.replace(this.regex, () => this.content);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Replace', pattern: this.pattern, content: this.content };
  }
}

export class UnicodeNormalizer implements Normalizer {
  constructor(readonly form: (typeof UNICODE_FORMS)[number]) {}

  normalize(text: string): string {
    return text.normalize(this.form);
  }

  toJSON(): Record<string, unknown> {
    return { type: this.form };
  }
}

/** Code point by code point, as HF does: no context rules, so a final Σ becomes σ, not ς. */
export class LowercaseNormalizer implements Normalizer {
  normalize(text: string): string {
    let out = '';
    for (const ch of text) out += ch.toLowerCase();
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Lowercase' };
  }
}

/** Removes leading / trailing Unicode whitespace (Rust's char::is_whitespace = White_Space). */
export class StripNormalizer implements Normalizer {
  constructor(readonly left: boolean, readonly right: boolean) {}

  normalize(text: string): string {
    let s = text;
    if (this.left) s = s.replace(/^\p{White_Space}+/u, '');
    if (this.right) s = s.replace(/\p{White_Space}+$/u, '');
    return s;
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Strip', strip_left: this.left, strip_right: this.right };
  }
}
