// Deterministic train/validation split by whole documents (data.md: hold out whole documents from
// every genre). A document's side depends only on (seed, id, its source's size), never on file order.
import { createHash } from 'node:crypto';
import type { Document } from './document.js';
import { DataError } from './errors.js';

export interface SplitOptions {
  seed: number;
  /** Share of each source held out (default 0.1); at least 1 document when a source has ≥ 2. */
  validFraction?: number;
}

export interface Split {
  train: Document[];
  valid: Document[];
}

/**
 * Per source, sorts documents by a seeded hash of their id and holds out the first
 * round(validFraction · n) (≥ 1 when n ≥ 2). Sources with a single document (e.g. one .txt file each)
 * are pooled and split as one group, so they still contribute to validation. Both halves come back
 * sorted by id.
 */
export function splitDocuments(docs: readonly Document[], opts: SplitOptions): Split {
  const fraction = opts.validFraction ?? 0.1;
  if (!(fraction > 0 && fraction < 1)) {
    throw new DataError(`validFraction must be in (0, 1), got ${fraction}`);
  }
  const bySource = new Map<string, Document[]>();
  const ids = new Set<string>();
  for (const d of docs) {
    if (ids.has(d.id)) throw new DataError(`document id "${d.id}" appears twice`, 'pass each file once');
    ids.add(d.id);
    const group = bySource.get(d.source);
    if (group) group.push(d);
    else bySource.set(d.source, [d]);
  }
  const groups = [...bySource.values()].filter((g) => g.length >= 2);
  const singles = [...bySource.values()].filter((g) => g.length === 1).flat();
  if (singles.length > 0) groups.push(singles);

  const train: Document[] = [];
  const valid: Document[] = [];
  for (const group of groups) {
    const ranked = group
      .map((d) => ({ d, h: seededHash(opts.seed, d.id) }))
      .sort((a, b) => a.h - b.h || compareIds(a.d.id, b.d.id));
    const nValid = ranked.length < 2 ? 0 : Math.max(1, Math.round(fraction * ranked.length));
    ranked.forEach(({ d }, i) => (i < nValid ? valid : train).push(d));
  }
  train.sort((a, b) => compareIds(a.id, b.id));
  valid.sort((a, b) => compareIds(a.id, b.id));
  return { train, valid };
}

export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First 48 bits of sha256(seed:id): stable across platforms and Node versions. */
function seededHash(seed: number, id: string): number {
  return createHash('sha256').update(`${seed}:${id}`).digest().readUIntBE(0, 6);
}
