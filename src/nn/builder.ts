// Parameters are plain named tensors. A ParamBuilder carries a path prefix (candle's `vb.pp`), so each
// module creates its weights under the HuggingFace name it will have on disk, e.g.
// `model.layers.0.self_attn.q_proj.weight`. Creation order is fixed by construction order, so a seed
// gives the same initial weights every time.
import { backend } from '../backend/index.js';
import { floatStorage, halfStorage } from './storage.js';
import { ConfigError, numel, Rng, Tensor, type HalfDtype } from '../tensor/index.js';

export type Init = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };

export type ParamMap = Map<string, Tensor>;

/** How weight matrices (Linear, experts, embedding) are held: f32, or 16-bit for inference (see `matrix`). */
export type MatrixDtype = 'f32' | HalfDtype;

export class ParamBuilder {
  /** `rng` null: parameters stay zero (a checkpoint is about to fill them; drawing them would be wasted work). */
  constructor(
    readonly params: ParamMap,
    private readonly rng: Rng | null,
    readonly prefix = '',
    readonly matrixDtype: MatrixDtype = 'f32',
  ) {}

  /** A builder for a sub-module: names become `prefix.name.…`. */
  pp(name: string | number): ParamBuilder {
    return new ParamBuilder(this.params, this.rng, this.path(String(name)), this.matrixDtype);
  }

  path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  /** An f32 parameter (trainable). */
  param(name: string, shape: number[], init: Init): Tensor {
    return this.adopt(name, new Tensor(floatStorage(numel(shape)), shape, true), init);
  }

  /**
   * A weight that only the ops that widen 16-bit storage read (matmuls: Linear, expert stacks; the
   * embedding gather): held as `matrixDtype`. A 16-bit one is an inference weight (no gradient), drawn
   * in f32 from the same random stream, then rounded.
   */
  matrix(name: string, shape: number[], init: Init): Tensor {
    if (this.matrixDtype === 'f32') return this.param(name, shape, init);
    return this.adopt(name, new Tensor({ dtype: this.matrixDtype, bits: halfStorage(numel(shape)) }, shape), init);
  }

  /** Names `t` (a fresh tensor, or a view of a stacked buffer) `prefix.name` and draws its initial values. */
  adopt(name: string, t: Tensor, init: Init): Tensor {
    const full = this.path(name);
    if (this.params.has(full)) throw new ConfigError(`parameter ${full} is created twice`);
    if (this.rng && init.kind !== 'zeros') {
      const values = t.half ? new Float32Array(t.size) : t.data;
      if (init.kind === 'normal') this.rng.fillNormal(values, init.std);
      else values.fill(1);
      if (t.half) (t.half.dtype === 'bf16' ? backend().f32ToBf16 : backend().f32ToF16)(t.half.bits, values, t.size);
    }
    this.params.set(full, t);
    return t;
  }
}

/**
 * E same-shaped parameters stored back to back in one buffer (experts' weights, [E, ...shape]) so
 * grouped kernels see one stacked matrix, while each slice is still a named parameter with its HF name
 * (`names[e]`) for checkpoints and the optimizer. The stacked tensor's gradient buffer is allocated
 * here and shared the same way, so kernel writes land in every slice's `grad`. In a 16-bit inference
 * model the stack and its slices hold halves and have no gradient.
 */
export function stackedParam(b: ParamBuilder, names: readonly string[], shape: readonly number[], init: Init): Tensor {
  const per = numel(shape);
  const E = names.length;
  const dtype = b.matrixDtype;
  if (dtype !== 'f32') {
    const stacked = new Tensor({ dtype, bits: halfStorage(E * per) }, [E, ...shape]);
    names.forEach((name, e) => {
      b.adopt(name, new Tensor({ dtype, bits: stacked.half!.bits.subarray(e * per, (e + 1) * per) }, shape), init);
    });
    return stacked;
  }
  const stacked = new Tensor(floatStorage(E * per), [E, ...shape], true);
  stacked.grad = new Float32Array(stacked.size);
  names.forEach((name, e) => {
    const slice = new Tensor(stacked.data.subarray(e * per, (e + 1) * per), shape, true);
    slice.grad = stacked.grad!.subarray(e * per, (e + 1) * per);
    b.adopt(name, slice, init);
  });
  return stacked;
}
