// Shape checks shared by the ops: every failure names the op and the shapes involved.
import { ShapeError, shapeStr, scratch, type Tensor } from '../tensor/index.js';

export function lastDim(t: Tensor): number {
  return t.shape[t.shape.length - 1];
}

export function expectSize(op: string, what: string, t: Tensor, size: number, expected: string): void {
  if (t.size !== size) {
    throw new ShapeError(`${op}: ${what} has shape ${shapeStr(t.shape)} (${t.size} elements), expected ${expected} = ${size}`);
  }
}

export function expectSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} must match`);
  }
}

/**
 * Where a backward kernel (which accumulates into every gradient it is given) writes t's gradient:
 * t's own buffer when t needs one, else a zeroed scratch buffer that is thrown away.
 */
export function gradTarget(t: Tensor): Float32Array {
  return t.requiresGrad ? t.ensureGrad() : scratch(t.size).fill(0);
}
