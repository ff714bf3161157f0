// The BPE model of tokenizer.json (interop.md §4.2): vocab + ranked merges, applied to one
// pre-tokenized word at a time, lowest rank first and leftmost first on ties — the order HuggingFace
// tokenizers uses (word.rs merge_all), done with a heap so long words stay O(n log n). Characters not in
// the vocab become `<0xHH>` byte tokens (byte_fallback, SentencePiece style) or the unk token.
import { TokenizerError, boolField } from './errors.js';
import { Heap } from './heap.js';

/** Pair (a, b) of token ids → one number; ids must stay below PAIR_BASE. */
export const PAIR_BASE = 2 ** 22;
export const pairKey = (a: number, b: number): number => a * PAIR_BASE + b;

// Heap entries pack (rank, position) into one number: rank * POS_BASE + pos (exact below 2^53).
const POS_BASE = 2 ** 26;
// Unique words seen by encode; Brown has ~60k. Cleared when full so memory stays bounded.
const CACHE_LIMIT = 1_000_000;
// Longer pieces are not cached: without a pre-tokenizer (Llama-2's first form) a piece is a whole text.
const CACHE_MAX_WORD = 256;

export interface BpeOptions {
  unkToken?: string | null;
  fuseUnk?: boolean;
  /** Emit a word that is itself in the vocab as one token without merging (Llama-3 style). */
  ignoreMerges?: boolean;
  /** A character outside the vocab → its UTF-8 bytes as `<0xHH>` tokens, when all of them exist. */
  byteFallback?: boolean;
  /** Put before every character but a word's first (BERT-style "##"); merges drop it from the right part. */
  continuingSubwordPrefix?: string;
  /** Put after a word's last character. */
  endOfWordSuffix?: string;
}

