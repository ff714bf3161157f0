// A tensor is a float32 buffer with a shape, an optional gradient buffer and a flag saying whether
// gradients should flow to it. Compute is f32. The one exception is an inference weight held as 16-bit
// floats (`half`): only the matmul and embedding ops read it (widening on the fly, exactly), so a model loaded from a
// bf16 checkpoint stays the checkpoint's size in memory. Reading `data` of such a tensor throws.
import { acquire, acquireZeroed } from './pool.js';
import { ShapeError, shapeStr, DtypeError } from './errors.js';

export type HalfDtype = 'f16' | 'bf16';

/** A weight's 16-bit storage: the bits of each element, row-major like `data`. */
export interface HalfStorage {
  readonly dtype: HalfDtype;
  readonly bits: Uint16Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  private readonly f32: Float32Array | null;
  /** The 16-bit storage of a half inference weight; null for every f32 tensor. */
  readonly half: HalfStorage | null;
  readonly shape: readonly number[];
  readonly size: number;
  grad: Float32Array | null = null;
  requiresGrad: boolean;

  constructor(data: Float32Array | HalfStorage, shape: readonly number[], requiresGrad = false) {
    const n = numel(shape);
    const half = data instanceof Float32Array ? null : data;
    const length = half ? half.bits.length : (data as Float32Array).length;
    if (length !== n) {
      throw new ShapeError(`Tensor: data has ${length} elements but shape ${shapeStr(shape)} needs ${n}`);
    }
    if (half && requiresGrad) throw new DtypeError(`Tensor: a ${half.dtype} weight ${shapeStr(shape)} cannot take gradients`);
    this.f32 = half ? null : data as Float32Array;
    this.half = half;
    this.shape = [...shape];
    this.size = n;
    this.requiresGrad = requiresGrad;
  }

  /** The f32 values. A half weight has none: the ops that accept one read `half`, every other throws here. */
  get data(): Float32Array {
    if (this.f32) return this.f32;
    throw new DtypeError(`a ${shapeStr(this.shape)} weight is held as ${this.half!.dtype} for inference, and this use needs f32 values`,
      'load the model with --weights f32 (loadModel(dir, { weights: "f32" })) to train, export or inspect raw weights');
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
    const t = new Tensor(this.half ?? this.data, shape, this.requiresGrad);
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
