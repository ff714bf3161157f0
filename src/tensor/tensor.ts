// A tensor is a float32 buffer with a shape, an optional gradient buffer and a flag saying whether
// gradients should flow to it. Storage dtypes (f16/bf16) are converted at the io boundary; compute is f32.
import { acquire, acquireZeroed } from './pool.js';
import { ShapeError, shapeStr } from './errors.js';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
  grad: Float32Array | null = null;
  requiresGrad: boolean;

  constructor(data: Float32Array, shape: readonly number[], requiresGrad = false) {
    if (data.length !== numel(shape)) {
      throw new ShapeError(`Tensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${numel(shape)}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
  }

  get size(): number {
    return this.data.length;
  }

  /** A zero tensor in a fresh (non-pooled) buffer: parameters and long-lived state. */
  static zeros(shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(numel(shape)), shape, requiresGrad);
  }

  static from(values: ArrayLike<number>, shape: readonly number[], requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape, requiresGrad);
  }

  /** The gradient buffer, created (zeroed, from the pool) on first use. */
  ensureGrad(): Float32Array {
    if (!this.grad) this.grad = acquireZeroed(this.size);
    return this.grad;
  }

  /** Same data, another shape (a view: no copy). Gradients are not shared: use it outside autograd. */
  reshape(shape: readonly number[]): Tensor {
    if (numel(shape) !== this.size) {
      throw new ShapeError(`reshape: cannot view ${shapeStr(this.shape)} as ${shapeStr(shape)}`);
    }
    const t = new Tensor(this.data, shape, this.requiresGrad);
    t.grad = this.grad;
    return t;
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${shapeStr(this.shape)} is not a scalar`);
    return this.data[0];
  }
}

/** Pooled scratch tensor (contents undefined) — for op outputs inside a graph. */
export function emptyPooled(shape: readonly number[]): Tensor {
  return new Tensor(acquire(numel(shape)), shape);
}
