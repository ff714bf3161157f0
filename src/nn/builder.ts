// Parameters are plain named tensors. A ParamBuilder carries a path prefix (candle's `vb.pp`), so each
// module creates its weights under the HuggingFace name it will have on disk, e.g.
// `model.layers.0.self_attn.q_proj.weight`. Creation order is fixed by construction order, so a seed
// gives the same initial weights every time.
import { backend } from '../backend/index.js';
import { ConfigError, numel, Rng, Tensor, type HalfDtype } from '../tensor/index.js';

export type Init = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };

export type ParamMap = Map<string, Tensor>;

/** How the weights that only matmuls read are held: f32, or 16-bit for inference (see `matrix`). */
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

  param(name: string, shape: number[], init: Init): Tensor {
    const full = this.path(name);
    if (this.params.has(full)) throw new ConfigError(`parameter ${full} is created twice`);
    const t = Tensor.zeros(shape, true);
    if (this.rng && init.kind === 'normal') this.rng.fillNormal(t.data, init.std);
    else if (this.rng && init.kind === 'ones') t.data.fill(1);
    this.params.set(full, t);
    return t;
  }

  /**
   * A weight that only the matmul ops read (Linear, expert stacks): held as `matrixDtype`. A 16-bit one
   * is an inference weight (no gradient); drawn in f32 with the same random stream, then rounded.
   */
  matrix(name: string, shape: number[], init: Init): Tensor {
    if (this.matrixDtype === 'f32') return this.param(name, shape, init);
    const f32 = this.param(name, shape, init);
    const t = Tensor.zerosHalf(shape, this.matrixDtype);
    if (this.rng) (this.matrixDtype === 'bf16' ? backend().f32ToBf16 : backend().f32ToF16)(t.half!.bits, f32.data, t.size);
    this.params.set(this.path(name), t);
    return t;
  }
}

/**
 * E same-shaped parameters stored back to back in one buffer (experts' weights, [E, ...shape]) so
 * grouped kernels see one stacked matrix, while each slice is still a named parameter with its HF name
 * (`names[e]`) for checkpoints and the optimizer. The stacked tensor's gradient buffer is allocated
 * here and shared the same way, so kernel writes land in every slice's `grad`.
 */
export function stackedParam(b: ParamBuilder, names: readonly string[], shape: readonly number[], init: Init): Tensor {
  const per = numel(shape);
  const dtype = b.matrixDtype;
  if (dtype !== 'f32') { // inference weights: the slices are views of one 16-bit stack, without gradients
    const stacked = Tensor.zerosHalf([names.length, ...shape], dtype);
    names.forEach((name, e) => {
      const bits = stacked.half!.bits.subarray(e * per, (e + 1) * per);
      bits.set(b.matrix(name, [...shape], init).half!.bits);
      b.params.set(b.path(name), new Tensor({ dtype, bits }, shape));
    });
    return stacked;
  }
  const stacked = Tensor.zeros([names.length, ...shape], true);
  stacked.grad = new Float32Array(stacked.size);
  names.forEach((name, e) => {
    const slice = b.param(name, [...shape], init);
    stacked.data.set(slice.data, e * per);
    const view = new Tensor(stacked.data.subarray(e * per, (e + 1) * per), shape, true);
    view.grad = stacked.grad!.subarray(e * per, (e + 1) * per);
    b.params.set(b.path(name), view);
  });
  return stacked;
}
