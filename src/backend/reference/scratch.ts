// Float64 scratch for the reference kernels: accumulators that make the oracle more accurate than
// the float32 native kernels it is compared against. One buffer per slot, grown on demand, so that a
// kernel call allocates nothing in steady state. The backend is single-threaded and no kernel calls
// another while holding a slot, so sharing is safe; slots exist because one kernel needs several.

export type Slot = 0 | 1 | 2 | 3;

const slots: Float64Array[] = [0, 1, 2, 3].map(() => new Float64Array(64));

/** A Float64Array of at least n elements with undefined contents. */
export function scratch64(slot: Slot, n: number): Float64Array {
  if (slots[slot].length < n) slots[slot] = new Float64Array(Math.max(n, 2 * slots[slot].length));
  return slots[slot];
}
