// One typed array from several, back to back (file images, stacked expert slabs).
type Flat = Uint8Array | Float32Array;

export function concatArrays<T extends Flat>(parts: readonly T[], make: (n: number) => T): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
