// A size-bucketed pool of Float32Array buffers, so that a training step allocates (and zero-fills,
// and page-faults) almost nothing: activations and gradients of one step return here when the step's
// graph is released and are handed out again the next step. Sizes are rounded up to buckets of at
// most 1/8 octave (≤ 12.5 % slack) and handed out as exact-length views, so buffers whose size varies
// from step to step — MoE layers route a different number of (token, expert) pairs every step — still
// find a warm buffer instead of faulting in fresh pages; a request whose bucket is empty takes a buffer
// from a larger bucket (up to 2×) before allocating.

const free = new Map<number, Float32Array[]>();
/** The full-size buffer behind each view handed out. */
const baseOf = new WeakMap<Float32Array, Float32Array>();
let pooledBytes = 0;

/** Smallest bucket size >= n: 8 steps per power of two (exact below 64 floats). */
export function bucketSize(n: number): number {
  if (n <= 64) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

/** Larger buckets a request may take a buffer from: up to one octave (≤ 2× the floats) above its own. */
const LARGER_BUCKETS = 8;

/**
 * A free buffer of bucket `size`, else of the nearest larger bucket within an octave: a size that drifts
 * downwards from step to step (an MoE layer's dispatched rows as the mean k falls) then reuses warm
 * buffers instead of faulting in fresh pages for every new bucket it reaches.
 */
function takeFree(size: number): Float32Array | undefined {
  for (let i = 0, s = size; i <= LARGER_BUCKETS; i++, s = bucketSize(s + 1)) {
    const base = free.get(s)?.pop();
    if (base) return base;
  }
  return undefined;
}

/** A buffer of exactly n floats with undefined contents. */
export function acquire(n: number): Float32Array {
  let base = takeFree(bucketSize(n));
  if (base) pooledBytes -= base.byteLength;
  else base = new Float32Array(bucketSize(n));
  if (base.length === n) return base;
  const view = base.subarray(0, n);
  baseOf.set(view, base);
  return view;
}

/** A buffer of exactly n floats, all zero. */
export function acquireZeroed(n: number): Float32Array {
  return acquire(n).fill(0);
}

/** Give a buffer back. The caller must hold no other reference that it will use again. */
export function release(buf: Float32Array): void {
  const base = baseOf.get(buf) ?? buf;
  if (bucketSize(base.length) !== base.length) return; // not one of ours: let the GC have it
  let list = free.get(base.length);
  if (!list) {
    list = [];
    free.set(base.length, list);
  }
  list.push(base);
  pooledBytes += base.byteLength;
}

/** Drop every pooled buffer (e.g. between models of different sizes). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

export function pooledMegabytes(): number {
  return pooledBytes / 2 ** 20;
}