/** SentencePiece's byte token name: `<0x0A>` (uppercase hex, interop.md §4.2). */
export const byteToken = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** A byte token as the ByteFallback decoder reads it (either hex case); group 1 holds the hex. */
export const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export class BpeModel {
  /** id → token string; undefined for ids the vocab skips. */
  readonly tokens: (string | undefined)[] = [];
  private readonly rankOf = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly unkId: number | undefined;
  private readonly cache = new Map<string, number[]>();

  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    readonly merges: readonly (readonly [string, string])[],
    readonly options: BpeOptions = {},
  ) {
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= PAIR_BASE) {
        throw new TokenizerError(`model.vocab["${token}"] = ${id} is not an id in [0, ${PAIR_BASE})`);
      }
      this.tokens[id] = token;
    }
    this.mergedId = new Int32Array(merges.length);
    const prefixLength = options.continuingSubwordPrefix?.length ?? 0;
    merges.forEach(([a, b], rank) => {
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      // HF: the merged token of "a" "##b" is "ab" when continuing_subword_prefix is "##".
      const merged = a + (prefixLength > 0 && b.startsWith(options.continuingSubwordPrefix as string) ? b.slice(prefixLength) : b);
      const im = vocab.get(merged);
      if (ia === undefined || ib === undefined || im === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : merged;
        throw new TokenizerError(`model.merges[${rank}] ("${a}" "${b}") uses "${missing}", which is not in model.vocab`);
      }
      const key = pairKey(ia, ib);
      if (!this.rankOf.has(key)) this.rankOf.set(key, rank); // a repeated merge keeps its first rank
      this.mergedId[rank] = im;
    });
    const unk = options.unkToken ?? null;
    this.unkId = unk === null ? undefined : vocab.get(unk);
    if (unk !== null && this.unkId === undefined) {
      throw new TokenizerError(`model.unk_token "${unk}" is not in model.vocab`);
    }
  }

  /** Reads `model` of a tokenizer.json (type "BPE"); the merges may be "a b" strings or [a, b] pairs. */
  static fromJSON(model: Record<string, unknown>): BpeModel {
    const vocabJson = model.vocab;
    if (typeof vocabJson !== 'object' || vocabJson === null || Array.isArray(vocabJson)) {
      throw new TokenizerError('model.vocab must be an object {token: id}');
    }
    const merges = parseMerges(model.merges ?? []);
    return new BpeModel(new Map(Object.entries(vocabJson as Record<string, number>)), merges, {
      unkToken: optionalString(model, 'unk_token') ?? null,
      fuseUnk: boolField(model, 'fuse_unk', false, 'model'),
      ignoreMerges: boolField(model, 'ignore_merges', false, 'model'),
      byteFallback: boolField(model, 'byte_fallback', false, 'model'),
      continuingSubwordPrefix: optionalString(model, 'continuing_subword_prefix') || undefined,
      endOfWordSuffix: optionalString(model, 'end_of_word_suffix') || undefined,
    });
  }

  /**
   * The `model` object of tokenizer.json. Merges are written as "a b" strings: byte-level tokens never
   * contain a space (it is Ġ), and this form loads in every tokenizers version, old ones included.
   */
  toJSON(): Record<string, unknown> {
    const vocab: Record<string, number> = {};
    this.tokens.forEach((t, id) => t !== undefined && (vocab[t] = id));
    const pairForm = this.merges.some(([a, b]) => a.includes(' ') || b.includes(' '));
    return {
      type: 'BPE',
      dropout: null,
      unk_token: this.options.unkToken ?? null,
      continuing_subword_prefix: this.options.continuingSubwordPrefix ?? null,
      end_of_word_suffix: this.options.endOfWordSuffix ?? null,
      fuse_unk: this.options.fuseUnk ?? false,
      byte_fallback: this.options.byteFallback ?? false,
      ignore_merges: this.options.ignoreMerges ?? false,
      vocab,
      merges: this.merges.map(([a, b]) => (pairForm ? [a, b] : `${a} ${b}`)),
    };
  }

  /** Number of ids: highest id + 1. */
  get size(): number {
    return this.tokens.length;
  }

  /** Appends the ids of one pre-tokenized word to `out`. */
  encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.tokenizeWord(word);
      if (word.length <= CACHE_MAX_WORD) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  private tokenizeWord(word: string): number[] {
    const whole = this.vocab.get(word);
    if (this.options.ignoreMerges && whole !== undefined) return [whole];
    const id = this.charIds(word);
    const n = id.length;
    if (n < 2) return id;
    if (n >= POS_BASE) throw new TokenizerError(`a pre-tokenized piece of ${n} characters is too long to encode`);

    // Doubly linked symbols; a merged-away symbol gets id -1.
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new Heap<number>((x, y) => x < y);
    const pushPair = (pos: number): void => {
      const rank = this.rankOf.get(pairKey(id[pos], id[next[pos]]));
      if (rank !== undefined) heap.push(rank * POS_BASE + pos);
    };
    for (let i = 0; i + 1 < n; i++) pushPair(i);

    while (heap.size > 0) {
      const entry = heap.pop() as number;
      const rank = Math.floor(entry / POS_BASE);
      const pos = entry - rank * POS_BASE;
      const right = next[pos];
      // Skip entries made stale by earlier merges.
      if (id[pos] < 0 || right < 0 || this.rankOf.get(pairKey(id[pos], id[right])) !== rank) continue;
      id[pos] = this.mergedId[rank];
      id[right] = -1;
      next[pos] = next[right];
      if (next[pos] >= 0) prev[next[pos]] = pos;
      if (prev[pos] >= 0) pushPair(prev[pos]);
      if (next[pos] >= 0) pushPair(pos);
    }
    return id.filter((x) => x >= 0);
  }

  /**
   * One id per character (code point) as HF's BPE::merge_word does: a character outside the vocab becomes
   * its `<0xHH>` byte tokens (byte_fallback), else unk (runs fused if fuse_unk), else is dropped.
   */
  private charIds(word: string): number[] {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, byteFallback, fuseUnk } = this.options;
    const chars = [...word];
    const ids: number[] = [];
    let pendingUnk = false; // an unk waiting to be pushed, so that fuse_unk can swallow the next one
    chars.forEach((ch, i) => {
      let piece = i > 0 && prefix ? prefix + ch : ch;
      if (i === chars.length - 1 && suffix) piece += suffix;
      const id = this.vocab.get(piece);
      if (id !== undefined) {
        if (pendingUnk) ids.push(this.unkId as number);
        pendingUnk = false;
        ids.push(id);
        return;
      }
      if (byteFallback) {
        const bytes = [...utf8.encode(ch)].map((b) => this.vocab.get(byteToken(b)));
        // HF pushes the bytes without flushing a pending unk first; only reachable with partial byte vocabs.
        if (bytes.every((b) => b !== undefined)) {
          ids.push(...(bytes as number[]));
          return;
        }
      }
      if (this.unkId === undefined) return;
      if (pendingUnk && !fuseUnk) ids.push(this.unkId);
      pendingUnk = true;
    });
    if (pendingUnk) ids.push(this.unkId as number);
    return ids;
  }
}

const utf8 = new TextEncoder();

function optionalString(model: Record<string, unknown>, key: string): string | undefined {
  const v = model[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new TokenizerError(`model.${key} must be a string or null, got ${JSON.stringify(v)}`);
  return v;
}

/** interop.md §4.2: legacy "a b" strings (lines starting "#version" skipped) or [a, b] pairs. */
function parseMerges(json: unknown): [string, string][] {
  if (!Array.isArray(json)) throw new TokenizerError('model.merges must be an array');
  const merges: [string, string][] = [];
  json.forEach((m: unknown, i) => {
    if (typeof m === 'string') {
      if (m.startsWith('#version')) return;
      const parts = m.split(' ');
      if (parts.length !== 2) throw new TokenizerError(`model.merges[${i}] = ${JSON.stringify(m)}: expected "left right"`);
      merges.push([parts[0], parts[1]]);
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      merges.push([m[0], m[1]]);
    } else {
      throw new TokenizerError(`model.merges[${i}] = ${JSON.stringify(m)}: expected "left right" or ["left", "right"]`);
    }
  });
  return merges;
}
