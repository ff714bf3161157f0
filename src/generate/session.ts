// A batch-1 decoding session: the model, its KV cache and one logits buffer, all allocated once, so a
// decode step allocates no buffers (the ops' activations come from the tensor pool and go back to it
// when each step's graph is released).
import { noGrad } from '../tensor/index.js';
import type { KVCache } from '../nn/index.js';
import type { DecoderLM } from '../models/index.js';

export class DecodeSession {
  readonly cache: KVCache;
  /** [V] logits of the last position run; overwritten by the next call. */
  private readonly logits: Float32Array;
  private readonly one = new Int32Array(1);

  /** maxLen: positions the cache holds (prompt + generated), at most max_position_embeddings. */
  constructor(readonly model: DecoderLM, maxLen: number) {
    this.cache = model.newKVCache(maxLen);
    this.logits = new Float32Array(model.config.vocab_size);
  }

  /** Positions cached so far. */
  get length(): number {
    return this.cache.length;
  }

  /** Runs new tokens (a prompt) after the cached ones; returns the last one's next-token logits [V]. */
  prefill(ids: Int32Array): Float32Array {
    return this.run(ids);
  }

  /** Runs one token; returns its next-token logits [V]. */
  step(id: number): Float32Array {
    this.one[0] = id;
    return this.run(this.one);
  }

  private run(ids: Int32Array): Float32Array {
    noGrad(() => {
      this.logits.set(this.model.forwardCached(ids, this.cache, this.cache.length, { lastOnly: true }).data);
    });
    return this.logits;
  }
}
