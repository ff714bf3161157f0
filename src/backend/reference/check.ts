// Argument validation shared by the reference kernels. Every message names the kernel, the argument
// and both sizes, e.g. "rmsnormForward: x has 10 elements, expected T·D = 12", so that a caller
// who passes the wrong buffer finds it without a debugger.

/** Throws unless `size` is a non-negative integer (catches NaN, fractions and swapped arguments). */
export function checkSize(kernel: string, name: string, size: number): void {
  if (!Number.isInteger(size) || size < 0) {
    throw new Error(`${kernel}: ${name} must be a non-negative integer (got ${size})`);
  }
}

/** Throws unless `arr` has exactly `expected` elements; `formula` spells how expected was formed. */
export function checkLength(kernel: string, name: string, arr: ArrayLike<number>, expected: number,
  formula: string): void {
  if (arr.length !== expected) {
    throw new Error(`${kernel}: ${name} has ${arr.length} elements, expected ${formula} = ${expected}`);
  }
}
