// tokenizer.json pre-tokenizers (interop.md §4.4): cut text into the words BPE sees. Each component
// streams its pieces to `emit`, so a Sequence chains them without building arrays.
import { toByteLevel } from './bytelevel.js';
import { TokenizerError, componentType, unsupportedComponent } from './errors.js';
import { GPT2_PATTERN, compileOniguruma, splitByRegex } from './regex.js';

export interface PreTokenizer {
  split(text: string, emit: (piece: string) => void): void;
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['ByteLevel', 'Split', 'Sequence'];

export function preTokenizerFromJSON(json: unknown, field = 'pre_tokenizer'): PreTokenizer {
  const type = componentType(json, field);
  const o = json as Record<string, unknown>;
  switch (type) {
    case 'ByteLevel':
      return new ByteLevelPreTokenizer({
        addPrefixSpace: bool(o, 'add_prefix_space', true, field),
        trimOffsets: bool(o, 'trim_offsets', true, field),
        useRegex: bool(o, 'use_regex', true, field),
      });
    case 'Split':
      return SplitPreTokenizer.fromJSON(o, field);
    case 'Sequence': {
      const list = o.pretokenizers;
      if (!Array.isArray(list)) throw new TokenizerError(`${field}.pretokenizers must be an array`);
      return new SequencePreTokenizer(list.map((p, i) => preTokenizerFromJSON(p, `${field}.pretokenizers[${i}]`)));
    }
    default:
      throw unsupportedComponent(field, type, SUPPORTED);
  }
}

function bool(o: Record<string, unknown>, key: string, fallback: boolean, field: string): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new TokenizerError(`${field}.${key} must be true or false`);
  return v;
}

/** GPT-2 style: optional leading space, the GPT-2 regex, then UTF-8 bytes → the byte alphabet (§4.3). */
export class ByteLevelPreTokenizer implements PreTokenizer {
  private readonly regex = compileOniguruma(GPT2_PATTERN, 'ByteLevel');
  readonly addPrefixSpace: boolean;
  readonly trimOffsets: boolean;
  readonly useRegex: boolean;

  constructor(opts: { addPrefixSpace?: boolean; trimOffsets?: boolean; useRegex?: boolean } = {}) {
    this.addPrefixSpace = opts.addPrefixSpace ?? false;
    this.trimOffsets = opts.trimOffsets ?? true;
    this.useRegex = opts.useRegex ?? true;
  }

  split(text: string, emit: (piece: string) => void): void {
    if (text === '') return;
    // HF prefixes every piece it receives (not only the text's start) when it lacks a leading space.
    const t = this.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
    if (this.useRegex) splitByRegex(t, this.regex, (piece) => emit(toByteLevel(piece)));
    else emit(toByteLevel(t));
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: this.trimOffsets, use_regex: this.useRegex };
  }
}

const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'] as const;
type SplitBehavior = (typeof BEHAVIORS)[number];

/** Split on a regex or string; `behavior` says what becomes of the matches (HF SplitDelimiterBehavior). */
export class SplitPreTokenizer implements PreTokenizer {
  private readonly regex: RegExp;

  constructor(
    readonly pattern: { Regex: string } | { String: string },
    readonly behavior: SplitBehavior,
    readonly invert: boolean,
    field = 'pre_tokenizer',
  ) {
    this.regex = 'Regex' in pattern
      ? compileOniguruma(pattern.Regex, `${field}.pattern.Regex`)
      : new RegExp(pattern.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
  }

  static fromJSON(o: Record<string, unknown>, field: string): SplitPreTokenizer {
    const p = o.pattern as Record<string, unknown> | undefined;
    const pattern = typeof p?.Regex === 'string' ? { Regex: p.Regex }
      : typeof p?.String === 'string' ? { String: p.String } : undefined;
    if (!pattern) throw new TokenizerError(`${field}.pattern must be {"Regex": ...} or {"String": ...}`);
    const behavior = o.behavior as SplitBehavior;
    if (!BEHAVIORS.includes(behavior)) {
      throw new TokenizerError(`${field}.behavior ${JSON.stringify(o.behavior)} is not one of ${BEHAVIORS.join(', ')}`);
    }
    return new SplitPreTokenizer(pattern, behavior, o.invert === true, field);
  }

  split(text: string, emit: (piece: string) => void): void {
    const parts: { s: string; match: boolean }[] = [];
    splitByRegex(text, this.regex, (s, isMatch) => parts.push({ s, match: isMatch !== this.invert }));
    const out: string[] = [];
    let previousMatch = false;
    switch (this.behavior) {
      case 'Removed':
        for (const p of parts) if (!p.match) out.push(p.s);
        break;
      case 'Isolated':
        for (const p of parts) out.push(p.s);
        break;
      case 'Contiguous':
        for (const p of parts) {
          if (p.match && previousMatch) out[out.length - 1] += p.s;
          else out.push(p.s);
          previousMatch = p.match;
        }
        break;
      case 'MergedWithPrevious': // a match joins the piece before it, unless that piece is a match too
        for (const p of parts) {
          if (p.match && !previousMatch && out.length > 0) out[out.length - 1] += p.s;
          else out.push(p.s);
          previousMatch = p.match;
        }
        break;
      case 'MergedWithNext': // mirror image: a match joins the piece after it, unless that is a match
        for (let i = parts.length - 1; i >= 0; i--) {
          const p = parts[i];
          if (p.match && !previousMatch && out.length > 0) out[out.length - 1] = p.s + out[out.length - 1];
          else out.push(p.s);
          previousMatch = p.match;
        }
        out.reverse();
        break;
    }
    for (const piece of out) emit(piece);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Split', pattern: this.pattern, behavior: this.behavior, invert: this.invert };
  }
}

export class SequencePreTokenizer implements PreTokenizer {
  constructor(readonly steps: readonly PreTokenizer[]) {}

  split(text: string, emit: (piece: string) => void): void {
    const run = (i: number, piece: string): void => {
      if (i === this.steps.length) emit(piece);
      else this.steps[i].split(piece, (next) => run(i + 1, next));
    };
    run(0, text);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Sequence', pretokenizers: this.steps.map((s) => s.toJSON()) };
  }
}
