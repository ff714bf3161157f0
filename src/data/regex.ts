// tokenizer.json regexes are Oniguruma patterns (interop.md §4.4); JavaScript needs the `u` flag and
// differs on points that real tokenizers hit:
// - `\s`: Oniguruma's is the Unicode White_Space property (it has U+0085, not U+FEFF), JavaScript's is
//   not, so `\s`/`\S` are rewritten to `\p{White_Space}`/`\P{White_Space}`;
// - `\d` and `\w` are Unicode in Oniguruma (Nd; UTS #18 word characters), ASCII in JavaScript;
// - Oniguruma lets any punctuation be escaped (`\'`, `\#`, `\-` outside a class), the `u` flag does not:
//   escaped ASCII punctuation becomes `\xHH`;
// - `(?i:...)` (Llama-3, Qwen2: `(?i:'s|'t|...)`) is no JavaScript group before V8 12.4, so each cased
//   letter inside it becomes `[xX]`, as llama.cpp does.
import { TokenizerError } from './errors.js';

/** GPT-2's pre-tokenizer regex, the one ByteLevel uses when `use_regex` is true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const CASE_INSENSITIVE_GROUP = '(?i:';
const WORD_CLASS_BODY = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';

/** The JavaScript for Oniguruma's escape `\e`; `inClass`: inside [...]. */
function translateEscape(e: string, inClass: boolean, fail: (why: string) => TokenizerError): string {
  switch (e) {
    case 's': return '\\p{White_Space}';
    case 'S': return '\\P{White_Space}';
    case 'd': return '\\p{Nd}';
    case 'D': return '\\P{Nd}';
    case 'w': return inClass ? WORD_CLASS_BODY : `[${WORD_CLASS_BODY}]`;
    case 'W':
      if (inClass) throw fail('has \\W inside a [class], which moekit cannot translate');
      return `[^${WORD_CLASS_BODY}]`;
    default:
      if (/^[0-9A-Za-z]$/.test(e)) return `\\${e}`; // \p, \n, \x41, \u...: the same in both
      if (e.charCodeAt(0) < 0x80) return `\\x${e.charCodeAt(0).toString(16).padStart(2, '0')}`;
      return e; // an escaped non-ASCII character is itself
  }
}

/** A global unicode RegExp for an Oniguruma pattern; `field` names it in errors. */
export function compileOniguruma(pattern: string, field: string): RegExp {
  const fail = (why: string): TokenizerError =>
    new TokenizerError(`${field}: regex ${JSON.stringify(pattern)} ${why}`, 'moekit translates Oniguruma regexes to JavaScript');
  let js = '';
  // Paren depth inside the innermost (?i: group; -1 when outside one. Nesting such groups is not needed.
  let caseless = -1;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      js += translateEscape(pattern[++i], inClass, fail);
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (caseless >= 0 && c.toLowerCase() !== c.toUpperCase()) throw fail('has a letter in a [class] inside (?i:...), which moekit cannot translate');
      js += c;
    } else if (c === '[') {
      inClass = true;
      js += c;
    } else if (pattern.startsWith(CASE_INSENSITIVE_GROUP, i)) {
      if (caseless >= 0) throw fail('nests (?i:...) groups');
      caseless = 0;
      js += '(?:';
      i += CASE_INSENSITIVE_GROUP.length - 1;
    } else if (caseless >= 0 && c === '(') {
      caseless++;
      js += c;
    } else if (caseless >= 0 && c === ')') {
      caseless--;
      js += c;
    } else if (caseless >= 0 && c.toLowerCase() !== c.toUpperCase()) {
      js += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    } else {
      js += c;
    }
  }
  try {
    return new RegExp(js, 'gu');
  } catch (err) {
    throw fail(`does not compile in JavaScript (${(err as Error).message})`);
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

/** A global RegExp matching `literal` exactly (a tokenizer.json `{"String": ...}` pattern). */
export function literalRegex(literal: string): RegExp {
  return new RegExp(literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
}

/** A tokenizer.json `pattern` field: `{"String": literal}` or `{"Regex": oniguruma}`. */
export type PatternJSON = { String: string } | { Regex: string };

/** Reads a `pattern` field (Split, Replace) and compiles it; `field` names it in errors. */
export function patternFromJSON(json: unknown, field: string): { pattern: PatternJSON; regex: RegExp } {
  const p = json as Record<string, unknown> | null | undefined;
  if (typeof p?.Regex === 'string') return { pattern: { Regex: p.Regex }, regex: compileOniguruma(p.Regex, `${field}.Regex`) };
  if (typeof p?.String === 'string') return { pattern: { String: p.String }, regex: literalRegex(p.String) };
  throw new TokenizerError(`${field} must be {"Regex": ...} or {"String": ...}`, `got ${JSON.stringify(json)}`);
}
