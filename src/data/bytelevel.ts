// GPT-2's byte ↔ unicode alphabet (interop.md §4.3): every byte gets a printable, non-space character so
// that BPE tokens are plain strings. 0x21–0x7E, 0xA1–0xAC, 0xAE–0xFF map to themselves; the other 68
// bytes, in increasing order, to U+0100 + n.

/** BYTE_TO_CHAR[b] = the character standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.push(String.fromCharCode(printable ? b : 0x100 + n++));
  }
  return table;
})();

/** Indexed by char code (< 0x144); -1 for characters outside the alphabet. */
const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (table[c.charCodeAt(0)] = b));
  return table;
})();

/** The 256 alphabet characters sorted by code point: the id order of GPT-2's first 256 tokens. */
export const BYTE_ALPHABET: readonly string[] = [...BYTE_TO_CHAR].sort();

const utf8 = new TextEncoder();

/** Text → its UTF-8 bytes written in the byte-level alphabet. */
export function toByteLevel(text: string): string {
  // Fast path: ASCII maps char by char, no UTF-8 encoding needed (most of English text).
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return bytesToByteLevel(utf8.encode(text));
    out += BYTE_TO_CHAR[c];
  }
  return out;
}

function bytesToByteLevel(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += BYTE_TO_CHAR[b];
  return out;
}

/** Appends the bytes of a byte-level string to `out`; false (nothing appended) if a char is outside the alphabet. */
export function appendByteLevelBytes(s: string, out: number[]): boolean {
  const start = out.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) {
      out.length = start;
      return false;
    }
    out.push(b);
  }
  return true;
}
