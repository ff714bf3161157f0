// Byte-level BPE training: start from the 256 byte tokens and repeatedly merge the most frequent
// adjacent pair. Fast because it works on unique words (with counts), keeps global pair counts that
// each merge updates incrementally, and indexes pair → words containing it, so a merge only touches
// the words that contain its pair (the scheme of HF tokenizers' BpeTrainer).
import { BYTE_ALPHABET } from './bytelevel.js';
import { TokenizerError } from './errors.js';
import { Heap } from './heap.js';
import { PAIR_BASE, pairKey } from './bpe.js';

export interface BpeTrainOptions {
  /** Size of the model vocab: 256 byte tokens + merged tokens (added tokens not included). */
  vocabSize: number;
  /** Pairs seen fewer times are never merged (default 2), so tiny corpora stop early. */
  minFrequency?: number;
  onProgress?: (fraction: number) => void;
}

export interface BpeTrainResult {
  /** id → token: the 256 byte-level characters sorted by code point (GPT-2's order), then merges. */
  tokens: string[];
  merges: [string, string][];
}

interface Candidate {
  key: number;
  count: number;
}

/** `wordCounts`: pre-tokenized words written in the byte-level alphabet → occurrences. */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, opts: BpeTrainOptions): BpeTrainResult {
  const { vocabSize, minFrequency = 2 } = opts;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize >= PAIR_BASE) {
    throw new TokenizerError(`vocab size must be an integer in [256, ${PAIR_BASE}), got ${vocabSize}`);
  }
  const tokens = [...BYTE_ALPHABET];
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const merges: [string, string][] = [];

  // Unique words as id arrays that shrink in place as merges apply; only words of ≥ 2 symbols matter.
  const words: Int32Array[] = [];
  const lengths: number[] = [];
  const freq: number[] = [];
  for (const [word, count] of wordCounts) {
    if (word.length < 2) continue;
    const ids = new Int32Array(word.length);
    for (let i = 0; i < word.length; i++) {
      const id = idOf.get(word[i]);
      if (id === undefined) throw new TokenizerError(`training word ${JSON.stringify(word)} is not byte-level text`);
      ids[i] = id;
    }
    words.push(ids);
    lengths.push(ids.length);
    freq.push(count);
  }

  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPair = (key: number, w: number, f: number): void => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + f);
    let set = where.get(key);
    if (!set) where.set(key, (set = new Set()));
    set.add(w);
  };
  words.forEach((ids, w) => {
    for (let i = 0; i + 1 < ids.length; i++) addPair(pairKey(ids[i], ids[i + 1]), w, freq[w]);
  });

  // Highest count first; ties → the lexicographically smallest (left, right) token strings, so the
  // result never depends on the order words were counted in.
  const comparePairs = (x: number, y: number): number => {
    const [xa, xb] = [tokens[Math.floor(x / PAIR_BASE)], tokens[x % PAIR_BASE]];
    const [ya, yb] = [tokens[Math.floor(y / PAIR_BASE)], tokens[y % PAIR_BASE]];
    return xa < ya ? -1 : xa > ya ? 1 : xb < yb ? -1 : xb > yb ? 1 : 0;
  };
  const heap = new Heap<Candidate>((x, y) => x.count > y.count || (x.count === y.count && comparePairs(x.key, y.key) < 0));
  for (const [key, count] of pairCount) heap.push({ key, count });

  const wanted = vocabSize - tokens.length;
  while (tokens.length < vocabSize) {
    const top = heap.pop();
    if (top === undefined) break;
    const count = pairCount.get(top.key) ?? 0;
    if (count !== top.count) {
      // Stale entry: counts only drop after a push (new pairs are pushed fresh), so re-queue it.
      if (count > 0) heap.push({ key: top.key, count });
      continue;
    }
    if (count < minFrequency) break;

    const a = Math.floor(top.key / PAIR_BASE);
    const b = top.key % PAIR_BASE;
    const merged = tokens[a] + tokens[b];
    let m = idOf.get(merged);
    if (m === undefined) {
      m = tokens.length;
      tokens.push(merged);
      idOf.set(merged, m);
    }
    merges.push([tokens[a], tokens[b]]);

    const fresh = new Set<number>();
    for (const w of where.get(top.key) ?? []) mergeInWord(w, a, b, m, fresh);
    pairCount.delete(top.key);
    where.delete(top.key);
    for (const key of fresh) {
      const c = pairCount.get(key);
      if (c !== undefined) heap.push({ key, count: c });
    }
    if (opts.onProgress && merges.length % 64 === 0) opts.onProgress(Math.min(1, merges.length / wanted));
  }
  opts.onProgress?.(1);
  return { tokens, merges };

  /** Rewrites word w with (a, b) → m and moves its pair counts; new pairs (those with m) go to `fresh`. */
  function mergeInWord(w: number, a: number, b: number, m: number, fresh: Set<number>): void {
    const ids = words[w];
    const len = lengths[w];
    const f = freq[w];
    let out = 0;
    let changed = false;
    const old = ids.slice(0, len);
    for (let i = 0; i < len; i++) {
      if (i + 1 < len && old[i] === a && old[i + 1] === b) {
        ids[out++] = m;
        i++;
        changed = true;
      } else {
        ids[out++] = old[i];
      }
    }
    if (!changed) return; // a stale index entry: the word lost this pair to an earlier merge
    lengths[w] = out;
    // Add the new word's pairs before removing the old word's, so a pair present in both never
    // touches zero (which would drop its index entry).
    for (let i = 0; i + 1 < out; i++) {
      const key = pairKey(ids[i], ids[i + 1]);
      if (ids[i] === m || ids[i + 1] === m) {
        addPair(key, w, f);
        fresh.add(key);
      } else {
        pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      }
    }
    for (let i = 0; i + 1 < len; i++) {
      const key = pairKey(old[i], old[i + 1]);
      const c = (pairCount.get(key) ?? 0) - f;
      if (c > 0) pairCount.set(key, c);
      else if (key !== pairKey(a, b)) {
        pairCount.delete(key);
        where.delete(key);
      }
    }
  }
}
