// A size-bucketed pool of Float32Array buffers, so that a training step allocates (and zero-fills,
// and page-faults) almost nothing: activations and gradients of one step return here when the step's
// graph is released and are handed out again the next step.

const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;

/** A buffer of exactly n floats with undefined contents. */
export function acquire(n: number): Float32Array {
  const list = free.get(n);
  const buf = list?.pop();
  if (buf) {
    pooledBytes -= buf.byteLength;
    return buf;
  }
  return new Float32Array(n);
}

/** A buffer of exactly n floats, all zero. */
export function acquireZeroed(n: number): Float32Array {
  const list = free.get(n);
  const buf = list?.pop();
  if (buf) {
    pooledBytes -= buf.byteLength;
    buf.fill(0);
    return buf;
  }
  return new Float32Array(n);
}

/** Give a buffer back. The caller must hold no other reference that it will use again. */
export function release(buf: Float32Array): void {
  let list = free.get(buf.length);
  if (!list) {
    list = [];
    free.set(buf.length, list);
  }
  list.push(buf);
  pooledBytes += buf.byteLength;
}

/** Drop every pooled buffer (e.g. between models of different sizes). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

export function pooledMegabytes(): number {
  return pooledBytes / 2 ** 20;
}
