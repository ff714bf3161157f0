// Shared fixtures for the MoE tests: logits from probabilities, scripted random draws, small wrappers.
import { Rng } from '../../src/tensor/index.js';
import { createRouter, parseRouterConfig, type RandomSource, type RouterContext } from '../../src/moe/index.js';

/** Logits z = log P row by row, so softmax(z) = P. */
export function logitsOf(rows: number[][]): { logits: Float32Array; T: number; E: number } {
  return { logits: Float32Array.from(rows.flat(), Math.log), T: rows.length, E: rows[0].length };
}

/** A RandomSource that replays the spec's draws (uniform U and normal ε) in order. */
export function scripted(draws: { uniform?: number[]; normal?: number[] }): RandomSource {
  const uniform = [...(draws.uniform ?? [])];
  const normal = [...(draws.normal ?? [])];
  return {
    uniform: () => { const u = uniform.shift(); if (u === undefined) throw new Error('out of scripted uniform draws'); return u; },
    normal: () => { const n = normal.shift(); if (n === undefined) throw new Error('out of scripted normal draws'); return n; },
  };
}

/** Parse + create + route in one call (E = logit columns unless numExperts says otherwise). */
export function routeWith(json: object, logits: Float32Array, T: number, E: number, ctx: Partial<RouterContext> = {},
  numExperts = E) {
  const router = createRouter(parseRouterConfig(json, numExperts));
  const fullCtx: RouterContext = { training: false, rng: new Rng(0), ...ctx };
  const out = router.route(logits, T, E, fullCtx);
  return { router, out, ctx: fullCtx, losses: router.auxLosses(out, logits, T, E, fullCtx) };
}

/** Pairs as [token, expert, weight] triples (weights as numbers) for compact assertions. */
export function pairsOf(a: { token: Int32Array; expert: Int32Array; weight: Float32Array; dropped: Uint8Array }, survivorsOnly = false): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < a.token.length; i++) if (!survivorsOnly || !a.dropped[i]) out.push([a.token[i], a.expert[i], a.weight[i]]);
  return out;
}
