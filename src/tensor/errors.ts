// Typed errors. Every error a user can cause says what is wrong, where, and (hint) what to do.
// The CLI prints `message` (+ hint) on one line and hides the stack unless --debug.

export class MoekitError extends Error {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A tensor shape that an op cannot accept; names the op and the shapes involved. */
export class ShapeError extends MoekitError {}

/** A tensor held in a storage dtype (f16/bf16) that the requested use cannot read. */
export class DtypeError extends MoekitError {}

/** A configuration value or key that fails validation. */
export class ConfigError extends MoekitError {}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Levenshtein distance, for "did you mean" hints on unknown keys and names. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The candidate closest to `name` (ties: first in the list). */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  return best;
}
