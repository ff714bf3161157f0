// Backend selection. MOEKIT_BACKEND=reference|native forces one; otherwise native is used when its
// build loads, else the reference backend with a single warning on stderr.
import type { Backend } from './backend.js';
import { referenceBackend } from './reference/index.js';
import { loadNativeBackend } from './native/index.js';

export type { Backend, F32, I32 } from './backend.js';
export { KERNEL_NAMES } from './backend.js';
export { referenceBackend } from './reference/index.js';

let current: Backend | null = null;
let nativeCache: Backend | null | undefined;
let nativeError = '';

/** The native backend, or null when its build is missing or fails to load (reason in nativeLoadError). */
export function tryNativeBackend(): Backend | null {
  if (nativeCache === undefined) {
    try {
      nativeCache = loadNativeBackend();
    } catch (e) {
      nativeCache = null;
      nativeError = (e as Error).message;
    }
  }
  return nativeCache;
}

export function nativeLoadError(): string {
  tryNativeBackend();
  return nativeError;
}

/** The process-wide backend (chosen once). */
export function backend(): Backend {
  if (current) return current;
  const want = process.env.MOEKIT_BACKEND;
  if (want !== undefined && want !== '' && want !== 'native' && want !== 'reference') {
    throw new Error(`MOEKIT_BACKEND must be "native" or "reference" (got "${want}")`);
  }
  let chosen: Backend;
  if (want === 'reference') {
    chosen = referenceBackend;
  } else {
    const native = tryNativeBackend();
    if (native) {
      chosen = native;
    } else if (want === 'native') {
      throw new Error(`MOEKIT_BACKEND=native but the native kernels cannot be loaded: ${nativeError}`);
    } else {
      process.stderr.write(`moekit: native kernels unavailable (${nativeError}); using the reference backend (slow).\n`);
      chosen = referenceBackend;
    }
  }
  current = chosen;
  return chosen;
}

/** Replace the process-wide backend (tests, `--backend`). */
export function setBackend(b: Backend): void {
  current = b;
}
