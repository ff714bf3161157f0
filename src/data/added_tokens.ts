// tokenizer.json added_tokens (interop.md §4.8): strings matched in the text before BPE (leftmost,
// longest first) and never split by it. Tokens with `normalized: false` are matched in the raw text,
// the others in the normalized text, against their own normalized content (HF's two tries).
// `lstrip`/`rstrip` swallow the whitespace beside a match; `single_word` rejects a match touching a
// word character. `special` ones are dropped by skipSpecial decoding and by parseSpecial: false matching.
import { TokenizerError, boolField } from './errors.js';
import { literalRegex } from './regex.js';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  singleWord?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  /** Matched in normalized text (HF default: true for non-special tokens). */
  normalized?: boolean;
}

/** Rust's char::is_alphanumeric or '_': what HF's single_word check calls a word character. */
const WORD_CHAR = /[\p{Alphabetic}\p{N}_]/u;
const SPACE_RUN_END = /\p{White_Space}+$/u;
const SPACE_RUN_START = /^\p{White_Space}+/u;

/** Reads an AddedToken object (tokenizer.json added_tokens[i], tokenizer_config added_tokens_decoder). */
export function addedTokenFromJSON(t: Record<string, unknown> | null, id: unknown, field: string): AddedToken {
  if (typeof t?.content !== 'string' || !Number.isInteger(id) || (id as number) < 0) {
    throw new TokenizerError(`${field} needs a string "content" and an integer "id" ≥ 0`, `got ${JSON.stringify(t)}`);
  }
  const flag = (key: string, fallback: boolean): boolean => boolField(t, key, fallback, field);
  const special = flag('special', false);
  return {
    id: id as number,
    content: t.content,
    special,
    singleWord: flag('single_word', false),
    lstrip: flag('lstrip', false),
    rstrip: flag('rstrip', false),
    normalized: flag('normalized', !special),
  };
}

/** Leftmost-longest matcher over a set of added tokens. */
class TokenMatcher {
  private readonly byPattern = new Map<string, AddedToken>();
  private readonly regex: RegExp | null;

  constructor(tokens: readonly AddedToken[], patternOf: (t: AddedToken) => string) {
    for (const t of tokens) {
      const p = patternOf(t);
      if (p !== '' && !this.byPattern.has(p)) this.byPattern.set(p, t);
    }
    // Alternatives sorted longest first: at a given position the regex then takes the longest match.
    const alternatives = [...this.byPattern.keys()].sort((a, b) => b.length - a.length).map((p) => literalRegex(p).source);
    this.regex = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  /** Calls `onText(s, offset)` for the text between matches and `onToken` for each match, in order. */
  split(text: string, onText: (s: string, offset: number) => void, onToken: (t: AddedToken) => void): void {
    let last = 0;
    if (this.regex !== null) {
      for (const m of text.matchAll(this.regex)) {
        let start = m.index as number;
        let stop = start + m[0].length;
        if (start < last) continue; // inside whitespace an earlier rstrip swallowed
        const t = this.byPattern.get(m[0]) as AddedToken;
        if (t.singleWord && (WORD_CHAR.test(lastChar(text, start)) || WORD_CHAR.test(firstChar(text, stop)))) continue;
        if (t.lstrip) start = Math.max(last, start - (SPACE_RUN_END.exec(text.slice(last, start))?.[0].length ?? 0));
        if (t.rstrip) stop += SPACE_RUN_START.exec(text.slice(stop))?.[0].length ?? 0;
        if (start > last) onText(text.slice(last, start), last);
        onToken(t);
        last = stop;
      }
    }
    if (last < text.length) onText(text.slice(last), last);
  }
}

const lastChar = (s: string, end: number): string => (end > 0 ? String.fromCodePoint(s.codePointAt(end - 1) as number) : '');
const firstChar = (s: string, start: number): string => (start < s.length ? String.fromCodePoint(s.codePointAt(start) as number) : '');

export interface AddedSplitOptions {
  /** False: special tokens are not matched (HF encode_special_tokens), other added tokens still are. */
  parseSpecial: boolean;
  /** The normalizer; normalized tokens are matched in its output. */
  normalize: ((s: string) => string) | null;
}

export class AddedTokens {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly byId = new Map<number, AddedToken>();
  // [raw, normalized] matchers per parseSpecial, built on first use for the normalizer they were asked with.
  private readonly matchers = new Map<boolean, { normalize: AddedSplitOptions['normalize']; raw: TokenMatcher; normalized: TokenMatcher }>();

  constructor(readonly list: readonly AddedToken[]) {
    for (const t of list) {
      if (t.content === '') throw new TokenizerError(`added token ${t.id} has empty content`);
      this.byContent.set(t.content, t);
      this.byId.set(t.id, t);
    }
  }

  static fromJSON(json: unknown): AddedTokens {
    if (json === undefined || json === null) return new AddedTokens([]);
    if (!Array.isArray(json)) throw new TokenizerError('added_tokens must be an array');
    return new AddedTokens(json.map((t: Record<string, unknown> | null, i) => addedTokenFromJSON(t, t?.id, `added_tokens[${i}]`)));
  }

  toJSON(): Record<string, unknown>[] {
    return this.list.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: t.singleWord ?? false,
      lstrip: t.lstrip ?? false,
      rstrip: t.rstrip ?? false,
      normalized: t.normalized ?? !t.special,
      special: t.special,
    }));
  }

  get(id: number): AddedToken | undefined {
    return this.byId.get(id);
  }

  idOf(content: string): number | undefined {
    return this.byContent.get(content)?.id;
  }

  /**
   * Splits `text` around added tokens: `onText(s, atStart)` gets each stretch of normalized text between
   * them (atStart: it begins at offset 0 of `text`), `onToken` each added token's id, in order.
   */
  split(text: string, opts: AddedSplitOptions, onText: (s: string, atStart: boolean) => void, onToken: (id: number) => void): void {
    const { raw, normalized } = this.matchersFor(opts);
    raw.split(text, (segment, offset) => {
      const norm = opts.normalize ? opts.normalize(segment) : segment;
      normalized.split(norm, (s, inner) => s !== '' && onText(s, offset === 0 && inner === 0), (t) => onToken(t.id));
    }, (t) => onToken(t.id));
  }

  private matchersFor(opts: AddedSplitOptions): { raw: TokenMatcher; normalized: TokenMatcher } {
    let m = this.matchers.get(opts.parseSpecial);
    if (m === undefined || m.normalize !== opts.normalize) {
      const usable = this.list.filter((t) => opts.parseSpecial || !t.special);
      const isNormalized = (t: AddedToken): boolean => t.normalized ?? !t.special;
      const normalize = opts.normalize ?? ((s: string) => s);
      m = {
        normalize: opts.normalize,
        raw: new TokenMatcher(usable.filter((t) => !isNormalized(t)), (t) => t.content),
        normalized: new TokenMatcher(usable.filter(isNormalized), (t) => normalize(t.content)),
      };
      this.matchers.set(opts.parseSpecial, m);
    }
    return m;
  }
}
