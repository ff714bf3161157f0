// Reverse-mode autograd as a tape (tinygrad/llm.c spirit: the backward of each op is declared next to
// its forward, in src/ops). While a Graph is active, every op appends a closure that propagates
// gradients from its output to its inputs; `backward` replays them in reverse order. When the graph is
// released, every intermediate buffer (activations and their gradients) returns to the pool, so the
// next step reuses them instead of allocating.
import { Tensor, emptyPooled } from './tensor.js';
import { release } from './pool.js';

export class Graph {
  readonly grad: boolean;
  private readonly backwards: (() => void)[] = [];
  private readonly temps: Tensor[] = [];
  private readonly buffers: Float32Array[] = [];

  constructor(grad: boolean) {
    this.grad = grad;
  }

  /** A pooled output tensor that lives until the graph is released. */
  alloc(shape: readonly number[]): Tensor {
    const t = emptyPooled(shape);
    this.temps.push(t);
    return t;
  }

  /** A pooled raw buffer (saved statistics such as rstd) that lives until release. */
  scratch(n: number, zeroed = false): Float32Array {
    const t = emptyPooled([n]);
    if (zeroed) t.data.fill(0);
    this.buffers.push(t.data);
    return t.data;
  }

  record(backward: () => void): void {
    this.backwards.push(backward);
  }

  /** Seed d(loss)/d(loss) = 1 (or `seed`) and run every recorded backward in reverse order. */
  backward(loss: Tensor, seed = 1): void {
    if (!this.grad) throw new Error('backward() on a graph built without gradients (noGrad)');
    loss.ensureGrad().fill(seed);
    for (let i = this.backwards.length - 1; i >= 0; i--) this.backwards[i]();
  }

  /** Return every intermediate buffer to the pool. Tensors created in this graph are dead after this. */
  release(): void {
    for (const t of this.temps) {
      release(t.data);
      if (t.grad && t.grad !== t.data) release(t.grad); // in-place ops alias them
      t.grad = null;
    }
    for (const b of this.buffers) release(b);
    this.temps.length = 0;
    this.buffers.length = 0;
    this.backwards.length = 0;
  }
}

let current: Graph | null = null;

/** The active graph. Ops outside any graph run without recording (like noGrad) on plain buffers. */
export function activeGraph(): Graph | null {
  return current;
}

/**
 * Run `fn` with a fresh graph active; the graph's buffers are released when fn returns, so fn must
 * copy out what it keeps (numbers, or data into its own arrays).
 */
export function withGraph<T>(fn: (g: Graph) => T, opts: { grad?: boolean } = {}): T {
  const prev = current;
  const g = new Graph(opts.grad ?? true);
  current = g;
  try {
    return fn(g);
  } finally {
    current = prev;
    g.release();
  }
}

/** Run fn without recording gradients (evaluation, inference); buffers are still released after. */
export function noGrad<T>(fn: (g: Graph) => T): T {
  return withGraph(fn, { grad: false });
}

/** True inside a graph that records gradients. */
export function isRecording(): boolean {
  return current !== null && current.grad;
}

/** True when an op with these inputs must record a backward closure. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!current || !current.grad) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** An output tensor for an op: pooled inside a graph, fresh outside. */
export function output(shape: readonly number[], requiresGrad: boolean): Tensor {
  const t = current ? current.alloc(shape) : Tensor.zeros(shape);
  t.requiresGrad = requiresGrad;
  return t;
}

/** Saved-for-backward scratch: pooled inside a graph, fresh outside. */
export function scratch(n: number): Float32Array {
  return current ? current.scratch(n) : new Float32Array(n);
}

export function record(backward: () => void): void {
  current?.record(backward);
}
