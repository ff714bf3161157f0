// A batch-1 decoding session: the model, its KV cache and one logits buffer, all allocated once, so a
// decode step allocates no buffers (the ops' activations come from the tensor pool and go back to it
// when each step's graph is released).
import { backend } from '../backend/index.js';
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
    onHugePages(model);
    this.cache = model.newKVCache(maxLen);
    backend().adviseHugePages(this.cache.storage); // read whole every step, like the weights
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

const HUGE_MIN_BYTES = 2 << 20; // a buffer's aligned interior holds a whole 2 MiB page only from here
const advised = new WeakSet<DecoderLM>();

/**
 * Large weight buffers (an MoE layer's stacked experts, the LM head, the embedding) go onto huge pages
 * once per model: a decode step streams them from DRAM, and with 4 KiB pages a TLB miss every 4 KiB
 * costs about a third of the bandwidth (native/memory.cc). Expert parameters are views of one stacked
 * buffer, so whole buffers are advised; smaller ones cannot fill a 2 MiB page of their own.
 */
function onHugePages(model: DecoderLM): void {
  if (advised.has(model)) return;
  advised.add(model);
  const be = backend();
  const buffers = new Set<ArrayBufferLike>();
  for (const p of model.params.values()) buffers.add(p.storage.buffer); // f32 or 16-bit weights
  for (const b of buffers) if (b.byteLength >= HUGE_MIN_BYTES) be.adviseHugePages(new Float32Array(b, 0, b.byteLength >> 2));
}
