// KV cache for batch-1 generation: every layer's roped keys and values of the positions seen so far,
// in buffers preallocated for maxLen positions, so a decode step allocates nothing here.
// A forward pass over T new tokens at positions start .. start+T−1 (start = cache.length):
//   each attention layer calls attendCached(), which writes its k, v into rows start .. start+T−1 of its
//   layer and attends the new queries over rows 0 .. start+T−1;
//   the model then calls commit(T) once, after the last layer.
// truncate(n) rewinds to a prefix (reuse a shared prompt prefix, or undo a failed pass).
import { backend } from '../backend/index.js';
import { ShapeError, output, type Tensor } from '../tensor/index.js';
import { floatStorage } from './storage.js';

/** Row widths of one layer's cache: kvHeads·headDim for keys, kvHeads·valueDim for values. */
export interface CacheLayerWidths {
  keyWidth: number;
  valueWidth: number;
}

/** What attendCached needs to know about a module's heads. */
export interface CachedAttentionShape {
  heads: number;
  kvHeads: number;
  /** Width of one query / key head. */
  headDim: number;
  /** Width of one value head (= headDim except for MLA). */
  valueDim: number;
  /** Multiplies q·k (1/sqrt(headDim) for LLaMA attention). */
  scale: number;
}

export class KVCache {
  /** [L] of [maxLen, keyWidth] */
  readonly keys: Float32Array[];
  /** [L] of [maxLen, valueWidth] */
  readonly values: Float32Array[];
  /** Positions whose k and v every layer holds. */
  length = 0;
  /** [maxLen] = 0, 1, 2, …: the RoPE positions of any run of rows, as views (no allocation per step). */
  private readonly positionTable: Int32Array;

  /** Every layer's keys and values in one allocation (views above), so it can go onto huge pages. */
  readonly storage: Float32Array;

  constructor(readonly maxLen: number, readonly layers: readonly CacheLayerWidths[]) {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new ShapeError(`KVCache: maxLen must be a positive integer (got ${maxLen})`);
    this.storage = floatStorage(maxLen * layers.reduce((n, l) => n + l.keyWidth + l.valueWidth, 0)); // read whole every step
    let at = 0;
    const take = (n: number) => this.storage.subarray(at, (at += n));
    this.keys = layers.map((l) => take(maxLen * l.keyWidth));
    this.values = layers.map((l) => take(maxLen * l.valueWidth));
    this.positionTable = new Int32Array(maxLen).map((_, i) => i);
  }

  /** Forget every position (the buffers are kept). */
  reset(): void {
    this.length = 0;
  }

  /** Keep only the first n positions. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) {
      throw new ShapeError(`KVCache.truncate: ${n} is not in [0, ${this.length}] (the cached length)`);
    }
    this.length = n;
  }

  /** Checks that T more positions fit; returns their RoPE positions [T] (a view). */
  reserve(T: number): Int32Array {
    if (this.length + T > this.maxLen) {
      throw new ShapeError(`KV cache full: ${this.length} cached + ${T} new positions exceed its ${this.maxLen}`,
        'generate fewer tokens or use a shorter prompt (max_position_embeddings bounds the cache)');
    }
    return this.positionTable.subarray(this.length, this.length + T);
  }

  /** Every layer has written T new positions: make them part of the cache. */
  commit(T: number): void {
    this.reserve(T);
    this.length += T;
  }
}

/**
 * The one cached-attention step every attention module calls after making its (roped) q, k, v for the
 * T new rows at positions cache.length … : appends k [T, kvHeads·headDim] and v [T, kvHeads·valueDim] to
 * `layer`'s cache and returns softmax(scale·q·kᵀ)·v over all cached positions, causal, [T, heads·valueDim].
 * Inference only (no gradient).
 */
export function attendCached(q: Tensor, k: Tensor, v: Tensor, s: CachedAttentionShape, cache: KVCache, layer: number): Tensor {
  const { heads, kvHeads, headDim, valueDim } = s;
  const widths = cache.layers[layer];
  if (!widths) throw new ShapeError(`attendCached: layer ${layer} is not in the cache's ${cache.layers.length} layers`);
  if (widths.keyWidth !== kvHeads * headDim || widths.valueWidth !== kvHeads * valueDim) {
    throw new ShapeError(`attendCached: layer ${layer} caches rows of ${widths.keyWidth} keys / ${widths.valueWidth} values, ` +
      `the module makes ${kvHeads}×${headDim} / ${kvHeads}×${valueDim}`);
  }
  const T = q.shape[0];
  if (q.size !== T * heads * headDim || k.size !== T * widths.keyWidth || v.size !== T * widths.valueWidth) {
    throw new ShapeError(`attendCached: q, k, v have ${q.size}, ${k.size}, ${v.size} elements; ${T} rows need ` +
      `${T * heads * headDim}, ${T * widths.keyWidth}, ${T * widths.valueWidth}`);
  }
  cache.reserve(T);
  const start = cache.length;
  cache.keys[layer].set(k.data, start * widths.keyWidth);
  cache.values[layer].set(v.data, start * widths.valueWidth);
  const y = output([T, heads * valueDim], false);
  backend().cachedAttentionForward(y.data, q.data, cache.keys[layer], cache.values[layer], T, start,
    heads, kvHeads, headDim, valueDim, s.scale);
  return y;
}
