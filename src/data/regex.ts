// tokenizer.json regexes are Oniguruma patterns (interop.md §4.4); JavaScript needs the `u` flag and
// differs on `\s`: Oniguruma's `\s` is the Unicode White_Space property (it has U+0085, not U+FEFF),
// JavaScript's is not, so `\s`/`\S` are rewritten to `\p{White_Space}`/`\P{White_Space}`.
import { TokenizerError } from './errors.js';

/** GPT-2's pre-tokenizer regex, the one ByteLevel uses when `use_regex` is true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A global unicode RegExp for an Oniguruma pattern; `field` names it in errors. */
export function compileOniguruma(pattern: string, field: string): RegExp {
  let js = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c !== '\\' || i + 1 === pattern.length) {
      js += c;
      continue;
    }
    const e = pattern[++i];
    js += e === 's' ? '\\p{White_Space}' : e === 'S' ? '\\P{White_Space}' : `\\${e}`;
  }
  try {
    return new RegExp(js, 'gu');
  } catch (err) {
    throw new TokenizerError(`${field}: regex ${JSON.stringify(pattern)} does not compile in JavaScript (${(err as Error).message})`,
      'Oniguruma-only syntax such as (?i:...) is not supported yet');
  }
}

/** Calls `emit(piece, isMatch)` for the matches of `re` in `text` and the gaps between them, in order. */
export function splitByRegex(text: string, re: RegExp, emit: (piece: string, isMatch: boolean) => void): void {
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m[0] === '') continue;
    const start = m.index as number;
    if (start > last) emit(text.slice(last, start), false);
    emit(m[0], true);
    last = start + m[0].length;
  }
  if (last < text.length) emit(text.slice(last), false);
}
