// Hostile JSON (interop.md §1.3, §1.5): the bounds-checked scan that runs before JSON.parse on a
// safetensors header or a shard index, and safe one-line descriptions of values found in one.

/** A short, escaped preview of a hostile value (never recursive: JSON.stringify overflows on deep nesting). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${q(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** A name from a file, quoted and escaped (no control characters reach the terminal) and cut at 120 chars. */
function q(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}
export { q as quoteName };
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** serde_json's default recursion limit, with which the reference loader parses headers (§1.3). */
export const MAX_JSON_DEPTH = 128;

export interface JsonKeyScan {
  /** Nesting deeper than MAX_JSON_DEPTH (scanning stopped there). */
  tooDeep: boolean;
  /** The first duplicate key, with the path of its object ('' = top level). */
  duplicate: { key: string; object: string } | null;
}

/**
 * One bounds-checked pass over a JSON text, run before JSON.parse: refuses nesting deeper than
 * MAX_JSON_DEPTH (a hostile header must not exhaust the stack or memory) and finds duplicate keys, which
 * JSON.parse keeps silently (last wins) and the safetensors README forbids (§1.3). Invalid JSON just
 * ends the scan; JSON.parse reports it.
 */
export function scanJsonKeys(text: string): JsonKeyScan {
  const stack: { keys: Set<string> | null; name: string; inArray: boolean }[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length === MAX_JSON_DEPTH) return { tooDeep: true, duplicate: null };
      stack.push({ keys: c === 0x7b ? new Set() : null, name: lastKey, inArray: stack.at(-1)?.keys === null });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (j >= text.length) break; // unterminated string
      let k = j + 1;
      while (k < text.length && ' \t\n\r'.includes(text[k])) k++;
      const top = stack.at(-1);
      if (text[k] === ':' && top?.keys) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          break; // a bad escape
        }
        if (top.keys.has(key)) return { tooDeep: false, duplicate: { key, object: objectPath(stack) } };
        top.keys.add(key);
        lastKey = key;
      }
      i = j;
    }
  }
  return { tooDeep: false, duplicate: null };
}

/** "a.b[]" for the innermost object of the scan stack ('' = top level). */
function objectPath(stack: readonly { name: string; inArray: boolean }[]): string {
  let path = '';
  for (const f of stack.slice(1)) path += f.inArray ? '[]' : path === '' ? f.name : `.${f.name}`;
  return path;
}

export const TOO_DEEP = `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;

export function describeDuplicate(dup: { key: string; object: string }): string {
  return `duplicate key ${q(dup.key)} in ${dup.object === '' ? 'the top-level object' : q(dup.object)}`;
}
