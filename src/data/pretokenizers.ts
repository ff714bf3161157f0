// tokenizer.json pre-tokenizers (interop.md §4.4): cut text into the words BPE sees. Each component
// streams its pieces to `emit`, so a Sequence chains them without building arrays. `atStart` tells
// whether a piece begins at offset 0 of the whole input (HF's offsets_original().0 == 0): Metaspace's
// prepend_scheme "first" prefixes only that piece.
import { toByteLevel } from './bytelevel.js';
import { TokenizerError, boolField, componentType, stringField, unsupportedComponent } from './errors.js';
import { GPT2_PATTERN, type PatternJSON, compileOniguruma, literalRegex, patternFromJSON, splitByRegex } from './regex.js';

export type EmitPiece = (piece: string, atStart: boolean) => void;

export interface PreTokenizer {
  /** `atStart` (default true): `text` begins at offset 0 of the input. */
  split(text: string, emit: EmitPiece, atStart?: boolean): void;
  toJSON(): Record<string, unknown>;
}

const SUPPORTED = ['ByteLevel', 'Split', 'Metaspace', 'Sequence'];

export function preTokenizerFromJSON(json: unknown, field = 'pre_tokenizer'): PreTokenizer {
  const type = componentType(json, field);
  const o = json as Record<string, unknown>;
  switch (type) {
    case 'ByteLevel':
      return new ByteLevelPreTokenizer({
        addPrefixSpace: boolField(o, 'add_prefix_space', true, field),
        trimOffsets: boolField(o, 'trim_offsets', true, field),
        useRegex: boolField(o, 'use_regex', true, field),
      });
    case 'Split':
      return SplitPreTokenizer.fromJSON(o, field);
    case 'Metaspace':
      return MetaspacePreTokenizer.fromJSON(o, field);
    case 'Sequence': {
      const list = o.pretokenizers;
      if (!Array.isArray(list)) throw new TokenizerError(`${field}.pretokenizers must be an array`);
      return new SequencePreTokenizer(list.map((p, i) => preTokenizerFromJSON(p, `${field}.pretokenizers[${i}]`)));
    }
    default:
      throw unsupportedComponent(field, type, SUPPORTED);
  }
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

  split(text: string, emit: EmitPiece, atStart = true): void {
    if (text === '') return;
    // HF prefixes every piece it receives (not only the text's start) when it lacks a leading space.
    const t = this.addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
    if (!this.useRegex) {
      emit(toByteLevel(t), atStart);
      return;
    }
    let first = true;
    splitByRegex(t, this.regex, (piece) => {
      emit(toByteLevel(piece), atStart && first);
      first = false;
    });
  }

  toJSON(): Record<string, unknown> {
    return { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: this.trimOffsets, use_regex: this.useRegex };
  }
}

const BEHAVIORS = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'] as const;
type SplitBehavior = (typeof BEHAVIORS)[number];

/** Split on a regex or string; `behavior` says what becomes of the matches (HF SplitDelimiterBehavior). */
export class SplitPreTokenizer implements PreTokenizer {
  constructor(
    readonly pattern: PatternJSON,
    readonly behavior: SplitBehavior,
    readonly invert: boolean,
    private readonly regex: RegExp = 'Regex' in pattern ? compileOniguruma(pattern.Regex, 'pre_tokenizer.pattern.Regex') : literalRegex(pattern.String),
  ) {}

  static fromJSON(o: Record<string, unknown>, field: string): SplitPreTokenizer {
    const { pattern, regex } = patternFromJSON(o.pattern, `${field}.pattern`);
    const behavior = o.behavior as SplitBehavior;
    if (!BEHAVIORS.includes(behavior)) {
      throw new TokenizerError(`${field}.behavior ${JSON.stringify(o.behavior)} is not one of ${BEHAVIORS.join(', ')}`);
    }
    return new SplitPreTokenizer(pattern, behavior, boolField(o, 'invert', false, field), regex);
  }

  split(text: string, emit: EmitPiece, atStart = true): void {
    splitWithBehavior(text, this.regex, this.behavior, this.invert, emit, atStart);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Split', pattern: this.pattern, behavior: this.behavior, invert: this.invert };
  }
}

