// The `pooled` layer reduction of aux losses (spec §0; HF transformers `load_balancing_loss_func`):
// the router logits of all MoE layers are concatenated along the token axis, [Σ_l T_l, E], and one loss
// per aux term is computed over the pooled (layer, token) rows — neither the sum nor the mean of the
// per-layer losses. The MoE layers defer their aux gradient (DeferredAux); after the last layer the
// decoder calls applyPooledAux, which computes the pooled losses and injects each layer's slice of
// the gradient into that layer's logits.
import { record } from '../tensor/index.js';
import type { LayerReport } from '../nn/index.js';
import { poolLayers, weightedTotal } from './losses.js';
import { RoutingError } from './math.js';
import type { Router, RouterContext, RouterOutput } from './routers/index.js';

/** What one MoE layer leaves for the pooled loss. */
export interface DeferredAux {
  router: Router;
  /** Router logits [T, E] (valid until the graph is released). */
  logits: Float32Array;
  output: RouterOutput;
  T: number;
  E: number;
  ctx: RouterContext;
  /** Adds d(aux)/d(logits) [T, E] to the layer's logits gradient (null when nothing needs a gradient). */
  inject: ((grad: Float32Array) => void) | null;
}

/**
 * The pooled aux losses of the given layers (all with the same E and router): their weighted total,
 * the value of each term, and the gradient w.r.t. each layer's logits [T_l, E].
 */
export function pooledAux(layers: readonly DeferredAux[]): { total: number; values: Record<string, number>; scaled: Record<string, number>; grads: Float32Array[] } {
  const { router, E, ctx } = layers[0];
  const pool = poolLayers(layers.map((l) => ({ logits: l.logits, assignment: l.output.assignment, T: l.T })), E);
  const probs = new Float32Array(pool.T * E); // [ΣT, E]
  let row = 0;
  for (const l of layers) {
    probs.set(l.output.probs, row * E);
    row += l.T;
  }
  const output: RouterOutput = {
    assignment: pool.assignment,
    probs,
    backward: () => { throw new RoutingError('pooled aux losses cannot go through a router\'s weights (§0: logits-based losses only)'); },
  };
  const losses = router.auxLosses(output, pool.logits, pool.T, E, ctx);
  const total = weightedTotal(losses, pool.T, E);
  return {
    total: total.value,
    values: Object.fromEntries(losses.map((l) => [l.name, l.value])),
    scaled: Object.fromEntries(losses.map((l) => [l.name, l.coefficient * l.value])),
    grads: pool.split(total.grad),
  };
}

/**
 * Computes the pooled aux losses of the MoE layers that reported a DeferredAux in `reports`, records
 * the injection of their gradients (replayed before any layer's backward), and puts the pooled values
 * on the first MoE layer's report (so the sum of auxTotal over reports is the pooled total).
 */
export function applyPooledAux(reports: readonly LayerReport[]): void {
  const pending = reports.filter((r) => deferredOf(r));
  if (pending.length === 0) return;
  const layers = pending.map((r) => deferredOf(r)!);
  const { total, values, scaled, grads } = pooledAux(layers);
  record(() => layers.forEach((l, i) => l.inject?.(grads[i])));
  pending[0].auxLosses = values;
  pending[0].auxScaled = scaled;
  pending[0].auxTotal = total;
}

function deferredOf(r: LayerReport): DeferredAux | undefined {
  return (r.routing as { deferred?: DeferredAux } | undefined)?.deferred;
}
