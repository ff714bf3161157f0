// Zeroed storage for long-lived buffers (parameters, the KV cache).
import { backend } from '../backend/index.js';

// Buffers from 2 MiB up are allocated on huge pages: a decode step streams every weight once per token,
// and with 4 KiB pages the TLB misses cost about a third of the bandwidth (native/memory.cc).
const HUGE_MIN_BYTES = 2 << 20;

/** Zeroed storage of n floats for a parameter or a KV cache. */
export function floatStorage(n: number): Float32Array {
  return n * 4 >= HUGE_MIN_BYTES ? new Float32Array(backend().hugeBuffer(n * 4)) : new Float32Array(n);
}

/** Zeroed storage of n 16-bit values for an inference weight. */
export function halfStorage(n: number): Uint16Array {
  return n * 2 >= HUGE_MIN_BYTES ? new Uint16Array(backend().hugeBuffer(n * 2)) : new Uint16Array(n);
}
