// --threads, shared by the commands that run kernels: how many threads the backend's kernels use.
import { backend } from '../backend/index.js';
import { intFlag } from './args.js';

export const THREADS_FLAG = { threads: { type: 'string' } } as const;

/** The usage line, in the column of the inference commands' tables (generate, inspect, eval). */
export const THREADS_USAGE = '  --threads N        kernel threads (default: all cores)';

/** Checks --threads (an integer >= 1) and sets the backend's kernel threads; without it, all cores stay. */
export function applyThreadsFlag(cmd: string, values: Record<string, unknown>): void {
  const threads = intFlag(cmd, 'threads', values.threads);
  if (threads) backend().setThreads(threads);
}