/** Cuts `text` at the matches of `regex` and emits the pieces as `behavior` says (Split and Metaspace use it). */
function splitWithBehavior(text: string, regex: RegExp, behavior: SplitBehavior, invert: boolean, emit: EmitPiece, atStart: boolean): void {
  const parts: { s: string; match: boolean }[] = [];
  splitByRegex(text, regex, (s, isMatch) => parts.push({ s, match: isMatch !== invert }));
  // Each output piece with its offset in `text`, so only the piece at offset 0 inherits `atStart`.
  const out: { s: string; at: number }[] = [];
  let at = 0;
  let previousMatch = false;
  switch (behavior) {
    case 'Removed':
      for (const p of parts) {
        if (!p.match) out.push({ s: p.s, at });
        at += p.s.length;
      }
      break;
    case 'Isolated':
      for (const p of parts) {
        out.push({ s: p.s, at });
        at += p.s.length;
      }
      break;
    case 'Contiguous': // runs of pieces with the same flag join (HF: two non-matches too, seen with invert)
      for (const p of parts) {
        if (p.match === previousMatch && out.length > 0) out[out.length - 1].s += p.s;
        else out.push({ s: p.s, at });
        previousMatch = p.match;
        at += p.s.length;
      }
      break;
    case 'MergedWithPrevious': // a match joins the piece before it, unless that piece is a match too
      for (const p of parts) {
        if (p.match && !previousMatch && out.length > 0) out[out.length - 1].s += p.s;
        else out.push({ s: p.s, at });
        previousMatch = p.match;
        at += p.s.length;
      }
      break;
    case 'MergedWithNext': { // mirror image: a match joins the piece after it, unless that is a match
      at = text.length;
      for (let i = parts.length - 1; i >= 0; i--) {
        const p = parts[i];
        at -= p.s.length;
        if (p.match && !previousMatch && out.length > 0) {
          out[out.length - 1].s = p.s + out[out.length - 1].s;
          out[out.length - 1].at = at;
        } else {
          out.push({ s: p.s, at });
        }
        previousMatch = p.match;
      }
      out.reverse();
      break;
    }
  }
  for (const piece of out) emit(piece.s, atStart && piece.at === 0);
}

const PREPEND_SCHEMES = ['always', 'first', 'never'] as const;
export type PrependScheme = (typeof PREPEND_SCHEMES)[number];

/** Metaspace's prepend_scheme (pre-tokenizer and decoder alike). */
export function prependSchemeFromJSON(o: Record<string, unknown>, field: string): PrependScheme {
  // Files older than tokenizers 0.19 have add_prefix_space instead: false ⇒ never, true ⇒ always.
  const scheme = o.prepend_scheme ?? (o.add_prefix_space === false ? 'never' : 'always');
  if (!PREPEND_SCHEMES.includes(scheme as PrependScheme)) {
    throw new TokenizerError(`${field}.prepend_scheme ${JSON.stringify(scheme)} is not one of ${PREPEND_SCHEMES.join(', ')}`);
  }
  return scheme as PrependScheme;
}

/** SentencePiece style: " " → "▁", a "▁" in front (per prepend_scheme), cut before each "▁" if `split`. */
export class MetaspacePreTokenizer implements PreTokenizer {
  private readonly replacementRegex: RegExp;

  constructor(readonly replacement: string, readonly prependScheme: PrependScheme, readonly splitPieces: boolean) {
    this.replacementRegex = literalRegex(replacement);
  }

  static fromJSON(o: Record<string, unknown>, field: string): MetaspacePreTokenizer {
    const replacement = stringField(o, 'replacement', field);
    if ([...replacement].length !== 1) throw new TokenizerError(`${field}.replacement must be one character, got ${JSON.stringify(replacement)}`);
    return new MetaspacePreTokenizer(replacement, prependSchemeFromJSON(o, field), boolField(o, 'split', true, field));
  }

  split(text: string, emit: EmitPiece, atStart = true): void {
    if (text === '') return;
    let t = text.replaceAll(' ', this.replacement);
    const prepend = this.prependScheme === 'always' || (this.prependScheme === 'first' && atStart);
    if (prepend && !t.startsWith(this.replacement)) t = this.replacement + t;
    if (this.splitPieces) splitWithBehavior(t, this.replacementRegex, 'MergedWithNext', false, emit, atStart);
    else emit(t, atStart);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Metaspace', replacement: this.replacement, prepend_scheme: this.prependScheme, split: this.splitPieces };
  }
}

export class SequencePreTokenizer implements PreTokenizer {
  constructor(readonly steps: readonly PreTokenizer[]) {}

  split(text: string, emit: EmitPiece, atStart = true): void {
    const run = (i: number, piece: string, pieceAtStart: boolean): void => {
      if (i === this.steps.length) emit(piece, pieceAtStart);
      else this.steps[i].split(piece, (next, nextAtStart) => run(i + 1, next, nextAtStart), pieceAtStart);
    };
    run(0, text, atStart);
  }

  toJSON(): Record<string, unknown> {
    return { type: 'Sequence', pretokenizers: this.steps.map((s) => s.toJSON()) };
  }
}
