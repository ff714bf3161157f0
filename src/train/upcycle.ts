// Dense-then-sparse initialisation, "upcycling" (spec §10, Dua et al.): an MoE model starts from a
// trained dense run. Every weight is copied by name, except at the MoE layers, where the dense FFN
// `model.layers.L.mlp.{gate,up,down}_proj.weight` is copied into every expert
// `model.layers.L.mlp.experts.e.*` (and into the Residual-MoE dense MLP `mlp.residual_mlp.*`, §12).
// Parameters with no dense counterpart keep their random initialisation: the router (`mlp.gate`,
// `mlp.gate_noise`), the residual coefficient and shared experts. With top-k + renormalised weights
// (Σw = 1) the upcycled model computes exactly the dense model's function at step 0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MoekitError, shapeStr } from '../tensor/index.js';
import type { DecoderLM } from '../models/index.js';
import { readSafetensors, toFloat32 } from '../io/safetensors/index.js';

export class UpcycleError extends MoekitError {}

/** Keep their random init: routers, Residual-MoE coefficients, shared experts. */
const NEW_IN_MOE = /\.mlp\.(gate|gate_noise|coefficient|shared_experts)\./;
/** An expert (or the residual MLP) of an MoE layer → the dense FFN weight it starts from. */
const FROM_DENSE_FFN = /^(.*\.mlp)\.(?:experts\.\d+|residual_mlp)\.((?:gate|up|down)_proj\.weight)$/;

/** The dense tensor a parameter is initialised from, or null when it keeps its random init. */
export function upcycleSource(name: string): string | null {
  if (NEW_IN_MOE.test(name)) return null;
  const m = FROM_DENSE_FFN.exec(name);
  return m ? `${m[1]}.${m[2]}` : name;
}

/** Overwrites the model's parameters from the dense run directory's model.safetensors. */
export function upcycleFrom(model: DecoderLM, runDir: string): void {
  const path = join(runDir, 'model.safetensors');
  if (!existsSync(path)) throw new UpcycleError(`init_from: ${path} does not exist`, 'point train.init_from at a finished dense run directory');
  const dense = readSafetensors(path).tensors;
  for (const [name, p] of model.params) {
    const source = upcycleSource(name);
    if (source === null) continue;
    const t = dense.get(source);
    if (!t) throw new UpcycleError(`init_from: ${path} has no tensor "${source}"${source === name ? '' : ` (for ${name})`}`, 'the dense run must have the same architecture outside the MoE layers');
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new UpcycleError(`init_from: "${source}" is ${shapeStr(t.shape)} in ${path} but ${name} is ${shapeStr(p.shape)}`,
        'experts must have the dense FFN\'s width (moe_intermediate_size = the dense intermediate_size)');
    }
    p.data.set(toFloat32(t));
  }
}
